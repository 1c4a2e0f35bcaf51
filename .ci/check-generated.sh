#!/usr/bin/env bash
# Checks that every generated file of the workspace is what its go:generate line writes from
# the inputs in the repository: runs go generate over every module of go.work, then fails
# (git diff --exit-code) when a generated file differs from the committed one, or when go
# generate wrote a generated file git does not track. Generated files are those with Go's
# "Code generated ... DO NOT EDIT." line; only they are compared, so other uncommitted work
# in the tree does not count.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

marker='^// Code generated .* DO NOT EDIT\.$'
for dir in $(go list -m -f '{{.Dir}}'); do
	echo "go generate ./... in $(realpath --relative-to=. "$dir")"
	(cd "$dir" && go generate ./...)
done

mapfile -t tracked < <(git grep -l -E "$marker" -- '*.go' || true)
mapfile -t untracked < <(git ls-files -z --others --exclude-standard -- '*.go' | xargs -0 -r grep -l -E "$marker" || true)
echo "generated files: ${#tracked[@]} tracked"
status=0
if [ ${#tracked[@]} -gt 0 ] && ! git diff --exit-code --stat -- "${tracked[@]}"; then
	echo "check-generated: go generate changed the files above; run it and commit the result" >&2
	status=1
fi
if [ ${#untracked[@]} -gt 0 ]; then
	echo "check-generated: generated files git does not track: ${untracked[*]}" >&2
	status=1
fi
exit $status

#!/usr/bin/env bash
# Runs the specification's bulk decryption benchmark (and explicit encrypt/decrypt of one value)
# through mongocrypt (Go, bench/bulkdecrypt/main.go) and through Debian's libmongocrypt
# (bench/bulkdecrypt/peer.c), on the same document bytes, and prints both medians and the ratio
# ours/libmongocrypt.
#
# Usage: bench/bulkdecrypt/run.sh [--quick]
# Environment: WARMUP, DURATION (seconds, decimals allowed), TRIALS, THREADS ("1,2,8,64"),
# EXPLICIT (1 or 0), OUT (directory for the binaries, documents and raw outputs; default a
# fresh temporary directory). --quick is WARMUP=0.2 DURATION=0.2 TRIALS=3. PKG_CONFIG_PATH may
# name another libmongocrypt build (its lib/pkgconfig) to compare with instead of Debian's.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

if [[ "${1:-}" == "--quick" ]]; then
	: "${WARMUP:=0.2}" "${DURATION:=0.2}" "${TRIALS:=3}"
elif [[ $# -gt 0 ]]; then
	echo "usage: $0 [--quick]" >&2
	exit 2
fi
WARMUP=${WARMUP:-1}
DURATION=${DURATION:-1}
TRIALS=${TRIALS:-10}
THREADS=${THREADS:-1,2,8,64}
EXPLICIT=${EXPLICIT:-1}

# Tools: a C compiler, pkg-config and libmongocrypt-dev from Debian; Go from /usr/local/go.
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists libmongocrypt 2>/dev/null || need+=(libmongocrypt-dev)
pkg-config --exists libbson-1.0 2>/dev/null || need+=(libbson-dev)
if ((${#need[@]})); then
	sudo=()
	[[ $(id -u) -eq 0 ]] || sudo=(sudo)
	echo "installing ${need[*]} (apt-get)" >&2
	"${sudo[@]}" apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
	export PATH=/usr/local/go/bin:$PATH
fi

OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/bulkdecrypt.XXXXXX")}
mkdir -p "$OUT"

echo "building peer.c against libmongocrypt $(pkg-config --modversion libmongocrypt)" >&2
# The rpath makes a libmongocrypt named by PKG_CONFIG_PATH (another build) the one that runs.
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
cc -O2 -std=c11 -o "$OUT/peer" "$here/peer.c" $(pkg-config --cflags --libs libmongocrypt libbson-1.0) \
	-Wl,-rpath,"$(pkg-config --variable=libdir libmongocrypt)" -lpthread
echo "building bench/bulkdecrypt" >&2
(cd "$root" && go build -o "$OUT/bulkdecrypt" ./bench/bulkdecrypt)

# The document: encrypted independently by both; the bytes must be the same.
"$OUT/bulkdecrypt" -only-doc -write-doc "$OUT/doc-go.bson"
"$OUT/peer" -key "$here/testdata/keyDocument.json" -write-doc "$OUT/doc-libmongocrypt.bson"
if ! cmp -s "$OUT/doc-go.bson" "$OUT/doc-libmongocrypt.bson"; then
	echo "FAIL: the bulk documents encrypted by mongocrypt and by libmongocrypt differ ($OUT)" >&2
	exit 1
fi
echo "document: $(stat -c %s "$OUT/doc-go.bson") bytes, identical from both (sha256 $(sha256sum "$OUT/doc-go.bson" | cut -c1-16)...)"

echo "settings: warmup=${WARMUP}s duration=${DURATION}s trials=$TRIALS threads=$THREADS cpus=$(nproc)"
# side NAME CMD...: runs one side, prints its output, and says how busy the rest of the machine
# was meanwhile: all CPU time used on the machine (/proc/stat) less this side's own (time),
# over the wall time, in cores.
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
side() {
	local name=$1 b0 b1 real user sys
	shift
	echo "load before $name: $(uptime | sed 's/.*load average/load average/')"
	b0=$(busy_ticks)
	TIMEFORMAT='%R %U %S'
	{ time "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err"; } 2>"$OUT/$name.time" || {
		cat "$OUT/$name.txt" "$OUT/$name.err" >&2
		echo "FAIL: the $name side failed" >&2
		exit 1
	}
	b1=$(busy_ticks)
	cat "$OUT/$name.txt"
	read -r real user sys <"$OUT/$name.time"
	awk -v b="$((b1 - b0))" -v hz="$(getconf CLK_TCK)" -v r="$real" -v u="$user" -v s="$sys" -v n="$name" -v c="$(nproc)" \
		'BEGIN { printf "cpu %s: wall %.1fs, own cpu %.1fs, other processes used %.2f of %d cores meanwhile\n", n, r, u + s, (b / hz - u - s) / r, c }'
}
side go "$OUT/bulkdecrypt" -warmup "${WARMUP}s" -duration "${DURATION}s" -trials "$TRIALS" \
	-threads "$THREADS" -explicit="$([[ $EXPLICIT == 1 ]] && echo true || echo false)"
side libmongocrypt "$OUT/peer" -key "$here/testdata/keyDocument.json" -doc "$OUT/doc-go.bson" -warmup "$WARMUP" \
	-duration "$DURATION" -trials "$TRIALS" -threads "$THREADS" -explicit "$EXPLICIT"
echo "load after: $(uptime | sed 's/.*load average/load average/')"

# The table: one row per (workload, threads), joined on the fields before median_ops_per_sec.
echo
awk '
function field(name,   i) {
	for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2)
	return ""
}
$1 == "version" { ver[field("impl")] = field("version"); next }
$1 == "bulkdecrypt" || $1 == "explicit" {
	impl = field("impl")
	row = ($1 == "bulkdecrypt" ? "bulk-decrypt-1500" : "explicit-" field("op"))
	k = row SUBSEP field("threads")
	if (!(k in seen)) { seen[k] = 1; order[++n] = k }
	med[k, impl] = field("median_ops_per_sec")
}
END {
	printf "mongocrypt (Go %s) vs libmongocrypt %s, median ops/s\n", ver["go"], ver["libmongocrypt"]
	printf "%-32s %7s %14s %14s %8s\n", "workload", "threads", "mongocrypt", "libmongocrypt", "ratio"
	for (i = 1; i <= n; i++) {
		split(order[i], p, SUBSEP)
		g = med[order[i], "go"]; c = med[order[i], "libmongocrypt"]
		printf "%-32s %7s %14.2f %14.2f %8s\n", p[1], p[2], g, c, (c > 0 ? sprintf("%.2f", g / c) : "-")
	}
}' "$OUT/go.txt" "$OUT/libmongocrypt.txt"
echo "raw output and binaries: $OUT"

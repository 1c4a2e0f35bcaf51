#!/usr/bin/env bash
# Insert and find throughput through the mongocrypt proxy next to the same plain Go driver
# client connected directly to the server (the embedded FerretDB, or MONGODB_URI when set),
# in one run: the median of COUNT trials (default 5) of BenchmarkProxy (proxy/bench_test.go),
# printed as operations per second with the proxy's share of the direct throughput, and the
# machine's load average before and after.
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${COUNT:-5}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(go test -run '^$' -bench 'BenchmarkProxy' -benchtime "${BENCHTIME:-2s}" -count "$count" ./proxy)
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$out" | awk -v count="$count" '
/^BenchmarkProxy\// {
	split($1, p, "/"); op = p[2]; side = p[3]; sub(/-[0-9]+$/, "", side)
	v[op, side, ++n[op, side]] = 1e9 / $3
	ops[op] = 1
}
function median(op, side,    k, i, j, t, a) {
	k = n[op, side]
	for (i = 1; i <= k; i++) a[i] = v[op, side, i]
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
END {
	printf "| workload | direct (ops/s) | proxy (ops/s) | proxy / direct |\n| --- | --- | --- | --- |\n"
	for (op in ops) {
		d = median(op, "direct"); q = median(op, "proxy")
		printf "| %s | %.0f | %.0f | %.0f %% |\n", op, d, q, 100 * q / d
	}
	printf "(median of %d trials)\n", count
}'

#!/bin/sh
# Description: the benchmark runs end to end on a small size (a real
# daemon, every system of two workloads) and writes one JSON record per
# figure, with the fields other tools rely on.
set -u
bench=${PAGERD_BENCH:-./pagerd-bench}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bench" --pagerd "${PAGERD_BIN:-./pagerd}" --size 4 --repeat 1 \
    --json "$dir/bench.json" seq-hot zero-fill >"$dir/out" 2>&1 || {
	cat "$dir/out"
	echo "FAIL: pagerd-bench exited $?"
	exit 1
}
cat "$dir/out"
for system in kernel-file pagerd pagerd-copy naive kernel-anon; do
	grep -q "\"system\": \"$system\"" "$dir/bench.json" ||
	    { echo "FAIL: no $system record"; exit 1; }
done
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r and all({"workload","system","metric","median","unit"} <= set(x) for x in r), r' "$dir/bench.json" ||
    { echo "FAIL: bench.json is not an array of complete records"; exit 1; }
"$bench" no-such-workload >/dev/null 2>&1 && { echo "FAIL: an unknown workload was accepted"; exit 1; }
echo "benchmark runs and reports"

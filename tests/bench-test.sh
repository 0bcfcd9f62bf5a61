#!/bin/sh
# Description: the benchmark runs end to end on a small size: a real
# daemon, every workload (git through the shim where git is installed,
# shim-anon's program plain and through it),
# every system (pagerd-huge where it can mount a tmpfs), and one JSON
# record per figure with the fields other tools rely on.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
bench=${PAGERD_BENCH:-$build/pagerd-bench}
"$bench" --pagerd "$bin" --shim "$shim" --size 4 --repeat 1 \
    --json "$dir/bench.json" >"$dir/out" 2>&1 || {
	cat "$dir/out"
	fail "pagerd-bench exited $?"
}
cat "$dir/out"
workloads=$("$bench" --list | awk '{ print $1 }')
[ -n "$workloads" ] || fail "pagerd-bench --list names no workload"
for w in $workloads; do
	[ "$w" = git ] && ! command -v git >/dev/null && continue
	case $w in nbd-*) command -v nbdkit >/dev/null || continue ;; esac
	grep -q "\"workload\": \"$w" "$dir/bench.json" ||
	    fail "no record of workload $w"
done
for system in kernel-file kernel-anon kernel-fork pagerd pagerd-copy \
    pagerd-cow pagerd-1w naive pagerd-shim pagerd-shim-thp kernel-anon-thp \
    disk; do
	grep -q "\"system\": \"$system\"" "$dir/bench.json" ||
	    fail "no $system record"
done
# replay: the kernel's cold mmap, pagerd's first run and its replayed one.
for system in kernel-file pagerd pagerd-replay; do
	grep -q "\"workload\": \"replay\", \"system\": \"$system\", \"metric\": \"us-per-page\"" \
	    "$dir/bench.json" || fail "no replay $system us-per-page record"
done
# seq-warm: the default daemon (which replays) and one with replay off.
for system in pagerd pagerd-noreplay; do
	grep -q "\"workload\": \"seq-warm\", \"system\": \"$system\", \"metric\": \"us-per-page\"" \
	    "$dir/bench.json" || fail "no seq-warm $system us-per-page record"
done
# pagerd-huge runs where the benchmark could mount its tmpfs (root), and
# the first line says which.
if command -v nbdkit >/dev/null; then
	grep -q '"system": "libnbd"' "$dir/bench.json" ||
	    fail "no libnbd record"
else
	grep -q "nbd-\*: skipped: nbdkit is not installed" "$dir/out" ||
	    fail "the NBD workloads neither ran nor said why not"
fi
if grep -q "pagerd-huge: caches on a tmpfs" "$dir/out"; then
	grep -q '"system": "pagerd-huge"' "$dir/bench.json" ||
	    fail "the tmpfs was mounted, but no pagerd-huge record"
else
	grep -q "no pagerd-huge (mount of a tmpfs" "$dir/out" ||
	    fail "the first line says nothing of pagerd-huge"
	! grep -q '"system": "pagerd-huge"' "$dir/bench.json" ||
	    fail "pagerd-huge records without its tmpfs"
fi
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); m={(x["workload"],x["system"],x["metric"]) for x in r}; assert {("seq-cold","disk","throughput"),("load-clients","pagerd","cpu-us-daemon"),("load-clients","pagerd","cpu-us-clients"),("load-clients","pagerd","of-cpu-ceiling"),("load-clients","pagerd","tail"),("load-clients","pagerd","all-running-of-cpu-ceiling"),("shim-anon","pagerd-shim","pair-ratio")} <= m' "$dir/bench.json" ||
    fail "no disk throughput, CPU time per touch or shim-anon pair ratio"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r and all({"workload","system","metric","median","unit"} <= set(x) for x in r), r' "$dir/bench.json" ||
    fail "bench.json is not an array of complete records"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert {x.get("clients") for x in r if x["workload"] == "load-clients"} == {1, 4, 16, 64}; assert {x.get("threads") for x in r if x["workload"] == "load-threads"} == {1, 2, 4, 8}' "$dir/bench.json" ||
    fail "the load records do not say their counts"
"$bench" no-such-workload >/dev/null 2>&1 && fail "an unknown workload was accepted"
echo "every workload runs and reports"

#!/bin/sh
# Description: faults the kernel catches in a preloaded program are
# reported to the daemon before the signal takes its course. For a write
# to a string literal, a jump into a non-executable page, a read of an
# unmapped address and a read past the end of a mapped file
# (tests/crash-prog): the exit status is the same with and without the
# shim, the daemon's log names the signal, the cause, the access and the
# mapping (or that none holds the address), and pagerctl violations lists
# each report (with -j as objects: time, pid, program, tid, signal,
# address, mapping).
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
prog=$build/tests/crash-prog

# mode, then what the daemon's report must say.
check() {
	mode=$1
	want=$2
	"$prog" "$mode" 2>/dev/null
	plain=$?
	PAGERD_SOCKET=$sock LD_PRELOAD=$shim "$prog" "$mode" 2>/dev/null
	shimmed=$?
	[ $plain -gt 128 ] || fail "$mode: did not die of a signal ($plain)"
	[ $plain = $shimmed ] || fail "$mode: status $shimmed under the shim, $plain without"
	i=0
	while ! grep -q "$want" "$dir/log" && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	grep "$want" "$dir/log" | tail -1 | sed 's/^[^ ]* pagerd: /  /'
	grep -q "$want" "$dir/log" || fail "$mode: no report saying \"$want\""
	echo "ok: $mode: status $plain either way, reported"
}

check write-literal 'SIGSEGV at 0x[0-9a-f]* (write).*SEGV_ACCERR.*mapping .* r--p .*crash-prog'
check exec-data 'SIGSEGV at 0x[0-9a-f]* (execute).*SEGV_ACCERR.*mapping .* rw-p .*crash-prog'
check read-unmapped 'SIGSEGV at 0x10 (read).*SEGV_MAPERR.*no mapping holds it'
check bus-eof 'SIGBUS at 0x[0-9a-f]*.*BUS_ADRERR.*mapping .*crash-prog\.'

"$ctl" -s "$sock" violations >"$dir/out" || fail "pagerctl violations exited $?"
cat "$dir/out"
[ "$(grep -c "crash-prog" "$dir/out")" -ge 4 ] || fail "pagerctl violations lists fewer than 4 reports"
if command -v python3 >/dev/null; then
	"$ctl" -s "$sock" -j violations | python3 -c '
import json, sys
prog = sys.argv[1]
v = json.load(sys.stdin)
assert len(v) >= 4 and all(x["program"] == "crash-prog" and x["pid"] > 0 and
    x["tid"] > 0 and x["signal"] in ("SIGSEGV", "SIGBUS") and
    "address" in x and x["time"] for x in v), v
assert any(x["address"] == 16 and "mapping" not in x for x in v), v
# A report keeps a bounded text: a long build path (distcheck) is cut.
assert any(len(x["mapping"].split(" ", 2)) == 3 and
    prog.startswith(x["mapping"].split(" ", 2)[2]) for x in v
    if "mapping" in x), v
' "$prog" || fail "violations --json is wrong"
fi
stop_daemon
echo "kernel-caught faults are reported, and kill as before"

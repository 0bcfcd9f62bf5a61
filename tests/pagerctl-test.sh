#!/bin/sh
# Description: pagerctl status reports a live daemon's counters (after a
# client ran through it: its faults, pages and reads, and no session left),
# fails with the reason and exit 1 when no daemon listens, and refuses an
# unknown command.
set -u
bin=${PAGERD_BIN:-./pagerd}
ctl=${PAGERCTL_BIN:-./pagerctl}
example=${PAGERD_EXAMPLE:-./pagerd-example}
dir=$(mktemp -d)
sock=$dir/pagerd.sock
"$bin" --socket "$sock" 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; cat "$dir/out" "$dir/log" 2>/dev/null; exit 1; }

i=0
while ! [ -S "$sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
"$ctl" -s "$sock" status >"$dir/out" || fail "status exited $?"
grep -q "^pagerd [0-9]" "$dir/out" || fail "no version line"
grep -q "0 sessions, 0 regions" "$dir/out" || fail "an idle daemon has clients"

"$example" -s "$sock" >/dev/null || fail "the example client failed"
sleep 0.2
PAGERD_SOCKET=$sock "$ctl" >"$dir/out" || fail "status (default) exited $?"
cat "$dir/out"
grep -q "0 sessions, 0 regions" "$dir/out" || fail "the client's session is still there"
grep -Eq "faults +[1-9][0-9]* handled, 0 failed" "$dir/out" || fail "no faults counted"
grep -Eq "pages +[1-9][0-9]* from files" "$dir/out" || fail "no file pages counted"

"$ctl" -s "$dir/nobody.sock" status 2>"$dir/err" && fail "status without a daemon succeeded"
grep -q "is pagerd running" "$dir/err" || fail "no reason without a daemon: $(cat "$dir/err")"
"$ctl" -s "$sock" frobnicate 2>/dev/null && fail "an unknown command was accepted"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
echo "pagerctl status behaves"

#!/bin/sh
# Description: stopping the daemon says what it does to its clients: with
# a client holding a region, SIGTERM logs how many sessions and regions
# close and what becomes of them (re-attach to a restarted daemon within
# the timeout, else SIGBUS), and the client's own session line names its
# pid and says so; with no client, only that there is none.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"

echo data >"$dir/file"
dd if=/dev/zero bs=4096 count=4 >>"$dir/file" 2>/dev/null
start_layout "$sock" "$dir/file"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=
grep -q "shutting down; [0-9]* sessions with [1-9][0-9]* regions close: .*re-attaches to a pagerd started again on $sock within its PAGERD_REATTACH_TIMEOUT .* or ends with SIGBUS" "$dir/log" ||
    fail "no stop line naming what clients face"
grep -q "pid $lpid (layout-prog): closed: daemon shutting down; its regions wait for a restarted daemon, else SIGBUS" "$dir/log" ||
    fail "the client's session line does not say what it faces"
kill $lpid 2>/dev/null
exec 7>&-
wait $lpid 2>/dev/null
echo "ok: $(grep "shutting down;" "$dir/log" | sed 's/^[0-9:.]* //')"

"$bin" -d -s "$dir/b.sock" 2>"$dir/log2" &
pid=$!
wait_sock "$dir/b.sock"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=
grep -q "shutting down; no clients" "$dir/log2" || fail "no \"no clients\" line"
echo "ok: no clients"
exit 0

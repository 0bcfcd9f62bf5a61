#!/bin/sh
# Description: pagerctl against a live daemon. status reports its counters
# (after a client ran through it: its faults, pages and reads, and no
# session left) and the page caches' budget, held bytes, evictions and
# refaults, as text and with -j as JSON; with tests/layout-prog running, clients and regions list
# it and its region (also as JSON), maps shows the pagerd region, and
# explain answers right for its text, read-only data, heap, stack, a
# shared library, a file mapping, an unmapped hole and a pagerd region's
# touched and untouched pages; top shows it and the page-out line.
# pagerctl fails with the reason and exit 1 when no daemon listens, the
# socket is another kind's or its mode shuts the user out, and
# refuses an unknown command. snapshot writes a new file only: an
# existing file or a symlink at its name is refused and left as it was.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
example=${PAGERD_EXAMPLE:-$build/pagerd-example}
"$ctl" -s "$sock" status >"$dir/out" || fail "status exited $?"
grep -q "^pagerd [0-9]" "$dir/out" || fail "no version line"
grep -q "0 sessions, 0 regions" "$dir/out" || fail "an idle daemon has clients"

"$example" -s "$sock" >/dev/null || fail "the example client failed"
# The client's session ends on the daemon's side a moment after it exits.
i=0
while ! "$ctl" -s "$sock" status | grep -q "0 sessions, 0 regions" && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
PAGERD_SOCKET=$sock "$ctl" >"$dir/out" || fail "status (default) exited $?"
cat "$dir/out"
grep -q "0 sessions, 0 regions" "$dir/out" || fail "the client's session is still there"
grep -Eq "faults +[1-9][0-9]* handled, 0 failed" "$dir/out" || fail "no faults counted"
grep -Eq "pages +[1-9][0-9]* from files" "$dir/out" || fail "no file pages counted"
grep -Eq "^  memory +.* held in page caches, .* evicted, [0-9]+ refaults" "$dir/out" ||
	fail "no page-out line"
"$ctl" -s "$sock" -j status >"$dir/out" || fail "status -j exited $?"
grep -Eq '^\{"version":"[^"]+",.*"cache_budget":[1-9][0-9]*,"cache_held":[0-9]+,"cache_evicted":[0-9]+,"cache_refaults":[0-9]+,.*\]\}$' "$dir/out" ||
	fail "status -j is not the JSON object: $(cat "$dir/out")"

# A process with a known layout.
head -c 1000000 /dev/urandom >"$dir/data"
start_layout "$sock" "$dir/data"

"$ctl" -s "$sock" clients >"$dir/out" || fail "clients exited $?"
grep -Eq "^ *$lpid +layout-prog +[0-9]+ +2 " "$dir/out" || fail "clients: $(cat "$dir/out")"
"$ctl" -s "$sock" regions "$lpid" >"$dir/out" || fail "regions exited $?"
region=$(addr region-touched | sed 's/^0x//')
[ -n "$region" ] || fail "layout-prog printed no region-touched"
grep -q "$region-.* page-cache \| $region-.* file " "$dir/out" ||
    fail "regions lacks the region at $region: $(cat "$dir/out")"
grep -q "$dir/data" "$dir/out" || fail "regions does not name the file"
if command -v python3 >/dev/null; then
	"$ctl" -s "$sock" -j regions | python3 -c '
import json, sys
r = json.load(sys.stdin)
f = [x for x in r if x["start"] == int(sys.argv[2], 16)]
assert len(r) == 2 and len(f) == 1 and f[0]["pid"] == int(sys.argv[1]), r
c = [x for x in r if x["mode"] == "copy-on-write"]
assert len(c) == 1 and c[0]["dirty"] > 0, r
' "$lpid" "$(addr region-touched)" || fail "regions --json is wrong"
	"$ctl" -s "$sock" -j explain "$lpid" "$(addr heap)" | python3 -c '
import json, sys
e = json.load(sys.stdin)
assert e["mapped"] and e["mapping"]["role"] == "heap" and e["write"], e
' || fail "explain --json is wrong"
fi
"$ctl" -s "$sock" maps "$lpid" >"$dir/out" || fail "maps exited $?"
grep -q "pagerd region .* pagerd " "$dir/out" || fail "maps shows no pagerd region"
grep -q " heap .*\[heap\]" "$dir/out" || fail "maps shows no heap"

# explain KEY, then patterns its answer must hold.
explain() {
	key=$1
	shift
	"$ctl" -s "$sock" explain "$lpid" "$(addr "$key")" >"$dir/out" ||
	    fail "explain $key exited $?"
	for want in "$@"; do
		grep -q "$want" "$dir/out" || { cat "$dir/out"; fail "explain $key: no \"$want\""; }
	done
	echo "ok: explain $key"
}
explain text "mapped: *yes.*(code)" "layout-prog offset" "may: *read execute"
explain rodata "(read-only data)" "may: *read (private"
explain heap "(heap)" "anonymous memory" "may: *read write" "resident: *yes"
explain stack "(stack)" "may: *read write"
explain library "(library code)" "\\.so" "paged by the kernel"
explain file "(file)" "file $dir/data offset 0x0, paged by the kernel" "may: *read (private"
explain hole "mapped: *no" "SEGV_MAPERR"
explain region-touched "a pagerd region" "served by pagerd" "$dir/data offset 0x0" "resident: *yes"
explain region-untouched "served by pagerd" "offset 0x28000" "resident: *no: the next touch faults to pagerd"
# A live snapshot of its copy-on-write region, taken from outside.
"$ctl" -s "$sock" snapshot "$lpid" "$(addr cow)" "$dir/image" >"$dir/out" ||
    fail "snapshot exited $?: $(cat "$dir/out")"
cmp -s "$dir/image" "$dir/data.ref" || fail "the snapshot image differs from the region"
grep -q "256 pages, written to $dir/image" "$dir/out" || fail "snapshot said: $(cat "$dir/out")"
if command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" -s "$sock" \
	    snapshot "$lpid" "$(addr cow)" /tmp/pagerctl-nobody.$$ 2>"$dir/err" &&
	    fail "nobody took a snapshot of root's process"
	rm -f /tmp/pagerctl-nobody.$$
	grep -q "only root or the process's own user" "$dir/err" ||
	    fail "no reason for the refusal: $(cat "$dir/err")"
fi
# The image is a new file: an existing one is refused, a symlink is not
# followed (root's snapshot would overwrite what it points at).
"$ctl" -s "$sock" snapshot "$lpid" "$(addr cow)" "$dir/image" 2>"$dir/err" &&
    fail "snapshot overwrote an existing file"
grep -q "exists: a snapshot is written to a new file only" "$dir/err" ||
    fail "no reason for refusing an existing file: $(cat "$dir/err")"
cmp -s "$dir/image" "$dir/data.ref" || fail "the refused snapshot changed the file"
echo precious >"$dir/victim"
ln -s "$dir/victim" "$dir/link"
"$ctl" -s "$sock" snapshot "$lpid" "$(addr cow)" "$dir/link" 2>"$dir/err" &&
    fail "snapshot followed a symlink"
grep -q "exists: a snapshot is written to a new file only" "$dir/err" ||
    fail "no reason for refusing a symlink: $(cat "$dir/err")"
[ "$(cat "$dir/victim")" = precious ] || fail "the symlink's target was overwritten"
echo "ok: snapshot"
"$ctl" -s "$sock" top 1 >"$dir/out" || fail "top exited $?"
grep -q "layout-prog" "$dir/out" || fail "top does not show the client"
grep -Eq "^  memory +.* held in page caches, .* evicted, [0-9]+ refaults" "$dir/out" ||
	fail "top has no page-out line: $(cat "$dir/out")"
exec 7>&-
wait $lpid || fail "layout-prog failed"

"$ctl" -s "$dir/nobody.sock" status 2>"$dir/err" && fail "status without a daemon succeeded"
grep -q "is pagerd running" "$dir/err" || fail "no reason without a daemon: $(cat "$dir/err")"
# A path that names some other service's (stream) socket.
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen()
time.sleep(30)' "$dir/stream.sock" &
spid=$!
wait_sock "$dir/stream.sock"
"$ctl" -s "$dir/stream.sock" status 2>"$dir/err"
st=$?
kill $spid
[ $st -eq 1 ] || fail "status on a stream socket exited $st"
grep -q "not pagerd's" "$dir/err" || fail "no reason on a stream socket: $(cat "$dir/err")"
# A user the socket's mode shuts out (root passes every mode).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 0711 "$dir"
	chmod 0600 "$sock"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- \
	    "$ctl" -s "$sock" status 2>"$dir/err"
	st=$?
	chmod 0666 "$sock"
	[ $st -eq 1 ] || fail "status through a 0600 socket as nobody exited $st"
	grep -q "socket's mode or group" "$dir/err" ||
	    fail "no reason on a socket shut to the user: $(cat "$dir/err")"
fi
"$ctl" -s "$sock" frobnicate 2>/dev/null && fail "an unknown command was accepted"
stop_daemon
echo "pagerctl status behaves"

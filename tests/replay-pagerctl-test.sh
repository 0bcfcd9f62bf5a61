#!/bin/sh
# Description: pagerctl recordings lists the working set the daemon
# recorded of a program run under the shim (the file and its pages, as
# text and with -j as JSON); forget NAME removes that one, forget all the
# rest, and the list is then empty; a name with no recording (forgotten
# already, never made, or not a recording's name) is an error, forget all
# with none left is not.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
prog=$build/tests/replay-prog

"$ctl" -s "$sock" recordings >"$dir/out" || fail "recordings exited $?"
grep -q "^no recordings" "$dir/out" || fail "a new daemon lists: $(cat "$dir/out")"

# Two files, each read once by a program the daemon records.
for f in one two; do
	"$prog" --make "$dir/$f.dat" 0 || fail "replay-prog --make"
	PAGERD_SOCKET=$sock PAGERD_FILES='*.dat' LD_PRELOAD=$shim \
	    "$prog" "$dir/$f.dat" 0 >"$dir/prog" 2>&1 ||
	    fail "replay-prog on $f: $(cat "$dir/prog")"
done
i=0
while [ "$(grep -c '\.dat$' "$dir/out")" -lt 2 ] && [ $i -lt 100 ]; do
	sleep 0.1
	"$ctl" -s "$sock" recordings >"$dir/out" || fail "recordings exited $?"
	i=$((i + 1))
done
cat "$dir/out"
grep -Eq "^ *$(id -u) +[0-9a-f]{16}\.rec +[1-9][0-9]* +[1-9][0-9]* .* $dir/one\.dat$" \
    "$dir/out" || fail "no recording of one.dat: $(cat "$dir/out")"
grep -q "program .*replay-prog" "$dir/out" || fail "no program line"
"$ctl" -s "$sock" -j recordings >"$dir/json" || fail "recordings -j exited $?"
grep -Eq '^\[\{"uid":[0-9]+,"name":"[0-9a-f]{16}\.rec","pages":[1-9][0-9]*,.*"file":"[^"]*\.dat","program":"[^"]*replay-prog"\},\{.*\}\]$' \
    "$dir/json" || fail "recordings -j: $(cat "$dir/json")"

name=$(awk '/one\.dat$/ { print $2 }' "$dir/out")
"$ctl" -s "$sock" recordings forget "$name" >"$dir/out" || fail "forget exited $?"
grep -q "^1 recording forgotten$" "$dir/out" || fail "forget $name: $(cat "$dir/out")"
"$ctl" -s "$sock" recordings >"$dir/out"
grep -q "one\.dat$" "$dir/out" && fail "one.dat's recording is still listed"
grep -q "two\.dat$" "$dir/out" || fail "two.dat's recording went too"
"$ctl" -s "$sock" recordings forget "$name" >"$dir/out" 2>&1 &&
    fail "forgetting $name twice exited 0: $(cat "$dir/out")"
grep -q "no recording of $name for uid $(id -u)$" "$dir/out" ||
    fail "forget $name twice: $(cat "$dir/out")"
"$ctl" -s "$sock" -j recordings forget NOSUCH >"$dir/out" 2>&1 &&
    fail "forget -j NOSUCH exited 0: $(cat "$dir/out")"
grep -q "no recording of NOSUCH for uid $(id -u)$" "$dir/out" ||
    fail "forget -j NOSUCH: $(cat "$dir/out")"
"$ctl" -s "$sock" recordings forget ../../etc/passwd >"$dir/out" 2>&1 &&
    fail "forget of a bad name exited 0: $(cat "$dir/out")"
grep -q "no recording of \.\./\.\./etc/passwd" "$dir/out" || fail "a bad name: $(cat "$dir/out")"
"$ctl" -s "$sock" recordings forget all >"$dir/out" || fail "forget all exited $?"
grep -q "^1 recording forgotten$" "$dir/out" || fail "forget all: $(cat "$dir/out")"
"$ctl" -s "$sock" recordings >"$dir/out"
grep -q "^no recordings" "$dir/out" || fail "after forget all: $(cat "$dir/out")"
"$ctl" -s "$sock" recordings forget all >"$dir/out" || fail "forget all of none exited $?"
grep -q "^0 recordings forgotten" "$dir/out" || fail "forget all of none: $(cat "$dir/out")"
stop_daemon
exit 0

#!/bin/sh
# Description: pagerctl caches lists each shared page cache as fincore
# lists files. While tests/layout-prog maps a file, its cache is listed
# (also with -j) with the file's name, its size, bytes resident, its users
# and not lingering, and the uid's total; once the program has ended, the
# cache lingers (cache-linger): no users, lingering, its idle time shown.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

"$ctl" -s "$sock" caches >"$dir/out" || fail "caches exited $?"
grep -q "^no page caches$" "$dir/out" || fail "an idle daemon lists caches: $(cat "$dir/out")"

head -c 1000000 /dev/urandom >"$dir/data"
start_layout "$sock" "$dir/data"
"$ctl" -s "$sock" caches >"$dir/out" || fail "caches exited $?"
cat "$dir/out"
grep -Eq "^ +0 +[1-9][0-9]* +976\.6 KiB +[0-9.]+ KiB +- +$dir/data$" "$dir/out" ||
    fail "caches lacks the file's line"
grep -Eq "^ +0 total: [0-9.]+ KiB resident in 1 cache$" "$dir/out" ||
    fail "caches lacks root's total"
"$ctl" -s "$sock" -j caches | python3 -c '
import json, os, sys
c = json.load(sys.stdin)
assert len(c) == 1, c
c = c[0]
st = os.stat(sys.argv[1])
assert c["file"] == sys.argv[1] and c["size"] == 1000000 and c["uid"] == 0, c
assert c["resident"] > 0 and c["resident"] % 4096 == 0 and c["users"] >= 1, c
assert not c["lingering"] and c["inode"] == st.st_ino, c
' "$dir/data" || fail "caches -j while mapped is wrong"
echo "ok: a mapped file's cache"

exec 7>&-
wait "$lpid"
# Until the cache has lingered a whole second (up to 10 s), so that the
# listing shows its idle time in seconds.
i=0
until "$ctl" -s "$sock" -j caches >"$dir/json" &&
    python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
sys.exit(not (len(c) == 1 and c[0]["lingering"] and c[0]["idle_ms"] >= 1000))
' "$dir/json" || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
assert len(c) == 1 and c[0]["lingering"] and c[0]["users"] == 0, c
assert c[0]["idle_ms"] >= 1000 and c[0]["resident"] > 0, c
' "$dir/json" || fail "caches -j of a lingering cache is wrong"
"$ctl" -s "$sock" caches >"$dir/out" || fail "caches exited $?"
grep -Eq "^ +0 +0 +976\.6 KiB +[0-9.]+ KiB +[1-9][0-9]* s +$dir/data$" "$dir/out" ||
    fail "caches does not show the cache lingering: $(cat "$dir/out")"
echo "ok: a lingering cache"
stop_daemon
exit 0

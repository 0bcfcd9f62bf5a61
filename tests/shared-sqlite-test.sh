#!/bin/sh
# Description: the sqlite example of libpagerd-preload(8): sqlite3 with
# PRAGMA mmap_size and PAGERD_SHARED='*.db' routes its shared mapping of
# the database to pagerd while it grows the database (which sqlite follows
# with mremap) and rewrites it; the output is the same as without the
# shim, the shim says nothing (it said "mremap ...: goes past the end of
# the page cache", or the program died of SIGBUS), and the shim's log
# shows the mapping routed.
set -u
. "${PAGERD_SRCDIR:-.}/tests/shared.sh"
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 is not installed"; exit 77; }
cat >"$dir/w.sql" <<'SQL'
PRAGMA mmap_size=268435456;
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
    INSERT INTO t(b) SELECT printf('row %d %.200c', x, 'x') FROM c;
SELECT count(*), sum(length(b)) FROM t;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
    INSERT INTO t(b) SELECT printf('row %d %.300c', x, 'y') FROM c;
SELECT count(*), sum(length(b)) FROM t;
UPDATE t SET b = 'z' || b WHERE a % 3 = 0;
SELECT count(*), sum(length(b)), sum(a) FROM t WHERE b LIKE 'z%';
SELECT a, substr(b, 1, 14) FROM t WHERE a % 4999 = 0;
PRAGMA integrity_check;
SQL
sqlite3 "$dir/plain.db" <"$dir/w.sql" >"$dir/plain" 2>&1 || fail "sqlite3 failed"
shared='*.db'
shimmed sqlite3 "$dir/shim.db" <"$dir/w.sql" >"$dir/shimmed" 2>"$dir/err" ||
    fail "sqlite3 failed under the shim: $(cat "$dir/err")"
cmp -s "$dir/plain" "$dir/shimmed" ||
    fail "the output differs: $(diff "$dir/plain" "$dir/shimmed" | head)"
! grep -q . "$dir/err" || fail "the shim said: $(cat "$dir/err")"
grep -q "mmap .* r- $dir/shim.db" "$dir/shim.log" ||
    fail "the database's mapping was not routed: $(cat "$dir/shim.log")"
grep -q "mremap" "$dir/shim.log" || fail "sqlite did not grow its mapping"
stop_daemon
echo "ok: sqlite3 with mmap_size, growing and rewriting its database under the shim"

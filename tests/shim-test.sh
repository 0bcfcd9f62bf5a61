#!/bin/sh
# Description: unmodified programs under the LD_PRELOAD shim, each run with
# and without it, output compared byte for byte, the daemon's counters and
# the shim's log showing pagerd served them:
# - git log, git fsck and git cat-file over pack files (PAGERD_FILES);
# - sqlite3 with PRAGMA mmap_size on a database of several MiB (its
#   shared mapping routed on request, PAGERD_SHARED_WRITE=1);
# - mdb_load (LMDB), which writes with pwrite and reads through a shared
#   mapping: by default the shim leaves that mapping to the kernel, and the
#   database is the same as without the shim;
# - python3's mmap module on a file, and with PAGERD_ANON its large
#   allocations (malloc, which the shim serves for them);
# - python3 writing through a shared mapping with PAGERD_SHARED_WRITE=1:
#   msync and munmap write it back, munmap's sync as the region's last
#   (with WP_ASYNC the daemon then writes no page back again);
# - a preloaded sh that forks and execs many children;
# - tests/shim-prog: mmap, mremap grow/shrink/move, munmap of a middle,
#   MADV_DONTNEED and fork on file and anonymous mappings; madvise's
#   answers on a private file mapping (MADV_FREE, MADV_REMOVE...), with
#   and without the page cache (PAGERD_NO_CACHE), as the kernel's;
# - with no daemon, the shim says so once and the program runs as usual.
# Programs not installed are skipped with the reason.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
prog=$build/tests/shim-prog
[ -f "$shim" ] || fail "no shim at $shim"
export PAGERD_SOCKET="$sock"
skipped=""

# Run "$@" plain and under the shim (with the environment in $with):
# outputs must be equal and the daemon must have served file pages.
compare() {
	name=$1
	shift
	before=$(served)
	"$@" >"$dir/plain" 2>&1 || fail "$name: failed without the shim"
	env $with LD_PRELOAD="$shim" PAGERD_LOG="$dir/shim.log" "$@" \
	    >"$dir/shimmed" 2>&1 || { cat "$dir/shimmed"; fail "$name: failed under the shim"; }
	cmp -s "$dir/plain" "$dir/shimmed" || {
		diff "$dir/plain" "$dir/shimmed" | head -20
		fail "$name: output differs under the shim"
	}
	after=$(served)
	[ "$after" -gt "$before" ] || fail "$name: the daemon served no file pages"
	echo "ok: $name ($((after - before)) pages from files)"
}

if command -v git >/dev/null; then
	repo=$dir/repo
	git_repo "$repo" 40 7
	ls "$repo"/.git/objects/pack/*.pack >/dev/null || fail "git made no pack"
	head=$(git -C "$repo" rev-parse HEAD~7)
	with="PAGERD_FILES=*.pack:*.idx"
	compare "git log" git -C "$repo" log --stat
	compare "git fsck" git -C "$repo" fsck --full --strict
	compare "git cat-file" git -C "$repo" cat-file -p "$head"
	grep -q "\.pack" "$dir/shim.log" || fail "the shim's log names no pack"
else
	skipped="$skipped git"
fi

if command -v sqlite3 >/dev/null; then
	db=$dir/test.db
	{
		echo "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);"
		echo "BEGIN;"
		i=0
		while [ $i -lt 20000 ]; do
			echo "INSERT INTO t(b) VALUES(printf('row %d %.200c', $i, 'x'));"
			i=$((i + 1))
		done
		echo "COMMIT;"
	} | sqlite3 "$db"
	q="PRAGMA mmap_size=268435456; SELECT count(*), sum(length(b)) FROM t;
	    SELECT a, substr(b, 1, 12) FROM t WHERE a % 997 = 0;
	    PRAGMA integrity_check;"
	with="PAGERD_FILES=*.db PAGERD_SHARED_WRITE=1"
	compare "sqlite3 (mmap_size, $(($(stat -c %s "$db") / 1048576)) MiB)" sqlite3 "$db" "$q"
else
	skipped="$skipped sqlite3"
fi

if command -v mdb_load >/dev/null && command -v python3 >/dev/null; then
	lmdb_input 20000 "$dir/lmdb.in"
	mkdir "$dir/lmdb-plain" "$dir/lmdb-shim"
	mdb_load -f "$dir/lmdb.in" "$dir/lmdb-plain" || fail "mdb_load failed"
	PAGERD_FILES='*.mdb' PAGERD_LOG="$dir/lmdb.log" LD_PRELOAD="$shim" \
	    mdb_load -f "$dir/lmdb.in" "$dir/lmdb-shim" || fail "mdb_load failed under the shim"
	mdb_dump "$dir/lmdb-plain" >"$dir/lmdb-plain.dump"
	mdb_dump "$dir/lmdb-shim" >"$dir/lmdb-shim.dump"
	cmp -s "$dir/lmdb-plain.dump" "$dir/lmdb-shim.dump" ||
	    fail "LMDB: the database loaded under the shim differs ($(mdb_stat "$dir/lmdb-shim" | grep Entries))"
	! grep -q "mmap .*data.mdb" "$dir/lmdb.log" 2>/dev/null ||
	    fail "LMDB: the shim routed a shared mapping without PAGERD_SHARED_WRITE"
	echo "ok: LMDB's shared mapping left to the kernel; the database is whole"
else
	skipped="$skipped mdb_load"
fi

py=""
for p in /usr/bin/python3 python3; do
	command -v "$p" >/dev/null && { py=$(command -v "$p"); break; }
done
if [ -n "$py" ]; then
	head -c 12000000 /dev/urandom >"$dir/blob.bin"
	cat >"$dir/t.py" <<'EOF'
import hashlib, mmap, sys
with open(sys.argv[1], 'rb') as f:
    m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
    print(hashlib.sha256(m[:]).hexdigest(), hashlib.sha256(m[7::4096]).hexdigest())
big = [bytearray(8 << 20) for _ in range(4)]
for i, b in enumerate(big):
    b[::4096] = bytes([i + 1]) * len(b[::4096])
print(hashlib.sha256(b''.join(big)).hexdigest())
print(sum(len(str(list(range(k)))) for k in range(2000)))
EOF
	with="PAGERD_FILES=*.bin PAGERD_ANON=256k"
	compare "python3 mmap and PAGERD_ANON" "$py" "$dir/t.py" "$dir/blob.bin"
	# Its 8 MiB bytearrays come from malloc: the shim serves those too.
	grep -q "zero-fill" "$dir/shim.log" || fail "python3's large allocations were not routed"
	"$ctl" -s "$sock" status | grep -Eq "pages +[0-9]+ from files, [1-9][0-9]* zero" ||
	    fail "no zero-fill pages were served"
else
	skipped="$skipped python3"
fi

"$prog" --make "$dir/pattern.dat" || fail "shim-prog could not make its file"
with="PAGERD_FILES=*.dat PAGERD_ANON=1048576"
compare "shim-prog (mremap, munmap, madvise, fork)" "$prog" "$dir/pattern.dat"
# madvise answers as on the private file mapping the program made, with
# and without the page cache (without: anonymous memory underneath).
compare "shim-prog --advise" "$prog" --advise "$dir/pattern.dat"
with="PAGERD_FILES=*.dat PAGERD_NO_CACHE=1"
compare "shim-prog --advise, PAGERD_NO_CACHE" "$prog" --advise "$dir/pattern.dat"
grep -q "madvise free: -1 Invalid argument" "$dir/shimmed" ||
    fail "madvise(MADV_FREE) on a private file mapping: $(cat "$dir/shimmed")"
grep -q "madvise remove: -1 Permission denied" "$dir/shimmed" ||
    fail "madvise(MADV_REMOVE) on a private file mapping: $(cat "$dir/shimmed")"
with="PAGERD_FILES=*.dat PAGERD_ANON=1048576"

# A preloaded shell that forks subshells and execs preloaded children.
compare "sh forking 200 children" sh -c '
	i=0
	while [ $i -lt 100 ]; do
		s=$("$1" --sum "$2")
		[ $((i % 10)) -eq 0 ] && echo "$i $s $(echo $i | wc -c)"
		i=$((i + 1))
	done' sh "$prog" "$dir/pattern.dat"

# A shared writable mapping, opted in: written back on msync and munmap.
if [ -n "$py" ]; then
	head -c 3000000 /dev/urandom >"$dir/shared.bin"
	cp "$dir/shared.bin" "$dir/shared-plain.bin"
	cat >"$dir/w.py" <<'EOF2'
import mmap, sys
with open(sys.argv[1], 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0)
    for i in range(0, len(m), 4096 * 3):
        m[i:i + 5] = b'pager'
    m.flush()
    m[100:104] = b'tail'
    m.close()
EOF2
	"$py" "$dir/w.py" "$dir/shared-plain.bin"
	before=$("$ctl" -s "$sock" status | sed -n 's/.* \([0-9]*\) written back.*/\1/p')
	PAGERD_FILES='shared.bin' PAGERD_SHARED_WRITE=1 LD_PRELOAD="$shim" \
	    PAGERD_LOG="$dir/shim.log" "$py" "$dir/w.py" "$dir/shared.bin" ||
	    fail "the shared writable mapping failed under the shim"
	cmp -s "$dir/shared.bin" "$dir/shared-plain.bin" ||
	    fail "the file differs after writes through a routed shared mapping"
	after=$("$ctl" -s "$sock" status | sed -n 's/.* \([0-9]*\) written back.*/\1/p')
	[ "$after" -gt "$before" ] || fail "no pages were written back by pagerd"
	grep -q "shared.bin" "$dir/shim.log" || fail "the shared mapping was not routed"
	# The munmap's sync is the region's last: not every page again.
	! grep -q "goes without a last sync" "$dir/log" ||
	    fail "munmap's sync did not say it was the last (WP_ASYNC)"
	echo "ok: PAGERD_SHARED_WRITE: msync and munmap write back ($((after - before)) pages)"
fi

# No daemon: the program runs as usual, the shim says why once.
PAGERD_SOCKET=$dir/none.sock PAGERD_FILES='*.dat' LD_PRELOAD="$shim" \
    "$prog" --sum "$dir/pattern.dat" >"$dir/out" 2>"$dir/err" ||
    fail "without a daemon the program failed"
[ "$(cat "$dir/out")" = "$("$prog" --sum "$dir/pattern.dat")" ] ||
    fail "without a daemon: wrong output"
echo "ok: no daemon: $(head -1 "$dir/err")"

# As nobody, where the userfaultfd serves user-mode faults only, nothing
# is routed (system calls could not touch routed memory) and it says so.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    [ "$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)" = 0 ]; then
	chmod 644 "$dir/pattern.dat"
	setpriv --reuid=65534 --regid=65534 --clear-groups env \
	    PAGERD_FILES='*.dat' LD_PRELOAD="$shim" "$prog" --sum \
	    "$dir/pattern.dat" >"$dir/out" 2>"$dir/err" ||
	    fail "as nobody the program failed: $(cat "$dir/err")"
	[ "$(cat "$dir/out")" = "$("$prog" --sum "$dir/pattern.dat")" ] ||
	    fail "as nobody: wrong output"
	grep -q "user-mode faults only" "$dir/err" ||
	    fail "as nobody the shim did not say why: $(cat "$dir/err")"
	echo "ok: nobody, user-mode faults only: left to the kernel, said once"
fi

stop_daemon
[ -z "$skipped" ] || echo "not installed, skipped:$skipped"
echo "unmodified programs behave the same under the shim"

#!/bin/sh
# Description: a file mapping that matches PAGERD_FILES but goes to the
# kernel says why: each one gets a line in PAGERD_LOG with the reason
# (shared, shared and writable, PROT_EXEC, no daemon), the first of a run
# is said once on standard error, and with PAGERD_QUIET nothing is.
set -u
. "${PAGERD_SRCDIR:-.}/tests/shared.sh"
head -c 3000000 /dev/urandom >"$dir/f.bin"
cat >"$dir/maps.py" <<'PY'
import mmap, sys
f = open(sys.argv[1], 'r+b')
a = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
b = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
c = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_WRITE)
d = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE,
              prot=mmap.PROT_READ | mmap.PROT_EXEC)
print(len(a[:]) + len(b[:]) + len(c[:]) + len(d[:]))
PY
run() {
	rm -f "$dir/shim.log"
	env PAGERD_FILES='*.bin' PAGERD_LOG="$dir/shim.log" LD_PRELOAD="$shim" \
	    "$@" "$py" "$dir/maps.py" "$dir/f.bin" >"$dir/out" 2>"$dir/err" ||
	    fail "the program failed under the shim: $(cat "$dir/err")"
	[ "$(cat "$dir/out")" = 12000000 ] || fail "wrong output: $(cat "$dir/out")"
}

run env
n=$(grep -c "kernel 3000000 bytes r- $dir/f.bin: shared: PAGERD_SHARED routes" "$dir/shim.log")
[ "$n" = 2 ] || fail "$n lines for the two read-only shared mappings: $(cat "$dir/shim.log")"
grep -q "kernel 3000000 bytes rw $dir/f.bin: shared and writable: PAGERD_SHARED_WRITE=1" \
    "$dir/shim.log" || fail "no line for the writable one: $(cat "$dir/shim.log")"
grep -q "kernel 3000000 bytes r- $dir/f.bin: prot 0x5" "$dir/shim.log" ||
    fail "no line for the executable one: $(cat "$dir/shim.log")"
[ "$(wc -l <"$dir/err")" = 1 ] && grep -q "f.bin: mapped by the kernel: shared: " "$dir/err" ||
    fail "standard error does not say it once: $(cat "$dir/err")"
echo "ok: each skipped mapping logged with its reason, said once: $(cat "$dir/err")"

run env PAGERD_QUIET=1
[ "$(grep -c "kernel 3000000" "$dir/shim.log")" = 4 ] || fail "PAGERD_QUIET changed the log"
! grep -q . "$dir/err" || fail "PAGERD_QUIET: the shim said $(cat "$dir/err")"
echo "ok: PAGERD_QUIET: logged, not said"

# With PAGERD_SHARED the read-only ones are routed; no daemon: that is why.
run env PAGERD_SHARED='*.bin' PAGERD_SOCKET="$dir/none.sock"
[ "$(grep -c "kernel 3000000 bytes r- $dir/f.bin: no daemon: " "$dir/shim.log")" = 2 ] ||
    fail "no daemon: $(cat "$dir/shim.log")"
[ "$(grep -c . "$dir/err")" = 1 ] || fail "no daemon: said more than once: $(cat "$dir/err")"
echo "ok: no daemon: logged for each mapping, said once"
stop_daemon

#!/bin/sh
# Description: under the LD_PRELOAD shim, a program's mapped file is
# served for as long as the process lives, whatever descriptors it
# closes: tests/closefds-prog maps a file, forks, and the child closes
# every descriptor above 2 (close_range) and reads the pages it never
# touched, every byte right, then maps the file again; python3 does the
# same with os.closerange, as subprocess's close_fds does. And the shim leaves the
# descriptors a program counts on free: with a mapping routed, the
# process holds no more descriptors below 512 than without the shim.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
prog=$build/tests/closefds-prog
shim_pattern "$dir/data.bin"

before=$(served)
# The child reads once the daemon has seen its socket close (the log).
PAGERD_FILES='*.bin' LD_PRELOAD="$shim" "$prog" "$dir/data.bin" "$dir/log" ||
    fail "a child that closed its descriptors read its mapping wrong"
[ "$(served)" -gt "$before" ] || fail "the daemon served no file pages"
grep -q "the process lives" "$dir/log" ||
    fail "the daemon did not keep the child's session past its socket"
echo "ok: fork and close_range"

if command -v python3 >/dev/null; then
	cat >"$dir/t.py" <<'PY'
import hashlib, mmap, os, sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
m[:8]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    # What subprocess's close_fds and daemons do: close all but 0, 1, 2
    # (and the pipe to answer on), then read pages never touched.
    os.closerange(3, r)
    os.closerange(w + 1, 65536)
    os.write(w, hashlib.sha256(m[:]).hexdigest().encode())
    os._exit(0)
os.close(w)
child = os.read(r, 100).decode()
os.waitpid(pid, 0)
print("same" if child == hashlib.sha256(m[:]).hexdigest() else "differ")
PY
	# Python's mmap maps shared: PAGERD_SHARED routes it.
	out=$(PAGERD_SHARED='*.bin' LD_PRELOAD="$shim" python3 "$dir/t.py" \
	    "$dir/data.bin" "$dir/hash" 2>&1) || fail "python3: $out"
	[ "$out" = same ] || fail "python3: the child and the parent read $out bytes"
	echo "ok: python3 fork and closerange"
else
	echo "python3 not installed: its part skipped"
fi

plain=$("$prog" --fds "$dir/data.bin" 2>"$dir/plain.fds") ||
    fail "closefds-prog --fds failed"
shimmed=$(PAGERD_FILES='*.bin' LD_PRELOAD="$shim" "$prog" --fds \
    "$dir/data.bin" 2>"$dir/shim.fds") || fail "closefds-prog --fds failed under the shim"
[ "$shimmed" = "$plain" ] || {
	cat "$dir/shim.fds"
	fail "under the shim the program holds $shimmed descriptors below 512, without it $plain"
}
echo "ok: descriptors below 512 left to the program ($plain)"
stop_daemon

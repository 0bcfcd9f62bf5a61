#!/bin/sh
# Description: writes made under the shim to a file whose shared mapping
# pagerd serves are seen through that mapping as soon as the call returns,
# never a stale page: in the writing process itself, through another
# descriptor of the file, by write, pwrite, writev, pwritev, ftruncate,
# fallocate, copy_file_range, sendfile and splice; and by another process
# under the shim, whose every pwrite (200 of them) the reader sees at
# once. The daemon names none of these writers as writing outside the
# shim: the first writer it names is a later one outside it.
set -u
. "${PAGERD_SRCDIR:-.}/tests/shared.sh"
head -c 4000000 /dev/urandom >"$dir/f.dat"
cat >"$dir/own.py" <<'PY'
import ctypes, mmap, os, sys
path = sys.argv[1]
fd = os.open(path, os.O_RDONLY)
m = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
size = len(m)
w = os.open(path, os.O_RDWR)        # another descriptor of the file
src = os.open(sys.argv[2], os.O_RDONLY)
P = 4096
def check(what, off, data):
    got = m[off:off + len(data)]
    if got != data:
        sys.exit("%s: at %d read %r, wrote %r" % (what, off, got[:16], data[:16]))
    print("ok", what)
for i in range(0, size, P):           # every page mapped before the writes
    m[i]
os.lseek(w, 10 * P + 5, os.SEEK_SET)
os.write(w, b"write" * 10); check("write", 10 * P + 5, b"write" * 10)
os.pwrite(w, b"pwrite" * 900, 20 * P - 7); check("pwrite", 20 * P - 7, b"pwrite" * 900)
os.lseek(w, 30 * P, os.SEEK_SET)
os.writev(w, [b"wri", b"tev"]); check("writev", 30 * P, b"writev")
os.pwritev(w, [b"pwri", b"tev"], 40 * P + 1); check("pwritev", 40 * P + 1, b"pwritev")
os.lseek(w, 50 * P, os.SEEK_SET)
n = os.copy_file_range(src, w, 5000)
check("copy_file_range", 50 * P, os.pread(src, n, 0))
os.copy_file_range(src, w, 3000, 0, 60 * P)
check("copy_file_range at", 60 * P, os.pread(src, 3000, 0))
os.lseek(w, 70 * P, os.SEEK_SET)
os.sendfile(w, src, 0, 7000); check("sendfile", 70 * P, os.pread(src, 7000, 0))
r, wp = os.pipe()
os.write(wp, b"splice" * 100)
os.splice(r, w, 600, offset_dst=80 * P); check("splice", 80 * P, b"splice" * 100)
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
if libc.fallocate(w, 3, 90 * P, 3 * P) != 0:   # PUNCH_HOLE | KEEP_SIZE
    sys.exit("fallocate: %s" % os.strerror(ctypes.get_errno()))
check("fallocate", 90 * P, b"\0" * 3 * P)
os.ftruncate(w, size - 2 * P - 100)
os.ftruncate(w, size)
check("ftruncate", size - 2 * P - 100, b"\0" * 100)
PY
head -c 9000 /dev/urandom >"$dir/src"
shared='*.dat'
shimmed "$py" "$dir/own.py" "$dir/f.dat" "$dir/src" >"$dir/out" 2>&1 ||
    fail "the program's own writes: $(cat "$dir/out")"
[ "$(grep -c "^ok" "$dir/out")" = 10 ] || fail "$(cat "$dir/out")"
grep -q "mmap .* r- $dir/f.dat" "$dir/shim.log" || fail "the mapping was not routed"
echo "ok: the program's own writes of every kind are seen at once"

# Another process: the reader tells it where, it writes and answers, the
# reader reads at once. Then a process outside the shim writes once, and
# the reader keeps the file mapped until the daemon names a writer: the
# daemon names a file's first outside writer only, a second after its
# write unless it turned out to write through the shim, so the one it
# names must be this last one, never a writer under the shim before it.
cat >"$dir/pair.py" <<'PY'
import mmap, os, sys, time, writers
path = sys.argv[1]
m = mmap.mmap(os.open(path, os.O_RDONLY), 0, access=mmap.ACCESS_READ)
writer = writers.start(path, shim=True)
for i in range(200):
    off = (i * 7919 * 4096 + i * 13) % (len(m) - 16)
    tag = "w%07d" % i
    writers.write(writer, m, off, tag)
    if m[off:off + 8] != tag.encode():
        sys.exit("write %d at %d: read %r" % (i, off, m[off:off + 8]))
writers.end(writer)
outside = writers.start(path, shim=False)
writers.write(outside, m, 0, "outside")
t0 = time.monotonic()
while "was written by" not in open(sys.argv[2]).read():
    if time.monotonic() - t0 > 10:
        sys.exit("no writer named 10 s after a write outside the shim")
    time.sleep(0.01)
writers.end(outside)
print("ok", os.getpid(), writer.pid, outside.pid)
PY
shimmed "$py" "$dir/pair.py" "$dir/f.dat" "$dir/log" >"$dir/out" 2>&1 ||
    fail "another process's writes: $(cat "$dir/out")"
grep -q "^ok" "$dir/out" || fail "$(cat "$dir/out")"
opid=$(awk '{ print $4 }' "$dir/out")
echo "ok: 200 pwrites by another process under the shim, each seen at once"
[ "$(grep -c "written by" "$dir/log")" = 1 ] &&
    grep -q "written by pid $opid (" "$dir/log" ||
    fail "a writer under the shim was named an outside writer: $(grep "written by" "$dir/log")"
stop_daemon

#!/bin/sh
# Description: a writer outside the shim changes a file whose shared
# mapping pagerd serves to a reader under the shim: the reader sees the
# new bytes within 1 s (the bound libpagerd-preload(8) states; the time
# each took is printed), for 50 writes, and the daemon logs once that the
# writer (pid and command; with inotify, where fanotify is refused, an
# unnamed one) wrote the file outside the shim.
set -u
. "${PAGERD_SRCDIR:-.}/tests/shared.sh"
head -c 6000000 /dev/urandom >"$dir/f.dat"
cat >"$dir/read.py" <<'PY'
import mmap, os, sys, time, writers
path = sys.argv[1]
m = mmap.mmap(os.open(path, os.O_RDONLY), 0, access=mmap.ACCESS_READ)
writer = writers.start(path, shim=False)
worst = 0
for i in range(50):
    off = (i * 104729 * 4096 + i * 31) % (len(m) - 16)
    tag = "o%07d" % i
    writers.write(writer, m, off, tag)
    t0 = time.monotonic()
    while m[off:off + 8] != tag.encode():
        if time.monotonic() - t0 > 1:
            sys.exit("write %d at %d not seen after 1 s: %r" % (i, off, m[off:off + 8]))
        time.sleep(0.0002)
    worst = max(worst, time.monotonic() - t0)
writers.end(writer)
print("ok %d %.1f" % (writer.pid, worst * 1000))
PY
shared='*.dat'
shimmed "$py" "$dir/read.py" "$dir/f.dat" >"$dir/out" 2>&1 ||
    fail "the reader: $(cat "$dir/out")"
grep -q "mmap .* r- $dir/f.dat" "$dir/shim.log" || fail "the mapping was not routed"
set -- $(cat "$dir/out")
[ "$1" = ok ] || fail "$(cat "$dir/out")"
echo "ok: 50 outside writes seen under the shim, the slowest after $3 ms"
writer="pid $2 (python3)"
grep -q "watched with inotify" "$dir/log" && writer="a process inotify does not name"
wait_line "was written by $writer outside the shim" "$dir/log" \
    "the daemon did not name the outside writer"
[ "$(grep -c "was written by" "$dir/log")" = 1 ] ||
    fail "the writer was named more than once: $(grep "written by" "$dir/log")"
echo "ok: $(grep -o "[^ ]*, which clients.*" "$dir/log")"
stop_daemon

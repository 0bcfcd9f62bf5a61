#!/bin/sh
# Description: pagerctl map draws a region's pages as the kernel and the
# daemon know them. With tests/map-prog holding a page-cache region of a
# 4 MiB file (four pages read, page 300 read through another region of
# the same file: in the cache only) and a 300 MiB copy-on-write region (six
# pages written, across chunk and request boundaries of the daemon's
# answers): -j map's runs cover every page once, in order; a page is
# resident or dirty exactly where /proc/PID/pagemap has it present; the
# written pages and no others are dirty; resident plus cached pages are
# the region's pages in its shared cache by the daemon's bitmap (regions
# -j); the text bar with a cell a page is the pagemap, and with 16 cells
# each cell shows a resident page where any of its pages is resident;
# the legend names every state; an address in no region is refused.
# The caches are on /dev/shm (no huge pages there by default), not the
# daemon's huge tmpfs: khugepaged may collapse a huge cache's range and
# take the client's page table of it back at any time, and the pictures
# compared here are taken one after the other.
set -u
daemon_args="--cache-dir /dev/shm"
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

head -c 4194304 /dev/urandom >"$dir/data"
rm -f "$dir/in"
mkfifo "$dir/in"
"$build/tests/map-prog" "$sock" "$dir/data" <"$dir/in" >"$dir/layout" &
mpid=$!
exec 7>"$dir/in"
wait_line ready "$dir/layout" "map-prog did not start"
field() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$dir/layout"; }

"$ctl" -s "$sock" -j regions "$mpid" >"$dir/regions" || fail "regions exited $?"
for r in file cow; do
	"$ctl" -s "$sock" -j map "$mpid" "$(field $r 2)" >"$dir/$r.json" ||
	    fail "map $r exited $?"
	python3 - "$mpid" "$(field $r 2)" "$(field $r 3)" "$r" \
	    "$dir/$r.json" "$dir/regions" <<'PY' || fail "map -j of the $r region is wrong"
import json, struct, sys
pid, addr, npages, kind = int(sys.argv[1]), int(sys.argv[2], 16), int(sys.argv[3]), sys.argv[4]
m = json.load(open(sys.argv[5]))
regions = json.load(open(sys.argv[6]))
assert m["pid"] == pid and m["start"] == addr and m["pages"] == npages, m
states = []
for run in m["runs"]:
    assert run["first"] == len(states) and run["pages"] > 0, run
    states += [run["state"]] * run["pages"]
assert len(states) == npages, (len(states), npages)
with open("/proc/%d/pagemap" % pid, "rb") as f:
    f.seek(addr // 4096 * 8)
    pm = struct.unpack("%dQ" % npages, f.read(8 * npages))
present = [bool(e >> 63 & 1) for e in pm]
for i in range(npages):
    assert (states[i] in ("resident", "dirty")) == present[i], (i, states[i], present[i])
counts = {s: states.count(s) for s in m["counts"]}
assert counts == m["counts"], (counts, m["counts"])
reg = [r for r in regions if r["start"] == addr][0]
if kind == "cow":
    dirty = [i for i, s in enumerate(states) if s == "dirty"]
    assert dirty == [0, 3583, 3584, 57343, 57344, npages - 1], dirty
    assert reg["dirty"] == len(dirty), reg
    assert m["daemon_knows"]["dirty"] and not m["daemon_knows"]["cached"], m
else:
    # Read pages stay in the cache; their page-table entries the kernel
    # may take back (khugepaged retracts a huge cache's page tables), and
    # the next touch faults them in again.
    for i in (0, 100, 500, npages - 1):
        assert states[i] in ("resident", "cached"), (i, states[i])
    assert m["backing"] == "page-cache", m
    assert states[300] == "cached" and m["daemon_knows"]["cached"], states[300]
    assert m["counts"]["resident"] + m["counts"]["cached"] == reg["cached"], (m["counts"], reg)
print("ok: map -j of the %s region: %s" % (kind, m["counts"]))
PY
done

# The text bar: a cell a page is the pagemap itself.
addr=$(field file 2)
n=$(field file 3)
"$ctl" -s "$sock" -w "$n" map "$mpid" "$addr" >"$dir/out" || fail "map exited $?"
cat "$dir/out"
python3 - "$mpid" "$addr" "$n" "$dir/out" <<'PY' || fail "the bar is not the pagemap"
import re, struct, sys
pid, addr, n = int(sys.argv[1]), int(sys.argv[2], 16), int(sys.argv[3])
text = open(sys.argv[4]).read()
bar = re.search(r"^\[([^\]]*)\]$", text, re.M).group(1)
with open("/proc/%d/pagemap" % pid, "rb") as f:
    f.seek(addr // 4096 * 8)
    pm = struct.unpack("%dQ" % n, f.read(8 * n))
assert len(bar) == n, len(bar)
for i in range(n):
    assert (bar[i] == "#") == bool(pm[i] >> 63 & 1), (i, bar[i])
    assert bar[i] in "#c.r", bar[i]
assert bar[300] == "c", bar[300]
for sym, word in (("D", "dirty"), ("r", "being read"), ("#", "resident"),
                  ("c", "page cache only"), (".", "not in memory")):
    assert re.search(r"^  %s [0-9]+ +.*%s" % (re.escape(sym), word), text, re.M), sym
PY
echo "ok: map with a cell a page"

"$ctl" -s "$sock" -w 16 map "$mpid" "$addr" >"$dir/out" || fail "map -w 16 exited $?"
python3 - "$mpid" "$addr" "$n" "$dir/out" <<'PY' || fail "the 16-cell bar is wrong"
import re, struct, sys
pid, addr, n = int(sys.argv[1]), int(sys.argv[2], 16), int(sys.argv[3])
bar = re.search(r"^\[([^\]]*)\]$", open(sys.argv[4]).read(), re.M).group(1)
with open("/proc/%d/pagemap" % pid, "rb") as f:
    f.seek(addr // 4096 * 8)
    pm = struct.unpack("%dQ" % n, f.read(8 * n))
assert len(bar) == 16, bar
for k in range(16):
    cell = [pm[i] >> 63 & 1 for i in range(n) if i * 16 // n == k]
    assert (bar[k] == "#") == any(cell), (k, bar)
PY
echo "ok: map -w 16"

"$ctl" -s "$sock" map "$mpid" 0x10 >"$dir/out" 2>"$dir/err" &&
    fail "map of an address in no region exited 0"
grep -q "no pagerd region of pid $mpid holds 0x10" "$dir/err" ||
    fail "map of an address in no region: $(cat "$dir/err")"
"$ctl" -s "$sock" -w 0 map "$mpid" "$addr" 2>"$dir/err" && fail "-w 0 exited 0"
grep -q "width 0 is too small" "$dir/err" || fail "-w 0: $(cat "$dir/err")"
exec 7>&-
wait "$mpid"
exit 0

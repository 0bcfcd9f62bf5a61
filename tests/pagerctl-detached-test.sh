#!/bin/sh
# Description: pagerctl clients marks a detached session. A python3 under
# the shim maps a file and closes every descriptor but 0, 1 and 2: its
# session lives on, detached, and clients shows it "detached" (-j:
# "detached": true); a client still connected is not marked.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }
[ -f "$shim" ] || fail "no shim at $shim"

head -c 300000 /dev/urandom >"$dir/data.bin"
cat >"$dir/t.py" <<'PY'
import mmap, os, sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
m[:8]
os.closerange(3, 65536)
print("closed", flush=True)
sys.stdin.read()
m[100000:100008]
PY
rm -f "$dir/in"
mkfifo "$dir/in"
PAGERD_SOCKET=$sock PAGERD_FILES='*.bin' LD_PRELOAD=$shim \
    python3 "$dir/t.py" "$dir/data.bin" <"$dir/in" >"$dir/py.out" &
ppid=$!
exec 7>"$dir/in"
wait_line closed "$dir/py.out" "python3 did not close its descriptors"
wait_line "the process lives" "$dir/log" "the session was not kept detached"
start_layout "$sock" "$dir/data.bin"

"$ctl" -s "$sock" clients >"$dir/out" || fail "clients exited $?"
cat "$dir/out"
grep -Eq "^ *$ppid +python3.* detached$" "$dir/out" ||
    fail "clients does not mark the detached session"
grep -E "^ *$lpid " "$dir/out" | grep -q detached &&
    fail "clients marks a connected session detached"
"$ctl" -s "$sock" -j clients | python3 -c '
import json, sys
c = {x["pid"]: x["detached"] for x in json.load(sys.stdin)}
assert c[int(sys.argv[1])] is True and c[int(sys.argv[2])] is False, c
' "$ppid" "$lpid" || fail "clients -j does not say which is detached"
exec 7>&-
wait "$ppid" || fail "python3 exited $?"
wait "$lpid"
exit 0

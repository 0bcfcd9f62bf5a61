#!/bin/sh
# Description: read-only shared file mappings are served by pagerd when
# PAGERD_SHARED names the file: numpy's np.memmap and np.load(mmap_mode='r')
# and Python's mmap(ACCESS_READ) of a 64 MiB array, run under the shim,
# read every byte as without it (checksums), the daemon's log shows the
# session and a page-cache region of the file, and the shim's log the
# mapping.
set -u
. "${PAGERD_SRCDIR:-.}/tests/shared.sh"
"$py" -c 'import numpy' 2>/dev/null ||
    { echo "SKIP: numpy is not installed for $py (python3-numpy)"; exit 77; }

"$py" -c '
import numpy as np, sys
rng = np.random.default_rng(7)
np.save(sys.argv[1], rng.integers(0, 1 << 62, size=8 << 20, dtype=np.int64))
' "$dir/a.npy" || fail "numpy could not write the array"
cat >"$dir/read.py" <<'PY'
import hashlib, mmap, sys
import numpy as np
path = sys.argv[1]
a = np.load(path, mmap_mode='r')
assert isinstance(a, np.memmap), type(a)
print("load", a.shape, hashlib.sha256(a.tobytes()).hexdigest(), int(a[::4097].sum()))
m = np.memmap(path, dtype=np.uint8, mode='r')
print("memmap", m.shape, hashlib.sha256(m.tobytes()).hexdigest())
with open(path, 'rb') as f:
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    print("mmap", len(mm), hashlib.sha256(mm[:]).hexdigest(),
          hashlib.sha256(mm[5::4096]).hexdigest())
PY
"$py" "$dir/read.py" "$dir/a.npy" >"$dir/plain" || fail "failed without the shim"
shared='*.npy'
shimmed "$py" "$dir/read.py" "$dir/a.npy" >"$dir/shimmed" 2>"$dir/err" ||
    fail "failed under the shim: $(cat "$dir/err")"
cmp -s "$dir/plain" "$dir/shimmed" ||
    fail "the bytes differ under the shim: $(diff "$dir/plain" "$dir/shimmed")"
[ "$(grep -c "mmap .* r- $dir/a.npy" "$dir/shim.log")" -ge 3 ] ||
    fail "the shim routed fewer than three mappings: $(cat "$dir/shim.log")"
grep -q "pid [0-9]* (python3.*) uid [0-9]* connected" "$dir/log" ||
    fail "the daemon's log shows no session"
grep -q "r- page-cache offset 0x0 size 67108992" "$dir/log" ||
    fail "the daemon's log shows no page-cache region of the array"
grep -Eq "closed: .* [1-9][0-9]{4,} pages from files" "$dir/log" ||
    fail "the daemon served too few pages: $(grep closed "$dir/log")"
! grep -q . "$dir/err" || fail "the shim said something: $(cat "$dir/err")"
stop_daemon
echo "ok: numpy memmap, np.load(mmap_mode='r') and mmap(ACCESS_READ) served by pagerd"

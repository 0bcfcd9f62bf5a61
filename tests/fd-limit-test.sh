#!/bin/sh
# Description: under the LD_PRELOAD shim, with the usual limit of 1024
# open files, routed regions cost descriptors per file, not per region:
# 3000 mappings of one file are all routed, and nothing is said; mapping
# 700 distinct files reaches the limit, and the shim says the real cause
# (the descriptor limit) once, not once a mapping; every page reads right
# either way.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
prog=$build/tests/closefds-prog
shim_pattern "$dir/data.bin"

( ulimit -n 1024 && PAGERD_FILES='*.bin' PAGERD_LOG="$dir/one.log" \
    LD_PRELOAD="$shim" "$prog" --many 3000 "$dir/data.bin" ) \
    2>"$dir/one.err" || { cat "$dir/one.err"; fail "3000 mappings of one file"; }
routed=$(grep -c "mmap" "$dir/one.log")
[ "$routed" -eq 3000 ] || {
	head -3 "$dir/one.err"
	fail "$routed of 3000 mappings of one file routed"
}
[ ! -s "$dir/one.err" ] || fail "the shim spoke: $(head -1 "$dir/one.err")"
echo "ok: 3000 mappings of one file, all routed"

mkdir "$dir/files"
i=0
while [ $i -lt 700 ]; do
	head -c 4096 "$dir/data.bin" >"$dir/files/g$i.bin"
	i=$((i + 1))
done
( ulimit -n 1024 && PAGERD_FILES='g*.bin' PAGERD_LOG="$dir/many.log" \
    LD_PRELOAD="$shim" "$prog" --many 1 "$dir"/files/g*.bin ) \
    2>"$dir/many.err" || { cat "$dir/many.err"; fail "700 files"; }
said=$(grep -c "pagerd shim" "$dir/many.err")
[ "$said" -eq 1 ] || { head -3 "$dir/many.err"; fail "the shim spoke $said times"; }
grep -q "RLIMIT_NOFILE" "$dir/many.err" ||
    fail "the shim did not name the limit: $(cat "$dir/many.err")"
routed=$(grep -c "mmap" "$dir/many.log")
echo "ok: 700 files, $routed routed, the limit said once"
stop_daemon

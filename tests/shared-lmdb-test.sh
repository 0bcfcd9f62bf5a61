#!/bin/sh
# Description: LMDB under the shim with its data file's shared mapping
# served by pagerd (PAGERD_SHARED='data.mdb'): mdb_load writes a database
# with pwrite and reads it back through that mapping while mdb_stat and
# mdb_dump, under the shim too, read it; every dump taken during the load
# is a consistent prefix of the whole, and the database the shimmed
# mdb_load made, dumped under the shim, is the same as the one made
# without pagerd, dumped without it.
set -u
. "${PAGERD_SRCDIR:-.}/tests/shared.sh"
for p in mdb_load mdb_dump mdb_stat; do
	command -v $p >/dev/null ||
	    { echo "SKIP: $p is not installed (lmdb-utils)"; exit 77; }
done
lmdb_input 60000 "$dir/in"
mkdir "$dir/plain" "$dir/shim"
mdb_load -f "$dir/in" "$dir/plain" || fail "mdb_load failed"
mdb_dump "$dir/plain" >"$dir/plain.dump" || fail "mdb_dump failed"
grep -v '^ ' "$dir/plain.dump" >"$dir/header"

shared='data.mdb'
# The readers need the environment to exist: an empty load first.
printf 'VERSION=3\nformat=print\ntype=btree\nmapsize=268435456\nHEADER=END\nDATA=END\n' |
    shimmed mdb_load "$dir/shim" || fail "mdb_load of nothing failed under the shim"
shimmed mdb_load -f "$dir/in" "$dir/shim" 2>"$dir/load.err" &
lpid=$!
n=0
while kill -0 $lpid 2>/dev/null; do
	shimmed mdb_stat "$dir/shim" >"$dir/stat" 2>&1 ||
	    fail "mdb_stat under the shim during the load: $(cat "$dir/stat")"
	shimmed mdb_dump "$dir/shim" >"$dir/dump.$n" 2>&1 ||
	    fail "mdb_dump under the shim during the load: $(cat "$dir/dump.$n")"
	n=$((n + 1))
done
wait $lpid || fail "mdb_load failed under the shim: $(cat "$dir/load.err")"
[ $n -gt 0 ] || fail "no reader ran during the load"
# Each dump: the header, a prefix of the records, the end.
i=0
while [ $i -lt $n ]; do
	d=$dir/dump.$i
	lines=$(grep -c '^ ' "$d")
	grep '^ ' "$d" | cmp -s - "$(grep '^ ' "$dir/plain.dump" | head -n "$lines" >"$dir/prefix"; echo "$dir/prefix")" ||
	    fail "dump $i during the load is not a prefix of the database"
	grep -v '^ ' "$d" | cmp -s - "$dir/header" || fail "dump $i: header or end differs"
	i=$((i + 1))
done
shimmed mdb_dump "$dir/shim" >"$dir/shim.dump" || fail "mdb_dump failed under the shim"
cmp -s "$dir/plain.dump" "$dir/shim.dump" ||
    fail "the database made and read under the shim differs ($(mdb_stat "$dir/shim" | grep Entries))"
mdb_stat "$dir/plain" | grep -v "Page size\|Max readers" >"$dir/stat.plain"
shimmed mdb_stat "$dir/shim" | grep -v "Page size\|Max readers" >"$dir/stat.shim"
cmp -s "$dir/stat.plain" "$dir/stat.shim" ||
    fail "mdb_stat differs: $(diff "$dir/stat.plain" "$dir/stat.shim")"
grep -q "mmap .* r- $dir/shim/data.mdb" "$dir/shim.log" ||
    fail "the data file's shared mapping was not routed"
[ "$(grep -c "mmap .* r- $dir/shim/data.mdb" "$dir/shim.log")" -gt "$n" ] ||
    fail "fewer routed mappings than readers"
counts=$(for f in "$dir"/dump.*; do grep -c "^ " "$f"; done | sort -n | uniq | tr "\n" " ")
echo "ok: mdb_load with $n mdb_stat and mdb_dump runs beside it (records seen: $counts), all under the shim: the same database"
stop_daemon

#!/bin/sh
# Description: an unmodified program under the shim with PAGERD_ANON that
# asks huge pages (MADV_HUGEPAGE) for its anonymous mapping gets them from
# the kernel: the shim gives the region back (its log says so), smaps
# shows AnonHugePages, the daemon lists no region of the program, and
# every byte the program wrote reads back, those written through pagerd
# before it asked too. So too for a mapping trimmed to 2 MiB alignment
# by unmapping its head and tail before the advice, as allocators do (a
# piece whose number in the daemon the library does not know), and for
# a part of a mapping advised alone (in its middle, at its start): that
# part goes to the kernel, the daemon keeps serving the rest.
# The same program not asking huge pages is still served by pagerd: a
# zero-fill region with faults in `pagerctl regions`, no AnonHugePages,
# the same bytes. Skipped where the kernel gives the program no huge
# pages on advice without the shim.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
prog=$build/tests/thp-prog
thp=/sys/kernel/mm/transparent_hugepage/enabled
[ -f "$shim" ] || fail "no shim at $shim"
if ! [ -r "$thp" ] || grep -q '\[never\]' "$thp"; then
	echo "SKIP: the kernel gives no transparent huge pages ($thp:" \
	    "$(cat "$thp" 2>/dev/null || echo missing))"
	exit 77
fi

# Where the kernel itself gives the program no huge page (memory too
# fragmented to compact, a cgroup's limit), nothing here can be judged.
kernel=$("$prog" 64 thp </dev/null | sed -n 's/^huge //p')
[ -n "$kernel" ] || fail "thp-prog failed without the shim"
if [ "$kernel" -eq 0 ]; then
	echo "SKIP: the kernel gave thp-prog no huge page without the shim"
	exit 77
fi

# Run thp-prog ($1: "thp" or "") under the shim; leave its output in
# $dir/out, its pid in $ppid and `pagerctl regions` of it in $dir/regions
# while it runs, then wait for it to exit 0.
run() {
	rm -f "$dir/in" "$dir/out" "$dir/shim.log"
	mkfifo "$dir/in"
	# shellcheck disable=SC2086
	env LD_PRELOAD="$shim" PAGERD_SOCKET="$sock" PAGERD_ANON=16M \
	    PAGERD_LOG="$dir/shim.log" "$prog" 64 $1 <"$dir/in" >"$dir/out" &
	ppid=$!
	exec 7>"$dir/in"
	wait_line ready "$dir/out" "thp-prog ${1:-without thp} did not get ready"
	"$ctl" -s "$sock" regions "$ppid" >"$dir/regions" ||
	    fail "pagerctl regions $ppid failed"
	exec 7>&-
	wait $ppid || fail "thp-prog ${1:-without thp} failed (its data is wrong)"
	huge=$(sed -n 's/^huge //p' "$dir/out")
}

# After `run $1`: bytes ($2) were given to the kernel and got huge
# pages; with "all", the daemon lists no region of the program.
given() {
	grep -q "MADV_HUGEPAGE: $2 bytes of zero-fill to the kernel" \
	    "$dir/shim.log" || fail "$1: $2 bytes were not given back"
	[ "$huge" -gt 0 ] || fail "$1: AnonHugePages $huge kB under the shim"
	[ "${3:-}" != all ] || ! grep -q zero-fill "$dir/regions" || {
		cat "$dir/regions"
		fail "$1: the daemon still lists a region given to the kernel"
	}
}

run thp
cat "$dir/shim.log"
grep -q 'mmap .* zero-fill' "$dir/shim.log" || fail "the shim routed no mapping"
given thp 67108864 all
echo "ok: MADV_HUGEPAGE: the kernel's, AnonHugePages $huge kB"

# Pages written through pagerd before the advice stay, beside the
# kernel's huge pages after it.
run late
given late 67108864
echo "ok: MADV_HUGEPAGE after writes: their data kept, AnonHugePages $huge kB"

# An allocator's pattern: the piece left of a trimmed mapping goes too.
run trim
cat "$dir/shim.log"
grep -q 'munmap' "$dir/shim.log" || fail "trim: the shim saw no munmap"
given trim 67108864 all
echo "ok: trimmed to alignment: the kernel's, AnonHugePages $huge kB"

# 32 MiB advised alone, in the middle ($1 part: two pieces left) or at
# the start (head: one): that part only; pagerd keeps the rest and
# serves its faults.
parted() {
	run "$1"
	given "$1" 33554432
	cat "$dir/regions"
	[ "$(grep -c zero-fill "$dir/regions")" -eq "$2" ] ||
	    fail "$1: the daemon does not list the $2 pieces left to it"
	awk '/zero-fill/ && $9 == 0 { bad = 1 } END { exit bad }' \
	    "$dir/regions" || fail "$1: a piece left to the daemon took no fault"
	echo "ok: $1 advised: the kernel's, AnonHugePages $huge kB; the rest pagerd's"
}
parted part 2
parted head 1

run ""
grep -q 'MADV_HUGEPAGE' "$dir/shim.log" && fail "the shim gave memory back unasked"
[ "$huge" -eq 0 ] || fail "without MADV_HUGEPAGE: AnonHugePages $huge kB"
cat "$dir/regions"
faults=$(awk '/zero-fill/ { print $9 }' "$dir/regions")
[ -n "$faults" ] && [ "$faults" -gt 0 ] ||
    fail "without MADV_HUGEPAGE the daemon lists no zero-fill region with faults"
echo "ok: without MADV_HUGEPAGE: pagerd's, $faults faults"

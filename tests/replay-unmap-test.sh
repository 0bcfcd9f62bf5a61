#!/bin/sh
# Description: a fault parked on a working-set replay's read is woken when
# a munmap cuts its region while the read is out: cut in the middle (the
# read's install crosses the hole; the faults before and after it must
# wake), at the start (the region holding the replay goes, and a fault in
# the part split off from it must wake), and in the middle with the
# munmap's event still unread when the read ends (the session's share of
# reads out: the install fails EAGAIN while the kernel holds the event,
# and the fault must be woken to fault again). Faults park on
# replay reads only for files on block devices, so the file lives on ext4
# on a loop device whose image lies on tests/eio-fs, with the file's
# blocks as the range whose reads hang until the disk is mended.
# tests/replay-unmap-prog records a run, then in each case maps the file
# again with the disk hung, faults in threads, munmaps and mends the
# disk: every thread must get its page within 10 s. Needs root (loop
# device, mounts).
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "loop devices and mounts need root"
for t in losetup mkfs.ext4 debugfs mount umount mountpoint; do
	command -v $t >/dev/null 2>&1 || skip "no $t"
done
[ -x "$build/tests/eio-fs" ] || skip "tests/eio-fs not built: configure found no fuse3 (Debian: libfuse3-dev)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
[ -e /dev/loop-control ] || skip "no /dev/loop-control: no loop devices"
grep -qw ext4 /proc/filesystems || skip "the kernel has no ext4"

seed=0x5eed0071
mib=4				# the file: the first replay read is 1 MiB
img=$((16 << 20))		# the ext4 image
fspid=
loop=
cpid=
# The disk is mended first: what waits on it (loop device, mount, daemon,
# a client) then ends, and everything can be taken down.
cleanup() {
	[ -n "$fspid" ] && kill -USR1 $fspid 2>/dev/null
	[ -n "$cpid" ] && kill -9 $cpid 2>/dev/null
	[ -n "$pid" ] && { kill $pid; wait $pid; } 2>/dev/null
	mountpoint -q "$dir/ext4" 2>/dev/null && umount "$dir/ext4"
	[ -n "$loop" ] && losetup -d "$loop"
	[ -n "$fspid" ] && { kill $fspid; wait $fspid; } 2>/dev/null
	mountpoint -q "$dir/fuse" 2>/dev/null && umount -l "$dir/fuse"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
mkdir "$dir/stage" "$dir/fuse" "$dir/ext4"

# The image, with the pattern file in one extent; where it lies in it.
"$build/tests/replay-prog" --make "$dir/stage/ws.dat" $seed $mib ||
    fail "cannot write the pattern file"
mkfs.ext4 -q -F -b 4096 -d "$dir/stage" "$dir/img" $((img >> 20))M \
    >"$dir/mkfs.log" 2>&1 || skip "mkfs.ext4 -d failed: $(cat "$dir/mkfs.log")"
extents=$(debugfs -R "stat /ws.dat" "$dir/img" 2>/dev/null |
    sed -n '/^EXTENTS:/,$p')
block=$(echo "$extents" | sed -n "s/^(0-$((mib * 256 - 1))):\([0-9]*\)-[0-9]*\$/\1/p")
[ -n "$block" ] || fail "ws.dat is not one extent in the image: $extents"

# eio-fs: twice the image; its bad range, the second half's first $mib
# MiB, is where the image's copy puts the file's blocks.
"$build/tests/eio-fs" "$dir/fuse" $((2 * img)) 1 $img $((mib << 20)) hang \
    2>"$dir/eio-fs.log" &
fspid=$!
i=0
while [ "$(stat -c %s "$dir/fuse/data" 2>/dev/null)" != $((2 * img)) ] &&
    [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
[ $i -lt 200 ] || skip "eio-fs did not mount: $(cat "$dir/eio-fs.log")"
kill -USR1 $fspid
off=$((img - block * 4096))
dd if="$dir/img" of="$dir/fuse/data" bs=1M seek=$off oflag=seek_bytes \
    conv=notrunc status=none || fail "cannot copy the image to eio-fs"
loop=$(losetup -r -f --show --offset $off --sizelimit $img "$dir/fuse/data" \
    2>"$dir/losetup.log") || skip "no loop device: $(cat "$dir/losetup.log")"
mount -t ext4 -o ro,noload "$loop" "$dir/ext4" ||
    fail "cannot mount the image at $loop"
file=$dir/ext4/ws.dat

printf 'cache-linger 0\n' >"$dir/conf"
sock=$dir/pagerd.sock
# Queue depth 4: a session's share of reads is one (unread's case).
start_daemon "$sock" --socket "$sock" -f "$dir/conf" -q 4 -v

# Every client gone, and so every page cache (cache-linger 0).
wait_idle() {
	i=0
	while ! "$ctl" -s "$sock" status |
	    grep -q " 0 sessions, 0 regions, 0 shared page caches" &&
	    [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ $i -lt 200 ] || fail "pagerd kept a client or a cache 10 s after its end"
}

# replay-unmap-prog ARGS...: in the background, so that a signal to
# the test ends it at once (its clean-up mends the disk, then kills it).
prog() {
	"$build/tests/replay-unmap-prog" "$sock" "$file" $seed "$@" &
	cpid=$!
	wait $cpid
	st=$?
	cpid=
	return $st
}
prog record || fail "the recorded run failed"
wait_idle
grep -q "recorded .* pages of $file" "$dir/log" || fail "nothing was recorded"

for how in middle start unread; do
	# Cold: the file's pages in neither the ext4 file's page cache nor
	# eio-fs's, so that the replay's reads reach eio-fs and hang.
	dd if="$file" iflag=nocache count=0 status=none
	dd if="$dir/fuse/data" iflag=nocache count=0 status=none
	kill -USR2 $fspid
	n=$(grep -c "replaying .* of $file" "$dir/log")
	prog $how $fspid ||
	    fail "replay-unmap-prog $how: a fault was not woken (its FAIL above)"
	[ "$(grep -c "replaying .* of $file" "$dir/log")" -gt "$n" ] ||
	    fail "the $how run replayed nothing"
	wait_idle
done
kill -0 $pid || fail "pagerd died"
stop_daemon
echo "PASS: faults parked on replay reads woke after a munmap cut the region"

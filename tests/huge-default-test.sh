#!/bin/sh
# Description: without cache-dir, a daemon started as root keeps its page
# caches on a private tmpfs in huge pages (huge=within_size) that no mount
# namespace shows: its log says so, a client's file fills huge pages in
# shared memory whatever shmem_enabled says, and no mount appears in the
# system's table nor in the daemon's own; a daemon without the right to
# mount (an unprivileged user) keeps memfds, logs why, and serves all the
# same.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
test_users
sock=$dir/pagerd.sock
head -c 32M /dev/urandom >"$dir/data"
chmod 644 "$dir/data"

huge_before=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
"$bin" -d -v --socket "$sock" 2>"$dir/log" &
pid=$!
wait_sock "$sock"
grep -q "page caches are files on a private tmpfs (huge=within_size)" \
    "$dir/log" || fail "the daemon did not say its caches are on a private tmpfs"
"$build/pagerd-example" -s "$sock" "$dir/data" >"$dir/out" ||
    fail "pagerd-example failed: $(cat "$dir/out")"
# The cache lingers, in huge pages. ShmemHugePages is the machine's: other
# programs' shared memory may come and go meanwhile, so the cache's share
# is seen either as a rise while it fills or as a drop when the daemon
# stops; noise must hit both windows to fail the test.
huge=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
# The lingering cache is a file of a tmpfs (not a memfd) whose mount is
# in no mount table: not the system's, not the daemon's own. (Counting
# mounts would see other tests' come and go.)
found=0
for f in /proc/$pid/fd/*; do
	case "$(readlink "$f")" in /memfd:*) continue ;; esac
	[ -f "$f" ] && [ "$(stat -L -f -c %T "$f")" = tmpfs ] || continue
	mnt=$(awk '$1 == "mnt_id:" { print $2 }' "/proc/$pid/fdinfo/${f##*/}")
	for table in /proc/self/mountinfo /proc/$pid/mountinfo; do
		awk -v m="$mnt" '$1 == m { found = 1 } END { exit !found }' \
		    "$table" && fail "the cache's tmpfs is in $table"
	done
	found=$((found + 1))
done
[ $found -gt 0 ] || fail "no cache file of a tmpfs among the daemon's descriptors"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=
huge_after=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
[ "$huge" -ge $((huge_before + 16384)) ] ||
    [ "$huge" -ge $((huge_after + 16384)) ] ||
    fail "no 16 MiB of huge pages in shared memory came with a 32 MiB cache or went with it ($huge_before kB, $huge kB filled, $huge_after kB stopped)"

# A user who may not mount: memfds, and the reason.
mkdir "$dir/ta"
chown pagerd-ta "$dir/ta"
# (setpriv itself, not as_user's subshell: $pid must be the daemon.)
setpriv --reuid=pagerd-ta --regid=pagerd-ta --clear-groups -- \
    "$bin" -d --socket "$dir/ta/sock" 2>"$dir/log" &
pid=$!
wait_sock "$dir/ta/sock"
grep -q "page caches are memfds, in huge pages only where shmem_enabled allows: no private tmpfs (fsopen tmpfs: Operation not permitted (mounting needs CAP_SYS_ADMIN))" \
    "$dir/log" || fail "an unprivileged daemon did not say why its caches are memfds"
as_user pagerd-ta "$build/pagerd-example" -s "$dir/ta/sock" "$dir/data" \
    >"$dir/out" || fail "pagerd-example failed: $(cat "$dir/out")"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=
echo "caches on a private huge tmpfs by default; memfds without the right to mount"

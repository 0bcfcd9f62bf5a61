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

mounts_before=$(wc -l </proc/self/mountinfo)
huge_before=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
"$bin" -d -v --socket "$sock" 2>"$dir/log" &
pid=$!
wait_sock "$sock"
grep -q "page caches are files on a private tmpfs (huge=within_size)" \
    "$dir/log" || fail "the daemon did not say its caches are on a private tmpfs"
[ "$(wc -l </proc/$pid/mountinfo)" = "$mounts_before" ] ||
    fail "the daemon's mount table changed: $(diff /proc/self/mountinfo /proc/$pid/mountinfo)"
"$build/pagerd-example" -s "$sock" "$dir/data" >"$dir/out" ||
    fail "pagerd-example failed: $(cat "$dir/out")"
# The cache lingers, in huge pages.
huge=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
[ "$huge" -ge $((huge_before + 16384)) ] ||
    fail "no 16 MiB more huge pages in shared memory after filling a 32 MiB cache ($huge_before kB, then $huge kB)"
[ "$(wc -l </proc/self/mountinfo)" = "$mounts_before" ] ||
    fail "a mount appeared in the system's table"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=

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

#!/bin/sh
# Description: pagerd runs under the system calls its systemd unit allows
# (SystemCallFilter= in contrib/systemd/pagerd.service.in, its groups
# expanded by systemd-analyze, applied by tests/seccomp-exec with any
# other call killing the daemon, as systemd does): it starts as root
# (huge-page tmpfs, fanotify), serves a file client in order and at
# random (page caches, their watch, cold-stream probes), a preloaded
# program's anonymous memory, mremap, fork and large mallocs, a
# copy-on-write snapshot by pagerctl, reloads on SIGHUP, and stops cleanly
# on SIGTERM. A call the unit lacks is named from the kernel's audit line
# where the log has one. The unit's other confinement (namespaces,
# capabilities, paths) is not applied here.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
unit=${PAGERD_SRCDIR:-.}/contrib/systemd/pagerd.service.in
exec_filtered=$build/tests/seccomp-exec
client=${PAGERD_TEST_CLIENT:-$build/tests/file-read-test}

[ -x "$exec_filtered" ] || { echo "SKIP: built without libseccomp"; exit 77; }
command -v systemd-analyze >/dev/null ||
    { echo "SKIP: no systemd-analyze to expand the unit's groups"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: the service runs as root"; exit 77; }
[ "${PAGERD_TEST_ASAN:-0}" = 1 ] &&
    { echo "SKIP: the sanitizers' own calls are not the daemon's"; exit 77; }

# The unit's allow list, its groups expanded.
calls=$(sh "${PAGERD_SRCDIR:-.}/tests/unit-filter.sh" calls "$unit") ||
    fail "cannot read the unit's filter"

sock=$dir/pagerd.sock
# shellcheck disable=SC2086
"$exec_filtered" $calls -- "$real_bin" -d --socket "$sock" 2>"$dir/log" &
pid=$!
wait_sock "$sock"
sleep 0.2
alive "at start"
grep -q "private tmpfs" "$dir/log" ||
    fail "as root the daemon should have its huge-page tmpfs"

"$client" --client "$sock" >/dev/null || { alive "serving the file client"; fail "the file client failed"; }
alive "serving the file client"
check_shim "$sock"
check_snapshot "$sock"
check_reload_stop "$sock"
echo "under the unit's $(echo "$calls" | wc -l) system calls: every job done, a clean stop"

#!/bin/sh
# Description: a state directory the daemon cannot use is said so with its
# own cause, and the daemon serves on without recordings: one on a
# read-only file system (a read-only bind mount in a mount namespace of
# the daemon's own) is named read-only, one missing there cannot be made,
# and one another uid owns is named by its owner. Root only.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (a bind mount, a chown)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: no unshare"; exit 77; }
unshare -m true 2>/dev/null || { echo "SKIP: no mount namespace here"; exit 77; }

# Start the daemon on socket $1 with --state-dir $2, in a mount namespace
# where $dir/ro is a read-only bind mount of itself.
start_ro() {
	s=$1
	rm -f "$dir/log"
	# shellcheck disable=SC2016 # the inner shell expands them
	unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
	    shift && exec "$@"' sh "$dir/ro" "$bin" -d -f /dev/null -s "$s" \
	    --state-dir "$2" 2>"$dir/log" &
	pid=$!
	wait_sock "$s"
}

mkdir -m 0700 "$dir/ro" "$dir/ro/state"
start_ro "$dir/ro.sock" "$dir/ro/state"
wait_line "state-dir $dir/ro/state: on a read-only file system: working-set recording is off" \
    "$dir/log" "a read-only state-dir was not named so"
grep -q "owner\|owned by" "$dir/log" && fail "a read-only state-dir was blamed on its owner"
"$ctl" -s "$dir/ro.sock" status >/dev/null || fail "the daemon does not answer"
stop_daemon
echo "ok: a read-only state-dir is said to be on a read-only file system"

start_ro "$dir/ro2.sock" "$dir/ro/missing"
wait_line "state-dir $dir/ro/missing: missing and cannot be made; working-set recording is off: Read-only file system" \
    "$dir/log" "a state-dir that cannot be made was not said so"
stop_daemon
echo "ok: a missing state-dir that cannot be made is said so, with the reason"

mkdir -m 0700 "$dir/theirs"
chown 65534 "$dir/theirs"
start_daemon "$dir/own.sock" -f /dev/null -s "$dir/own.sock" --state-dir "$dir/theirs"
wait_line "state-dir $dir/theirs: owned by uid 65534, not the daemon's uid 0: working-set recording is off" \
    "$dir/log" "a state-dir of another uid was not named by its owner"
stop_daemon
[ "$(stat -c %u "$dir/theirs")" = 65534 ] || fail "the daemon changed the owner"
echo "ok: a state-dir another uid owns is named by its owner"

#!/bin/sh
# Description: page caches kept in files on a tmpfs (cache-dir) mounted
# with huge=within_size, as pagerd(8) suggests: the daemon refuses a
# directory that is not on a tmpfs, saying why; with one, pagerd-example
# reads a 32 MiB file right, the lingering cache takes room on that tmpfs
# and huge pages; a client of a file too big for an 8 MiB tmpfs gets
# SIGBUS and the daemon's log says the tmpfs is full; and the file, page
# cache, truncation, disk-error, crash-and-restart (a restarted daemon adopts the
# caches the clients still map) and bad-client tests (it refuses to adopt
# a named file there) pass with their caches there; and a daemon
# restarted without its cache-dir, or with one it did not have, adopts
# the caches its clients map all the same. Needs root, to mount the tmpfs.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
cache=$dir/cache
mkdir "$cache"
mount -t tmpfs -o huge=within_size,size=2G,mode=0700 pagerd-test "$cache" ||
    { echo "SKIP: cannot mount a tmpfs with huge=within_size"; exit 77; }
# The daemon must be gone before its caches' tmpfs can be unmounted.
trap '[ -n "$pid" ] && { kill $pid; wait $pid; } 2>/dev/null; umount "$cache"; rm -rf "$dir"' EXIT
sock=$dir/pagerd.sock

# A directory on another file system is refused at start, with the cause.
other=$build
[ "$(stat -f -c %T "$other")" != tmpfs ] || other=/
if [ "$(stat -f -c %T "$other")" != tmpfs ]; then
	"$bin" -d --socket "$sock" --cache-dir "$other" 2>"$dir/log" &&
	    fail "pagerd started with cache-dir on $(stat -f -c %T "$other")"
	grep -q "is not on a tmpfs" "$dir/log" ||
	    fail "pagerd did not say why it refused cache-dir $other"
fi

huge_before=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
start_daemon "$sock" -v --socket "$sock" --cache-dir "$cache"
grep -q "page caches are files on the tmpfs at $cache" "$dir/log" ||
    fail "the daemon did not say where its caches are"
head -c 32M /dev/urandom >"$dir/data"
"$build/pagerd-example" -s "$sock" "$dir/data" >"$dir/out" ||
    fail "pagerd-example failed: $(cat "$dir/out")"
# The client is gone; its file's cache lingers, on the tmpfs.
used=$(df --output=used "$cache" | tail -1)
[ "$used" -gt 0 ] || fail "nothing on the cache tmpfs after a client"
# In huge pages. ShmemHugePages is the machine's: other programs' shared
# memory may come and go meanwhile, so the cache's share is seen either
# as a rise while it filled or as a drop when the daemon stops (the cache
# is an unnamed file); noise must hit both windows to fail the test.
huge=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
stop_daemon
huge_after=$(awk '/^ShmemHugePages:/ { print $2 }' /proc/meminfo)
[ "$huge" -ge $((huge_before + 16384)) ] ||
    [ "$huge" -ge $((huge_after + 16384)) ] ||
    fail "no 16 MiB of huge pages in shared memory came with a 32 MiB cache or went with it ($huge_before kB, $huge kB filled, $huge_after kB stopped)"

# A cache the tmpfs has no room for: SIGBUS and a log line that says so,
# never zeros.
mkdir "$dir/small"
mount -t tmpfs -o huge=within_size,size=8M,mode=0700 pagerd-test "$dir/small" ||
    fail "cannot mount an 8 MiB tmpfs"
trap '[ -n "$pid" ] && { kill $pid; wait $pid; } 2>/dev/null; umount "$cache" "$dir/small"; rm -rf "$dir"' EXIT
start_daemon "$sock" --socket "$sock" --cache-dir "$dir/small"
# (Under ASan, SIGBUS must kill as it does without: handle_sigbus=0.)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_sigbus=0 \
    "$build/pagerd-example" -s "$sock" "$dir/data" >"$dir/out" 2>&1
status=$?
[ $status = $((128 + 7)) ] ||
    fail "pagerd-example ended with $status, not SIGBUS, past a full cache: $(cat "$dir/out")"
# (The daemon may log it after the client died of it.)
wait_line "no room for the page cache at offset .* (is the tmpfs at $dir/small full?); poisoned with SIGBUS" "$dir/log" \
    "the daemon did not say the cache's tmpfs was full"
stop_daemon

for t in file-read-test cache-test io-error-test eio-test \
    daemon-restart-test bad-client-test; do
	PAGERD_TEST_CACHE_DIR=$cache "$build/tests/$t" >"$dir/out" 2>&1
	status=$?
	# (77: the test skips itself, as eio-test does without libfuse3.)
	[ $status = 0 ] || [ $status = 77 ] ||
	    { cat "$dir/out"; fail "$t with caches in $cache"; }
done
PAGERD_TEST_CACHE_DIR=$cache PAGERD_TEST_RESTART_CACHE_DIR= \
    "$build/tests/daemon-restart-test" >"$dir/out" 2>&1 ||
    { cat "$dir/out"; fail "a restart without cache-dir lost the clients"; }
PAGERD_TEST_RESTART_CACHE_DIR=$cache \
    "$build/tests/daemon-restart-test" >"$dir/out" 2>&1 ||
    { cat "$dir/out"; fail "a restart with a new cache-dir lost the clients"; }
echo "cache-dir: caches on a huge tmpfs, the same results"

#!/bin/sh
# Description: pagerd where io_uring is refused (a seccomp filter answers
# io_uring_setup with ENOSYS, through tests/no-uring): it says so once and
# serves with epoll and I/O threads, with the same results: a client
# reading a file in order and at random from threads, a preloaded
# program's mremap, munmap, madvise, fork and large mallocs, and a
# copy-on-write region snapshotted by pagerctl (writes); then it stops
# cleanly on SIGTERM.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
client=${PAGERD_TEST_CLIENT:-$build/tests/file-read-test}
sock=$dir/pagerd.sock
"$build/tests/no-uring" "$bin" -d --socket "$sock" 2>"$dir/log" &
pid=$!
wait_sock "$sock"
[ "$(grep -c "io_uring is not available (Function not implemented" "$dir/log")" = 1 ] ||
    fail "the daemon did not say once that io_uring is unavailable"

"$client" --client "$sock" >/dev/null || fail "the file client failed"
"$build/tests/shim-prog" --make "$dir/pattern.dat" || fail "shim-prog --make"
PAGERD_SOCKET=$sock PAGERD_FILES='*.dat' PAGERD_ANON=1M LD_PRELOAD=$shim \
    "$build/tests/shim-prog" "$dir/pattern.dat" >"$dir/out" || fail "shim-prog failed"
[ "$(cat "$dir/out")" = "$("$build/tests/shim-prog" "$dir/pattern.dat")" ] ||
    fail "shim-prog's result differs from the kernel's"
head -c 300000 /dev/urandom >"$dir/data"
start_layout "$sock" "$dir/data"
"$ctl" -s "$sock" snapshot "$lpid" "$(addr cow)" "$dir/image" >/dev/null ||
    fail "snapshot failed"
cmp -s "$dir/image" "$dir/data.ref" || fail "the snapshot differs"
exec 7>&-
wait $lpid || fail "layout-prog failed"
"$ctl" -s "$sock" status | grep -Eq "pages +[1-9][0-9]* from files" ||
    fail "no pages counted"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=
echo "without io_uring: the same results through epoll and I/O threads"

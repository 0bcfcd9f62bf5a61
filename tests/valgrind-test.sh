#!/bin/sh
# Description: the daemon under valgrind serves a client (in order and
# random reads from threads, a region at an offset, a file tail), a
# preloaded program's mremap, munmap, madvise, fork and large mallocs
# (tests/shim-prog under the shim), and a copy-on-write region snapshotted
# by pagerctl and listed, and exits cleanly on SIGTERM with no memory error
# and no definite leak. One worker:
# valgrind 3.19 holds its lock across io_uring_enter, so a second thread
# would never run.
set -u
# The daemon itself, not make check's wrapper that filters its calls.
bin=${PAGERD_REAL_BIN:-${PAGERD_BIN:-./pagerd}}
client=${PAGERD_TEST_CLIENT:-./tests/file-read-test}
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
[ "${PAGERD_TEST_ASAN:-0}" = 1 ] && { echo "SKIP: a sanitizer build does not run under valgrind"; exit 77; }

dir=$(mktemp -d)
chmod 755 "$dir"
sock=$dir/pagerd.sock
valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite "$bin" -d --socket "$sock" --workers 1 \
    2>"$dir/valgrind.log" &
pid=$!
trap 'kill -9 $pid 2>/dev/null; rm -rf "$dir"' EXIT

fail() {
	echo "FAIL: $*" >&2
	cat "$dir/valgrind.log" >&2
	exit 1
}

i=0
while ! [ -S "$sock" ] && [ $i -lt 600 ]; do
	kill -0 $pid 2>/dev/null || fail "pagerd died under valgrind"
	sleep 0.1
	i=$((i + 1))
done
[ -S "$sock" ] || fail "pagerd did not listen within 60 s under valgrind"

"$client" --client "$sock" || fail "the client failed"

build=$(cd "${PAGERD_BUILDDIR:-.}" && pwd)
ctl=${PAGERCTL_BIN:-$build/pagerctl}
"$build/tests/shim-prog" --make "$dir/pattern.dat" || fail "shim-prog --make"
PAGERD_SOCKET=$sock PAGERD_FILES='*.dat' PAGERD_ANON=1M \
    LD_PRELOAD=$build/.libs/libpagerd-preload.so \
    "$build/tests/shim-prog" "$dir/pattern.dat" >/dev/null || fail "shim-prog failed"
head -c 300000 /dev/urandom >"$dir/data"
mkfifo "$dir/in"
"$build/tests/layout-prog" "$sock" "$dir/data" <"$dir/in" >"$dir/layout" &
lpid=$!
exec 7>"$dir/in"
i=0
while ! grep -q ready "$dir/layout" && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
cow=$(awk '$1 == "cow" { print $2 }' "$dir/layout")
"$ctl" -s "$sock" snapshot "$lpid" "$cow" "$dir/image" >/dev/null || fail "snapshot failed"
cmp -s "$dir/image" "$dir/data.ref" || fail "the snapshot differs"
"$ctl" -s "$sock" regions >/dev/null && "$ctl" -s "$sock" clients >/dev/null ||
    fail "listings failed"
exec 7>&-
wait $lpid || fail "layout-prog failed"
kill -TERM $pid
wait $pid
status=$?
[ $status -eq 0 ] || fail "pagerd under valgrind exited $status (99: valgrind found errors)"
echo "valgrind: no errors, no definite leaks"

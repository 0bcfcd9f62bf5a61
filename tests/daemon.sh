# Sourced by the shell tests: a real pagerd on a socket of its own in a
# fresh directory, stopped and removed on exit, and fail() to end a test
# with the daemon's last words.
build=$(cd "${PAGERD_BUILDDIR:-.}" && pwd)
bin=${PAGERD_BIN:-$build/pagerd}
ctl=${PAGERCTL_BIN:-$build/pagerctl}
shim=$build/.libs/libpagerd-preload.so
dir=$(mktemp -d)
chmod 755 "$dir"
sock=$dir/pagerd.sock
"$bin" --socket "$sock" 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; tail -30 "$dir/log"; exit 1; }
i=0
while ! [ -S "$sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -S "$sock" ] || fail "pagerd did not start"

# Stop the daemon: it must exit 0 on SIGTERM.
stop_daemon() {
	kill $pid
	wait $pid || fail "pagerd exited $? on SIGTERM"
}

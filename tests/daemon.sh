# Sourced by the shell tests: tests/lib.sh, and a real pagerd on a socket
# of its own ($sock, log in $dir/log), stopped on exit.
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
sock=$dir/pagerd.sock
"$bin" -d --socket "$sock" 2>"$dir/log" &
pid=$!
wait_sock "$sock"

# Stop the daemon: it must exit 0 on SIGTERM.
stop_daemon() {
	kill $pid
	wait $pid || fail "pagerd exited $? on SIGTERM"
	pid=
}

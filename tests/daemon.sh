# Sourced by the shell tests: tests/lib.sh, and a real pagerd on a socket
# of its own ($sock, log in $dir/log), stopped on exit; a test may set
# daemon_args (options, split on blanks) before sourcing it.
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
sock=$dir/pagerd.sock
# shellcheck disable=SC2086
"$bin" -d --socket "$sock" ${daemon_args:-} 2>"$dir/log" &
pid=$!
wait_sock "$sock"

# Stop the daemon: it must exit 0 on SIGTERM.
stop_daemon() {
	kill $pid
	wait $pid || fail "pagerd exited $? on SIGTERM"
	pid=
}

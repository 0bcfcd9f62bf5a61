# Sourced by the shell tests: tests/lib.sh, and a real pagerd on a socket
# of its own ($sock, log in $dir/log), stopped on exit or by stop_daemon;
# a test may set daemon_args (options, split on blanks) before sourcing
# it.
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
sock=$dir/pagerd.sock
# shellcheck disable=SC2086
start_daemon "$sock" --socket "$sock" ${daemon_args:-}

# A test of the shim: the shim built, its clients sent to this daemon,
# and $1 the pattern file tests/shim-prog checks.
shim_pattern() {
	[ -f "$shim" ] || fail "no shim at $shim"
	export PAGERD_SOCKET="$sock"
	"$build/tests/shim-prog" --make "$1" || fail "cannot write the pattern file $1"
}

#!/bin/sh
# Description: the daemon's command line: --help and --version, refusal of
# bad options and values (exit 1, a message on stderr), refusal to start
# beside a live daemon on the same socket (which keeps running), takeover
# of a stale socket file, the totals logged on SIGUSR1, and a clean exit 0
# on SIGTERM; the socket by -s, $PAGERD_SOCKET, then the file; relative
# paths of a detached daemon taken from where it started.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
# Three daemons here, each with a log of its own.
pids=
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$dir"' EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$dir"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
	exit 1
}

"$bin" --help >"$dir/out" 2>"$dir/err" || fail "--help exited $?"
grep -q -- '--socket' "$dir/out" || fail "--help does not mention --socket"
"$bin" --version >"$dir/out" || fail "--version exited $?"
grep -q '^pagerd [0-9]' "$dir/out" || fail "--version printed: $(cat "$dir/out")"

for args in "--no-such-option" "--workers 0" "--workers abc" \
    "--readahead 0" "--readahead 100000" "extra-argument"; do
	# shellcheck disable=SC2086
	"$bin" -d --socket "$dir/never.sock" $args >"$dir/out" 2>"$dir/err"
	status=$?
	[ $status -eq 1 ] || fail "'$args' exited $status, expected 1"
	[ -s "$dir/err" ] || fail "'$args' said nothing on stderr"
	[ -e "$dir/never.sock" ] && fail "'$args' created the socket"
done

sock=$dir/pagerd.sock
"$bin" -d --socket "$sock" 2>"$dir/first.log" &
first=$!
pids=$first
wait_sock "$sock"
"$bin" -d --socket "$sock" 2>"$dir/second.err"
status=$?
[ $status -eq 1 ] || fail "a second daemon on $sock exited $status"
grep -q "another pagerd" "$dir/second.err" ||
    fail "the second daemon did not say why: $(cat "$dir/second.err")"
kill -0 $first || fail "the first daemon died"
[ -S "$sock" ] || fail "the second daemon removed the first one's socket"
# SIGUSR1: the totals in the log, and the daemon runs on.
kill -USR1 $first
i=0
while ! grep -q "0 sessions, 0 regions, 0 faults, .* 0 pages of gone clients waiting to be written back" "$dir/first.log" &&
    [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
grep -q "0 sessions, 0 regions, 0 faults, .* 0 pages of gone clients waiting to be written back" "$dir/first.log" ||
    fail "SIGUSR1 did not log the totals"
kill -0 $first || fail "the daemon died of SIGUSR1"
kill -TERM $first
wait $first
status=$?
[ $status -eq 0 ] || fail "SIGTERM: exit status $status"
[ -e "$sock" ] && fail "the socket is left behind after a clean exit"

# A socket file nobody listens on is stale: it is replaced.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' "$sock" ||
    fail "could not make a stale socket"
[ -S "$sock" ] || fail "no stale socket"
PAGERD_SOCKET=$sock "$bin" -d 2>"$dir/third.log" &
third=$!
pids="$pids $third"
wait_line "listening on" "$dir/third.log" "pagerd did not take over the stale socket"
kill -0 $third || fail "pagerd did not take over the stale socket"
grep -q "stale" "$dir/third.log" || fail "no word about the stale socket"
kill -TERM $third
wait $third || fail "SIGTERM: exit status $?"

# The socket: the file's, unless $PAGERD_SOCKET names one (as for the
# state directory), and -s outranks both.
printf 'socket %s\n' "$dir/file.sock" >"$dir/socket.conf"
for how in "file.sock|" "env.sock|PAGERD_SOCKET=$dir/env.sock" \
    "opt.sock|PAGERD_SOCKET=$dir/env.sock -s $dir/opt.sock"; do
	want=$dir/${how%%|*}
	# shellcheck disable=SC2086
	set -- ${how#*|}
	case "${1:-}" in PAGERD_SOCKET=*) env=$1; shift ;; *) env= ;; esac
	# shellcheck disable=SC2086
	# A log of its own: the last one's line must not answer for it.
	log=$dir/${want##*/}.log
	env $env "$bin" -d -f "$dir/socket.conf" "$@" 2>"$log" &
	p=$!
	pids="$pids $p"
	wait_line "listening on" "$log" "pagerd did not start: $how"
	grep -q "listening on $want," "$log" ||
	    fail "${how#*|} with socket $dir/file.sock in the file: $(grep 'listening on' "$log")"
	kill -TERM $p
	wait $p || fail "SIGTERM: exit status $?"
done
# Relative paths are the starting directory's, though the daemon works in
# / once detached: it listens there, and its socket and pidfile go on
# SIGTERM. An empty socket path is refused, and a socket's directory that
# cannot be made is named.
(cd "$dir" && "$bin" -f /dev/null -s rel.sock -p rel.pid -l rel.log) ||
    fail "detached with relative paths: exit $?"
wait_sock "$dir/rel.sock"
wait_line "listening on $dir/rel.sock," "$dir/rel.log" \
    "a relative socket is not the starting directory's"
p=$(cat "$dir/rel.pid") || fail "no pidfile $dir/rel.pid"
pids="$pids $p"
kill -TERM "$p"
i=0
while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -0 "$p" 2>/dev/null && fail "the detached daemon did not stop"
[ -e "$dir/rel.sock" ] && fail "a relative socket is left behind"
[ -e "$dir/rel.pid" ] && fail "a relative pidfile is left behind"
"$bin" -d -f /dev/null -s '' >"$dir/out" 2>"$dir/err" && fail "-s '' started"
grep -q "empty socket path" "$dir/err" || fail "-s '': $(cat "$dir/err")"
# Only the socket's own directory is made; a missing one above it is told.
"$bin" -d -f /dev/null -s "$dir/no/such/x.sock" >"$dir/out" 2>"$dir/err" &&
    fail "-s in a missing directory started"
grep -q "the socket's directory $dir/no/such (-s for a socket elsewhere): No such file" \
    "$dir/err" || fail "-s in a missing directory: $(cat "$dir/err")"
echo "command line behaves"

#!/bin/sh
# Description: the log file (-l, log-file in pagerd.conf). In the
# foreground its lines go to the file, not to standard error; a detached
# daemon logs there too, without syslog, and SIGHUP reopens the file, so
# that after a rotation (rename) the reload's result lands in the new one;
# a log file that cannot be opened stops the start with the reason.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
# The file's socket is used: $PAGERD_SOCKET would outrank it.
unset PAGERD_SOCKET

# The pid in pidfile $1 once there: the socket is made before the daemon
# detaches, the pidfile after.
pid_of() {
	i=0
	while ! [ -s "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$1" ] || fail "no pidfile $1"
	cat "$1"
}

# SIGTERM to the detached daemon $pid, and wait until it is gone.
stop_detached() {
	kill "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	kill -0 "$pid" 2>/dev/null && fail "the detached daemon did not stop"
	pid=
}

"$bin" -d -s "$dir/a.sock" -l "$dir/fg.log" 2>"$dir/stderr" &
pid=$!
wait_sock "$dir/a.sock"
wait_line "listening on $dir/a.sock" "$dir/fg.log" "-d -l: no start line in the file"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=
grep -q "stopped" "$dir/fg.log" || fail "-d -l: no stop line in the file"
grep -q "listening" "$dir/stderr" && fail "-d -l: logged to stderr too"
echo "ok: -d -l logs to the file"

cat >"$dir/p.conf" <<CONF
log-file $dir/bg.log
socket $dir/b.sock
CONF
"$bin" -f "$dir/p.conf" -p "$dir/pid" 2>"$dir/stderr" ||
    fail "detached start failed: $(cat "$dir/stderr")"
wait_sock "$dir/b.sock"
pid=$(pid_of "$dir/pid") || exit 1
wait_line "listening on $dir/b.sock" "$dir/bg.log" "detached: no start line in log-file"
mv "$dir/bg.log" "$dir/bg.log.1"
kill -HUP "$pid"
wait_line "reloaded $dir/p.conf" "$dir/bg.log" "SIGHUP: the reload not logged in the reopened file"
kill -USR1 "$pid"
wait_line "sessions, .* regions" "$dir/bg.log" "SIGUSR1: the totals not in the log file"
stop_detached
grep -q "stopped" "$dir/bg.log" || fail "detached: no stop line in the new file"
grep -q "reloaded" "$dir/bg.log.1" && fail "SIGHUP: the old file was written after the rotation"
echo "ok: detached, log-file, reopened on SIGHUP"

# A relative path is taken from where pagerd started, not from / where
# it works once detached.
(cd "$dir" && "$bin" -s "$dir/r.sock" -p "$dir/rpid" -l rel.log) ||
    fail "detached start with -l rel.log failed"
pid=$(pid_of "$dir/rpid") || exit 1
mv "$dir/rel.log" "$dir/rel.log.1" || fail "-l rel.log: no $dir/rel.log"
kill -HUP "$pid"
wait_line "reloaded" "$dir/rel.log" "-l rel.log: SIGHUP did not reopen $dir/rel.log"
stop_detached
echo "ok: a relative log file stays where it was started"

"$bin" -d -s "$dir/c.sock" -l "$dir/no/such/dir/x.log" 2>"$dir/stderr" &&
    fail "started with a log file it cannot open"
grep -q "log file $dir/no/such/dir/x.log: No such file or directory" "$dir/stderr" ||
    fail "no reason for the log file: $(cat "$dir/stderr")"
echo "ok: a log file that cannot be opened: $(cat "$dir/stderr")"
exit 0

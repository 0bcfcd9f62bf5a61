#!/bin/sh
# Description: the configuration file and the service modes. pagerd -n
# says "configuration OK: FILE" for a good file and the line and reason of each
# error of a broken one; a command-line option outranks the file;
# allow-uid refuses other users (logged, and told why); socket-mode and
# socket-group apply; SIGHUP reloads (a client stays connected and keeps
# working; a broken file is refused and the old configuration kept; a
# state-dir changed is said to wait for the next start); without -d the
# daemon detaches with a pidfile, refuses a second instance and removes
# the pidfile on SIGTERM; and socket activation (systemd-socket-activate)
# hands it a socket it serves on and leaves in place.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
# The file's socket is used: $PAGERD_SOCKET would outrank it.
unset PAGERD_SOCKET

cat >"$dir/good.conf" <<CONF
# a comment
socket $dir/conf.sock
socket-mode 0660
socket-group nogroup
workers 1
queue-depth 32
readahead 4     # trailing comment
cache-window 64
log-level info
allow-uid 0
allow-uid 4242
allow-gid 4242
cache-linger 5
writeback-hold-mib 64
poll-us 20
CONF
"$bin" -n -f "$dir/good.conf" >"$dir/out" 2>&1 || fail "-n on a good file: $(cat "$dir/out")"
grep -qx "configuration OK: $dir/good.conf" "$dir/out" || fail "-n said: $(cat "$dir/out")"

cat >"$dir/bad.conf" <<CONF
workers 0
frobnicate yes
readahead
socket relative.sock
log-level loud
readahead 8
readahead 9
allow-uid no-such-user-here
cache-dir cache
writeback-hold-mib -1
uid-log-rate 100001
CONF
"$bin" -n -f "$dir/bad.conf" >"$dir/out" 2>&1 && fail "-n accepted a broken file"
for want in "bad.conf:1: workers: 0 is too small" "bad.conf:2: unknown key \"frobnicate\"" \
    "bad.conf:3: readahead: missing value" "bad.conf:4: socket: not an absolute path" \
    "bad.conf:5: log-level: not warning, info or debug" "bad.conf:7: readahead: given twice" \
    "bad.conf:8: allow-uid: no-such-user-here: no such user" \
    "bad.conf:9: cache-dir: not an absolute path" \
    "bad.conf:10: writeback-hold-mib: -1 is too small" \
    "bad.conf:11: uid-log-rate: 100001 is too large (allowed: 0 to 100000)"; do
	grep -qF "$want" "$dir/out" || fail "-n lacks \"$want\": $(cat "$dir/out")"
done
"$bin" -n -f "$dir/missing.conf" >"$dir/out" 2>&1 && fail "-n accepted a missing file"
grep -q "missing.conf: No such file" "$dir/out" || fail "no reason for a missing file"
printf 'uid-log-rate 10/s\n' >"$dir/rate.conf"
"$bin" -n -f "$dir/rate.conf" >"$dir/out" 2>&1 && fail "-n accepted uid-log-rate 10/s"
grep -qF "rate.conf:1: uid-log-rate: 10/s is invalid" "$dir/out" ||
    fail "uid-log-rate 10/s: $(cat "$dir/out")"
echo "ok: pagerd -n"

# The file's settings, one overridden on the command line.
start_daemon "$dir/conf.sock" -f "$dir/good.conf" -r 1
wait_line "listening on $dir/conf.sock, 1 worker, readahead 1 page, cache window 64 pages" \
    "$dir/log" "the settings were not applied"
[ "$(stat -c %a "$dir/conf.sock")" = 660 ] || fail "socket-mode not applied"
[ "$(stat -c %G "$dir/conf.sock")" = nogroup ] || fail "socket-group not applied"
echo "ok: settings from the file, -r outranks it, socket mode and group"

# allow-uid: nobody is refused, root is not.
chmod 666 "$dir/conf.sock"
if command -v setpriv >/dev/null; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" \
	    -s "$dir/conf.sock" status 2>&1) && fail "nobody got through allow-uid"
	case $out in
	*"not allowed by allow-uid"*) ;;
	*) fail "nobody was not told why it was refused: $out" ;;
	esac
	wait_line "refused pid [0-9]* uid 65534 .*not allowed by allow-uid" "$dir/log" \
	    "the refusal was not logged"
fi
"$ctl" -s "$dir/conf.sock" status >/dev/null || fail "root was refused"
echo "ok: allow-uid"

# SIGHUP with a client connected.
head -c 300000 /dev/urandom >"$dir/data"
start_layout "$dir/conf.sock" "$dir/data"
sed -e 's/^readahead 4 .*/readahead 32/' -e 's/^workers 1/workers 3/' "$dir/good.conf" >"$dir/new.conf"
cp "$dir/new.conf" "$dir/good.conf"
kill -HUP $pid
wait_line "reloaded .*good.conf: readahead 1 page, cache window 64 pages" "$dir/log" \
    "reload: $(tail -3 "$dir/log")"
grep -q "take effect at the next start" "$dir/log" || fail "no word on settings needing a restart"
echo "bogus line" >>"$dir/good.conf"
kill -HUP $pid
wait_line "reload: 1 error in .*configuration kept" "$dir/log" "a broken reload was not refused"
grep -q "good.conf:16: unknown key \"bogus\"" "$dir/log" || fail "the reload's error has no line"
"$ctl" -s "$dir/conf.sock" clients | grep -q "layout-prog" || fail "the client was dropped by the reload"
exec 7>&-
wait $lpid || fail "the client failed across reloads"
stop_daemon
echo "ok: SIGHUP reloads and keeps clients; a broken file is refused"

# max-clients: one session at once, then more after a reload.
printf 'max-clients 1\n' >"$dir/max.conf"
start_daemon "$dir/max.sock" -f "$dir/max.conf" -s "$dir/max.sock"
start_layout "$dir/max.sock" "$dir/data"
"$ctl" -s "$dir/max.sock" status >/dev/null 2>&1 && fail "a session past max-clients was served"
grep -q "the max-clients limit" "$dir/log" || fail "the refusal was not logged"
printf 'max-clients 5\n' >"$dir/max.conf"
kill -HUP $pid
wait_line "reloaded .*max.conf" "$dir/log" "the reload of max-clients: $(tail -3 "$dir/log")"
"$ctl" -s "$dir/max.sock" status >/dev/null || fail "max-clients was not raised by the reload"
exec 7>&-
wait $lpid || fail "layout-prog failed"
stop_daemon
echo "ok: max-clients, and its reload"

# readahead raised by a reload past the read buffers made at start: held
# at the start's value, and copies still right.
printf 'readahead 4\n' >"$dir/ra.conf"
start_daemon "$dir/ra.sock" -f "$dir/ra.conf" -s "$dir/ra.sock"
printf 'readahead 128\n' >"$dir/ra.conf"
kill -HUP $pid
wait_line "reloaded .*ra.conf" "$dir/log" "reload: $(tail -3 "$dir/log")"
grep -q "readahead 128 is more than the 64 pages the read buffers were made for" "$dir/log" ||
    fail "no word on a readahead past the buffers: $(tail -3 "$dir/log")"
PAGERD_NO_CACHE=1 "${PAGERD_EXAMPLE:-$build/pagerd-example}" -s "$dir/ra.sock" >/dev/null ||
    fail "copies went wrong after the reload"
stop_daemon
echo "ok: readahead is not raised past the read buffers by a reload"

# A changed state-dir, as the other keys a reload cannot apply, waits for
# the next start, and the reload says so.
printf 'replay 1\n' >"$dir/sd.conf"
start_daemon "$dir/sd.sock" -f "$dir/sd.conf" -s "$dir/sd.sock"
printf 'replay 1\nstate-dir %s\n' "$dir/other-state" >"$dir/sd.conf"
kill -HUP $pid
wait_line "reloaded .*sd.conf" "$dir/log" "reload: $(tail -3 "$dir/log")"
grep -q "state-dir take effect at the next start" "$dir/log" ||
    fail "no word on state-dir needing a restart: $(tail -3 "$dir/log")"
stop_daemon
echo "ok: a reload says a new state-dir waits for the next start"

# A line the file no longer has: a reload puts that key's default back, as
# a fresh start would, and logs old -> new; a number the command line gave
# stays; a key fixed at start still waits for the next. pagerd -n is as
# before.
cat >"$dir/rm.conf" <<CONF
max-clients 1
cache-linger 5
cache-max-mib 64
uid-max-cache-mib 8
uid-log-rate 3
cache-window 16
workers 1
CONF
start_daemon "$dir/rm.sock" -f "$dir/rm.conf" -s "$dir/rm.sock" -c 1
start_layout "$dir/rm.sock" "$dir/data"
"$ctl" -s "$dir/rm.sock" status >/dev/null 2>&1 && fail "a session past max-clients 1 was served"
printf 'cache-linger 5\n' >"$dir/rm.conf"
"$bin" -n -f "$dir/rm.conf" >"$dir/out" 2>&1 || fail "-n on the shorter file: $(cat "$dir/out")"
grep -qx "configuration OK: $dir/rm.conf" "$dir/out" || fail "-n said: $(cat "$dir/out")"
kill -HUP $pid
wait_line "reloaded .*rm.conf" "$dir/log" "reload: $(tail -3 "$dir/log")"
for want in "reload: max-clients 1 -> 4096, the default: the file no longer sets it" \
    "reload: uid-log-rate 3 -> 10, the default: the file no longer sets it" \
    "reload: cache-max-mib 64 -> [0-9]*, the default: the file no longer sets it" \
    "reload: uid-max-cache-mib 8 -> half of cache-max-mib, the default: the file no longer sets it" \
    "reloaded .*rm.conf: readahead 16 pages, cache window 1 page, caches linger 5 s"; do
	grep -q "$want" "$dir/log" || fail "the reload lacks \"$want\": $(grep reload "$dir/log")"
done
# The budget put back is the one a start works out (logged as it is).
budget=$(sed -n 's/.*reload: cache-max-mib 64 -> \([0-9]*\),.*/\1/p' "$dir/log")
grep -q "page caches may hold $budget MiB" "$dir/log" ||
    fail "cache-max-mib went back to $budget, not the default: $(grep "memory:" "$dir/log")"
grep -q "reload: cache-window" "$dir/log" && fail "-c 1 was overruled by the reload"
grep -q "reload: cache-linger" "$dir/log" && fail "cache-linger, still set, was changed"
grep -q "take effect at the next start" "$dir/log" || fail "no word on workers needing a restart"
"$ctl" -s "$dir/rm.sock" status >/dev/null || fail "max-clients 1 outlived its line"
exec 7>&-
wait $lpid || fail "layout-prog failed"
stop_daemon
echo "ok: a reload puts back the default of a key the file no longer sets"

# Detached, with a pidfile.
"$bin" -f /dev/null -s "$dir/bg.sock" -p "$dir/pagerd.pid" 2>"$dir/bg.err" ||
    fail "detaching failed: $(cat "$dir/bg.err")"
wait_sock "$dir/bg.sock"
i=0
while ! [ -s "$dir/pagerd.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
bg=$(cat "$dir/pagerd.pid")
kill -0 "$bg" 2>/dev/null || fail "the pidfile names no live process"
"$ctl" -s "$dir/bg.sock" status >/dev/null || fail "the detached daemon does not answer"
"$bin" -f /dev/null -s "$dir/bg2.sock" -p "$dir/pagerd.pid" 2>"$dir/err" &&
    fail "a second instance with the same pidfile started"
grep -q "already running as pid $bg" "$dir/err" || fail "no reason: $(cat "$dir/err")"
kill "$bg"
i=0
while [ -e "$dir/pagerd.pid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -e "$dir/pagerd.pid" ] && fail "the pidfile was left behind"
echo "ok: detached with a pidfile"

# Socket activation.
activate=$(command -v systemd-socket-activate || true)
if [ -n "$activate" ] && "$bin" --help >/dev/null && grep -q HAVE_SYSTEMD "$build/config.h" 2>/dev/null &&
    grep -q "define HAVE_SYSTEMD 1" "$build/config.h"; then
	"$activate" --seqpacket -l "$dir/act.sock" "$bin" -d -f /dev/null \
	    -s "$dir/act.sock" 2>"$dir/log" &
	pid=$!
	wait_sock "$dir/act.sock"
	"$ctl" -s "$dir/act.sock" status >/dev/null || fail "no answer on the activated socket"
	grep -q "listening on the socket systemd passed" "$dir/log" ||
	    fail "the daemon did not take the passed socket"
	kill $pid
	wait $pid
	pid=
	echo "ok: socket activation"
else
	echo "socket activation: skipped (no systemd-socket-activate or no libsystemd)"
fi
# sd_notify: readiness, keep-alives while the workers turn, stopping.
if grep -q "define HAVE_SYSTEMD 1" "$build/config.h" 2>/dev/null && command -v python3 >/dev/null; then
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(10)
out = open(sys.argv[2], "w")
end = time.time() + 20
while time.time() < end:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        break
    out.write(m.replace("\n", " ") + "\n")
    out.flush()
    if "STOPPING=1" in m:
        break
' "$dir/notify" "$dir/notified" &
	lis=$!
	i=0
	while ! [ -S "$dir/notify" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	NOTIFY_SOCKET=$dir/notify WATCHDOG_USEC=300000 "$bin" -d -f /dev/null \
	    -s "$dir/n.sock" 2>"$dir/log" &
	pid=$!
	wait_sock "$dir/n.sock"
	# Ten keep-alives, a tick of 100 ms each: as many looks at workers
	# that are idle, none of which may be taken for a stuck one.
	i=0
	while [ "$(grep -c "WATCHDOG=1" "$dir/notified")" -lt 10 ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	stop_daemon
	wait $lis
	grep -q "READY=1" "$dir/notified" || fail "no READY=1: $(cat "$dir/notified")"
	[ "$(grep -c "WATCHDOG=1" "$dir/notified")" -ge 10 ] ||
	    fail "fewer than 10 keep-alives in 10 s at 300 ms: $(cat "$dir/notified")"
	grep -q "made no progress" "$dir/log" &&
	    fail "an idle worker was taken for a stuck one: $(grep "made no progress" "$dir/log")"
	grep -q "STOPPING=1" "$dir/notified" || fail "no STOPPING=1"
	echo "ok: sd_notify: ready, $(grep -c "WATCHDOG=1" "$dir/notified") keep-alives, stopping"
fi

# The units: checked offline; started for real only where systemd runs.
src=${PAGERD_SRCDIR:-.}
if command -v systemd-analyze >/dev/null; then
	mkdir "$dir/units"
	cp "$src/contrib/systemd/pagerd.socket" "$dir/units/"
	sed "s|@sbindir@|$(dirname "$real_bin")|" "$src/contrib/systemd/pagerd.service.in" \
	    >"$dir/units/pagerd.service"
	(cd "$dir/units" && systemd-analyze verify --man=no ./pagerd.socket ./pagerd.service) \
	    >"$dir/out" 2>&1 || fail "the units do not verify: $(cat "$dir/out")"
	echo "ok: systemd-analyze verify of the units"
fi
if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; then
	echo "note: systemd is PID 1 here; the units are verified, not started, by this test"
else
	echo "units not started: systemd is not PID 1 on this machine"
fi
echo "configuration and service modes behave"

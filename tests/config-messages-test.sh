#!/bin/sh
# Description: what pagerd says about its configuration file. pagerd -n
# names the file it checked, or says there was none and the defaults
# apply; an unknown key gets the nearest known one suggested (and a word
# far from every key gets none); one error is "1 error", two "2 errors";
# a bad value's reason does not repeat the key ("log-level: not ...");
# a user or group not found is named, and a line of two says one a line;
# a directory is refused as the file;
# under socket activation socket-mode is ignored with a warning and the
# log names the socket's real path, not the configured one.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"

printf 'workers 1\n' >"$dir/good.conf"
out=$("$bin" -n -f "$dir/good.conf" 2>&1) || fail "-n: $out"
[ "$out" = "configuration OK: $dir/good.conf" ] || fail "-n said: $out"
# The default file, absent in the build's prefix or not: either way named.
out=$("$bin" -n 2>&1) || fail "-n without -f: $out"
case $out in
"configuration OK: no /"*"/pagerd.conf, the defaults apply" | \
"configuration OK: /"*"/pagerd.conf") ;;
*) fail "-n without -f said: $out" ;;
esac
echo "ok: -n names the file ($out)"

printf 'workerz 2\n' >"$dir/one.conf"
"$bin" -n -f "$dir/one.conf" >"$dir/out" 2>&1 && fail "-n accepted workerz"
grep -qF "one.conf:1: unknown key \"workerz\"; did you mean \"workers\"?" "$dir/out" ||
    fail "no suggestion: $(cat "$dir/out")"
grep -qx "pagerd: 1 error in $dir/one.conf" "$dir/out" || fail "not \"1 error\": $(cat "$dir/out")"
printf 'cache-linger-mb 5\nfrobnicate yes\nlog-level loud\n' >"$dir/three.conf"
"$bin" -d -f "$dir/three.conf" -s "$dir/x.sock" >"$dir/out" 2>&1 && fail "started with a broken file"
grep -qF "three.conf:1: unknown key \"cache-linger-mb\"; did you mean \"cache-linger-mib\"?" "$dir/out" ||
    fail "no suggestion for cache-linger-mb: $(cat "$dir/out")"
grep -qF "three.conf:2: unknown key \"frobnicate\"" "$dir/out" || fail "frobnicate: $(cat "$dir/out")"
grep -q "frobnicate.*did you mean" "$dir/out" && fail "a far word got a suggestion: $(cat "$dir/out")"
grep -qF "three.conf:3: log-level: not warning, info or debug" "$dir/out" ||
    fail "log-level: $(cat "$dir/out")"
grep -qx "pagerd: 3 errors in $dir/three.conf" "$dir/out" || fail "not \"3 errors\": $(cat "$dir/out")"
echo "ok: suggestions, counts and reasons"

# A user or group not found is named, and two on one line are told apart.
printf 'socket-group no-such-group-here\nallow-uid 0 1\n' >"$dir/ids.conf"
"$bin" -n -f "$dir/ids.conf" >"$dir/out" 2>&1 && fail "-n accepted ids.conf"
grep -qF "ids.conf:1: socket-group: no-such-group-here: no such group" \
    "$dir/out" || fail "the group is not named: $(cat "$dir/out")"
grep -qF "ids.conf:2: allow-uid: 0 1: no such user (one a line" "$dir/out" ||
    fail "two users on a line: $(cat "$dir/out")"
echo "ok: users and groups not found are named"

# A directory given as the file is no file of no keys.
mkdir "$dir/conf.d"
"$bin" -n -f "$dir/conf.d" >"$dir/out" 2>&1 && fail "-n accepted a directory"
grep -qF "$dir/conf.d: Is a directory" "$dir/out" ||
    fail "a directory: $(cat "$dir/out")"
echo "ok: a directory is refused"

activate=$(command -v systemd-socket-activate || true)
if [ -z "$activate" ] || ! grep -q "define HAVE_SYSTEMD 1" "$build/config.h"; then
	echo "SKIP: socket activation: no systemd-socket-activate or no libsystemd"
	exit 77
fi
printf 'socket-mode 0600\nsocket %s/conf.sock\n' "$dir" >"$dir/act.conf"
"$activate" --seqpacket -l "$dir/act.sock" "$bin" -d -f "$dir/act.conf" \
    2>"$dir/log" &
pid=$!
wait_sock "$dir/act.sock"
"$ctl" -s "$dir/act.sock" status >/dev/null || fail "no answer on the activated socket"
wait_line "listening on $dir/act.sock" "$dir/log" "the real path is not logged"
grep -q "socket-mode and socket-group in pagerd.conf are ignored" "$dir/log" ||
    fail "no warning that socket-mode is ignored"
grep -q "systemd passed the socket $dir/act.sock, not $dir/conf.sock" "$dir/log" ||
    fail "no warning that the configured path is not the socket's"
kill $pid
wait $pid
pid=
echo "ok: socket activation: $(grep "ignored" "$dir/log" | sed 's/^[0-9:.]* //')"
exit 0

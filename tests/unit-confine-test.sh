#!/bin/sh
# Description: pagerd works under the whole confinement of its systemd
# unit (contrib/systemd/pagerd.service.in, emulated by
# tests/unit-confine.sh from the unit's own directives: a private mount
# namespace with / read-only but for its runtime and state directories, a
# private /tmp and /dev, no /home; the unit's capability bounding set and
# no-new-privs; its system-call filter with the namespace, W^X, address
# family, realtime and personality rules; its limits). Its socket is in a
# directory under /run, handed over by socket activation, that the
# clients outside reach; the clients' files are where the daemon cannot
# see them by path (the real /tmp, a user's directory under /home). Under
# it the daemon serves root's file client (cached), pagerd-ta's cold read
# of a file under /home (its page cache dropped), a preloaded program
# (anonymous memory, a file mapping), a copy-on-write snapshot by
# pagerctl, a working-set recording (written under the state directory)
# replayed in the program's second run, a write by pagerd-ta outside the
# shim that pagerd-tb's live mapping of the file then shows (the watch),
# the same for pagerd-tb's private file (0600, under /home), a network
# block store (nbdkit on a unix socket; of one over TCP the log says the
# unit's address families refuse it), a SIGHUP reload, and stops with 0
# on SIGTERM. On the notify socket the daemon's
# own pid says it is ready, keeps the watchdog alive and says it stops.
# What the emulation cannot do here (limits above this process's hard
# limits, among others) is listed in tests/unit-confine.sh.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
srcdir=${PAGERD_SRCDIR:-.}
unit=$srcdir/contrib/systemd/pagerd.service.in
exec_filtered=$build/tests/seccomp-exec

[ "$(id -u)" = 0 ] || { echo "SKIP: the service runs as root"; exit 77; }
[ "${PAGERD_TEST_ASAN:-0}" = 1 ] &&
    { echo "SKIP: the sanitizers' own calls and mappings are not the daemon's"; exit 77; }
[ -x "$exec_filtered" ] || { echo "SKIP: built without libseccomp"; exit 77; }
command -v systemd-analyze >/dev/null ||
    { echo "SKIP: no systemd-analyze to expand the unit's groups"; exit 77; }
for c in unshare setpriv prlimit choom fincore systemd-socket-activate \
    nbdkit /usr/bin/python3; do
	command -v $c >/dev/null || { echo "SKIP: no $c (util-linux)"; exit 77; }
done
unshare -m true 2>/dev/null || { echo "SKIP: cannot make a mount namespace"; exit 77; }
test_users

# The directories the units give are the daemon's defaults: the test's
# stand-ins below are theirs.
rundir=$(sed -n 's/^RuntimeDirectory=//p' "$unit")
statedir=$(sed -n 's/^StateDirectory=//p' "$unit")
grep -q "^ListenSequentialPacket=/run/$rundir/[^/]*$" "${unit%.service*}.socket" ||
    fail "pagerd.socket's socket is not in RuntimeDirectory=$rundir"
grep -aq "/run/$rundir/pagerd.sock" "$real_bin" ||
    fail "the daemon's default socket is not in RuntimeDirectory=$rundir"
grep -aq "/var/lib/$statedir" "$real_bin" ||
    fail "the daemon's default state-dir is not StateDirectory=$statedir"

# The unit's directories' stand-ins, under /run; pagerd-ta's files under
# /home (ProtectHome= hides them).
base=$(mktemp -d /run/pagerd-confine.XXXXXX) || fail "mktemp under /run"
home=$(mktemp -d /home/pagerd-confine.XXXXXX) || fail "mktemp under /home"
home2=$(mktemp -d /home/pagerd-confine.XXXXXX) || fail "mktemp under /home"
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "${rpid:-}" ] && kill $rpid 2>/dev/null; [ -n "${npid:-}" ] && kill $npid 2>/dev/null; [ -n "${kpid:-}" ] && kill $kpid 2>/dev/null; sh "$srcdir/tests/unit-confine.sh" --remove-cgroup "${cgroup:-}"; rm -rf "$dir" "$base" "$home" "$home2"' EXIT
chmod 755 "$base"
# What runs confined is staged under /run, as an installed daemon lives
# under /usr: a build or source tree under /tmp or /home (a CI's clone,
# make distcheck's) would be hidden by PrivateTmp= and ProtectHome=.
stage=$base/bin
mkdir -m 755 "$stage"
cp "$real_bin" "$exec_filtered" "$unit" "$srcdir/tests/unit-confine.sh" \
    "${unit%.service*}.socket" "$srcdir/tests/unit-filter.sh" "$stage/" ||
    fail "cannot stage in $stage"
mkdir -m 755 "$base/run"
mkdir -m 700 "$base/state"
chown pagerd-ta "$home"
chmod 700 "$home" "$home2"
sock=$base/run/pagerd.sock
echo "cache-linger 600" >"$base/pagerd.conf"
# A network block store on a unix socket (the unit allows AF_UNIX only).
head -c 2000000 /dev/urandom >"$dir/store.img"
nbdkit -f -U "$base/nbd.sock" file "$dir/store.img" 2>"$dir/nbdkit.log" &
kpid=$!
echo "store confined nbd+unix:///?socket=$base/nbd.sock" >>"$base/pagerd.conf"
# One over TCP, which the unit's address families do not allow.
echo "store tcp nbd://127.0.0.1:10809" >>"$base/pagerd.conf"

# systemd's notify socket: what the daemon says, a line each, after the
# pid the kernel says sent it (NotifyAccess=main heeds the main pid's).
/usr/bin/python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
out = open(sys.argv[2], "a", buffering=1)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = -1
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", data[:12])[0]
    for line in msg.decode().split("\n"):
        out.write("%d %s\n" % (pid, line))
' "$base/notify" "$dir/notify" &
npid=$!
wait_sock "$base/notify"
wait_sock "$base/nbd.sock"

cgroup=${base##*/}.service
sh "$stage/unit-confine.sh" --listen "$sock" --notify "$base/notify" \
    --cgroup "$cgroup" "$stage/${unit##*/}" "$stage/${exec_filtered##*/}" \
    "$base/run" "$base/state" "$stage/${real_bin##*/}" \
    -d -f "$base/pagerd.conf" --socket "$sock" \
    --state-dir "$base/state" 2>"$dir/log" &
pid=$!
wait_sock "$sock"
i=0
while [ "$(stat -c %a "$sock")" != 666 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
# Started by the first connection, on the socket it was handed.
"$ctl" -s "$sock" status >/dev/null || { alive "at start"; fail "pagerctl status failed"; }
alive "at start"
wait_line "^$pid READY=1$" "$dir/notify" "the daemon did not say it is ready"
grep -q "^$pid MAINPID=$pid$" "$dir/notify" || fail "no MAINPID=$pid: $(cat "$dir/notify")"
grep -q "listening on the socket systemd passed, $sock" "$dir/log" ||
    fail "the daemon did not take the socket it was handed"
[ "$(stat -c %a "$sock")" = 666 ] ||
    fail "the socket's mode is $(stat -c %a "$sock"), not the socket unit's"
grep -q "private tmpfs" "$dir/log" ||
    fail "as root under the unit the daemon should have its huge-page tmpfs"
grep -q "neither fanotify nor inotify" "$dir/log" && fail "no watch"
# Its memory pressure is watched, its group's or the machine's.
if cat /proc/pressure/memory >/dev/null 2>&1; then
	grep -q "memory: pressure watched on" "$dir/log" ||
	    fail "the daemon watches no memory pressure"
fi
# The daemon is confined: its own view, capabilities and filters.
[ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] ||
    fail "the daemon shares the test's mount namespace"
grep -Eq "^Seccomp_filters:[[:space:]]+2" /proc/$pid/status ||
    fail "the daemon is not under both filters"
grep -Eq "^NoNewPrivs:[[:space:]]+1" /proc/$pid/status || fail "no no-new-privs"
echo "ok: the daemon started confined"

# Root's file client, in the shared page cache; its file in the real /tmp.
(cd "$dir" && TMPDIR=$dir "$build/tests/file-read-test" --client "$sock") \
    >"$dir/out" 2>&1 || { alive "serving the file client"; fail "the file client failed: $(tail -5 "$dir/out")"; }
echo "ok: a file client"

# pagerd-ta's cold read of its file under /home, its pages dropped.
head -c 8000000 /dev/urandom >"$home/cold.dat"
chown pagerd-ta "$home/cold.dat"
chmod 644 "$home/cold.dat"
i=0
while [ "$(fincore -rno PAGES "$home/cold.dat")" != 0 ] && [ $i -lt 20 ]; do
	sync "$home/cold.dat"
	dd if="$home/cold.dat" iflag=nocache count=0 status=none
	sleep 0.05
	i=$((i + 1))
done
[ "$(fincore -rno PAGES "$home/cold.dat")" = 0 ] ||
    { echo "SKIP: the file system of $home keeps its files in memory"; exit 77; }
as_user pagerd-ta "$build/pagerd-example" -s "$sock" "$home/cold.dat" >"$dir/out" 2>&1 ||
    { alive "serving a cold read"; fail "pagerd-ta's cold read failed: $(cat "$dir/out")"; }
grep -Eq "from the file \([1-9][0-9]* bytes read" "$dir/out" ||
    fail "the cold read read nothing: $(cat "$dir/out")"
echo "ok: a cold read of a file under /home"

# A preloaded program: its anonymous memory and a file mapping.
check_shim "$sock"
echo "ok: a preloaded program"

# A copy-on-write snapshot, its image written by pagerctl.
check_snapshot "$sock"
echo "ok: a snapshot"

# Working-set record and replay: two runs of a program on one file.
"$build/tests/replay-prog" --make "$dir/ws.dat" 7 || fail "replay-prog --make"
for run in 1 2; do
	PAGERD_SOCKET=$sock PAGERD_FILES='*.dat' LD_PRELOAD=$shim \
	    "$build/tests/replay-prog" "$dir/ws.dat" 7 >"$dir/out" 2>&1 ||
	    { alive "serving replay-prog"; fail "replay-prog run $run: $(cat "$dir/out")"; }
	[ $run = 2 ] && break
	i=0
	while ! ls "$base/state"/*/*.rec >/dev/null 2>&1 && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	ls "$base/state"/*/*.rec >/dev/null 2>&1 ||
	    fail "no recording under the state directory: $(ls -R "$base/state")"
done
wait_line "replayed ahead of faults" "$dir/log" "the second run replayed nothing"
"$ctl" -s "$sock" recordings | grep -q "ws\.dat$" || fail "the recording is not listed"
echo "ok: a recording under the state directory, replayed"

# A client through libpagerd: map.py LIBPAGERD SOCKET WHAT REFERENCE maps
# file WHAT, or the store named WHAT if it is no path, checks it holds the
# bytes of file REFERENCE, says "ready", then prints N bytes at OFFSET of
# the mapping for each line "OFFSET N" on its input.
cat >"$dir/map.py" <<'PY'
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1])
lib.pagerd_errmsg.restype = ctypes.c_char_p
pd = ctypes.c_void_p()
if lib.pagerd_connect(sys.argv[2].encode(), ctypes.byref(pd)) < 0:
    sys.exit("connect: %s" % lib.pagerd_errmsg())
ref = os.open(sys.argv[4], os.O_RDONLY)
size = os.fstat(ref).st_size
m = ctypes.c_void_p()
if "/" in sys.argv[3]:
    fd = os.open(sys.argv[3], os.O_RDONLY)
    r = lib.pagerd_map_file(pd, fd, ctypes.c_long(0), ctypes.c_size_t(size), 1, 0, ctypes.byref(m))
else:
    r = lib.pagerd_map_store(pd, sys.argv[3].encode(), ctypes.c_long(0), ctypes.c_size_t(size), 1, 0, ctypes.byref(m))
if r < 0:
    sys.exit("map: %s" % lib.pagerd_errmsg())
if ctypes.string_at(m.value, size) != os.read(ref, size):
    sys.exit("the mapping differs from %s" % sys.argv[4])
print("ready", flush=True)
for line in sys.stdin:
    off, n = map(int, line.split())
    print(ctypes.string_at(m.value + off, n).decode("latin-1"), flush=True)
PY

# The watch: READER ($1) maps FILE ($3) live, WRITER ($2) writes it
# outside the shim; the daemon sees the write, and the mapping the new
# bytes.
check_watch() {
	rm -f "$dir/in" "$dir/reader"
	mkfifo "$dir/in"
	as_user "$1" env PATH=/usr/bin:/bin python3 "$dir/map.py" \
	    "$build/.libs/libpagerd.so" "$sock" "$3" "$3" <"$dir/in" >"$dir/reader" 2>&1 &
	rpid=$!
	exec 8>"$dir/in"
	wait_line ready "$dir/reader" "$1's reader did not start: $(cat "$dir/reader")"
	as_user "$2" sh -c "printf confined-write | dd of=$3 bs=1 seek=1234567 conv=notrunc status=none" ||
	    fail "$2 cannot write $3"
	# The daemon drops the pages once it has seen the write, and says so.
	wait_line "$3, which clients map through pagerd, was written by" \
	    "$dir/log" "the daemon did not see the write to $3 outside the shim"
	i=0
	until tail -1 "$dir/reader" | grep -q "^confined-write$" || [ $i -ge 200 ]; do
		echo "1234567 14" >&8
		sleep 0.05
		i=$((i + 1))
	done
	tail -1 "$dir/reader" | grep -q "^confined-write$" ||
	    fail "$1's mapping does not show the write: $(tail -2 "$dir/reader")"
	exec 8>&-
	wait $rpid || fail "$1's reader failed: $(cat "$dir/reader")"
	rpid=
}

# pagerd-tb maps pagerd-ta's file (0644, in the real /tmp), which
# pagerd-ta writes.
mkdir -m 755 "$dir/ta"
chown pagerd-ta "$dir/ta"
as_user pagerd-ta sh -c "head -c 3000000 /dev/urandom >$dir/ta/w.dat && chmod 644 $dir/ta/w.dat" ||
    fail "pagerd-ta cannot write its file"
check_watch pagerd-tb pagerd-ta "$dir/ta/w.dat"
echo "ok: another user's write outside the shim reaches a live mapping"
# pagerd-tb's private file (0600, in its 0700 directory under /home): the
# daemon marks it through the client's descriptor.
chown pagerd-tb "$home2"
as_user pagerd-tb sh -c "head -c 3000000 /dev/urandom >$home2/private.dat && chmod 600 $home2/private.dat" ||
    fail "pagerd-tb cannot write its file"
check_watch pagerd-tb pagerd-tb "$home2/private.dat"
grep -q "writes by programs outside the shim are not seen" "$dir/log" &&
    fail "the daemon could not watch a private file"
echo "ok: a write outside the shim to a private file under /home reaches a live mapping"

# A client maps the store: the daemon reads it over its unix socket.
/usr/bin/python3 "$dir/map.py" "$build/.libs/libpagerd.so" "$sock" confined \
    "$dir/store.img" </dev/null >"$dir/out" 2>&1 ||
    { alive "serving a store"; fail "the store's client failed: $(cat "$dir/out")"; }
grep -q "store tcp: this daemon may make no network socket" "$dir/log" ||
    fail "the daemon did not say why the TCP store cannot be reached"
echo "ok: a network block store"

# Its keep-alive, at least three times a WatchdogSec= (10 s: up to 4 s).
wait_line "^$pid WATCHDOG=1$" "$dir/notify" "no keep-alive for the watchdog"
grep -v "^$pid " "$dir/notify" && fail "a process other than the main one notified"
spid=$pid
check_reload_stop "$sock"
wait_line "^$spid STOPPING=1$" "$dir/notify" "no STOPPING=1"
echo "under the unit's confinement: every job done, a clean stop"

# Sourced by the shell tests: paths of what was built, a scratch directory
# removed on exit, fail() to end a test loudly, and helpers.
build=$(cd "${PAGERD_BUILDDIR:-.}" && pwd)
# $bin runs under the unit's system-call filter in make check where it
# can (tests/unit-filter.sh); $real_bin is the daemon itself.
bin=${PAGERD_BIN:-$build/pagerd}
real_bin=${PAGERD_REAL_BIN:-$bin}
ctl=${PAGERCTL_BIN:-$build/pagerctl}
shim=$build/.libs/libpagerd-preload.so
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
# Every daemon a shell test starts keeps its working-set recordings here.
export PAGERD_STATE_DIR="$dir/state"
# Every daemon chooses its pressure file, whatever service runs the tests.
unset MEMORY_PRESSURE_WATCH MEMORY_PRESSURE_WRITE
fail() {
	echo "FAIL: $*"
	[ -n "$pid" ] && sigsys_call "$pid"
	[ -f "$dir/log" ] && tail -30 "$dir/log"
	exit 1
}

# If a system call the unit does not allow killed process $1 (SIGSYS),
# say which: the kernel's audit line names it.
sigsys_call() {
	call=$("$build/tests/seccomp-exec" --killed "$1" 2>/dev/null) &&
	    echo "pagerd (pid $1) was killed by SIGSYS: the unit does not allow $call"
}

# Start pagerd -d with options $2..., its log in $dir/log, its pid in
# $pid; wait until it listens on the socket $1.
start_daemon() {
	s=$1
	shift
	"$bin" -d "$@" 2>"$dir/log" &
	pid=$!
	wait_sock "$s"
}

# Stop the daemon started last ($pid): it must exit 0 on SIGTERM.
stop_daemon() {
	kill $pid
	wait $pid || fail "pagerd exited $? on SIGTERM"
	pid=
}

# The daemon started last ($pid) died: fail saying when ($1), its status
# and, for a SIGSYS, the call. alive WHEN fails so if it is not running.
dead() {
	wait $pid
	fail "pagerd died $1, status $?"
}
alive() { kill -0 "$pid" 2>/dev/null || dead "$1"; }

# A program preloaded with the shim on socket $1 (tests/shim-prog: its
# anonymous memory and a file mapping) gets the kernel's result.
check_shim() {
	"$build/tests/shim-prog" --make "$dir/pattern.dat" || fail "shim-prog --make"
	PAGERD_SOCKET=$1 PAGERD_FILES='*.dat' PAGERD_ANON=1M LD_PRELOAD=$shim \
	    "$build/tests/shim-prog" "$dir/pattern.dat" >"$dir/out" ||
	    { alive "serving the shim"; fail "shim-prog failed"; }
	[ "$(cat "$dir/out")" = "$("$build/tests/shim-prog" "$dir/pattern.dat")" ] ||
	    fail "shim-prog's result differs from the kernel's"
	alive "serving the shim"
}

# pagerctl's copy-on-write snapshot of a region of tests/layout-prog on
# socket $1 holds the bytes the program wrote.
check_snapshot() {
	head -c 300000 /dev/urandom >"$dir/data"
	start_layout "$1" "$dir/data"
	"$ctl" -s "$1" snapshot "$lpid" "$(addr cow)" "$dir/image" >/dev/null ||
	    { alive "taking a snapshot"; fail "snapshot failed"; }
	cmp -s "$dir/image" "$dir/data.ref" || fail "the snapshot differs"
	exec 7>&-
	wait $lpid || fail "layout-prog failed"
	alive "serving copy-on-write"
}

# The daemon ($pid, its log in $dir/log) reloads on SIGHUP and still
# answers on socket $1, having served pages from files; on SIGTERM it
# exits 0.
check_reload_stop() {
	kill -HUP $pid
	wait_line "reloaded" "$dir/log" "no reload on SIGHUP"
	alive "reloading on SIGHUP"
	"$ctl" -s "$1" status | grep -Eq "pages +[1-9][0-9]* from files" ||
	    fail "no pages counted"
	kill $pid
	wait $pid || dead "on SIGTERM"
	pid=
}

# Wait (up to 10 s) for a socket to appear.
wait_sock() {
	i=0
	while ! [ -S "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	[ -S "$1" ] || fail "no socket at $1"
}

# Wait (up to 10 s) until file $2 holds a line with $1; fail with $3.
wait_line() {
	i=0
	while ! grep -qs "$1" "$2" && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	grep -qs "$1" "$2" || fail "$3"
}

# Start tests/layout-prog on socket $1 with file $2: $lpid is its pid, it
# runs until "exec 7>&-", and addr NAME gives the addresses it printed.
start_layout() {
	# The last run's "ready" must not answer for this one: the shell
	# truncates the file only once the program has opened the fifo.
	rm -f "$dir/in" "$dir/layout"
	mkfifo "$dir/in"
	"$build/tests/layout-prog" "$1" "$2" <"$dir/in" >"$dir/layout" &
	lpid=$!
	exec 7>"$dir/in"
	wait_line ready "$dir/layout" "layout-prog did not start"
}
addr() { awk -v k="$1" '$1 == k { print $2 }' "$dir/layout"; }

# Pages the daemon on $sock has served from files so far, by its count.
served() {
	"$ctl" -s "$sock" status | sed -n 's/^ *pages *\([0-9]*\) from files.*/\1/p'
}

# A git repository at $1 of $2 commits to $3 files, packed (git gc): pack
# files for the shim to route.
git_repo() {
	git init -q "$1"
	i=0
	while [ $i -lt "$2" ]; do
		seq $((i * 1000)) $((i * 1000 + 3000)) >"$1/f$((i % $3))"
		git -C "$1" add -A
		git -C "$1" -c user.name=t -c user.email=t@t commit -qm "c$i"
		i=$((i + 1))
	done
	git -C "$1" gc -q
}

# Input for mdb_load -f into $2: an LMDB database of $1 keys whose
# values grow and shrink (python3).
lmdb_input() {
	python3 -c '
import sys
print("VERSION=3\nformat=print\ntype=btree\nmapsize=268435456\nHEADER=END")
for i in range(int(sys.argv[1])):
    print(" key%08d\n value %d %s" % (i, i, "x" * (i % 300)))
print("DATA=END")' "$1" >"$2"
}

# The two unprivileged users of the isolation tests (see harness.c):
# test_users creates them or skips the test; as_user NAME CMD... runs a
# command as one of them, with no supplementary groups.
test_users() {
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for useradd"; exit 77; }
	for u in pagerd-ta pagerd-tb; do
		id "$u" >/dev/null 2>&1 && continue
		useradd --system --no-create-home --shell /usr/sbin/nologin \
		    "$u" >/dev/null 2>&1 ||
		    { echo "SKIP: cannot create the test user $u"; exit 77; }
	done
}
as_user() {
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"
}

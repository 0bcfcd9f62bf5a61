# Sourced by the shell tests: paths of what was built, a scratch directory
# removed on exit, fail() to end a test loudly, and helpers.
build=$(cd "${PAGERD_BUILDDIR:-.}" && pwd)
bin=${PAGERD_BIN:-$build/pagerd}
ctl=${PAGERCTL_BIN:-$build/pagerctl}
shim=$build/.libs/libpagerd-preload.so
dir=$(mktemp -d)
chmod 755 "$dir"
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
# Every daemon a shell test starts keeps its working-set recordings here.
export PAGERD_STATE_DIR="$dir/state"
fail() { echo "FAIL: $*"; [ -f "$dir/log" ] && tail -30 "$dir/log"; exit 1; }

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

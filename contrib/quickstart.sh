#!/bin/sh
# pagerd quick start on Debian 12 (as root, or with sudo for apt-get):
#   contrib/quickstart.sh demo    install what is missing, build, start pagerd
#                                 and run the example client through it
#   contrib/quickstart.sh check   install what is missing, build, and run the
#                                 whole test suite (plain and under ASan+UBSan)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
packages="build-essential autoconf automake libtool pkg-config liburing-dev
	libbsd-dev libsystemd-dev systemd valgrind clang-14 libclang-rt-14-dev
	git sqlite3 python3 lmdb-utils libfuse3-dev fuse3"
# The tests of shared mappings read numpy arrays.
packages="$packages python3-numpy"

say() { printf '== %s\n' "$*"; }

install_deps() {
	missing=
	for p in $packages; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	say "installing:$missing"
	sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing \
	    >/dev/null
}

# build DIR [configure options]: an out-of-tree build in $top/DIR.
build() {
	dir=$top/$1
	shift
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null)
	mkdir -p "$dir"
	say "building in $dir $*"
	(cd "$dir" && { [ -f Makefile ] || "$top/configure" -q "$@"; } &&
	    make -s -j"$jobs" >/dev/null)
}

demo() {
	build build
	dir=$(mktemp -d)
	sock=$dir/pagerd.sock
	"$top/build/pagerd" -d --socket "$sock" 2>"$dir/pagerd.log" &
	pid=$!
	# Not "kill ...; rm" alone: under set -e a kill of the daemon already
	# stopped would fail the trap, the script and leave $dir behind.
	trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	say "pagerd (pid $pid) is listening on $sock; running the example client"
	status=0
	"$top/build/pagerd-example" -s "$sock" || status=$?
	kill $pid
	wait $pid || true
	say "pagerd's log:"
	cat "$dir/pagerd.log"
	return $status
}

# Sum the automake harness's counts over the test-suite logs given.
summary() {
	awk '
	/^# PASS:/ { pass += $3 } /^# XFAIL:/ { pass += $3 }
	/^# FAIL:/ { fail += $3 } /^# XPASS:/ { fail += $3 }
	/^# ERROR:/ { fail += $3 } /^# SKIP:/ { skip += $3 }
	END {
		line = sprintf("%d passed, %d failed", pass, fail)
		if (skip) line = line sprintf(", %d skipped", skip)
		print line
		exit fail != 0
	}' "$@"
}

check() {
	status=0
	build build
	say "make check"
	(cd "$top/build" && make -s check) || status=1
	build build-asan --enable-asan --enable-debug
	say "make check under ASan+UBSan"
	(cd "$top/build-asan" && make -s check) || status=1
	for d in build build-asan; do
		grep -h '^FAIL\|^ERROR' "$top/$d/test-suite.log" 2>/dev/null &&
		    say "failures in $d: see $top/$d/test-suite.log"
	done
	summary "$top/build/test-suite.log" "$top/build-asan/test-suite.log" ||
	    status=1
	return $status
}

case "${1:-}" in
demo) install_deps && demo ;;
check) install_deps && check ;;
*)
	echo "usage: $0 demo|check" >&2
	exit 1
	;;
esac

#!/bin/sh
# pagerd quick start on Debian 12 (as root, or with sudo for apt-get):
#   contrib/quickstart.sh demo    install what is missing, build, start pagerd
#                                 and run the example client through it
#   contrib/quickstart.sh check   install what is missing, build, and run the
#                                 whole test suite (plain and under ASan+UBSan)
#   contrib/quickstart.sh distcheck  the release check: make distcheck
#   contrib/quickstart.sh deb     build the Debian packages, install them,
#                                 use them and purge them (tests/deb-test.sh)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
packages="build-essential autoconf automake libtool pkg-config liburing-dev
	libbsd-dev libsystemd-dev systemd valgrind clang-14 libclang-rt-14-dev
	git sqlite3 python3 lmdb-utils libfuse3-dev fuse3
	man-db debhelper devscripts lintian dpkg-dev fakeroot
	libnbd-dev nbdkit libnbd-bin"
# unit-syscalls-test runs the daemon under the unit's system call filter.
packages="$packages libseccomp-dev"
# The tests of shared mappings read numpy arrays.
packages="$packages python3-numpy"
# A write-back test makes its file immutable (chattr).
packages="$packages e2fsprogs"
# replay-unmap-test puts an ext4 image (e2fsprogs) on a loop device
# (losetup, in mount).
packages="$packages mount"

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

# build DIR [configure options]: an out-of-tree build in $top/DIR. A
# source tree configured in place (./configure && make by hand) refuses
# builds elsewhere: the demo then uses that build ($intree_ok), the rest
# says what to do. $bdir is the build used.
intree_ok=
build() {
	dir=$top/$1
	shift
	if [ -f "$top/config.status" ]; then
		if [ -n "$intree_ok" ]; then
			say "using the in-tree build in $top"
			make -C "$top" -s -j"$jobs" >/dev/null
			bdir=$top
			return
		fi
		say "$top was configured in the source tree, which stops" \
		    "out-of-tree builds: run 'make distclean' in $top, then" \
		    "$0 again (it builds in $top/build and $top/build-asan)"
		return 1
	fi
	bdir=$dir
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null)
	mkdir -p "$dir"
	say "building in $dir $*"
	(cd "$dir" && { [ -f Makefile ] || "$top/configure" -q "$@"; } &&
	    make -s -j"$jobs" >/dev/null)
}

demo() {
	intree_ok=1
	build build || return 1
	dir=$(mktemp -d)
	sock=$dir/pagerd.sock
	"$bdir/pagerd" -d --socket "$sock" 2>"$dir/pagerd.log" &
	pid=$!
	# Not "kill ...; rm" alone: under set -e a kill of the daemon already
	# stopped would fail the trap, the script and leave $dir behind.
	trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	say "pagerd (pid $pid) is listening on $sock; running the example client"
	status=0
	"$bdir/pagerd-example" -s "$sock" || status=$?
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
	build build || return 1
	say "make check"
	(cd "$top/build" && make -s check) || status=1
	build build-asan --enable-asan --enable-debug || return 1
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

# The release check: the tarball builds, installs and passes its tests
# out of tree (make distcheck), so a file missing from it fails here.
distcheck() {
	build build || return 1
	say "make distcheck"
	(cd "$top/build" && make -s distcheck >"$top/build/distcheck.log" 2>&1) ||
	    { tail -40 "$top/build/distcheck.log"; return 1; }
	grep -A3 'archives ready for distribution' "$top/build/distcheck.log"
}

# The Debian packages: built, checked with lintian, installed, used and
# purged (tests/deb-test.sh; as root, on this machine).
deb() {
	say "Debian packages: build, install, use, purge"
	st=0
	PAGERD_SRCDIR=$top sh "$top/tests/deb-test.sh" || st=$?
	# 77: skipped, with the reason said (not root, packages installed).
	[ $st -eq 77 ] && return 0
	return $st
}

case "${1:-}" in
demo) install_deps && demo ;;
check) install_deps && check ;;
distcheck) install_deps && distcheck ;;
deb) install_deps && deb ;;
*)
	echo "usage: $0 demo|check|distcheck|deb" >&2
	exit 1
	;;
esac

#!/bin/sh
# The system calls the systemd unit allows, for the tests' daemons.
#   unit-filter.sh calls UNIT: the names of UNIT's SystemCallFilter= (an
#     allow list), its groups expanded by systemd-analyze, one a line.
#   unit-filter.sh wrapper UNIT SECCOMP_EXEC PAGERD OUT ASAN: write OUT, a
#     script named pagerd that execs PAGERD (same pid) under those calls
#     through SECCOMP_EXEC, as systemd would run it; make check points
#     PAGERD_BIN at it. Where that cannot be (not root, no libseccomp, no
#     systemd-analyze, a sanitizer build: ASAN is 1), OUT is not
#     executable, and its line says why (make check prints it at the end).
set -u

expand() {
	for name in "$@"; do
		case $name in
		@*)
			# A group's lines: comments, its calls, its groups.
			# shellcheck disable=SC2046
			expand $(systemd-analyze syscall-filter "$name" |
			    sed -e '1d' -e 's/#.*//' -e 's/^ *//' | grep .) ||
			    return 1
			;;
		*) echo "$name" ;;
		esac
	done
}

calls() {
	filter=$(sed -n 's/^SystemCallFilter=//p' "$1")
	[ -n "$filter" ] || { echo "no SystemCallFilter= in $1" >&2; return 1; }
	case $filter in
	*"~"*) echo "an allow list only: $filter" >&2; return 1 ;;
	esac
	# shellcheck disable=SC2086
	list=$(expand $filter) || return 1
	list=$(echo "$list" | sort -u)
	[ "$(echo "$list" | wc -l)" -gt 100 ] ||
	    { echo "$1's filter expanded to few calls: $list" >&2; return 1; }
	echo "$list"
}

wrapper() {
	unit=$1 exec_filtered=$2 real=$3 out=$4 asan=$5
	why=
	if [ "$(id -u)" != 0 ]; then
		why="not root"
	elif ! [ -x "$exec_filtered" ]; then
		why="built without libseccomp"
	elif ! command -v systemd-analyze >/dev/null; then
		why="no systemd-analyze"
	elif [ "$asan" = 1 ]; then
		why="a sanitizer build makes calls of its own"
	fi
	mkdir -p "$(dirname "$out")"
	# Written aside and renamed: a test already running keeps its copy.
	if [ -n "$why" ]; then
		echo "# Not a wrapper: the tests' pagerd ran without the unit's system-call filter ($why)" >"$out.tmp.$$"
	else
		list=$(calls "$unit") || return 1
		{
			echo "#!/bin/sh"
			echo "# pagerd under the SystemCallFilter= of $(basename "$unit"), by make check."
			printf 'exec "%s"' "$exec_filtered"
			# shellcheck disable=SC2086
			printf ' %s' $list
			printf ' -- "%s" "$@"\n' "$real"
		} >"$out.tmp.$$"
		chmod 755 "$out.tmp.$$"
	fi
	mv -f "$out.tmp.$$" "$out"
}

case ${1:-} in
calls) shift; calls "$@" ;;
wrapper) shift; wrapper "$@" ;;
*) echo "usage: unit-filter.sh calls UNIT | wrapper UNIT SECCOMP_EXEC PAGERD OUT ASAN" >&2; exit 2 ;;
esac

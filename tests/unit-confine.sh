#!/bin/sh
# unit-confine.sh [--listen SOCKET] [--notify SOCKET] [--cgroup NAME] UNIT
#     SECCOMP_EXEC RUNTIME STATE PROGRAM [ARG...]: run PROGRAM (as root,
# the same pid) confined as systemd would confine the service of UNIT,
# each directive read from UNIT, for tests that must see the daemon work
# under its unit where PID 1 is not systemd:
#   with --cgroup, a control group of its own, as every service has: NAME
#     under the caller's group of the cgroup2 hierarchy (where one can be
#     made: else a line says so); "unit-confine.sh --remove-cgroup NAME"
#     removes it once PROGRAM is gone;
#   with --listen, socket activation as UNIT's .socket unit beside it says
#     (ListenSequentialPacket=, SocketMode=): systemd-socket-activate
#     listens on SOCKET (not at the unit's path: the test's own, in
#     RUNTIME) and starts the rest at the first connection, the listening
#     socket handed over (LISTEN_FDS); the socket gets its mode within
#     moments of its making, so a client of another user waits for it;
#   with --notify, Type=notify's and WatchdogSec='s environment
#     (NOTIFY_SOCKET, the test's datagram socket; WATCHDOG_USEC,
#     WATCHDOG_PID);
#   a private mount namespace where
#     ProtectSystem=strict: every file system is read-only, but for
#       RUNTIME and STATE (RuntimeDirectory=, StateDirectory=: the test's
#       own stand-ins for /run/pagerd and /var/lib/pagerd, to be given to
#       the daemon by its options), bound writable;
#     PrivateTmp=yes: /tmp and /var/tmp are empty tmpfs of their own;
#     ProtectHome=yes: /home, /root and /run/user are empty, inaccessible;
#     PrivateDevices=yes: /dev holds null, zero, full, random, urandom,
#       tty, the host's pts, shm, mqueue and hugepages mounts and the
#       usual symbolic links;
#     ProtectKernelTunables=yes: /proc/sys, /proc/sysrq-trigger and /sys
#       are read-only; ProtectControlGroups=yes: /sys/fs/cgroup too, the
#       service's own group's memory.pressure included, as systemd before
#       254 does (254 and later leave that one file writable when it names
#       it in $MEMORY_PRESSURE_WATCH);
#     ProtectKernelModules=yes: /lib/modules and /usr/lib/modules are
#       inaccessible;
#   LimitNOFILE=, LimitMEMLOCK= (prlimit; lowered to this process's hard
#     limits where it cannot raise them); OOMScoreAdjust= (choom, where
#     it can be);
#   CapabilityBoundingSet= as the bounding set, no inheritable nor ambient
#   capabilities (AmbientCapabilities= must be empty), NoNewPrivileges=
#   (setpriv); a clean environment, as systemd gives, and UMask=;
#   SystemCallFilter= (tests/unit-filter.sh calls), RestrictNamespaces=yes,
#   MemoryDenyWriteExecute=yes, RestrictAddressFamilies=, RestrictRealtime=
#   and LockPersonality= through SECCOMP_EXEC; SystemCallArchitectures=
#   native is its filter's own (other architectures' calls kill).
# Not emulated: Restart= (systemd-socket-activate hands its socket over
# once: a daemon that dies is not started again on it), the other /proc
# files of ProtectKernelTunables=, the device controller's
# DevicePolicy=closed of PrivateDevices=, mount propagation back to the
# host (the namespace is a slave of the host's, as systemd's is). A
# directive with a value this script does not know fails it, naming the
# directive.
set -eu
# The cgroup2 directory of a group NAME ($1) of the caller's own.
cgroup_dir() {
	case $1 in "" | */* | . | ..) return 1 ;; esac
	root=$(findmnt -rno TARGET -t cgroup2 | head -1)
	[ -n "$root" ] || return 1
	echo "$root$(sed -n 's|^0::/*|/|p' /proc/self/cgroup | sed 's|/$||')/$1"
}
if [ "${1:-}" = --remove-cgroup ] && [ $# = 2 ]; then
	d=$(cgroup_dir "$2") || exit 0
	# Empty once PROGRAM is reaped: a moment after a kill.
	i=0
	while [ -d "$d" ] && ! rmdir "$d" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ ! -d "$d" ] || { echo "unit-confine.sh: cannot remove $d" >&2; exit 1; }
	exit 0
fi

listen='' notify='' cgroup=''
if [ "${1:-}" = --listen ] && [ $# -ge 2 ]; then
	listen=$2
	shift 2
fi
if [ "${1:-}" = --notify ] && [ $# -ge 2 ]; then
	notify=$2
	shift 2
fi
if [ "${1:-}" = --cgroup ] && [ $# -ge 2 ]; then
	cgroup=$2
	shift 2
fi
if [ "${1:-}" = --inside ]; then
	inside=1
	shift
fi
[ $# -ge 5 ] || {
	echo "usage: unit-confine.sh [--listen SOCKET] UNIT SECCOMP_EXEC RUNTIME STATE PROGRAM [ARG...]" >&2
	exit 2
}
unit=$1 exec_filtered=$2 runtime=$3 state=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)

# The value of directive $1 in the unit (the last one set), or "".
value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
no() { echo "unit-confine.sh: $1 is not emulated" >&2; exit 2; }
# Whether boolean directive $1 is on (yes) or off (no, unset).
on() {
	case $(value "$1") in
	yes | true | on | 1) return 0 ;;
	"" | no | false | off | 0) return 1 ;;
	*) no "$1=$(value "$1")" ;;
	esac
}

if [ -z "${inside:-}" ]; then
	for d in "$runtime" "$state"; do
		case $d in
		/tmp/* | /var/tmp/* | /home/* | /root/* | /run/user/*)
			echo "unit-confine.sh: $d would be hidden" >&2
			exit 2 ;;
		esac
		[ -d "$d" ] || { echo "unit-confine.sh: no directory $d" >&2; exit 2; }
	done
	if [ -n "$cgroup" ]; then
		if d=$(cgroup_dir "$cgroup") && mkdir -p "$d" &&
		    echo $$ >"$d/cgroup.procs"; then
			:
		else
			echo "unit-confine.sh: no control group of its own" >&2
		fi
	fi
	set -- unshare -m --propagation slave -- \
	    sh "$0" ${notify:+--notify "$notify"} --inside "$unit" "$exec_filtered" "$runtime" "$state" "$@"
	[ -n "$listen" ] || exec "$@"
	socket_unit=${unit%.service*}.socket
	[ -f "$socket_unit" ] || { echo "unit-confine.sh: no $socket_unit" >&2; exit 2; }
	unit=$socket_unit
	[ -n "$(value ListenSequentialPacket)" ] ||
	    no "$socket_unit's socket (ListenSequentialPacket= only)"
	# systemd-socket-activate makes its socket 0644 whatever the umask:
	# a helper gives it SocketMode= once it is there (up to 10 s).
	mode=$(value SocketMode)
	mode=${mode:-0666}
	(
		i=0
		until [ -S "$listen" ] &&
		    [ "$(stat -c %a "$listen")" = "$(printf %o "0$mode")" ] ||
		    [ $i -ge 200 ]; do
			[ -S "$listen" ] && chmod "$mode" "$listen"
			sleep 0.05
			i=$((i + 1))
		done
	) </dev/null >/dev/null 2>&1 &
	exec systemd-socket-activate --seqpacket -l "$listen" "$@"
fi
# UMask= (the socket's umask above is not the service's).
umask "$(value UMask | grep . || echo 0022)"

# Directory $1 (if there is one) made empty and inaccessible.
hide() {
	[ -d "$1" ] || return 0
	mount -t tmpfs -o ro,mode=000,nosuid,nodev,noexec pagerd-hidden "$1"
}
# Mount point $1 made read-only (and all below it, if $2 is -r).
read_only() {
	[ -e "$1" ] || return 0
	mount --bind "$1" "$1"
	mount -o remount,bind,ro "$1"
}
# Every mount point at or below $1, deepest last.
mounts_below() {
	awk -v top="$1" '{ gsub(/\\040/, " ", $5) }
	    $5 == top || index($5, top == "/" ? "/" : top "/") == 1 { print $5 }' \
	    /proc/self/mountinfo
}

# The writable directories: mounts of their own, before / goes read-only.
if [ -n "$(value RuntimeDirectory)" ]; then mount --bind "$runtime" "$runtime"; fi
if [ -n "$(value StateDirectory)" ]; then mount --bind "$state" "$state"; fi

if on PrivateDevices; then
	dev=$(mktemp -d /tmp/pagerd-dev.XXXXXX)
	mount -t tmpfs -o mode=755,nosuid,noexec pagerd-dev "$dev"
	for n in null zero full random urandom tty; do
		: >"$dev/$n"
		mount --bind "/dev/$n" "$dev/$n"
	done
	# The host's /dev/pts, /dev/shm, /dev/mqueue and /dev/hugepages, as
	# systemd binds them; its journal's /dev/log.
	for n in pts shm mqueue hugepages; do
		mountpoint -q "/dev/$n" || continue
		mkdir "$dev/$n"
		mount --bind "/dev/$n" "$dev/$n"
	done
	ln -s pts/ptmx "$dev/ptmx"
	ln -s /run/systemd/journal/dev-log "$dev/log"
	ln -s /proc/self/fd "$dev/fd"
	ln -s /proc/self/fd/0 "$dev/stdin"
	ln -s /proc/self/fd/1 "$dev/stdout"
	ln -s /proc/self/fd/2 "$dev/stderr"
	mount --move "$dev" /dev
	rmdir "$dev"
fi
if on PrivateTmp; then
	for t in /tmp /var/tmp; do
		[ -d $t ] && mount -t tmpfs -o mode=1777,nosuid,nodev pagerd-tmp $t
	done
fi
if on ProtectHome; then
	hide /home
	hide /root
	hide /run/user
fi
if on ProtectKernelModules; then
	hide /lib/modules
	hide /usr/lib/modules
fi
if on ProtectKernelTunables; then
	read_only /proc/sys
	read_only /proc/sysrq-trigger
	for m in $(mounts_below /sys); do
		case $m in /sys/fs/cgroup*) continue ;; esac
		mount -o remount,bind,ro "$m"
	done
fi
if on ProtectControlGroups; then
	for m in $(mounts_below /sys/fs/cgroup); do
		mount -o remount,bind,ro "$m"
	done
fi
case $(value ProtectSystem) in
strict)
	# Everything but the API file systems, the private mounts above and
	# the writable directories.
	for m in $(mounts_below /); do
		case $m in
		/proc | /proc/* | /sys | /sys/* | /dev | /dev/* | /tmp | \
		    /tmp/* | /var/tmp | /var/tmp/* | /home/* | /root/* | \
		    /run/user/* | "$runtime" | "$state")
			continue ;;
		esac
		mount -o remount,bind,ro "$m"
	done ;;
"" | no) ;;
*) no "ProtectSystem=$(value ProtectSystem)" ;;
esac

[ -z "$(value AmbientCapabilities)" ] ||
    no "AmbientCapabilities=$(value AmbientCapabilities)"
caps=-all
for c in $(value CapabilityBoundingSet); do
	case $c in
	CAP_*) caps="$caps,+$(echo "${c#CAP_}" | tr '[:upper:]' '[:lower:]')" ;;
	*) no "CapabilityBoundingSet=$(value CapabilityBoundingSet)" ;;
	esac
done
[ -n "$(value CapabilityBoundingSet)" ] || caps=+all
nnp=
if on NoNewPrivileges; then nnp=--no-new-privs; fi

# prlimit's --$1=$2 for the unit's value $2, where this process's hard
# limit ($3, in units of $4 bytes) allows it: raising a hard limit needs
# CAP_SYS_RESOURCE, which a container may lack (the line says so).
limit() {
	[ -n "$2" ] || return 0
	v=$2
	[ "$v" = infinity ] && v=unlimited
	if [ "$3" != unlimited ] &&
	    { [ "$v" = unlimited ] || [ "$v" -gt $(($3 * $4)) ]; }; then
		echo "unit-confine.sh: --$1=$v lowered to this process's hard limit" >&2
		v=$(($3 * $4))
	fi
	echo " --$1=$v:$v"
}
# shellcheck disable=SC3045
limits=$(limit nofile "$(value LimitNOFILE)" "$(ulimit -Hn)" 1)
# shellcheck disable=SC3045
limits=$limits$(limit memlock "$(value LimitMEMLOCK)" "$(ulimit -Hl)" 1024)
oom=$(value OOMScoreAdjust)
if [ -n "$oom" ] && ! choom -n "$oom" -- true 2>/dev/null; then
	echo "unit-confine.sh: OOMScoreAdjust=$oom not set (no CAP_SYS_RESOURCE)" >&2
	oom=
fi

calls=$(sh "$here/unit-filter.sh" calls "$unit")
extra=
if on RestrictNamespaces; then extra="$extra --restrict-namespaces"; fi
if on MemoryDenyWriteExecute; then extra="$extra --deny-write-execute"; fi
if on RestrictRealtime; then extra="$extra --restrict-realtime"; fi
if on LockPersonality; then extra="$extra --lock-personality"; fi
families=$(value RestrictAddressFamilies)
case $families in
"") ;;
"~"* | none) no "RestrictAddressFamilies=$families" ;;
*) extra="$extra --address-families $(echo "$families" | tr ' ' ',')" ;;
esac
arch=$(value SystemCallArchitectures)
[ -z "$arch" ] || [ "$arch" = native ] || no "SystemCallArchitectures=$arch"

# Type=notify: the socket, and the watchdog's period in microseconds for
# this pid (PROGRAM's: every step from here execs).
notify_env=
if [ -n "$notify" ]; then
	[ "$(value Type)" = notify ] || no "--notify with Type=$(value Type)"
	notify_env="NOTIFY_SOCKET=$notify"
	w=$(value WatchdogSec)
	case $w in
	"" | 0) ;;
	*ms) notify_env="$notify_env WATCHDOG_USEC=$((${w%ms} * 1000))" ;;
	*min) notify_env="$notify_env WATCHDOG_USEC=$((${w%min} * 60000000))" ;;
	*s) notify_env="$notify_env WATCHDOG_USEC=$((${w%s} * 1000000))" ;;
	*[!0-9]*) no "WatchdogSec=$w" ;;
	*) notify_env="$notify_env WATCHDOG_USEC=$((w * 1000000))" ;;
	esac
	case $notify_env in
	*WATCHDOG_USEC*) notify_env="$notify_env WATCHDOG_PID=$$" ;;
	esac
fi

# shellcheck disable=SC2086
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    ${LISTEN_FDS:+LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID} \
    ${LISTEN_FDNAMES:+LISTEN_FDNAMES=$LISTEN_FDNAMES} $notify_env \
    prlimit $limits -- \
    ${oom:+choom -n "$oom" --} \
    setpriv --bounding-set "$caps" --inh-caps -all --ambient-caps -all $nnp -- \
    "$exec_filtered" $extra $calls -- "$@"

#!/bin/sh
# Description: the Debian packages (not run by make check: it installs
# packages on this machine; contrib/quickstart.sh deb and CI run it, as
# root). Builds them from this source tree with dpkg-buildpackage -us -uc
# -b; lintian finds no error or warning; installs them; the installed
# daemon serves pagerd-example (built against the installed libpagerd-dev
# with pkg-config) and "pagerd-run python3 -c ..."; the socket unit is
# enabled the Debian way; purging them leaves no file in /etc, /usr,
# /lib, /var/lib/systemd or /run, no package, and no pagerd user behind.
set -u
PAGERD_BUILDDIR=${PAGERD_BUILDDIR:-$(mktemp -d)}
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
top=$(cd "${PAGERD_SRCDIR:-.}" && pwd)
pkgs="pagerd-preload libpagerd-dev pagerd libpagerd0"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: installs packages: needs root"; exit 77; }
for c in dpkg-buildpackage lintian dh cc pkg-config python3; do
	command -v $c >/dev/null || { echo "SKIP: no $c"; exit 77; }
done
for p in $pkgs; do
	if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null |
	    grep -qv '^not-installed$'; then
		echo "SKIP: $p is already installed; this test would remove it"
		exit 77
	fi
done

# Purge whatever got installed, even when a check fails half-way.
cleanup() {
	[ -n "$pid" ] && kill $pid 2>/dev/null
	dpkg --purge $pkgs >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT

# Names (not contents: other programs may write there) of what packages
# and their scripts may leave behind.
snapshot() {
	find /etc /usr /lib /var/lib/systemd /run/pagerd -xdev \
	    \( -path /usr/local -o -name __pycache__ \) -prune -o -print \
	    2>/dev/null | sort
	getent passwd | cut -d: -f1 | grep -x 'pagerd' 
	getent group | cut -d: -f1 | grep -x 'pagerd'
}
snapshot >"$dir/before"

# The tree as it is, without build output.
mkdir "$dir/src"
if [ -d "$top/.git" ] || [ -f "$top/.git" ]; then
	(cd "$top" && git ls-files -co --exclude-standard | grep -v '^build' |
	    tar -cf - -T -) | tar -xf - -C "$dir/src"
else
	(cd "$top" && tar -cf - --exclude='./build*' .) | tar -xf - -C "$dir/src"
fi
[ -f "$dir/src/debian/control" ] || fail "no debian/ in $top"
(cd "$dir/src" && dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1 ||
    { tail -40 "$dir/build.log"; fail "dpkg-buildpackage failed"; }
echo "ok: built $(cd "$dir" && ls *.deb | grep -v dbgsym | tr '\n' ' ')"
lintian --fail-on error,warning "$dir"/pagerd_*.changes >"$dir/lintian" 2>&1 ||
    { cat "$dir/lintian"; fail "lintian"; }
echo "ok: lintian: $(grep -c . "$dir/lintian") notes, no error or warning"

debs=
for p in $pkgs; do debs="$debs $(ls "$dir"/${p}_*.deb)"; done
dpkg -i $debs >"$dir/dpkg.log" 2>&1 || { cat "$dir/dpkg.log"; fail "dpkg -i"; }
[ -f /etc/pagerd.conf ] || fail "no /etc/pagerd.conf"
/usr/sbin/pagerd -n | grep -qx "configuration OK: /etc/pagerd.conf" ||
    fail "the installed pagerd does not read /etc/pagerd.conf"
# What deb-systemd-helper does without systemd running: the symlinks.
[ -L /etc/systemd/system/sockets.target.wants/pagerd.socket ] ||
    fail "pagerd.socket is not enabled"
[ -e /etc/systemd/system/multi-user.target.wants/pagerd.service ] &&
    fail "pagerd.service is enabled: the socket starts it"
echo "ok: installed; /etc/pagerd.conf read; pagerd.socket enabled"

# PID 1 is not systemd here: the daemon by hand, on a socket of the test's.
sock=$dir/pagerd.sock
/usr/sbin/pagerd -d -s "$sock" 2>"$dir/log" &
pid=$!
wait_sock "$sock"
cc -o "$dir/example" "$top/contrib/examples/pagerd-example.c" \
    $(pkg-config --cflags --libs pagerd) >"$dir/cc.log" 2>&1 ||
    { cat "$dir/cc.log"; fail "pagerd-example does not build against libpagerd-dev"; }
"$dir/example" -s "$sock" >"$dir/example.out" 2>&1 ||
    { cat "$dir/example.out"; fail "pagerd-example failed"; }
echo "ok: pagerd-example: $(tail -1 "$dir/example.out")"
py='b = bytearray(16 << 20)
for i in range(0, len(b), 4096): b[i] = 1
print(sum(b))'
out=$(/usr/bin/pagerd-run -s "$sock" -a 1M -l "$dir/run.log" python3 -c "$py") ||
    fail "pagerd-run python3 failed"
[ "$out" = 4096 ] || fail "pagerd-run python3 printed $out"
grep -q "zero-fill" "$dir/run.log" || fail "pagerd-run: nothing routed to pagerd"
/usr/bin/pagerctl -s "$sock" status >/dev/null || fail "pagerctl status"
echo "ok: pagerd-run python3 -c, served by the installed daemon"
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=

dpkg --purge $pkgs >"$dir/dpkg.log" 2>&1 || { cat "$dir/dpkg.log"; fail "dpkg --purge"; }
for p in $pkgs; do
	dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null |
	    grep -qv '^not-installed$' && fail "$p is still known to dpkg"
done
snapshot >"$dir/after"
diff "$dir/before" "$dir/after" >"$dir/diff" ||
    { cat "$dir/diff"; fail "the purge left something behind (or took it)"; }
echo "ok: purged, nothing left behind"
exit 0

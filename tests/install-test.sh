#!/bin/sh
# Description: what "make install" puts where. Into a DESTDIR, every file
# lands under the configured prefix (the systemd units too, not in
# /lib/systemd/system); the installed units pass "systemd-analyze verify"
# with their Documentation= pages looked up among the installed man pages
# and ExecStart= pointing at the installed daemon; "man libpagerd-preload.so"
# and "man pagerd-run" find installed pages; the installed pagerd-run
# names the installed shim.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
command -v make >/dev/null || { echo "SKIP: no make"; exit 77; }
root=$dir/root
make -s -C "$build" install DESTDIR="$root" >"$dir/install.log" 2>&1 ||
    { cat "$dir/install.log"; fail "make install DESTDIR failed"; }
prefix=$(sed -n 's/^prefix = //p' "$build/Makefile")
[ -n "$prefix" ] || fail "no prefix in $build/Makefile"
outside=$(cd "$root" && find . \( -type f -o -type l \) ! -path "./${prefix#/}/*")
[ -z "$outside" ] || fail "installed outside the prefix $prefix: $outside"
echo "ok: every file under $prefix"

units=$(find "$root" -name pagerd.service -path '*/systemd/system/*')
[ -n "$units" ] || fail "no pagerd.service installed"
mandir=$(find "$root" -type d -path '*/share/man' | head -1)
[ -n "$mandir" ] || fail "no man pages installed"
MANPATH=$mandir man -w libpagerd-preload.so >/dev/null 2>&1 ||
    fail "man libpagerd-preload.so finds no page"
MANPATH=$mandir man -w pagerd-run >/dev/null 2>&1 || fail "man pagerd-run finds no page"
echo "ok: man libpagerd-preload.so and pagerd-run"

run=$(find "$root" -name pagerd-run -type f | head -1)
[ -n "$run" ] || fail "no pagerd-run installed"
# Not run: installed, it looks for libpagerd where the prefix says.
grep -q "$prefix/lib.*/libpagerd-preload.so" "$run" ||
    fail "the installed pagerd-run does not name $prefix's shim"
echo "ok: pagerd-run names the installed shim"

command -v systemd-analyze >/dev/null ||
    { echo "SKIP: no systemd-analyze to verify the units"; exit 77; }
mkdir "$dir/units"
cp "$(dirname "$units")/pagerd.socket" "$units" "$dir/units/"
# The daemon as installed in DESTDIR, where verify can see it.
sed -i "s|^ExecStart=/|ExecStart=$root/|" "$dir/units/pagerd.service"
(cd "$dir/units" && MANPATH=$mandir systemd-analyze verify --man=yes \
    pagerd.socket pagerd.service) >"$dir/verify" 2>&1 ||
    { cat "$dir/verify"; fail "systemd-analyze verify"; }
echo "ok: systemd-analyze verify pagerd.socket pagerd.service"
exit 0

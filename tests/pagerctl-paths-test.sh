#!/bin/sh
# Description: pagerctl names a pagerd region by its backing file and
# prints file names so that they cannot forge output. With
# tests/layout-prog mapping a file whose name holds a newline and an
# escape sequence: regions, maps, explain, map and caches print the name
# with \ooo escapes and no raw control character; maps and explain name
# the region by that file (a pagerd region), not by the cache's memfd
# (/memfd:pagerd-cache); -j gives the name whole, as a JSON string.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
command -v python3 >/dev/null || { echo "SKIP: needs python3"; exit 77; }

name=$(printf 'da\nta\033[2J')
head -c 300000 /dev/urandom >"$dir/$name"
start_layout "$sock" "$dir/$name"
esc="$dir/da\\\\012ta\\\\033\[2J"
region=$(addr region-touched)

for cmd in "regions $lpid" "maps $lpid" "explain $lpid $region" \
    "map $lpid $region" caches; do
	# shellcheck disable=SC2086
	"$ctl" -s "$sock" $cmd >"$dir/out" || fail "$cmd exited $?"
	if LC_ALL=C grep -q "$(printf '\033')" "$dir/out"; then
		fail "$cmd prints a raw escape"
	fi
	grep -q "$esc" "$dir/out" || fail "$cmd does not print the name escaped: $(cat "$dir/out")"
	grep -q "memfd:pagerd" "$dir/out" && fail "$cmd names the cache's memfd"
	echo "ok: $cmd"
done
"$ctl" -s "$sock" maps "$lpid" | grep "pagerd region" >"$dir/out"
grep -q "pagerd region .*pagerd .*$esc\$" "$dir/out" ||
    fail "maps does not name the region by its file: $(cat "$dir/out")"
"$ctl" -s "$sock" explain "$lpid" "$region" >"$dir/out"
grep -q "mapped: *yes, by .* $esc (a pagerd region)" "$dir/out" ||
    fail "explain does not name the region by its file: $(cat "$dir/out")"

for cmd in "regions $lpid" "maps $lpid" "explain $lpid $region" caches; do
	# shellcheck disable=SC2086
	"$ctl" -s "$sock" -j $cmd | python3 -c '
import json, sys
want = sys.argv[1]
def names(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("file", "path") and isinstance(x, str):
                yield x
            yield from names(x)
    elif isinstance(v, list):
        for x in v:
            yield from names(x)
assert want in names(json.load(sys.stdin)), want
' "$dir/$name" || fail "$cmd -j does not give the name whole"
done
echo "ok: -j"
exec 7>&-
wait "$lpid"
exit 0

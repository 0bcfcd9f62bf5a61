#!/bin/sh
# Description: pagerctl -h lists the commands of its command table, and
# pagerctl(8) describes the same commands in the same order; pagerctl -h
# and a wrong command or argument count print the same usage.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
man=${PAGERD_SRCDIR:-.}/src/pagerctl/pagerctl.8

"$ctl" -h >"$dir/help" || fail "pagerctl -h exited $?"
# A command line of the help: two spaces, then a lower-case word.
sed -n '/^commands:$/,$p' "$dir/help" |
    sed -n 's/^  \([a-z][a-z]*\).*/\1/p' >"$dir/usage-order"
sed -n 's/^\.It Cm \([a-z][a-z]*\).*/\1/p' "$man" >"$dir/man-order"
[ -s "$dir/usage-order" ] || fail "pagerctl -h lists no commands"
diff "$dir/usage-order" "$dir/man-order" >"$dir/diff" ||
    fail "pagerctl -h and pagerctl.8 differ in commands: $(cat "$dir/diff")"

for args in "nosuch" "status extra" "regions 1 2" "explain 1" "maps" \
    "snapshot 1 2"; do
	# shellcheck disable=SC2086
	"$ctl" -s "$dir/none.sock" $args >"$dir/out" 2>"$dir/err" &&
	    fail "pagerctl $args exited 0"
	grep -q "unknown command or wrong arguments: ${args%% *}" "$dir/err" ||
	    fail "pagerctl $args: $(head -1 "$dir/err")"
	sed 1d "$dir/err" | cmp -s - "$dir/help" ||
	    fail "pagerctl $args: its usage is not pagerctl -h's"
done
exit 0

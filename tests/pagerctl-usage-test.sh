#!/bin/sh
# Description: pagerctl -h lists the commands of its command table, and
# pagerctl(8) describes the same commands in the same order; pagerctl -h
# and a wrong command or argument count print the same usage, after a
# line that says which: an unknown command, or the arguments it takes.
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

# Each wrong command line: the cause in the first line, then the usage.
for case in "nosuch|unknown command: nosuch" \
    "status extra|status takes no argument" \
    "regions 1 2|regions takes \\[PID\\], not 2 arguments" \
    "explain 1|explain takes PID ADDR, not 1 argument\$" \
    "maps|maps takes PID, not 0 arguments" \
    "snapshot 1 2|snapshot takes PID ADDR FILE, not 2 arguments"; do
	args=${case%%|*}
	# shellcheck disable=SC2086
	"$ctl" -s "$dir/none.sock" $args >"$dir/out" 2>"$dir/err" &&
	    fail "pagerctl $args exited 0"
	head -1 "$dir/err" | grep -q "^pagerctl: ${case#*|}" ||
	    fail "pagerctl $args: $(head -1 "$dir/err")"
	sed 1d "$dir/err" | cmp -s - "$dir/help" ||
	    fail "pagerctl $args: its usage is not pagerctl -h's"
done
exit 0

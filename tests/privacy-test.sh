#!/bin/sh
# Description: pagerctl clients, regions, violations, top, caches and map
# show a user only the processes (and page caches) of its own uid. With a client of root and one of
# pagerd-tb running, and a fault of each reported, pagerd-ta's listings
# name none of their pids, programs or files, and its own client and
# report are listed; root's listings show all of them; so do pagerd-ta's
# with the configured admin-group among its supplementary groups.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
test_users
admin=nogroup
admin_gid=$(getent group "$admin" | cut -d: -f3)
[ -n "$admin_gid" ] || { echo "SKIP: no group $admin"; exit 77; }

sock=$dir/pagerd.sock
echo "admin-group $admin" >"$dir/pagerd.conf"
"$bin" -d -f "$dir/pagerd.conf" --socket "$sock" 2>"$dir/log" &
pid=$!
wait_sock "$sock"

# A client of USER (root, or a test user) on its own file, until
# descriptor FD (held open by this shell) is closed: its pid in $cpid.
start_client() {
	u=$1
	mkdir -p "$dir/$u"
	chown "$u" "$dir/$u"
	head -c 300000 /dev/urandom >"$dir/$u/data-$u"
	chmod 644 "$dir/$u/data-$u"
	mkfifo "$dir/$u/in"
	setpriv --reuid="$u" --regid="$u" --clear-groups -- \
	    "$build/tests/layout-prog" "$sock" "$dir/$u/data-$u" \
	    <"$dir/$u/in" >"$dir/$u/out" &
	cpid=$!
	eval "exec $2>\"\$dir/\$u/in\""
	wait_line ready "$dir/$u/out" "the client of $u did not start"
}
start_client root 7
root_pid=$cpid
start_client pagerd-tb 8
tb_pid=$cpid
start_client pagerd-ta 9
ta_pid=$cpid

# A reported fault of each: the shim reports read-unmapped's SIGSEGV.
for u in root pagerd-tb pagerd-ta; do
	(cd "$dir/$u" && PAGERD_SOCKET=$sock LD_PRELOAD=$shim setpriv \
	    --reuid="$u" --regid="$u" --clear-groups -- \
	    "$build/tests/crash-prog" read-unmapped) 2>/dev/null
done
i=0
while [ "$(grep -c "SIGSEGV at 0x10" "$dir/log")" -lt 3 ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done

# Everything USER... sees: every listing into $dir/seen.
listings() {
	: >"$dir/seen"
	for cmd in clients regions violations "top 1" caches; do
		# shellcheck disable=SC2086
		setpriv "$@" -- "$ctl" -s "$sock" $cmd >>"$dir/seen" ||
		    fail "pagerctl $cmd exited $? for $*"
	done
	setpriv "$@" -- "$ctl" -s "$sock" regions "$root_pid" >>"$dir/seen" ||
	    fail "pagerctl regions $root_pid exited $? for $*"
	# A region's pages: refused as if it were none, for another's.
	for u in root pagerd-tb; do
		a=$(awk '$1 == "region-touched" { print $2 }' "$dir/$u/out")
		p=$root_pid
		[ "$u" = root ] || p=$tb_pid
		setpriv "$@" -- "$ctl" -s "$sock" map "$p" "$a" \
		    >>"$dir/seen" 2>/dev/null
	done
}
# Whether the listings in $dir/seen show the processes of USER.
shows() {
	grep -Eq "^ *$2 " "$dir/seen" && return 0
	grep -q "pid $2 " "$dir/seen" && return 0
	grep -q "data-$1" "$dir/seen"
}

listings --reuid=pagerd-ta --regid=pagerd-ta --clear-groups
cat "$dir/seen"
for v in "root $root_pid" "pagerd-tb $tb_pid"; do
	set -- $v
	shows "$1" "$2" && fail "pagerd-ta sees $1's process: $(cat "$dir/seen")"
done
shows pagerd-ta "$ta_pid" || fail "pagerd-ta does not see its own client"
[ "$(grep -c "layout-prog" "$dir/seen")" -ge 2 ] ||
    fail "pagerd-ta's clients and top miss its own client"
grep -q "crash-prog" "$dir/seen" || fail "pagerd-ta's own report is not listed"
[ "$(grep -c "crash-prog" "$dir/seen")" = 1 ] ||
    fail "pagerd-ta sees more than its own report"
echo "ok: pagerd-ta sees its own processes only"

listings --reuid=0 --regid=0 --keep-groups
for v in "root $root_pid" "pagerd-tb $tb_pid" "pagerd-ta $ta_pid"; do
	set -- $v
	shows "$1" "$2" || fail "root does not see $1's process"
done
[ "$(grep -c "crash-prog" "$dir/seen")" -ge 3 ] || fail "root misses reports"
echo "ok: root sees everyone's"

listings --reuid=pagerd-ta --regid=pagerd-ta --groups="$admin_gid"
for v in "root $root_pid" "pagerd-tb $tb_pid"; do
	set -- $v
	shows "$1" "$2" || fail "the admin group does not see $1's process"
done
[ "$(grep -c "crash-prog" "$dir/seen")" -ge 3 ] ||
    fail "the admin group misses reports"
echo "ok: the admin group sees everyone's"

exec 7>&- 8>&- 9>&-
for p in $root_pid $tb_pid $ta_pid; do
	wait $p || fail "the client $p failed"
done
kill $pid
wait $pid || fail "pagerd exited $? on SIGTERM"
pid=
echo "listings are private to their user, root and the admin group"

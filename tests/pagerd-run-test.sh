#!/bin/sh
# Description: pagerd-run runs a command under the shim with the options
# turned into its environment, and the command's own exit status:
# - git log through "pagerd-run -f '*.pack' -f '*.idx'" prints what it
#   prints without pagerd, and the daemon serves its pack files;
# - python3 through "pagerd-run -a 1M" gets its large allocations from
#   pagerd (the -l log shows zero-fill regions) and computes the same sum,
#   and with --shared its read-only shared mmap of a file;
# - an LD_PRELOAD already set is kept, the shim appended after it;
# - the command's options are its own, its exit status and the signal
#   that ends it are passed on;
# - with no daemon, one line says so and the command runs without the
#   shim; with -q not even that line;
# - a missing command exits 127, a bad option 125;
# - -h names the shim it preloads.
set -u
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
run=${PAGERD_RUN_BIN:-$build/pagerd-run}
[ -x "$run" ] || fail "no pagerd-run at $run"
[ -f "$shim" ] || fail "no shim at $shim"
export PAGERD_RUN_LIBRARY="$shim"
unset PAGERD_SOCKET PAGERD_FILES PAGERD_ANON PAGERD_LOG LD_PRELOAD
unset PAGERD_QUIET PAGERD_SHARED PAGERD_SHARED_WRITE
skipped=""

"$run" -h >"$dir/help" || fail "pagerd-run -h exited $?"
grep -qx "The library preloaded: $shim" "$dir/help" ||
    fail "pagerd-run -h does not name the shim it preloads: $(tail -1 "$dir/help")"

if command -v git >/dev/null; then
	repo=$dir/repo
	git_repo "$repo" 20 5
	git -C "$repo" log --stat >"$dir/plain" 2>&1 || fail "git log failed"
	before=$(served)
	"$run" -s "$sock" -l "$dir/git.log" -f '*.pack' -f '*.idx' -- \
	    git -C "$repo" log --stat >"$dir/run" 2>&1 ||
	    { cat "$dir/run"; fail "git log failed under pagerd-run"; }
	cmp -s "$dir/plain" "$dir/run" || fail "git log's output differs"
	after=$(served)
	[ "$after" -gt "$before" ] || fail "git: the daemon served no file pages"
	grep -q '\.pack' "$dir/git.log" || fail "git: no pack routed (-l log)"
	echo "ok: git log ($((after - before)) pages from files)"
else
	skipped="$skipped git"
fi

if command -v python3 >/dev/null; then
	py='b = bytearray(32 << 20)
for i in range(0, len(b), 4096): b[i] = i % 251
print(sum(b))'
	want=$(python3 -c "$py") || fail "python3 failed"
	got=$("$run" -s "$sock" -a 1M -l "$dir/py.log" python3 -c "$py") ||
	    fail "python3 failed under pagerd-run"
	[ "$got" = "$want" ] || fail "python3: $got, not $want"
	grep -q "zero-fill" "$dir/py.log" ||
	    fail "python3's large allocations were not routed"
	echo "ok: python3 -a 1M ($got)"
	head -c 1048576 /dev/urandom >"$dir/a.bin"
	py='import mmap, sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
print(sum(m[::4096]))'
	want=$(python3 -c "$py" "$dir/a.bin") || fail "python3 mmap failed"
	got=$("$run" -s "$sock" --shared '*.bin' -l "$dir/shared.log" \
	    python3 -c "$py" "$dir/a.bin") || fail "python3 mmap failed under pagerd-run"
	[ "$got" = "$want" ] || fail "python3 mmap: $got, not $want"
	grep -q "mmap .* r- $dir/a.bin" "$dir/shared.log" ||
	    fail "--shared: the read-only shared mapping was not routed"
	echo "ok: python3 mmap(ACCESS_READ) with --shared"
else
	skipped="$skipped python3"
fi

# The environment the command sees, an LD_PRELOAD already there kept (an
# ASan build's pagerd-run must not mind a library preloaded before it).
env_of() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    "$run" -s "$sock" "$@" \
	    sh -c 'echo "$LD_PRELOAD|$PAGERD_FILES|$PAGERD_ANON|$PAGERD_SOCKET|$PAGERD_SHARED|$PAGERD_SHARED_WRITE"'
}
got=$(LD_PRELOAD=libm.so.6 PAGERD_FILES='*.a' env_of -f '*.b' -a 2M \
    --shared '*.npy' --shared '*.db' --shared-write)
[ "$got" = "libm.so.6:$shim|*.a:*.b|2M|$sock|*.npy:*.db|1" ] ||
    fail "environment: $got"
# A sanitized pagerd-run cannot run with the shim preloaded into it
# (the shim's malloc and mmap under ASan's): checked in plain builds.
if [ "${PAGERD_TEST_ASAN:-0}" != 1 ]; then
	got=$(LD_PRELOAD="$shim" env_of)
	[ "$got" = "$shim|||$sock||" ] || fail "the shim preloaded twice: $got"
fi
echo "ok: environment"

got=$("$run" -s "$sock" echo -f x -- y) || fail "echo failed"
[ "$got" = "-f x -- y" ] || fail "the command's options were taken: $got"
"$run" -s "$sock" sh -c 'exit 7'
[ $? -eq 7 ] || fail "exit status 7 not passed on"
"$run" -s "$sock" sh -c 'kill -TERM $$'
st=$?
[ $st -eq 143 ] || fail "a command killed by SIGTERM: status $st, not 143"
echo "ok: options, exit status and signal are the command's"

"$run" -s "$dir/none.sock" sh -c 'echo "[$LD_PRELOAD]"; exit 3' \
    >"$dir/out" 2>"$dir/err"
st=$?
[ $st -eq 3 ] || fail "no daemon: status $st, not 3"
[ "$(cat "$dir/out")" = "[]" ] || fail "no daemon: the shim was preloaded"
[ "$(wc -l <"$dir/err")" -eq 1 ] || { cat "$dir/err"; fail "no daemon: not one line"; }
grep -q "runs without pagerd" "$dir/err" || fail "no daemon: $(cat "$dir/err")"
echo "ok: no daemon: $(cat "$dir/err")"
"$run" -q -s "$dir/none.sock" true 2>"$dir/err" || fail "-q: true failed"
[ -s "$dir/err" ] && fail "-q: said $(cat "$dir/err")"
echo "ok: -q says nothing"

"$run" -s "$sock" /nonexistent/cmd 2>/dev/null
[ $? -eq 127 ] || fail "a missing command does not exit 127"
"$run" --no-such-option true 2>/dev/null
[ $? -eq 125 ] || fail "a bad option does not exit 125"
"$run" -a lots true 2>/dev/null
[ $? -eq 125 ] || fail "-a lots does not exit 125"
echo "ok: pagerd-run's own failures"

stop_daemon
[ -n "$skipped" ] && echo "not run (not installed):$skipped"
exit 0

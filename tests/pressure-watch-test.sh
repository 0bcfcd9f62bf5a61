#!/bin/sh
# Description: the daemon honours systemd's memory pressure protocol
# (MEMORY_PRESSURE_WATCH, MEMORY_PRESSURE_WRITE) from its environment:
# /dev/null watches nothing, said once; a cgroup's memory.pressure is
# watched with the base64 trigger given, the log naming the file and the
# trigger; a trigger that is not base64, or one the kernel refuses, is
# said so, and the daemon's own trigger goes on that file; a file that is
# no PSI file is refused, left as it was, and the daemon watches what it
# would choose itself. Root only (a cgroup made, a trigger of 150 ms);
# skipped without PSI or a cgroup2 hierarchy.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (a cgroup made)"; exit 77; }
[ -r /proc/pressure/memory ] || { echo "SKIP: the kernel has no PSI"; exit 77; }
v2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$v2" ] || { echo "SKIP: no cgroup2 hierarchy mounted"; exit 77; }
cg=$v2/pagerd-pressure-watch-$$
mkdir "$cg" || { echo "SKIP: no cgroup can be made under $v2"; exit 77; }
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rmdir "$cg"; rm -rf "$dir"' EXIT
[ -f "$cg/memory.pressure" ] || { echo "SKIP: $cg has no memory.pressure"; exit 77; }

# Start the daemon on socket $1 with the environment $2...; its log in
# $dir/log.
start_env() {
	s=$1
	shift
	env "$@" "$bin" -d -f /dev/null -s "$s" 2>"$dir/log" &
	pid=$!
	wait_sock "$s"
}

start_env "$dir/null.sock" MEMORY_PRESSURE_WATCH=/dev/null
wait_line "memory: no pressure watched, as MEMORY_PRESSURE_WATCH=/dev/null says" \
    "$dir/log" "MEMORY_PRESSURE_WATCH=/dev/null was not said to watch nothing"
grep -q "pressure watched on\|pressure trigger" "$dir/log" &&
    fail "MEMORY_PRESSURE_WATCH=/dev/null, but a trigger: $(grep memory: "$dir/log")"
[ "$(grep -c "no pressure watched" "$dir/log")" -eq 1 ] || fail "said more than once"
stop_daemon
echo "ok: MEMORY_PRESSURE_WATCH=/dev/null watches nothing, said once"

# systemd's own form: the trigger with its NUL, in base64.
trigger=$(printf 'some 200000 2000000\000' | base64)
start_env "$dir/cg.sock" MEMORY_PRESSURE_WATCH="$cg/memory.pressure" \
    MEMORY_PRESSURE_WRITE="$trigger"
wait_line "memory: pressure watched on $cg/memory.pressure (some 200000 2000000), as MEMORY_PRESSURE_WATCH and MEMORY_PRESSURE_WRITE say" \
    "$dir/log" "the group's file with the trigger given was not watched: $(grep memory: "$dir/log")"
stop_daemon
echo "ok: MEMORY_PRESSURE_WATCH's file is watched with MEMORY_PRESSURE_WRITE's trigger"

start_env "$dir/bad.sock" MEMORY_PRESSURE_WATCH="$cg/memory.pressure" \
    MEMORY_PRESSURE_WRITE='some 200000 2000000'
wait_line "memory: MEMORY_PRESSURE_WRITE is not base64 of a trigger: the daemon's own triggers on $cg/memory.pressure" \
    "$dir/log" "a MEMORY_PRESSURE_WRITE not in base64 was not refused: $(grep memory: "$dir/log")"
wait_line "memory: pressure watched on $cg/memory.pressure (some [0-9]* [0-9]*), as MEMORY_PRESSURE_WATCH says, the daemon's trigger" \
    "$dir/log" "the daemon's own trigger is not on the file given: $(grep memory: "$dir/log")"
stop_daemon
echo "ok: a MEMORY_PRESSURE_WRITE not in base64 is refused; the daemon's trigger on the file"

# A window of 0.2 s: shorter than the kernel takes.
start_env "$dir/short.sock" MEMORY_PRESSURE_WATCH="$cg/memory.pressure" \
    MEMORY_PRESSURE_WRITE="$(printf 'some 100000 200000\000' | base64)"
wait_line "memory: $cg/memory.pressure refused the trigger of MEMORY_PRESSURE_WRITE (some 100000 200000); the daemon's own triggers" \
    "$dir/log" "a trigger the kernel refused was not said so: $(grep memory: "$dir/log")"
grep -q "memory: pressure watched on $cg/memory.pressure (some [0-9]* [0-9]*), as MEMORY_PRESSURE_WATCH says, the daemon's trigger" \
    "$dir/log" || fail "the daemon's own trigger is not on the file given: $(grep memory: "$dir/log")"
stop_daemon
echo "ok: a trigger the kernel refuses is said so; the daemon's trigger on the file"

echo keep >"$dir/notpsi"
start_env "$dir/file.sock" MEMORY_PRESSURE_WATCH="$dir/notpsi" \
    MEMORY_PRESSURE_WRITE="$trigger"
wait_line "memory: MEMORY_PRESSURE_WATCH=$dir/notpsi is not a PSI file" \
    "$dir/log" "a file that is no PSI file was not refused: $(grep memory: "$dir/log")"
grep -q "memory: pressure watched on .*, the daemon's choice" "$dir/log" ||
    fail "the daemon did not fall back to its own choice: $(grep memory: "$dir/log")"
stop_daemon
[ "$(cat "$dir/notpsi")" = keep ] || fail "the file that is no PSI file was written"
echo "ok: a file that is no PSI file is refused, left alone; the daemon's own choice"

# Sourced by the tests of read-only shared mappings (tests/shared-*.sh):
# tests/lib.sh, a real pagerd with -v on a socket of its own ($sock, log
# in $dir/log, stopped on exit), $py a python3 and shimmed CMD... to run
# a command under the shim with $PAGERD_SHARED set to $shared, and
# $dir/writer.py.
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
sock=$dir/pagerd.sock
"$bin" -d -v --socket "$sock" 2>"$dir/log" &
pid=$!
wait_sock "$sock"
export PAGERD_SOCKET="$sock"
[ -f "$shim" ] || fail "no shim at $shim"

py=""
for p in /usr/bin/python3 python3; do
	command -v "$p" >/dev/null && { py=$(command -v "$p"); break; }
done
[ -n "$py" ] || { echo "SKIP: python3 is not installed"; exit 77; }

# A writer for the coherence tests: for each line "OFFSET TAG" on its
# input it writes TAG at OFFSET of the file $1 with pwrite, then says done.
cat >"$dir/writer.py" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for line in sys.stdin:
    off, tag = line.split()
    os.pwrite(fd, tag.encode(), int(off))
    print("done", flush=True)
PY

shimmed() {
	env PAGERD_SHARED="$shared" PAGERD_LOG="$dir/shim.log" \
	    LD_PRELOAD="$shim" "$@"
}

stop_daemon() {
	kill $pid
	wait $pid || fail "pagerd exited $? on SIGTERM"
	pid=
}

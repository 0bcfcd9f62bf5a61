# Sourced by the tests of read-only shared mappings (tests/shared-*.sh):
# tests/daemon.sh with -v (a real pagerd on a socket of its own, $sock,
# log in $dir/log, stop_daemon), $py a python3 and shimmed CMD... to run
# a command under the shim with $PAGERD_SHARED set to $shared, and
# $dir/writer.py with $dir/writers.py to drive it.
daemon_args=-v
. "${PAGERD_SRCDIR:-.}/tests/daemon.sh"
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
# What the tests' readers (python scripts in $dir) import to drive it.
cat >"$dir/writers.py" <<'PY'
import os, subprocess, sys
def start(path, shim):
    # writer.py on path, under the shim (as the reader is) or without it
    env = dict(os.environ)
    if not shim:
        env.pop('LD_PRELOAD')
    me = os.path.dirname(os.path.abspath(__file__))
    return subprocess.Popen([sys.executable, os.path.join(me, "writer.py"), path],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
def write(writer, m, off, tag):
    # tag at off of the file, its page mapped in m first; back once written
    m[off:off + 16]
    writer.stdin.write("%d %s\n" % (off, tag)); writer.stdin.flush()
    assert writer.stdout.readline() == "done\n"
def end(writer):
    writer.stdin.close()
    assert writer.wait() == 0
PY

shimmed() {
	env PAGERD_SHARED="$shared" PAGERD_LOG="$dir/shim.log" \
	    LD_PRELOAD="$shim" "$@"
}

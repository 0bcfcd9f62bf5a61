#!/bin/sh
# Description: a bounded libFuzzer run (clang, ASan+UBSan) over the
# protocol checks and the region table, starting from the committed corpus
# in tests/fuzz/corpus. Any crash, leak or abort() of an invariant fails.
# Skipped, with the reason, where clang's libFuzzer is not installed.
set -u
src=${PAGERD_SRCDIR:-.}
build=${PAGERD_BUILDDIR:-.}
seconds=${PAGERD_FUZZ_SECONDS:-20}
cc=
for c in clang clang-14 clang-15 clang-16; do
	command -v $c >/dev/null && { cc=$c; break; }
done
[ -n "$cc" ] || { echo "SKIP: no clang for libFuzzer"; exit 77; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
$cc -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$build" -I"$src/src/pagerd" \
    -I"$src/src/common" -I"$src/include" -include "$build/config.h" \
    $(pkg-config --cflags liburing libbsd-overlay) \
    "$src/tests/fuzz/protocol-fuzz.c" "$src/src/pagerd/region.c" \
    "$src/src/pagerd/cache.c" "$src/src/pagerd/quota.c" \
    "$src/src/pagerd/cache-shmem.c" "$src/src/pagerd/cache-resident.c" \
    "$src/src/pagerd/cache-direct.c" \
    "$src/src/pagerd/evict.c" "$src/src/pagerd/memory.c" \
    "$src/src/common/log.c" \
    "$src/src/common/proto.c" "$src/src/common/proto-io.c" \
    $(pkg-config --libs libbsd) \
    -o "$dir/protocol-fuzz" 2>"$dir/cc.log" || {
	if grep -q 'libclang_rt.fuzzer\|fuzzer.*not found\|cannot find' "$dir/cc.log"; then
		echo "SKIP: $cc has no libFuzzer runtime"
		exit 77
	fi
	cat "$dir/cc.log"
	echo "FAIL: the fuzz target does not build"
	exit 1
}
mkdir "$dir/corpus"
cp "$src"/tests/fuzz/corpus/* "$dir/corpus/" 2>/dev/null
"$dir/protocol-fuzz" -max_total_time="$seconds" -timeout=10 \
    -artifact_prefix="$dir/" "$dir/corpus" >"$dir/fuzz.log" 2>&1
status=$?
tail -3 "$dir/fuzz.log"
if [ $status -ne 0 ]; then
	cat "$dir/fuzz.log" | tail -40
	for f in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-*; do
		[ -f "$f" ] && { echo "input that fails: $f"; od -A d -t x1 "$f" | head; }
	done
	echo "FAIL: the fuzzer found a failing input"
	exit 1
fi
echo "fuzzed for $seconds s: no failure"

#!/bin/sh
# Description: bounded libFuzzer runs (clang, ASan+UBSan), one after the
# other: over the protocol checks and the region table, from the
# committed corpus in tests/fuzz/corpus; then over the reading of a
# working-set recording from the state directory (a damaged one must be
# refused), from tests/fuzz/recording-corpus. Any crash, leak or abort()
# of an invariant fails. Skipped, with the reason, where clang's
# libFuzzer is not installed.
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

# build_target name source...: the target, or SKIP (77) or FAIL (1) said.
build_target() {
	name=$1
	shift
	$cc -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -I"$build" -I"$src/src/pagerd" \
	    -I"$src/src/common" -I"$src/include" -include "$build/config.h" \
	    $(pkg-config --cflags liburing libbsd-overlay) "$@" \
	    "$src/src/common/log.c" $(pkg-config --libs libbsd) \
	    -o "$dir/$name" 2>"$dir/cc.log" && return 0
	if grep -q 'libclang_rt.fuzzer\|fuzzer.*not found\|cannot find' \
	    "$dir/cc.log"; then
		echo "SKIP: $cc has no libFuzzer runtime"
		exit 77
	fi
	cat "$dir/cc.log"
	echo "FAIL: the fuzz target $name does not build"
	exit 1
}

# fuzz name corpus: $seconds of it from the corpus, or FAIL said.
fuzz() {
	mkdir "$dir/$1.corpus" "$dir/$1.tmp"
	cp "$src/tests/fuzz/$2"/* "$dir/$1.corpus/" 2>/dev/null
	TMPDIR="$dir/$1.tmp" "$dir/$1" -max_total_time="$seconds" \
	    -timeout=10 -artifact_prefix="$dir/" "$dir/$1.corpus" \
	    >"$dir/$1.log" 2>&1
	status=$?
	grep -E 'DONE|^Done' "$dir/$1.log"
	if [ $status -ne 0 ]; then
		tail -40 "$dir/$1.log"
		for f in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-*; do
			[ -f "$f" ] && { echo "input that fails: $f"
			    od -A d -t x1 "$f" | head; }
		done
		echo "FAIL: the fuzzer found a failing input of $1"
		exit 1
	fi
	echo "$1: fuzzed for $seconds s: no failure"
}

build_target protocol-fuzz "$src/tests/fuzz/protocol-fuzz.c" \
    "$src/src/pagerd/region.c" "$src/src/pagerd/cache.c" \
    "$src/src/pagerd/quota.c" "$src/src/pagerd/cache-shmem.c" \
    "$src/src/pagerd/cache-resident.c" "$src/src/pagerd/cache-direct.c" \
    "$src/src/pagerd/evict.c" "$src/src/pagerd/memory.c" \
    "$src/src/common/proto.c" "$src/src/common/proto-io.c"
build_target recording-fuzz "$src/tests/fuzz/recording-fuzz.c"
fuzz protocol-fuzz corpus
fuzz recording-fuzz recording-corpus

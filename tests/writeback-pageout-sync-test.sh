#!/bin/sh
# Description: page-out of write-back regions tracked by write faults
# (PAGERD_NO_WP_ASYNC set, as on a kernel before 6.7) loses no write:
# writeback-pageout-test and writeback-pageout-race-test, which run with
# the kernel's tracking by default, pass on that path too.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
for t in writeback-pageout-test writeback-pageout-race-test; do
	PAGERD_NO_WP_ASYNC=1 "$build/tests/$t"
	rc=$?
	[ $rc = 77 ] && exit 77
	[ $rc = 0 ] || fail "$t failed with PAGERD_NO_WP_ASYNC set"
done
exit 0

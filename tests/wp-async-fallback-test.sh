#!/bin/sh
# Description: where WP_ASYNC is not to be used (PAGERD_NO_WP_ASYNC set,
# as on a kernel before 6.7 or with a daemon that does not offer it), the
# library tracks copy-on-write and write-back regions by faults as before,
# says so in pagerd_info(), and every check of wp-async-test holds: dirty
# pages exact over rounds of random writers, the file equal to memory.
set -u
. "${PAGERD_SRCDIR:-.}/tests/lib.sh"
PAGERD_NO_WP_ASYNC=1 "$build/tests/wp-async-test"
rc=$?
[ $rc = 77 ] && exit 77
[ $rc = 0 ] || fail "wp-async-test failed with PAGERD_NO_WP_ASYNC set"
exit 0

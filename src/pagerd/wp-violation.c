/*
 * Writes to read-only regions: a violation, recorded and reported to the
 * client, which may let the write through (policy report) or not.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pagerd.h"
#include "wp.h"

void
wp_violation(struct session *s, struct region *r, uint64_t addr,
    uint32_t tid)
{
	char backing[160];
	struct pd_notice notice;
	int allow = (r->flags & PD_REGION_REPORT) != 0;

	STAT_COUNT(s, violations, 1);
	region_backing_name(r, backing, sizeof backing);
	memset(&notice, 0, sizeof notice);
	notice.kind = PD_NOTICE_VIOLATION;
	notice.region_id = r->id;
	notice.value = allow ? PD_VIOLATION_ALLOWED : PD_VIOLATION_KILL;
	notice.addr = addr;
	notice.tid = tid;
	snprintf(notice.reason, sizeof notice.reason, "write to read-only "
	    "region %u (0x%" PRIx64 "-0x%" PRIx64 " r--, %.80s offset 0x%" PRIx64
	    ")", r->id, r->start, r->end, backing, r->offset + (addr -
	    r->start));
	violation_record(s, tid, "protection violation at 0x%" PRIx64 ": %s; "
	    "%s", addr, notice.reason, allow ? "reported and allowed (policy "
	    "report)" : "the thread gets SIGSEGV (policy kill)");
	session_notice(s, &notice);
}


/*
 * The fault path's address-space events: munmap, mremap and madvise in a
 * client, as its userfaultfd reports them, kept true in its region table.
 */
#include "config.h"

#include <inttypes.h>

#include "log.h"
#include "pagerd.h"
#include "fault.h"

/*
 * The client's address space changed. The kernel holds the munmap,
 * mremap or madvise until the event is read, and faults that follow it
 * come after it on the same descriptor: the table is true before they
 * are served. Threads that waited in the old range are woken: they fault
 * again wherever the memory is now, or get SIGSEGV where it is gone.
 */
void
fault_event(struct session *s, const struct uffd_msg *msg)
{
	uint64_t start, end;
	struct region *r;

	switch (msg->event) {
	case UFFD_EVENT_UNMAP:
		start = msg->arg.remove.start;
		end = msg->arg.remove.end;
		log_debug("session %u: munmap 0x%" PRIx64 "-0x%" PRIx64, s->id,
		    start, end);
		region_unmapped(s, start, end);
		fault_wake(s, start, end - start);
		break;
	case UFFD_EVENT_REMAP:
		log_debug("session %u: mremap 0x%" PRIx64 "+0x%llx to 0x%"
		    PRIx64, s->id, (uint64_t)msg->arg.remap.from,
		    (unsigned long long)msg->arg.remap.len,
		    (uint64_t)msg->arg.remap.to);
		region_moved(s, msg->arg.remap.from, msg->arg.remap.to,
		    msg->arg.remap.len);
		fault_wake(s, msg->arg.remap.from, msg->arg.remap.len);
		break;
	case UFFD_EVENT_REMOVE:
		/*
		 * MADV_DONTNEED or MADV_REMOVE: the pages fault again and
		 * are served from the backing like the first time. Only a
		 * write-protected region's record of its memfd may change.
		 */
		start = msg->arg.remove.start;
		end = msg->arg.remove.end;
		log_debug("session %u: madvise 0x%" PRIx64 "-0x%" PRIx64 " "
		    "removed", s->id, start, end);
		for (r = region_find(s, start); r != NULL && r->start < end;
		    r = region_find(s, r->end)) {
			fault_stream_removed(r, start, end);
			wp_removed(r, start, end);
		}
		break;
	}
}

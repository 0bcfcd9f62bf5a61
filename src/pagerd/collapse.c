/*
 * Huge pages into the client. A page cache on a huge-page tmpfs holds a
 * file in 2 MiB pages, but UFFDIO_CONTINUE maps them 4 KiB at a time:
 * every later access pays TLB misses the kernel's own mapping of a file
 * does not. Once a whole aligned 2 MiB window of a client's region is
 * mapped, the daemon tells the client (a COLLAPSE notice, to a library
 * that said it takes them), and the library asks the kernel to map the
 * window with one entry (MADV_COLLAPSE, which finds the huge page in the
 * cache and only swaps the page table: ~10 us a window), and says so.
 * The daemon cannot do it itself: process_madvise() on another user's
 * process needs CAP_SYS_NICE and ptrace rights it gave up at start.
 */
#include "config.h"

#include <sys/ioctl.h>

#include <linux/sockios.h>

#include <string.h>

#include "pagerd.h"

#define COLLAPSE_SIZE (2ull << 20)

/*
 * Bytes the client may leave unread on its socket before hints stop: a
 * hint is worth less than the session, which a full socket would close.
 */
#define COLLAPSE_QUEUED_MAX (64 << 10)

/*
 * How long a window waits for the client's answer at most: a client that
 * never answers must not keep its user's cache past the budget nor hold
 * off the punch of a file another user wrote (watch.c). The library
 * answers within milliseconds, and maps a window only while its own page
 * table maps all of it: after a punch it does not.
 */
#define COLLAPSE_HOLD_NS 2000000000ull

/*
 * The length of a window of len bytes from start that a stream maps or
 * prefetches in r: one that crosses a 2 MiB boundary from off one ends
 * there, and one that starts on one ends on the last it reaches, so that
 * every 2 MiB of a stream is mapped by one CONTINUE, whole, and can be
 * hinted. Where the cache has no huge pages, len.
 */
uint64_t
collapse_trim(const struct region *r, uint64_t start, uint64_t len)
{
	uint64_t next = (start + COLLAPSE_SIZE - 1) & ~(COLLAPSE_SIZE - 1);
	uint64_t end = (start + len) & ~(COLLAPSE_SIZE - 1);

	if (r->cache == NULL || !r->cache->huge || r->wp != NULL ||
	    (r->start - r->offset) % COLLAPSE_SIZE != 0 || end <= start)
		return len;
	return next != start ? next - start : end - start;
}

/* Let go of hold h: the windows may be evicted again. */
static void
collapse_release(struct collapse_hold *h)
{
	cache_unuse(h->region->cache, h->first, h->npages);
	region_unref(h->region);
	h->region = NULL;
}

/*
 * [dst, dst + len) of r is mapped in s whole: hint its 2 MiB windows, held
 * against eviction until the client says it is done (COLLAPSED), for the
 * kernel would map a window punched out and half filled again as it is.
 */
void
collapse_hint(struct session *s, struct region *r, uint64_t dst,
    uint64_t len)
{
	struct collapse_hold *h = NULL;
	union pd_msg msg;
	uint64_t first, last;
	int queued, i;

	/*
	 * Only where the cache has huge pages to map (elsewhere the kernel
	 * would copy 2 MiB to make one), and never under write protection,
	 * which needs its page tables (the kernel refuses it anyway).
	 */
	if (!(s->caps & PD_CAP_COLLAPSE) || s->sock == -1 || r->cache ==
	    NULL || !r->cache->huge || r->wp != NULL || r->dead)
		return;
	/* The cache's huge pages must fall on 2 MiB of the client's. */
	if ((r->start - r->offset) % COLLAPSE_SIZE != 0)
		return;
	first = (dst + COLLAPSE_SIZE - 1) & ~(COLLAPSE_SIZE - 1);
	last = (dst + len) & ~(COLLAPSE_SIZE - 1);
	if (last <= first)
		return;
	/* Near the budget, eviction comes first: no window is held. */
	if (!evict_room(r->cache, (last - first) / page_size))
		return;
	for (i = 0; i < COLLAPSE_HOLDS && h == NULL; i++)
		if (s->collapse[i].region == NULL)
			h = &s->collapse[i];
	if (h == NULL)
		return;		/* the client is behind: no more for now */
	if (ioctl(s->sock, SIOCOUTQ, &queued) == -1 || queued >
	    COLLAPSE_QUEUED_MAX)
		return;
	h->region = r;
	r->refs++;
	h->first = (r->offset + (first - r->start)) / page_size;
	h->npages = (last - first) / page_size;
	h->id = ++s->collapse_seq;
	h->since = monotonic_ns();
	cache_use(r->cache, h->first, h->npages);

	proto_init(&msg, PD_MSG_NOTICE, 0);
	msg.notice.kind = PD_NOTICE_COLLAPSE;
	msg.notice.region_id = r->id;
	msg.notice.addr = first;
	msg.notice.value = (uint32_t)((last - first) / COLLAPSE_SIZE);
	msg.notice.tid = h->id;
	/*
	 * Not session_send(), which closes the session on a failure: the
	 * fault path that called goes on with r. A hint that cannot go is
	 * dropped; a dead socket is the session's poll's to see.
	 */
	if (proto_send(s->sock, &msg, NULL, 0, s->caps, MSG_NOSIGNAL |
	    MSG_DONTWAIT) != 0)
		collapse_release(h);
}

/* The client is done with the windows of hint id. */
void
collapse_done(struct session *s, uint32_t id)
{
	int i;

	for (i = 0; i < COLLAPSE_HOLDS; i++)
		if (s->collapse[i].region != NULL && s->collapse[i].id == id)
			collapse_release(&s->collapse[i]);
}

/* Each tick: let go of the holds a client has not answered in time. */
void
collapse_tick(struct worker *w)
{
	uint64_t now = monotonic_ns();
	struct session *s;
	int i;

	TAILQ_FOREACH(s, &w->sessions, entry)
		for (i = 0; i < COLLAPSE_HOLDS; i++)
			if (s->collapse[i].region != NULL && now -
			    s->collapse[i].since >= COLLAPSE_HOLD_NS)
				collapse_release(&s->collapse[i]);
}

/* The session closes: its client will not say. */
void
collapse_release_all(struct session *s)
{
	int i;

	for (i = 0; i < COLLAPSE_HOLDS; i++)
		if (s->collapse[i].region != NULL)
			collapse_release(&s->collapse[i]);
}

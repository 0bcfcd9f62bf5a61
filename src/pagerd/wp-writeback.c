/*
 * Write-back of write-protected regions' dirty pages to their backing
 * files, for a sync the client asks for or when a region goes; a failed
 * write-back of a gone client's region is tried again later (retries).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "pagerd.h"
#include "wp.h"

/* The largest single write-back write. */
#define WP_WRITE_MAX (1u << 20)

/* A write-back of a region's dirty pages, for a request or a closing. */
struct wp_sync {
	struct session *s;
	struct region *r;
	uint32_t seq;
	int reply;		/* answer the client when done */
	unsigned int pending;
	int error;
	uint64_t pages;
	int finishing;
	int pageout;		/* for page-out: no retry, pages go after */
	int unsynced;		/* its fsync covers page-out's writes too */
	unsigned long *taken;	/* pages it took off the dirty set */
};

/*
 * A write-back nobody waits for (its region or its client went away)
 * failed: the daemon holds the only copy of the dirty pages, so it tries
 * again 1 s later, then 2, 4, ... up to a minute apart, until they land
 * or the daemon stops (a last try). A timer of the session's worker;
 * holds the session and the region.
 */
struct wp_retry {
	struct timer timer;
	struct session *s;
	struct region *r;
};

#define WP_RETRY_MAX_S 60u

/* Pages of gone clients waiting for a retried write-back, all workers. */
static uint64_t wp_retry_waiting;

/* r has pages waiting for a retried write-back. */
static void
wp_retry_count(struct region *r, uint64_t pages)
{
	__atomic_add_fetch(&wp_retry_waiting, pages - r->wp->wb_waiting,
	    __ATOMIC_RELAXED);
	r->wp->wb_waiting = pages;
}

static void wp_sync_finish(struct wp_sync *);
static void wp_retry_give_up(struct session *, struct region *,
    const char *, const char *);
static void wp_writeback_done(struct op *, const struct io_uring_cqe *);
static void wp_sync_fsync_done(struct op *, const struct io_uring_cqe *);

/*
 * Count (add 1) or uncount (-1) a sync's pages in the windows they are
 * in: page-out punches out no page a write-back is writing from.
 */
static void
wp_sync_windows(struct wp_sync *sync, int add)
{
	struct wp_region *wp = sync->r->wp;
	uint64_t p, w, last = UINT64_MAX;

	for (p = 0; p < wp->npages; p++) {
		if (!bit_test(sync->taken, p) || (w = p /
		    evict_window_pages()) == last)
			continue;
		wp->writing[w] += (uint32_t)add;
		last = w;
	}
}

/*
 * Write a region's dirty pages to its backing file. Each run is write-
 * protected again before it is written, so a write that comes during the
 * write-back makes the page dirty again rather than being lost. The
 * pages stay the sync's until its fsync succeeds: a sync that fails in
 * any way, a write or the fsync, leaves every page it took dirty. The
 * writes take their bytes from the daemon's mapping of the memfd, read
 * by the kernel: a page the client cut off fails the write with EFAULT.
 */
static void
wp_writeback_run(struct session *s, struct region *r, uint32_t seq,
    int reply, int pageout)
{
	uint64_t p, first, end, off, len, fend;
	struct wp_sync *sync;
	struct wp_io *io;
	char what[64];

	if ((sync = calloc(1, sizeof *sync)) == NULL || (sync->taken =
	    calloc(BITMAP_WORDS(r->wp->npages), sizeof *sync->taken)) == NULL) {
		free(sync);
		if (reply) {
			session_reply(s, seq, -ENOMEM, 0, 0, "sync: out of "
			    "memory");
		} else if (pageout) {
			log_warnx("session %u: pid %d (%s): write-back of region "
			    "%u for page-out: out of memory", s->id,
			    (int)s->pid, s->comm, r->id);
			wp_pageout_written(s, r, 0);
		} else {
			snprintf(what, sizeof what, "write-back of region %u",
			    r->id);
			wp_retry_give_up(s, r, what, "out of memory");
		}
		return;
	}
	sync->s = s;
	sync->r = r;
	sync->seq = seq;
	sync->reply = reply;
	sync->pageout = pageout;
	r->wp->syncs++;
	/* The file keeps the size it had: no bytes past it are written. */
	fend = r->file_size > r->offset ? r->file_size - r->offset : 0;
	for (p = 0; p < r->wp->npages && r->wp->ndirty > 0; p = end) {
		if (!bit_test(r->wp->dirty, p)) {
			end = p + 1;
			continue;
		}
		for (end = p; end < r->wp->npages &&
		    bit_test(r->wp->dirty, end) &&
		    (end - p) * page_size < WP_WRITE_MAX; end++) {
			bit_clear(r->wp->dirty, end);
			bit_set(sync->taken, end);
			r->wp->ndirty--;
		}
		first = p;
		wp_protect(s, r, r->start + first * page_size, (end - first) *
		    page_size, 1);
		off = first * page_size;
		if (off >= fend)
			continue;
		len = (end - first) * page_size;
		if (len > fend - off)
			len = fend - off;
		if ((io = wp_io_new(s, r, wp_writeback_done)) == NULL) {
			sync->error = -ENOMEM;
			break;
		}
		io->sync = sync;
		io->src = r->wp->mem + off;
		io->off = r->offset + off;
		io->len = (uint32_t)len;
		sync->pending++;
		sync->pages += end - first;
		wp_io_rw(io, r->fd);
	}
	wp_sync_windows(sync, 1);
	if (sync->pending == 0)
		wp_sync_finish(sync);
}

void
wp_writeback(struct session *s, struct region *r, uint32_t seq, int reply)
{
	wp_writeback_run(s, r, seq, reply, 0);
}

/* Write r's dirty pages back so that page-out can take them after. */
void
wp_writeback_pageout(struct session *s, struct region *r)
{
	wp_writeback_run(s, r, 0, 0, 1);
}

/*
 * Why r's failed write-back will not be tried again, or NULL: the daemon
 * is stopping, no retry can mend the error (a descriptor or a write that
 * is wrong; a memfd the client shrank, EFAULT; a file gone on its
 * server), or the pages held for retries
 * would pass writeback-hold-mib. A disk that fails, fills, goes read-only
 * after errors or away (a network file system) may come back.
 */
static const char *
wp_retry_refused(const struct session *s, const struct region *r,
    int error)
{
	uint64_t hold = (uint64_t)config_get(CONFIG_WRITEBACK_HOLD_MIB) << 20;

	if (s->worker->stop)
		return "the daemon is stopping";
	if (error == -EBADF || error == -EINVAL || error == -EFBIG ||
	    error == -ESTALE || error == -EFAULT)
		return "no retry can mend that";
	if ((wp_retry_pages() - r->wp->wb_waiting + r->wp->ndirty) *
	    page_size > hold)
		return "more would wait to be written back than "
		    "writeback-hold-mib allows";
	return NULL;
}

/*
 * r's write-back, which nobody waits for, failed (what) and will not be
 * tried again (why): its dirty pages are gone with the region.
 */
static void
wp_retry_give_up(struct session *s, struct region *r, const char *what,
    const char *why)
{
	if (session_log_allow(s->uid, LOG_WARNING))
		log_warnx("session %u: pid %d (%s): %s; %" PRIu64 " written "
		    "pages of its gone client are lost (%s)", s->id,
		    (int)s->pid, s->comm, what, r->wp->ndirty, why);
	wp_retry_count(r, 0);
}

/* The retry is due, or the daemon stops: a last try. */
static void
wp_retry_run(struct worker *w, struct timer *t)
{
	struct wp_retry *rt = container_of(t, struct wp_retry, timer);

	(void)w;
	if (rt->r->wp->ndirty > 0)
		wp_writeback(rt->s, rt->r, 0, 0);
	else
		wp_retry_count(rt->r, 0);
	region_unref(rt->r);
	session_unref(rt->s);
	free(rt);
}

/* Try r's write-back again later: in how many seconds, or 0 (no memory). */
static unsigned int
wp_retry_add(struct session *s, struct region *r)
{
	unsigned int delay = r->wp->wb_retries < 6 ? 1u << r->wp->wb_retries :
	    WP_RETRY_MAX_S;
	struct wp_retry *rt;

	if ((rt = calloc(1, sizeof *rt)) == NULL)
		return 0;
	rt->s = s;
	rt->r = r;
	rt->timer.run = wp_retry_run;
	rt->timer.at_stop = 1;
	r->refs++;
	s->inflight++;
	r->wp->wb_retries++;
	worker_timer_add(s->worker, &rt->timer, monotonic_ns() +
	    (uint64_t)delay * 1000000000u);
	wp_retry_count(r, r->wp->ndirty);
	return delay;
}

/* Pages of gone clients whose write-back waits to be tried again. */
uint64_t
wp_retry_pages(void)
{
	return __atomic_load_n(&wp_retry_waiting, __ATOMIC_RELAXED);
}

static void
wp_sync_finish(struct wp_sync *sync)
{
	struct session *s = sync->s;
	struct wp_io *io;
	char why[PD_REASON_MAX];
	const char *refused = NULL;
	unsigned int delay;
	uint64_t p;

	/* Page-out of an async region writes without an fsync: this one. */
	if (sync->error == 0 && (sync->pages > 0 || sync->r->wp->unsynced) &&
	    !sync->finishing) {
		if ((io = wp_io_new(s, sync->r, wp_sync_fsync_done)) != NULL) {
			io->sync = sync;
			sync->finishing = 1;
			sync->unsynced = sync->r->wp->unsynced;
			sync->r->wp->unsynced = 0;
			sync->pending++;
			wp_io_fsync(io, sync->r->fd);
			return;
		}
		sync->error = -ENOMEM;
	}
	if (sync->error != 0 && sync->unsynced)
		sync->r->wp->unsynced = 1;
	STAT_COUNT(s, pages_written, sync->error == 0 ? sync->pages : 0);
	wp_sync_windows(sync, -1);
	sync->r->wp->syncs--;
	if (sync->error != 0) {
		/* Written or not, none is known to be on the disk. */
		for (p = 0; p < sync->r->wp->npages; p++)
			if (bit_test(sync->taken, p) &&
			    !bit_test(sync->r->wp->dirty, p)) {
				bit_set(sync->r->wp->dirty, p);
				sync->r->wp->ndirty++;
			}
		snprintf(why, sizeof why, "write-back of region %u: %s",
		    sync->r->id, strerror(-sync->error));
		/* The client's own file fails: its uid's lines, limited. */
		if (sync->reply || sync->pageout) {
			if (session_log_allow(s->uid, LOG_WARNING))
				log_warnx("session %u: pid %d (%s): %s%s",
				    s->id, (int)s->pid, s->comm, why,
				    sync->reply ? "" : "; its pages stay in "
				    "memory, dirty");
		} else if ((refused = wp_retry_refused(s, sync->r,
		    sync->error)) == NULL && (delay = wp_retry_add(s,
		    sync->r)) > 0) {
			if (session_log_allow(s->uid, LOG_WARNING))
				log_warnx("session %u: pid %d (%s): %s; its %"
				    PRIu64 " dirty pages exist only in the "
				    "daemon now: trying again in %u s", s->id,
				    (int)s->pid, s->comm, why,
				    sync->r->wp->ndirty, delay);
		} else
			wp_retry_give_up(s, sync->r, why, refused != NULL ?
			    refused : "out of memory");
	} else if (sync->r->wp->wb_retries > 0) {
		if (session_log_allow(s->uid, LOG_INFO))
			log_info("session %u: pid %d (%s): region %u: %" PRIu64
			    " pages written back at try %u", s->id,
			    (int)s->pid, s->comm, sync->r->id, sync->pages,
			    sync->r->wp->wb_retries + 1);
		wp_retry_count(sync->r, 0);
	} else
		log_debug("session %u: region %u: %" PRIu64 " pages written "
		    "back", s->id, sync->r->id, sync->pages);
	if (sync->reply && !s->closing)
		session_reply(s, sync->seq, sync->error, (uint32_t)(sync->pages
		    > UINT32_MAX ? UINT32_MAX : sync->pages), 0,
		    sync->error ? why : NULL);
	if (sync->pageout)
		wp_pageout_written(s, sync->r, sync->error == 0);
	free(sync->taken);
	free(sync);
}

void
wp_sync(struct session *s, const struct pd_region_req *req)
{
	char why[PD_REASON_MAX];
	struct region *r = NULL;
	size_t i;

	for (i = 0; i < s->nregions; i++)
		if (s->regions[i]->id == req->region_id)
			r = s->regions[i];
	if (r == NULL || !(r->flags & PD_REGION_WRITEBACK)) {
		snprintf(why, sizeof why, r == NULL ? "sync: no region %u" :
		    "sync: region %u is not a write-back region",
		    req->region_id);
		session_reply(s, req->hdr.seq, r == NULL ? -ENOENT : -EINVAL,
		    0, 0, why);
		return;
	}
	if (wp_async_scan(s, r) != 0 && !s->closing) {
		session_reply(s, req->hdr.seq, -EIO, 0, 0, "sync: the pagemap "
		    "scan of its written pages failed");
		return;
	}
	if (req->reserved & PD_SYNC_FINAL)
		r->wp->settled = 1;
	wp_writeback(s, r, req->hdr.seq, 1);
}

/* --- Completions ----------------------------------------------------- */

/* One of a sync's I/Os ended: the sync ends with its last. */
static void
wp_sync_io_end(struct wp_io *io)
{
	if (--io->sync->pending == 0)
		wp_sync_finish(io->sync);
	wp_io_free(io);
}

static void
wp_writeback_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct wp_io *io = container_of(op, struct wp_io, op);

	if (wp_io_more(io, cqe->res))
		return;
	wp_io_failed(&io->sync->error, cqe->res, 1);
	wp_sync_io_end(io);
}

static void
wp_sync_fsync_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct wp_io *io = container_of(op, struct wp_io, op);

	wp_io_failed(&io->sync->error, cqe->res, 0);
	wp_sync_io_end(io);
}


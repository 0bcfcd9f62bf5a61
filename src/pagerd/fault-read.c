/*
 * The fault path's reads of backing files: a fault's window read into a
 * buffer or the page cache (by read, by splice into the cache, or from a
 * network block store by store.c), a read that fails narrowed to the
 * faulting page, a sequential stream's next
 * window read ahead (prefetch), each session's share of the worker's read
 * buffers, and reads out past read-timeout failed.
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
#include "fault.h"

static void fault_read_done(struct fault_io *, int);
static void fault_prefetch_forget(struct fault_stream *, struct fault_io *);
static void fault_read_joined(struct fault_io *, int);
static void fault_check(struct worker *, struct timer *);
static int fault_stream_new(struct session *, struct region *,
    const struct region *, int, char *, size_t);
static void fault_stream_free(struct region *);
static void fault_stream_closing(struct session *, struct region *);
static void fault_stream_restart(struct region *);

/* The fault path's part of each region (region.c): its stream. */
const struct region_part fault_stream_part = {
	.attach = fault_stream_new,
	.detach = fault_stream_free,
	.closing = fault_stream_closing,
	.moved = fault_stream_restart,
};

/*
 * r's stream, new, or for a region cut from another (from), with its
 * window: 0, or -ENOMEM.
 */
static int
fault_stream_new(struct session *s, struct region *r,
    const struct region *from, int memfd, char *why, size_t whylen)
{
	struct fault_stream *st;

	(void)memfd;
	if ((st = calloc(1, sizeof *st)) == NULL) {
		snprintf(why, whylen, "region: out of memory");
		return -ENOMEM;
	}
	st->next = r->start;
	st->pages = from != NULL ? from->stream->pages :
	    (uint64_t)config_get(CONFIG_READAHEAD) / 2 + 1;
	st->fills = from != NULL ? from->stream->fills : 0;
	r->stream = st;
	fault_mapped_new(s, r);
	return 0;
}

/*
 * r leaves its session: its mapped hint goes now, while the session it is
 * charged to is sure to be there (a read may hold r past the session).
 */
static void
fault_stream_closing(struct session *s, struct region *r)
{
	(void)s;
	fault_mapped_free(r->stream);
}

/* (A region never added, or a cut that failed, has its hint still.) */
static void
fault_stream_free(struct region *r)
{
	if (r->stream != NULL)
		fault_mapped_free(r->stream);
	free(r->stream);
	r->stream = NULL;
}

/*
 * Pages [start, end) of r were dropped in the client: a stream starts
 * again at its start, and what the client had mapped there is not known.
 */
void
fault_stream_removed(struct region *r, uint64_t start, uint64_t end)
{
	r->stream->next = r->start;
	r->stream->ahead = 0;
	fault_mapped_clear(r, start, end);
}

/* r's addresses changed: as if all of it had been dropped. */
static void
fault_stream_restart(struct region *r)
{
	fault_stream_removed(r, r->start, r->end);
}

/* r's read-ahead window in pages, for a listing (another thread). */
uint64_t
fault_stream_window(const struct region *r)
{
	return r->stream->pages;
}

/*
 * Install good bytes of a completed read at io->addr: a copy of the read
 * buffer, or, for a page cache region, the cache's pages, which the read
 * has just filled (the faulting one alone for io->one). 1 when the
 * install for io's fault cannot succeed: it has ended with SIGBUS.
 */
static int
fault_install_read(struct fault_io *io, uint64_t good)
{
	struct region *r = io->r;
	enum fault_fill how = FILL_CONTINUE;
	uint64_t first;
	int64_t n = 0;

	if (r->cache == NULL) {
		how = FILL_COPY;
		n = fault_install(io->s, r, FILL_COPY, io->addr, io->buf, good);
	} else {
		first = (r->offset + (io->addr - r->start)) / page_size;
		cache_mark_filled(r->cache, first, good / page_size);
		if (io->one && io->fault_addr < io->addr + good)
			n = fault_install(io->s, r, FILL_CONTINUE,
			    io->fault_addr, NULL, page_size);
		else if (!io->one)
			n = fault_install_unmapped(io->s, r, io->fault_addr,
			    io->addr, good);
	}
	fault_count(io->s, n, 1);
	/* (A fault past good is failed, or read again, for its own page.) */
	return io->fault_addr < io->addr + good && fault_install_failed(io->s,
	    r, how, io->fault_addr, io->tid, n);
}

/*
 * The bytes of io's window the file had when the region was mapped: what
 * a read of it must bring. io->off, not the region's offset now: the
 * region may have moved.
 */
static uint64_t
fault_promised(const struct fault_io *io)
{
	uint64_t size = io->r->file_size;

	return size - io->off < io->len ? size - io->off : io->len;
}

/*
 * Of io's window, the bytes a read that brought res makes good, in whole
 * pages: all of it when the read brought what was promised (past that,
 * zeros are right); if the file shrank since, the pages that came, the
 * last one partly (the file now ends in it).
 */
static uint64_t
fault_read_good(const struct fault_io *io, uint64_t res)
{
	return res >= fault_promised(io) ? io->len : (res + page_size - 1) &
	    ~(page_size - 1);
}

/* Submit io's read of its window, into the page cache or its buffer. */
static void
fault_submit_read(struct worker *w, struct fault_io *io)
{
	struct region *r = io->r;
	struct io_uring_sqe *sqe;

	/* A store's bytes come by its connection (store.c), as a completion. */
	if (r->cache != NULL && r->cache->store != NULL) {
		store_read(w, io, r->cache->store, cache_fill_map(r->cache,
		    io->sequential) + io->off, io->off, fault_promised(io));
		return;
	}
	if (r->store != NULL) {
		store_read(w, io, r->store, io->buf, io->off,
		    fault_promised(io));
		return;
	}
	sqe = worker_sqe(w);
	if (r->cache != NULL)
		io_uring_prep_read(sqe, io->read_fd,
		    cache_fill_map(r->cache, io->sequential) + io->off,
		    (unsigned int)io->len, io->off);
	else if (w->bufs_registered)
		io_uring_prep_read_fixed(sqe, r->fd, io->buf,
		    (unsigned int)io->len, io->off, (int)io->buf_index);
	else
		io_uring_prep_read(sqe, r->fd, io->buf, (unsigned int)io->len,
		    io->off);
	io_uring_sqe_set_data(sqe, &io->op);
	/*
	 * Tried inline only where the file system keeps io_uring's "do not
	 * block" (region_add): FUSE, for one, waits in fuse_get_req for a
	 * server that may never answer, and the worker serves every other
	 * session too. An io_uring worker thread waits instead. A prefetch
	 * is never waited for: inline it would only delay the loop.
	 */
	if (io->prefetch || !r->read_inline)
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
}

/*
 * A read with O_DIRECT that stopped within a page (the file ends there)
 * wrote whole blocks: past the end, the page must read as zeros, as the
 * kernel's own mapping has it.
 */
static void
fault_direct_tail(const struct fault_io *io, int res)
{
	uint64_t end = ((uint64_t)res + page_size - 1) & ~(page_size - 1);

	if (io->direct && res > 0 && (uint64_t)res < end)
		memset(cache_fill_map(io->r->cache, io->sequential) + io->off +
		    (uint64_t)res, 0, end - (uint64_t)res);
}

/*
 * A prefetch came back: its pages are in the cache for the fault that
 * will want them. A failed one fills nothing; the fault reads again and
 * reports what it finds.
 */
static void
fault_prefetch_done(struct fault_io *io, int res)
{
	if (res <= 0 || io->s->closing)
		return;
	fault_direct_tail(io, res);
	STAT_COUNT(io->s, bytes_read, res);
	cache_mark_filled(io->r->cache, io->off / page_size,
	    fault_read_good(io, (uint64_t)res) / page_size);
}

/*
 * A fill by splice failed at some step (res is that step's: an error, or
 * short, as when the file shrank), or its last step did. What it put in
 * the cache is not trusted: a fault's window is read again the usual
 * way, which reports what the file has now; a prefetch fills nothing.
 */
static void
fault_fill_failed(struct fault_io *io, int res)
{
	struct session *s = io->s;
	struct region *r = io->r;

	log_debug("session %u: splice of file offset 0x%" PRIx64 "+0x%" PRIx64
	    " into the page cache: %s; reading it instead", s->id, io->off,
	    io->fill_bytes, res < 0 ? strerror(-res) : "short");
	fault_pipe_discard(s->worker, io->pipe);
	io->pipe = NULL;
	if (io->prefetch || io->expired || s->closing || r->dead ||
	    r->gen != io->gen) {
		fault_read_done(io, res < 0 ? res : -EIO);
		return;
	}
	fault_submit_read(s->worker, io);
}

/*
 * A window's read failed, or stopped short of the page that faulted: a
 * disk may have failed on another page of the window, or the file may
 * have shrunk. The faulting page alone is read again, so that a good page
 * is served and a bad one fails for its own cause. Returns 1 when it is,
 * 0 when io read just that page already (or one past the file's end).
 */
static int
fault_read_narrow(struct fault_io *io)
{
	uint64_t skip = io->fault_addr - io->addr;

	if (io->len == page_size || io->off + skip >= io->r->file_size)
		return 0;
	io->addr += skip;
	io->off += skip;
	io->len = page_size;
	io->shared = 0;
	STAT_COUNT(io->s, reads, 1);
	fault_submit_read(io->s->worker, io);
	return 1;
}

/*
 * The ios one session may hold. Reads that hang (a FUSE server that never
 * answers) hold theirs until they complete, however long: one client must
 * leave the worker's others the most of its ios.
 */
unsigned int
fault_read_share(void)
{
	return opts.queue_depth >= 4 ? (unsigned int)opts.queue_depth / 4 : 1;
}

/*
 * Room left in the ios of s's user on s's worker: all its sessions hold
 * at most half of them, however many sessions it opens, so that reads
 * that never return (its own FUSE server's) leave the other users the
 * rest. Counted only once half of them are out. *stuck (if not NULL) is
 * set when that half is all held by reads out past read-timeout: none
 * may end soon, so the user's further faults fail at once.
 */
unsigned int
fault_uid_room(const struct session *s, int *stuck)
{
	const struct worker *w = s->worker;
	const struct session *o;
	unsigned int share = (unsigned int)opts.queue_depth / 2, held = 0,
	    held_stuck = 0;

	if (share < fault_read_share())
		share = fault_read_share();
	if (stuck != NULL)
		*stuck = 0;
	if (w->nfree + share > (unsigned int)opts.queue_depth)
		return share;
	TAILQ_FOREACH(o, &w->sessions, entry)
		if (o->uid == s->uid) {
			held += o->reads;
			held_stuck += o->stuck;
		}
	if (stuck != NULL)
		*stuck = held_stuck >= share;
	return held < share ? share - held : 0;
}

/*
 * Sessions whose faults waited for a free read buffer get their turn,
 * each once: one whose user holds its share waits again. Without a free
 * io (any: after reads expired) a session whose share, or its user's, is
 * all stuck fails its faults at once; the others wait again.
 */
static void
fault_feed_some(struct worker *w, int any)
{
	struct session *s;
	size_t n = 0;

	TAILQ_FOREACH(s, &w->starved, starved_entry)
		n++;
	while (n-- > 0 && (any || w->nfree > 0) &&
	    (s = TAILQ_FIRST(&w->starved)) != NULL) {
		TAILQ_REMOVE(&w->starved, s, starved_entry);
		s->starved = 0;
		fault_uffd_ready(s);
	}
}

static void
fault_feed(struct worker *w, struct timer *t)
{
	(void)t;
	fault_feed_some(w, 0);
}

/* The starved are fed after this round's completions, if ios are free. */
static void
fault_feed_soon(struct worker *w)
{
	if (w->nfree == 0 || TAILQ_EMPTY(&w->starved) || w->fault_feed.pending)
		return;
	w->fault_feed.run = fault_feed;
	worker_timer_add(w, &w->fault_feed, 0);
}

/*
 * s has fault messages waiting: the worker gives it a turn when it can,
 * soon if soon is set; else when a read of the worker's ends or expires
 * (its user is at its share: fed now, it would only wait again, and the
 * worker would spin feeding it).
 */
void
fault_starve(struct session *s, int soon)
{
	if (!s->starved && !s->closing) {
		TAILQ_INSERT_TAIL(&s->worker->starved, s, starved_entry);
		s->starved = 1;
	}
	if (soon)
		fault_feed_soon(s->worker);
}

/* One of s's reads ended or expired: if it waited for that, its turn. */
static void
fault_unthrottle(struct session *s)
{
	if (s->throttled)
		fault_starve(s, 1);
	s->throttled = 0;
}

static void
fault_read_end(struct session *s, struct fault_io *io)
{
	s->reads--;
	if (io->expired)
		s->stuck--;
	fault_io_put(s->worker, io);
	fault_unthrottle(s);
	fault_feed_soon(s->worker);
}

/*
 * A fault of a page cache window whose read another fault of this worker
 * has out (two clients of one file at the same place) waits for that
 * read instead of reading the window again: 1 when io joined one. Only
 * a read of the same bytes of the same cache, not a prefetch (whose
 * completion installs nothing), nor one that expired.
 */
static int
fault_read_join(struct worker *w, struct fault_io *io)
{
	struct cache *c = io->r->cache;
	struct fault_io *lead;
	int i;

	if (io->prefetch || c == NULL || c->store != NULL ||
	    w->nfree + 1 >= (unsigned int)opts.queue_depth)
		return 0;
	for (i = 0; i < opts.queue_depth; i++) {
		lead = &w->ios[i];
		if (lead == io || lead->s == NULL || lead->shared ||
		    lead->prefetch || lead->expired || lead->r->cache != c ||
		    lead->off != io->off || lead->len != io->len)
			continue;
		io->shared = 1;
		io->next_joined = lead->joined;
		lead->joined = io;
		return 1;
	}
	return 0;
}

/* The faults that waited for io's read take its result as their own. */
static void
fault_read_joined(struct fault_io *io, int res)
{
	struct fault_io *j, *next = io->joined;

	io->joined = NULL;
	while ((j = next) != NULL) {
		next = j->next_joined;
		j->next_joined = NULL;
		fault_read_done(j, res);
	}
}

/* A backing-file read came back: install what it brought. */
static void
fault_read_done(struct fault_io *io, int res)
{
	struct session *s = io->s;
	struct region *r = io->r;
	uint64_t good;
	char why[384];

	if (io->pipe != NULL) {
		/* Only the last step's completion says the fill is whole. */
		if (res != (int)io->fill_last) {
			fault_fill_failed(io, res);
			return;
		}
		fault_pipe_put(s->worker, io->pipe);
		io->pipe = NULL;
		res = (int)io->fill_bytes;
	}
	/* O_DIRECT refused: this read and the cache's next go the usual way. */
	if (io->direct && (res == -EINVAL || res == -EOPNOTSUPP) &&
	    !io->expired) {
		io->read_fd = cache_direct_refused(r->cache, res);
		io->direct = 0;
		fault_submit_read(s->worker, io);
		return;
	}
	fault_direct_tail(io, res);
	/* What a read past read-timeout brings is not used, theirs neither. */
	if (io->joined != NULL)
		fault_read_joined(io, io->expired ? -ETIMEDOUT : res);
	fault_prefetch_forget(r->stream, io);
	/* Its fault was failed already: nothing it brought is trusted. */
	if (io->expired)
		goto out;
	if (io->prefetch) {
		fault_prefetch_done(io, res);
		goto out;
	}
	if (s->closing)
		goto out;
	if (r->dead || r->gen != io->gen) {
		/*
		 * Unmapped or moved while the read was out: whatever maps
		 * io->addr now is not what was read for. Waiters fault again.
		 */
		fault_wake(s, io->addr, io->len);
		goto out;
	}
	if (res < 0 && fault_read_narrow(io))
		return;
	if (res == -EFAULT && r->cache != NULL) {
		/* The read's destination, the cache, had no page to give. */
		snprintf(why, sizeof why, "no room for the page cache at offset "
		    "0x%" PRIx64 " (%s%s full?)", io->off, opts.cache_dir != NULL ?
		    "is the tmpfs at " : "memory", opts.cache_dir != NULL ?
		    opts.cache_dir : "");
		fault_fail(s, r, io->fault_addr, io->tid, why);
		goto out;
	}
	if (res < 0) {
		snprintf(why, sizeof why, "read of %s%s at offset 0x%" PRIx64
		    ": %s", r->backing == PD_BACKING_STORE ? "store " :
		    "the backing file", r->backing == PD_BACKING_STORE ?
		    store_name(r->store != NULL ? r->store : r->cache->store) :
		    "", io->off, strerror(-res));
		fault_fail(s, r, io->fault_addr, io->tid, why);
		goto out;
	}
	if (!io->shared)
		STAT_COUNT(s, bytes_read, res);

	/*
	 * Past the file's end, at map time or now, the bytes read as zeros,
	 * as the kernel's own mapping has them (a cache's are zeros
	 * already). A page the file no longer reaches cannot be served.
	 */
	good = fault_read_good(io, (uint64_t)res);
	if (r->cache == NULL)
		memset(io->buf + res, 0, good - (uint64_t)res);
	if (good > 0 && fault_install_read(io, good))
		goto out;
	if (io->fault_addr >= io->addr + good) {
		if (fault_read_narrow(io))
			return;
		snprintf(why, sizeof why, "the backing file ends at 0x%" PRIx64
		    ", it had 0x%" PRIx64 " bytes when mapped", io->off +
		    (uint64_t)res, r->file_size);
		fault_fail(s, r, io->fault_addr, io->tid, why);
	}
	fault_latency(s->worker, io->t0);
out:
	if (io->used != NULL) {
		cache_unuse(io->used, io->used_first, io->used_n);
		io->used = NULL;
	}
	region_unref(r);
	fault_read_end(s, io);
	session_unref(s);
}

/*
 * Fill bytes of a page cache at file offset off by splice: file to pipe,
 * pipe to memfd, a pipe's worth at a time, as one chain of linked steps.
 * A step that fails (or comes up short) posts its own completion, on
 * fill_op, and cancels the rest silently; the last step posts on op. So
 * a fill has exactly one completion. Returns 0, or -1 when the ring has
 * no room for the chain (the caller reads instead).
 */
static int
fault_fill_splice(struct worker *w, struct fault_io *io, struct cache *c,
    uint64_t off, uint64_t bytes)
{
	uint64_t steps = (bytes + w->pipe_size - 1) / w->pipe_size * 2, done;
	struct io_uring_sqe *sqe;
	unsigned int chunk = 0;

	if (ring_sq_space(&w->ring) < steps)
		ring_submit(&w->ring);
	if (ring_sq_space(&w->ring) < steps)
		return -1;
	for (done = 0; done < bytes; done += chunk) {
		chunk = bytes - done < w->pipe_size ?
		    (unsigned int)(bytes - done) : (unsigned int)w->pipe_size;
		sqe = worker_sqe(w);
		io_uring_prep_splice(sqe, io->read_fd, (int64_t)(off + done),
		    io->pipe->fd[1], -1, chunk, 0);
		io_uring_sqe_set_data(sqe, &io->fill_op);
		/* From the file: never inline (fault_submit_read). */
		io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK |
		    IOSQE_CQE_SKIP_SUCCESS | IOSQE_ASYNC);
		sqe = worker_sqe(w);
		io_uring_prep_splice(sqe, io->pipe->fd[0], -1, c->memfd,
		    (int64_t)(off + done), chunk, 0);
		if (done + chunk < bytes) {
			io_uring_sqe_set_data(sqe, &io->fill_op);
			io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK |
			    IOSQE_CQE_SKIP_SUCCESS);
		} else
			io_uring_sqe_set_data(sqe, &io->op);
	}
	io->fill_bytes = bytes;
	io->fill_last = chunk;
	return 0;
}

static void
fault_read_cqe(struct op *op, const struct io_uring_cqe *cqe)
{
	fault_read_done(container_of(op, struct fault_io, op), cqe->res);
}

static void
fault_fill_cqe(struct op *op, const struct io_uring_cqe *cqe)
{
	fault_fill_failed(container_of(op, struct fault_io, fill_op), cqe->res);
}

/* Read the window [wstart, wstart + wlen) of r for io, or a prefetch. */
void
fault_read(struct session *s, struct region *r, struct fault_io *io,
    uint64_t wstart, uint64_t wlen, int prefetch)
{
	struct worker *w = s->worker;
	uint64_t woff = r->offset + (wstart - r->start);

	io->s = s;
	io->r = r;
	io->addr = wstart;
	io->len = wlen;
	io->off = woff;
	io->gen = r->gen;
	io->prefetch = prefetch;
	/* A window of 2 MiB or more is filled whole, as a stream's. */
	io->sequential |= prefetch || wlen >= PAGERD_EVICT_WINDOW;
	io->expired = 0;
	io->direct = 0;
	io->read_fd = r->cache != NULL ? r->cache->file_fd : -1;
	io->started = monotonic_ns();
	io->op.done = fault_read_cqe;
	io->fill_op.done = fault_fill_cqe;
	if (!w->fault_check.pending) {
		w->fault_check.run = fault_check;
		worker_timer_add(w, &w->fault_check, io->started +
		    1000000000u);
	}
	s->reads++;
	r->refs++;
	s->inflight++;
	/* Not punched out while the read writes it (cache.c). */
	if (r->cache != NULL) {
		io->used = r->cache;
		io->used_first = woff / page_size;
		io->used_n = (wlen + page_size - 1) / page_size;
		cache_use(io->used, io->used_first, io->used_n);
	}
	if (fault_read_join(w, io))
		return;
	STAT_COUNT(s, reads, 1);
	/*
	 * A stream's window of a file on a disk is read by the cache's own
	 * descriptors: past the kernel's page cache where it is cold
	 * (cache-direct.c).
	 */
	if (io->read_fd != -1 && r->read_inline && io->sequential)
		io->read_fd = cache_stream_fd(r->cache, woff, wlen,
		    &io->direct);
	/*
	 * A splice runs on an io_uring worker thread, where a read of a
	 * page cache hot file runs at once: below a pipe's worth, the
	 * hand-over costs more than the splice saves. Splices into one
	 * memfd run one at a time (io_uring serialises writes to a file,
	 * as its inode lock would), reads into the mapping do not: every
	 * other window is read, so that two threads fill a stream's next
	 * two windows at once. A write into a huge cache takes huge pages:
	 * a window for small ones is read (cache_fill_map).
	 */
	if (!io->direct && r->cache != NULL && r->cache->file_fd != -1 &&
	    wlen >= w->pipe_size && w->pipe_size != 0 &&
	    cache_fill_map(r->cache, io->sequential) == r->cache->map &&
	    r->stream->fills++ % 2 == 0 &&
	    (io->pipe = fault_pipe_get(w)) != NULL) {
		if (fault_fill_splice(w, io, r->cache, woff,
		    fault_promised(io)) == 0)
			return;
		fault_pipe_put(w, io->pipe);
		io->pipe = NULL;
	}
	fault_submit_read(w, io);
}

/* io is no longer one of st's reads ahead (it completed, or a fault took it). */
static void
fault_prefetch_forget(struct fault_stream *st, struct fault_io *io)
{
	int i;

	for (i = 0; i < FAULT_PREFETCH_MAX && st->prefetch[i] != io; i++)
		;
	for (; i < FAULT_PREFETCH_MAX; i++)
		st->prefetch[i] = i + 1 < FAULT_PREFETCH_MAX ?
		    st->prefetch[i + 1] : NULL;
}

/* The read ahead of r's stream that holds addr, taken off it, or NULL. */
struct fault_io *
fault_prefetch_take(struct region *r, uint64_t addr)
{
	struct fault_stream *st = r->stream;
	struct fault_io *io;
	int i;

	for (i = 0; i < FAULT_PREFETCH_MAX && (io = st->prefetch[i]) != NULL;
	    i++)
		if (io->gen == r->gen && addr >= io->addr &&
		    addr < io->addr + io->len) {
			fault_prefetch_forget(st, io);
			return io;
		}
	return NULL;
}

/*
 * Read r's window at start into the cache ahead of its stream: the io,
 * or NULL where there is nothing to read or no io to spare (a batch of
 * fault messages must find one each).
 */
static struct fault_io *
fault_prefetch_one(struct session *s, struct region *r, uint64_t start)
{
	uint64_t window = (uint64_t)config_get(CONFIG_CACHE_WINDOW);
	struct fault_stream *st = r->stream;
	uint64_t len, woff;
	struct fault_io *io;

	if (start >= r->end || s->worker->nfree <= FAULT_BATCH ||
	    s->stuck > 0 || s->reads >= fault_read_share() ||
	    fault_uid_room(s, NULL) == 0)
		return NULL;
	len = st->pages * 2 > window ? window : st->pages * 2;
	len *= page_size;
	if (r->end - start < len)
		len = r->end - start;
	len = collapse_trim(r, start, len);
	woff = r->offset + (start - r->start);
	if (woff >= r->file_size || cache_filled(r->cache, woff / page_size,
	    len / page_size))
		return NULL;
	io = fault_io_get(s->worker);
	io->fault_addr = start;
	io->tid = 0;
	io->t0 = 0;
	fault_read(s, r, io, start, len, 1);
	return io;
}

/*
 * A sequential stream through a page cache region: read its next windows
 * into the cache now, so that the client finds them there, or waits for
 * a read already out, when it gets there: one, and more behind one that
 * went to the disk (FAULT_PREFETCH_MAX).
 */
void
fault_prefetch(struct session *s, struct region *r)
{
	struct fault_stream *st = r->stream;
	struct fault_io *io;
	int n;

	if (r->cache == NULL)
		return;
	for (n = 0; n < FAULT_PREFETCH_MAX && st->prefetch[n] != NULL; n++)
		;
	while (n < FAULT_PREFETCH_MAX && (n == 0 ||
	    st->prefetch[n - 1]->direct)) {
		/* Past what was read ahead already, done or not. */
		if ((io = fault_prefetch_one(s, r, st->ahead > st->next ?
		    st->ahead : st->next)) == NULL)
			break;
		st->ahead = io->addr + io->len;
		st->prefetch[n++] = io;
	}
}

/*
 * A read out longer than read-timeout: the fault it owes fails with
 * SIGBUS, as a failed read's would, and the read is cancelled. Its io
 * stays out until the read completes, for the kernel may still write
 * into its buffer; then fault_read_done installs nothing.
 */
static void
fault_expire(struct worker *w, struct fault_io *io, int timeout)
{
	struct session *s = io->s;
	struct region *r = io->r;
	char name[256], why[384];

	io->expired = 1;
	s->stuck++;
	fault_prefetch_forget(r->stream, io);
	region_backing_name(r, name, sizeof name);
	snprintf(why, sizeof why, "read of %s at offset 0x%" PRIx64 "+0x%"
	    PRIx64 " did not complete in %d s (read-timeout)", name, io->off,
	    io->len, timeout);
	if (!s->closing && io->prefetch) {
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): region %u: "
			    "read-ahead: %s; cancelled", s->id, (int)s->pid,
			    s->comm, r->id, why);
	} else if (!s->closing && (r->dead || r->gen != io->gen))
		fault_wake(s, io->addr, io->len);	/* they fault again */
	else if (!s->closing)
		fault_fail(s, r, io->fault_addr, io->tid, why);
	/* Its faults waiting for its share may go on, or fail at once. */
	fault_unthrottle(s);
	worker_cancel_io(w, &io->op);
	if (io->pipe != NULL)
		worker_cancel_io(w, &io->fill_op);
}

/*
 * Fail the faults of reads out longer than read-timeout: looked for a
 * second apart while any read is out (the first read out arms it). The
 * sessions that wait for an io are then fed, free ios or not: a read
 * that expired may leave a session's share, or its user's, all stuck,
 * and its faults must fail now, not wait for a read that may never end.
 */
static void
fault_check(struct worker *w, struct timer *t)
{
	int i, timeout = config_get(CONFIG_READ_TIMEOUT), expired = 0;
	uint64_t now = monotonic_ns(), limit;
	struct fault_io *io;

	if (w->nfree == (unsigned int)opts.queue_depth)
		return;
	limit = (uint64_t)timeout * 1000000000u;
	for (i = 0; timeout != 0 && i < opts.queue_depth; i++) {
		io = &w->ios[i];
		if (io->s != NULL && !io->expired &&
		    now - io->started >= limit) {
			fault_expire(w, io, timeout);
			expired = 1;
		}
	}
	if (expired)
		fault_feed_some(w, 1);
	worker_timer_add(w, t, now + 1000000000u);
}

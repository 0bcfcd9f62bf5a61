/*
 * The fault path: read fault messages from a session's userfaultfd, find
 * the region, get the bytes (an io_uring read of the backing file, or
 * zeros) and install a window of pages around the fault with one ioctl:
 * a copy, zero pages, or, for page cache regions, a mapping of the pages
 * the shared cache holds (UFFDIO_CONTINUE). A sequential stream through a
 * page cache region has its next window read ahead (a prefetch).
 * A page that cannot be served is poisoned: the faulting thread gets
 * SIGBUS, never zeros where data was promised.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"

/* Fault messages taken off a userfaultfd per read(2). */
#define FAULT_BATCH 32

/*
 * Pages around a fault mapped at once where the page cache holds them
 * all: 1 MiB costs about a fifth of a fault's round trip to map.
 */
#define FAULT_WARM_BLOCK 256

/* Source of zero-filled pages for write faults on zero regions. */
static char *fault_zeros;

/*
 * A region's sequential stream, as the fault path follows it: the window
 * it reads in grows while the faults come in order.
 */
struct fault_stream {
	uint64_t next;		/* where the stream faults next */
	uint64_t pages;		/* its current window */
	struct fault_io *prefetch; /* a read of the stream's next window */
	unsigned int fills;	/* of big windows: every other one spliced */
};

static void fault_read_done(struct fault_io *, int);
static void fault_check(struct worker *, struct timer *);

/*
 * r's stream, new, or for a region cut from another (from), with its
 * window: 0, or -ENOMEM.
 */
int
fault_stream_new(struct region *r, const struct region *from)
{
	struct fault_stream *st;

	if ((st = calloc(1, sizeof *st)) == NULL)
		return -ENOMEM;
	st->next = r->start;
	st->pages = from != NULL ? from->stream->pages :
	    (uint64_t)config_get(CONFIG_READAHEAD) / 2 + 1;
	st->fills = from != NULL ? from->stream->fills : 0;
	r->stream = st;
	return 0;
}

void
fault_stream_free(struct region *r)
{
	free(r->stream);
	r->stream = NULL;
}

/* r's addresses changed: a stream starts again at its start. */
void
fault_stream_restart(struct region *r)
{
	r->stream->next = r->start;
}

/* r's read-ahead window in pages, for a listing (another thread). */
uint64_t
fault_stream_window(const struct region *r)
{
	return r->stream->pages;
}

void
fault_init(void)
{
	fault_zeros = mmap(NULL, (size_t)opts.readahead_max * page_size,
	    PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fault_zeros == MAP_FAILED)
		fatal("mmap of the zero buffer");
}

void
fault_wake(struct session *s, uint64_t start, uint64_t len)
{
	struct uffdio_range range = { .start = start, .len = len };

	if (ioctl(s->uffd, UFFDIO_WAKE, &range) == -1 && errno != ESRCH &&
	    errno != ENOENT)
		log_warn("session %u: pid %d: UFFDIO_WAKE 0x%" PRIx64 "+0x%"
		    PRIx64, s->id, (int)s->pid, start, len);
}

enum fault_fill {
	FILL_COPY,		/* UFFDIO_COPY from a buffer */
	FILL_ZERO,		/* UFFDIO_ZEROPAGE */
	FILL_CONTINUE,		/* UFFDIO_CONTINUE: map the page cache's page */
};

static const char *const fault_fill_names[] = {
	[FILL_COPY] = "UFFDIO_COPY",
	[FILL_ZERO] = "UFFDIO_ZEROPAGE",
	[FILL_CONTINUE] = "UFFDIO_CONTINUE",
};

/*
 * Install len bytes at dst, as how says (src is the copy's source). Pages
 * already present (EEXIST: another thread's fault got there first) are
 * skipped; a partial install is continued. Waiters on the whole range are
 * woken once at the end. Returns the pages installed, or -errno when the
 * target is gone (ESRCH) or the range unmapped (ENOENT).
 */
static int64_t
fault_install(struct session *s, struct region *r, enum fault_fill how,
    uint64_t dst, const char *src, uint64_t len)
{
	/* A write-protected region's pages arrive write-protected. */
	uint64_t wp = r->wp != NULL ? UFFDIO_COPY_MODE_WP : 0;
	struct uffdio_copy copy;
	struct uffdio_zeropage zero;
	struct uffdio_continue cont;
	uint64_t off = 0, installed = 0;
	int64_t done;
	int ret;

	while (off < len) {
		switch (how) {
		case FILL_COPY:
			copy = (struct uffdio_copy){ .dst = dst + off,
			    .src = (uint64_t)(uintptr_t)(src + off),
			    .len = len - off, .mode = UFFDIO_COPY_MODE_DONTWAKE |
			    wp };
			ret = ioctl(s->uffd, UFFDIO_COPY, &copy);
			done = copy.copy;
			break;
		case FILL_ZERO:
			zero = (struct uffdio_zeropage){ .range = { .start =
			    dst + off, .len = len - off },
			    .mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE };
			ret = ioctl(s->uffd, UFFDIO_ZEROPAGE, &zero);
			done = zero.zeropage;
			break;
		default:
			cont = (struct uffdio_continue){ .range = { .start =
			    dst + off, .len = len - off },
			    .mode = UFFDIO_CONTINUE_MODE_DONTWAKE };
			ret = ioctl(s->uffd, UFFDIO_CONTINUE, &cont);
			done = cont.mapped;
			break;
		}
		if (ret == 0) {
			wp_installed(r, dst + off, len - off);
			installed += len - off;
			break;
		}
		if (done > 0) {
			wp_installed(r, dst + off, (uint64_t)done);
			off += (uint64_t)done;
			installed += (uint64_t)done;
			continue;
		}
		if (errno == EEXIST) {
			wp_installed(r, dst + off, page_size);
			STAT_COUNT(s, eexist, 1);
			off += page_size;
			continue;
		}
		if (how == FILL_CONTINUE && errno == EFAULT) {
			/*
			 * The page is gone from the page cache: a client,
			 * which holds a writable descriptor of it, punched a
			 * hole there. Mapped again, it would fail again on
			 * every fault; the next fault reads it in anew.
			 */
			log_debug("session %u: pid %d: page 0x%" PRIx64 " is gone "
			    "from the page cache: filled again on its next "
			    "fault", s->id, (int)s->pid, dst + off);
			cache_mark_unfilled(r->cache, (r->offset + (dst + off -
			    r->start)) / page_size, 1);
			off += page_size;
			continue;
		}
		if (errno == ESRCH || errno == ENOENT)
			return -errno;
		/*
		 * EAGAIN without progress: the address space is changing
		 * under us. Waking lets the thread fault again and send a
		 * fresh message; anything else is logged the same way.
		 */
		if (errno != EAGAIN)
			log_warn("session %u: pid %d: %s at 0x%" PRIx64, s->id,
			    (int)s->pid, fault_fill_names[how], dst + off);
		break;
	}
	fault_wake(s, dst, len);
	return (int64_t)(installed / page_size);
}

/*
 * Answer a fault that cannot be served with a signal: UFFDIO_POISON makes
 * the access raise SIGBUS; on a kernel without it, signal the thread.
 */
static void
fault_fail(struct session *s, struct region *r, uint64_t addr, uint32_t tid,
    const char *why)
{
	struct uffdio_poison poison = { .range = { .start = addr,
	    .len = page_size } };
	const char *how = "poisoned";

	STAT_COUNT(s, errors, 1);
	if (ioctl(s->uffd, UFFDIO_POISON, &poison) == 0) {
		STAT_COUNT(s, pages_poisoned, 1);
	} else if (errno == ESRCH || errno == ENOENT) {
		return;
	} else if (errno == EEXIST) {
		/* The page arrived meanwhile: nothing was lost. */
		fault_wake(s, addr, page_size);
		return;
	} else {
		how = "signalled";
		if (tid != 0)
			syscall(SYS_tgkill, s->pid, tid, SIGBUS);
		else if (s->pidfd != -1)
			syscall(SYS_pidfd_send_signal, s->pidfd, SIGBUS, NULL, 0);
		else
			kill(s->pid, SIGBUS);
		fault_wake(s, addr, page_size);
	}
	if (r != NULL)
		log_warnx("session %u: pid %d (%s) tid %u: 0x%" PRIx64 " in "
		    "region %u (%s offset 0x%" PRIx64 "): %s; %s with SIGBUS",
		    s->id, (int)s->pid, s->comm, tid, addr, r->id,
		    r->backing == PD_BACKING_ZERO ? "zero" : "file",
		    r->offset + (addr - r->start), why, how);
	else
		log_warnx("session %u: pid %d (%s) tid %u: 0x%" PRIx64 ": %s; "
		    "%s with SIGBUS", s->id, (int)s->pid, s->comm, tid, addr,
		    why, how);
}

/* A fault read at t0 (ns) is served: count how long it took. */
static void
fault_latency(struct worker *w, uint64_t t0)
{
	uint64_t us = (monotonic_ns() - t0) / 1000;
	unsigned int b = us == 0 ? 0 : 64 - (unsigned int)__builtin_clzll(us);

	if (b >= PD_LATENCY_BUCKETS)
		b = PD_LATENCY_BUCKETS - 1;
	STAT_ADD(w->latency[b], 1);
}

static void
fault_count(struct session *s, int64_t pages, int from_file)
{
	if (pages <= 0)
		return;
	if (from_file)
		STAT_COUNT(s, pages_file, pages);
	else
		STAT_COUNT(s, pages_zero, pages);
}

/*
 * Install good bytes of a completed read at io->addr: a copy of the read
 * buffer, or, for a page cache region, the cache's pages, which the read
 * has just filled.
 */
static void
fault_install_read(struct fault_io *io, uint64_t good)
{
	struct region *r = io->r;
	uint64_t first;

	if (r->cache == NULL) {
		fault_count(io->s, fault_install(io->s, r, FILL_COPY, io->addr,
		    io->buf, good), 1);
		return;
	}
	first = (r->offset + (io->addr - r->start)) / page_size;
	cache_mark_filled(r->cache, first, good / page_size);
	fault_count(io->s, fault_install(io->s, r, FILL_CONTINUE, io->addr, NULL,
	    good), 1);
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
	struct io_uring_sqe *sqe = worker_sqe(w);

	if (r->cache != NULL)
		io_uring_prep_read(sqe, r->cache->file_fd, r->cache->map +
		    io->off, (unsigned int)io->len, io->off);
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
 * A prefetch came back: its pages are in the cache for the fault that
 * will want them. A failed one fills nothing; the fault reads again and
 * reports what it finds.
 */
static void
fault_prefetch_done(struct fault_io *io, int res)
{
	if (res <= 0 || io->s->closing)
		return;
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
	worker_pipe_discard(s->worker, io->pipe);
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
	STAT_COUNT(io->s, reads, 1);
	fault_submit_read(io->s->worker, io);
	return 1;
}

/*
 * The ios one session may hold. Reads that hang (a FUSE server that never
 * answers) hold theirs until they complete, however long: one client must
 * leave the worker's others the most of its ios.
 */
static unsigned int
fault_read_share(void)
{
	return opts.queue_depth >= 4 ? (unsigned int)opts.queue_depth / 4 : 1;
}

/* Sessions whose faults waited for a free read buffer get their turn. */
static void
fault_feed(struct worker *w, struct timer *t)
{
	struct session *s;

	(void)t;
	while (w->nfree > 0 && (s = TAILQ_FIRST(&w->starved)) != NULL) {
		TAILQ_REMOVE(&w->starved, s, starved_entry);
		s->starved = 0;
		fault_uffd_ready(s);
	}
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

/* s has fault messages waiting: the worker gives it a turn when it can. */
static void
fault_starve(struct session *s)
{
	if (!s->starved && !s->closing) {
		TAILQ_INSERT_TAIL(&s->worker->starved, s, starved_entry);
		s->starved = 1;
	}
	fault_feed_soon(s->worker);
}

/* One of s's reads ended or expired: if it waited for that, its turn. */
static void
fault_unthrottle(struct session *s)
{
	if (s->throttled)
		fault_starve(s);
	s->throttled = 0;
}

static void
fault_read_end(struct session *s, struct fault_io *io)
{
	s->reads--;
	if (io->expired)
		s->stuck--;
	worker_io_put(s->worker, io);
	fault_unthrottle(s);
	fault_feed_soon(s->worker);
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
		worker_pipe_put(s->worker, io->pipe);
		io->pipe = NULL;
		res = (int)io->fill_bytes;
	}
	if (r->stream->prefetch == io)
		r->stream->prefetch = NULL;
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
		snprintf(why, sizeof why, "read of the backing file at offset "
		    "0x%" PRIx64 ": %s", io->off, strerror(-res));
		fault_fail(s, r, io->fault_addr, io->tid, why);
		goto out;
	}
	STAT_COUNT(s, bytes_read, res);

	/*
	 * Past the file's end, at map time or now, the bytes read as zeros,
	 * as the kernel's own mapping has them (a cache's are zeros
	 * already). A page the file no longer reaches cannot be served.
	 */
	good = fault_read_good(io, (uint64_t)res);
	if (r->cache == NULL)
		memset(io->buf + res, 0, good - (uint64_t)res);
	if (good > 0)
		fault_install_read(io, good);
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
		io_uring_prep_splice(sqe, c->file_fd, (int64_t)(off + done),
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
static void
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
	io->expired = 0;
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
	STAT_COUNT(s, reads, 1);
	/* Not punched out while the read writes it (cache.c). */
	if (r->cache != NULL) {
		io->used = r->cache;
		io->used_first = woff / page_size;
		io->used_n = (wlen + page_size - 1) / page_size;
		cache_use(io->used, io->used_first, io->used_n);
	}
	/*
	 * A splice runs on an io_uring worker thread, where a read of a
	 * page cache hot file runs at once: below a pipe's worth, the
	 * hand-over costs more than the splice saves. Splices into one
	 * memfd run one at a time (io_uring serialises writes to a file,
	 * as its inode lock would), reads into the mapping do not: every
	 * other window is read, so that two threads fill a stream's next
	 * two windows at once.
	 */
	if (r->cache != NULL && wlen >= w->pipe_size && w->pipe_size != 0 &&
	    r->stream->fills++ % 2 == 0 &&
	    (io->pipe = worker_pipe_get(w)) != NULL) {
		if (fault_fill_splice(w, io, r->cache, woff,
		    fault_promised(io)) == 0)
			return;
		worker_pipe_put(w, io->pipe);
		io->pipe = NULL;
	}
	fault_submit_read(w, io);
}

/*
 * A sequential stream through a page cache region: read its next window
 * into the cache now, so that the client finds it there, or waits for a
 * read already out, when it gets there. Only with ios to spare: a batch
 * of fault messages must find one each.
 */
static void
fault_prefetch(struct session *s, struct region *r)
{
	struct fault_stream *st = r->stream;
	uint64_t start = st->next, len, woff;
	uint64_t window = (uint64_t)config_get(CONFIG_CACHE_WINDOW);
	struct fault_io *io;

	if (r->cache == NULL || st->prefetch != NULL || start >= r->end ||
	    s->worker->nfree <= FAULT_BATCH || s->stuck > 0 ||
	    s->reads >= fault_read_share())
		return;
	len = st->pages * 2 > window ? window : st->pages * 2;
	len *= page_size;
	if (r->end - start < len)
		len = r->end - start;
	woff = r->offset + (start - r->start);
	if (woff >= r->file_size || cache_filled(r->cache, woff / page_size,
	    len / page_size))
		return;
	io = worker_io_get(s->worker);
	io->fault_addr = start;
	io->tid = 0;
	io->t0 = 0;
	fault_read(s, r, io, start, len, 1);
	st->prefetch = io;
}

/*
 * Does the page cache hold the whole aligned FAULT_WARM_BLOCK around addr
 * (within the region and the file)? Then *wstart is where it begins.
 */
static int
fault_warm_block(const struct region *r, uint64_t addr, uint64_t *wstart)
{
	uint64_t block = FAULT_WARM_BLOCK * page_size, start, len, off;

	start = r->start + (addr - r->start) / block * block;
	len = r->end - start < block ? r->end - start : block;
	off = r->offset + (start - r->start);
	if (off + len > r->cache->size || !cache_filled(r->cache, off /
	    page_size, len / page_size))
		return 0;
	*wstart = start;
	return 1;
}

static void
fault_page(struct session *s, const struct uffd_msg *msg, uint64_t t0)
{
	struct worker *w = s->worker;
	uint64_t addr, win, wstart, wlen, woff, most;
	struct fault_stream *st;
	struct fault_io *io;
	struct region *r;
	uint32_t tid = 0;
	int write, stream, filled;
	char why[128];

	addr = msg->arg.pagefault.address & ~(uint64_t)(page_size - 1);
	write = (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
	if (s->features & UFFD_FEATURE_THREAD_ID)
		tid = msg->arg.pagefault.feat.ptid;
	STAT_COUNT(s, faults, 1);

	if ((r = region_find(s, addr)) == NULL) {
		fault_fail(s, NULL, addr, tid, "fault outside every region");
		return;
	}
	STAT_ADD(r->faults, 1);
	if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
		wp_fault(s, r, addr, tid);
		return;
	}

	/*
	 * The window installed at once. A fault right after the previous
	 * window is a sequential stream: it gets twice that window, up to the
	 * most a region of its kind takes (the cache window, or what a read
	 * buffer holds). Any other fault gets the aligned block of
	 * read-ahead pages around it, or a bigger one the page cache holds
	 * whole, and the stream starts over.
	 */
	st = r->stream;
	stream = addr == st->next && st->next != r->start;
	if (addr == st->next) {
		most = (uint64_t)(r->cache != NULL ?
		    config_get(CONFIG_CACHE_WINDOW) : opts.readahead_max);
		st->pages *= 2;
		if (st->pages > most)
			st->pages = most;
		wstart = addr;
		win = st->pages * page_size;
	} else {
		st->pages = (uint64_t)config_get(CONFIG_READAHEAD);
		win = st->pages * page_size;
		if (r->cache != NULL && fault_warm_block(r, addr, &wstart))
			win = FAULT_WARM_BLOCK * page_size;
		else
			wstart = r->start + (addr - r->start) / win * win;
	}
	wlen = r->end - wstart < win ? r->end - wstart : win;
	woff = r->offset + (wstart - r->start);
	st->next = wstart + wlen;

	/* (A page cache region ends within the file's last page.) */
	if (r->backing == PD_BACKING_ZERO || woff >= r->file_size) {
		/* Zero pages are shared: a write needs a page of its own. */
		if (write || r->wp != NULL)
			fault_count(s, fault_install(s, r, FILL_COPY, wstart,
			    fault_zeros, wlen), 0);
		else
			fault_count(s, fault_install(s, r, FILL_ZERO, wstart,
			    NULL, wlen), 0);
		fault_latency(w, t0);
		return;
	}
	/* A prefetch of this window is out: the fault waits for it. */
	if ((io = st->prefetch) != NULL && io->gen == r->gen &&
	    addr >= io->addr && addr < io->addr + io->len) {
		st->prefetch = NULL;
		io->prefetch = 0;
		io->fault_addr = addr;
		io->tid = tid;
		io->t0 = t0;
		st->next = io->addr + io->len;
		st->pages = io->len / page_size;
		fault_prefetch(s, r);
		return;
	}
	/*
	 * Pages the shared cache holds already are mapped, not read; held
	 * from the look to the mapping, so that eviction cannot punch them
	 * out between (cache.c).
	 */
	if (r->cache != NULL) {
		cache_use(r->cache, woff / page_size, wlen / page_size);
		filled = cache_filled(r->cache, woff / page_size, wlen /
		    page_size);
		if (filled)
			fault_count(s, fault_install(s, r, FILL_CONTINUE,
			    wstart, NULL, wlen), 1);
		cache_unuse(r->cache, woff / page_size, wlen / page_size);
		if (filled) {
			fault_latency(w, t0);
			if (stream)
				fault_prefetch(s, r);
			return;
		}
	}

	/*
	 * fault_uffd_ready() takes no more messages than there are ios,
	 * save when the session's share is all stuck: then it would wait
	 * for a read that may never come back.
	 */
	if (s->stuck >= fault_read_share()) {
		snprintf(why, sizeof why, "%u reads of this client are out "
		    "past read-timeout; none is started until they complete",
		    s->stuck);
		fault_fail(s, r, addr, tid, why);
		return;
	}
	io = worker_io_get(w);
	io->fault_addr = addr;
	io->tid = tid;
	io->t0 = t0;
	fault_read(s, r, io, wstart, wlen, 0);
	if (stream)
		fault_prefetch(s, r);
}

/*
 * The client's address space changed. The kernel holds the munmap,
 * mremap or madvise until the event is read, and faults that follow it
 * come after it on the same descriptor: the table is true before they
 * are served. Threads that waited in the old range are woken: they fault
 * again wherever the memory is now, or get SIGSEGV where it is gone.
 */
static void
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
			fault_stream_restart(r);
			wp_removed(r, start, end);
		}
		break;
	}
}

static void
fault_msg(struct session *s, const struct uffd_msg *msg, uint64_t t0)
{
	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT:
		fault_page(s, msg, t0);
		break;
	case UFFD_EVENT_UNMAP:
	case UFFD_EVENT_REMAP:
	case UFFD_EVENT_REMOVE:
		fault_event(s, msg);
		break;
	default:
		log_warnx("session %u: pid %d: unexpected userfaultfd event %u",
		    s->id, (int)s->pid, msg->event);
		break;
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
	if (r->stream->prefetch == io)
		r->stream->prefetch = NULL;
	region_backing_name(r, name, sizeof name);
	snprintf(why, sizeof why, "read of %s at offset 0x%" PRIx64 "+0x%"
	    PRIx64 " did not complete in %d s (read-timeout)", name, io->off,
	    io->len, timeout);
	if (!s->closing && io->prefetch)
		log_warnx("session %u: pid %d (%s): region %u: read-ahead: %s; "
		    "cancelled", s->id, (int)s->pid, s->comm, r->id, why);
	else if (!s->closing && (r->dead || r->gen != io->gen))
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
 * second apart while any read is out (the first read out arms it).
 */
static void
fault_check(struct worker *w, struct timer *t)
{
	int i, timeout = config_get(CONFIG_READ_TIMEOUT);
	uint64_t now = monotonic_ns(), limit;
	struct fault_io *io;

	if (w->nfree == (unsigned int)opts.queue_depth)
		return;
	limit = (uint64_t)timeout * 1000000000u;
	for (i = 0; timeout != 0 && i < opts.queue_depth; i++) {
		io = &w->ios[i];
		if (io->s != NULL && !io->expired && now - io->started >= limit)
			fault_expire(w, io, timeout);
	}
	worker_timer_add(w, t, now + 1000000000u);
}

/*
 * Take fault messages while there are read buffers for them; a session
 * left with messages queues on the worker's starved list until a read
 * completes, or, at its share of the buffers, waits for one of its own.
 */
void
fault_uffd_ready(struct session *s)
{
	struct worker *w = s->worker;
	struct uffd_msg msgs[FAULT_BATCH];
	unsigned int share = fault_read_share(), live, room;
	size_t want, got, i;
	uint64_t t0;
	ssize_t n;

	while (!s->closing) {
		/* Its reads out that will end, at the latest when they expire. */
		live = s->reads - s->stuck;
		room = live < share ? share - live : 0;
		want = w->nfree < FAULT_BATCH ? w->nfree : FAULT_BATCH;
		if (s->stuck >= share)
			want = FAULT_BATCH;	/* each read fails at once */
		else if (room == 0) {
			s->throttled = 1;
			return;
		} else if (want > room)
			want = room;
		if (want == 0) {
			fault_starve(s);
			return;
		}
		n = read(s->uffd, msgs, want * sizeof msgs[0]);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				session_close(s, "read of the userfaultfd: %s",
				    strerror(errno));
			return;
		}
		got = (size_t)n / sizeof msgs[0];
		t0 = monotonic_ns();
		for (i = 0; i < got && !s->closing; i++)
			fault_msg(s, &msgs[i], t0);
		if (got < want)
			return;
	}
}

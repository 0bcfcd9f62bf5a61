/*
 * A recording replayed: the pages the program faulted last time, read
 * into the page cache in the order it faulted them, many at once and on
 * a descriptor of their own, and mapped into the client ahead of its
 * faults; a fault on a page a read is bringing waits for it. What is
 * replayed, and when, is replay.c's.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "fault.h"
#include "replay.h"

/* Pages one replay read brings at most: 1 MiB. */
#define REPLAY_READ_PAGES 256
/*
 * Replay reads out per region: the program's next 32 windows (2 MiB of
 * 64 KiB ones), which a disk reads about as fast as in order.
 */
#define REPLAY_DEPTH 32
/* A replay held back by demand faults looks again this much later. */
#define REPLAY_RETRY_NS 1000000u

struct replay_read {
	struct op op;
	LIST_ENTRY(replay_read) entry; /* its run's reads out */
	struct replay_run *run;
	uint64_t first;		/* file pages */
	uint64_t n;
};

/* One region's replay: the plan's pages that fall in it. */
struct replay_run {
	LIST_ENTRY(replay_run) entry;
	LIST_ENTRY(replay_run) rec_entry; /* its record's runs */
	LIST_HEAD(, replay_read) out_reads;
	struct session *s;
	struct region *r;	/* held (refs) until the run ends */
	struct replay_rec *rec;
	uint32_t gen;
	size_t next;		/* the plan's range read next */
	uint64_t skip;		/* of it, pages already taken */
	unsigned int out;	/* reads out */
	uint64_t pages;		/* installed ahead of faults */
	uint64_t reads;		/* bytes read */
	uint64_t started;	/* CLOCK_MONOTONIC ns */
	struct timer retry;
	struct replay_read slots[REPLAY_DEPTH]; /* free: run is NULL */
};

static void replay_pump(struct replay_run *);

/*
 * The plan's pages once each, in its order: the windows of a stream's
 * faults overlap (a fault's window is recorded, which a read ahead of it
 * may have covered in part), and a page is read once. Where the file is
 * too large for a bitmap of its pages (past 64 GiB), the plan as it is.
 */
void
replay_order(struct replay_rec *rec)
{
	uint64_t npages = REPLAY_PAGES(rec->size), p, start;
	struct replay_range *v = NULL, *nv;
	size_t i, n = 0, cap = 0;
	unsigned long *seen;

	if (npages > (64ull << 30) / page_size ||
	    (seen = calloc(BITMAP_WORDS(npages), sizeof *seen)) == NULL) {
		rec->order = rec->plan;
		rec->norder = rec->nplan;
		return;
	}
	for (i = 0; i < rec->nplan; i++) {
		for (p = rec->plan[i].first; p < rec->plan[i].first +
		    rec->plan[i].n;) {
			while (p < rec->plan[i].first + rec->plan[i].n &&
			    bit_test(seen, p))
				p++;
			for (start = p; p < rec->plan[i].first + rec->plan[i].n &&
			    !bit_test(seen, p); p++)
				bit_set(seen, p);
			if (p == start)
				break;
			if (n == cap) {
				cap = cap == 0 ? rec->nplan + 16 : cap * 2;
				if ((nv = reallocarray(v, cap, sizeof *v)) ==
				    NULL) {
					free(v);
					free(seen);
					rec->order = rec->plan;
					rec->norder = rec->nplan;
					return;
				}
				v = nv;
			}
			v[n].first = start;
			v[n++].n = p - start;
		}
	}
	free(seen);
	rec->order = v;
	rec->norder = n;
}

/*
 * A reading of the file of its own for the replay: the kernel follows
 * each open file's reads to size its read-ahead, and the client's
 * descriptor (which the cache holds) sees its faults' reads at random
 * places, which would cut the replay's in-order reads down to small ones
 * (8 MiB of read-ahead here against 1 MiB reads). Reopened through the
 * cache's descriptor, read-only: the same file, no more rights. Held
 * while the file replays, charged to the user's descriptors; where either
 * fails, the cache's descriptor serves.
 */
static void
replay_open(struct session *s, struct replay_rec *rec, const struct cache *c)
{
	char path[64], why[PD_REASON_MAX];
	struct stat st;
	int fd;

	if (quota_charge(&s->quota, QUOTA_FDS, 1, "working-set replay", why,
	    sizeof why) != 0) {
		log_debug("session %u: %s", s->id, why);
		return;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", c->file_fd);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1 || fstat(fd, &st) == -1 || st.st_dev != c->dev ||
	    st.st_ino != c->ino) {
		if (fd != -1)
			close(fd);
		quota_uncharge(&s->quota, QUOTA_FDS, 1);
		return;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rec->fd = fd;
}

/* rec's replays are over: its descriptor goes. */
void
replay_close(struct session *s, struct replay_rec *rec)
{
	if (rec->fd == -1)
		return;
	close(rec->fd);
	rec->fd = -1;
	quota_uncharge(&s->quota, QUOTA_FDS, 1);
}

/* The run is over: its region and session let go. */
static void
replay_run_end(struct replay_run *run)
{
	struct session *s = run->s;

	worker_timer_del(s->worker, &run->retry);
	if (run->pages > 0 && !s->closing)
		log_info("session %u: pid %d (%s): region %u: %" PRIu64
		    " pages of %s replayed ahead of faults (%" PRIu64 " MiB "
		    "read, %" PRIu64 " ms)", s->id, (int)s->pid, s->comm,
		    run->r->id, run->pages, run->rec->path, run->reads >> 20,
		    (monotonic_ns() - run->started) / 1000000);
	LIST_REMOVE(run, entry);
	LIST_REMOVE(run, rec_entry);
	if (LIST_EMPTY(&run->rec->runs))
		replay_close(s, run->rec);
	region_unref(run->r);
	free(run);
	session_unref(s);
}

/*
 * Is a replay read of r's file page out? Then the fault on it waits for
 * that read's install (which wakes it) rather than read the page again.
 * Not on a file system whose reads may hang (FUSE, NFS: not read
 * inline): there a fault's own read is the one read-timeout watches.
 * The fault path's: a look at the few reads out, only while r replays.
 */
int
replay_pending(const struct region *r, uint64_t page)
{
	const struct replay_run *run;
	const struct replay_read *rd;

	if (r->rec == NULL || !r->read_inline)
		return 0;
	LIST_FOREACH(run, &r->rec->runs, rec_entry) {
		if (run->r != r || run->gen != r->gen)
			continue;
		LIST_FOREACH(rd, &run->out_reads, entry)
			if (page >= rd->first && page < rd->first + rd->n)
				return 1;
	}
	return 0;
}

/* Should the run stop: its session or region gone, or moved? */
static int
replay_stopped(const struct replay_run *run)
{
	return run->s->closing || run->r->dead || run->r->gen != run->gen ||
	    !config_get(CONFIG_REPLAY);
}

/* Map the cache's pages [first, first + n) into the run's region. */
static void
replay_install(struct replay_run *run, uint64_t first, uint64_t n)
{
	struct region *r = run->r;
	int64_t done;

	done = fault_install(run->s, r, FILL_CONTINUE, r->start + first *
	    page_size - r->offset, NULL, n * page_size);
	fault_count(run->s, done, 1);
	if (done > 0)
		run->pages += (uint64_t)done;
}

static void
replay_read_cqe(struct op *op, const struct io_uring_cqe *cqe)
{
	struct replay_read *rd = container_of(op, struct replay_read, op);
	struct replay_run *run = rd->run;
	struct cache *c = run->r->cache;
	uint64_t good = 0;

	LIST_REMOVE(rd, entry);
	if (cqe->res > 0 && !replay_stopped(run)) {
		STAT_COUNT(run->s, bytes_read, cqe->res);
		run->reads += (uint64_t)cqe->res;
		/* Whole pages, and the file's last, partly, at its end. */
		if (rd->first * page_size + (uint64_t)cqe->res >= c->file_size)
			good = rd->n;
		else
			good = (uint64_t)cqe->res / page_size;
		if (good > 0) {
			cache_mark_filled(c, rd->first, good);
			replay_install(run, rd->first, good);
		}
	}
	/* Faults that waited for it and got nothing fault again. */
	if (good < rd->n && !run->r->dead && run->r->gen == run->gen &&
	    !run->s->closing)
		fault_wake(run->s, run->r->start + (rd->first + good) *
		    page_size - run->r->offset, (rd->n - good) * page_size);
	cache_unuse(c, rd->first, rd->n);
	run->out--;
	rd->run = NULL;
	replay_pump(run);
}

/*
 * The next pages to bring, within the region, in the order the program
 * faulted them: consecutive runs joined, up to a read's worth. 0 when
 * the plan is done.
 */
static int
replay_next(struct replay_run *run, uint64_t *first, uint64_t *n)
{
	const struct replay_rec *rec = run->rec;
	const struct region *r = run->r;
	uint64_t lo = r->offset / page_size, hi = lo + (r->end - r->start) /
	    page_size, a, b;

	*n = 0;
	while (run->next < rec->norder) {
		a = rec->order[run->next].first + run->skip;
		b = rec->order[run->next].first + rec->order[run->next].n;
		if (a < lo)
			a = lo;
		if (b > hi)
			b = hi;
		if (a >= b || (*n > 0 && a != *first + *n)) {
			if (*n > 0 && a < b)
				return 1;
			run->next++;
			run->skip = 0;
			continue;
		}
		if (*n == 0)
			*first = a;
		if (b - a > REPLAY_READ_PAGES - *n)
			b = a + REPLAY_READ_PAGES - *n;
		*n += b - a;
		run->skip = b - rec->order[run->next].first;
		if (*n == REPLAY_READ_PAGES)
			return 1;
	}
	return *n > 0;
}

static void
replay_retry(struct worker *w, struct timer *t)
{
	(void)w;
	replay_pump(container_of(t, struct replay_run, retry));
}

/*
 * Keep the run's reads out (REPLAY_DEPTH), none while any session on the
 * worker waits for a read buffer. Pages the cache holds already are
 * mapped at once.
 */
static void
replay_pump(struct replay_run *run)
{
	struct session *s = run->s;
	struct worker *w = s->worker;
	struct cache *c = run->r->cache;
	struct io_uring_sqe *sqe;
	struct replay_read *rd;
	uint64_t first, n;
	unsigned int depth;

	while (!replay_stopped(run)) {
		depth = REPLAY_DEPTH;
		if (!TAILQ_EMPTY(&w->starved))
			depth = 0;
		if (run->out >= depth) {
			if (run->out == 0)
				worker_timer_add(w, &run->retry, monotonic_ns() +
				    REPLAY_RETRY_NS);
			return;
		}
		if (!replay_next(run, &first, &n))
			break;
		cache_use(c, first, n);
		if (cache_filled(c, first, n)) {
			replay_install(run, first, n);
			cache_unuse(c, first, n);
			continue;
		}
		/* Fewer than REPLAY_DEPTH are out: one is free. */
		for (rd = run->slots; rd->run != NULL; rd++)
			;
		STAT_COUNT(s, reads, 1);
		rd->op.done = replay_read_cqe;
		LIST_INSERT_HEAD(&run->out_reads, rd, entry);
		rd->run = run;
		rd->first = first;
		rd->n = n;
		sqe = worker_sqe(w);
		io_uring_prep_read(sqe, run->rec->fd != -1 ? run->rec->fd :
		    c->file_fd, cache_fill_map(c, n * page_size >=
		    PAGERD_EVICT_WINDOW) + first * page_size,
		    (unsigned int)(n * page_size), first * page_size);
		io_uring_sqe_set_data(sqe, &rd->op);
		/*
		 * On io_uring's threads, not inline: filling a cache through
		 * its mapping costs a page allocation a page, which both CPUs
		 * share out that way (0.7 s instead of 0.94 for 253 MiB).
		 */
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		run->out++;
	}
	if (run->out == 0)
		replay_run_end(run);
}

/*
 * Replay rec's recording into r, a region of its file just added: the
 * run holds r and s until its last read is in.
 */
void
replay_start(struct session *s, struct region *r, struct replay_rec *rec)
{
	struct replay_run *run;

	if ((run = calloc(1, sizeof *run)) == NULL)
		return;
	if (rec->fd == -1)
		replay_open(s, rec, r->cache);
	run->s = s;
	run->r = r;
	run->rec = rec;
	run->gen = r->gen;
	run->started = monotonic_ns();
	LIST_INIT(&run->out_reads);
	LIST_INSERT_HEAD(&rec->runs, run, rec_entry);
	run->retry.run = replay_retry;
	run->retry.at_stop = 1;
	r->refs++;
	s->inflight++;
	LIST_INSERT_HEAD(&s->replay->runs, run, entry);
	log_debug("session %u: region %u: replaying %zu ranges of %s", s->id,
	    r->id, rec->nplan, rec->path);
	replay_pump(run);
}

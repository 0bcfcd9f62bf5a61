/*
 * A recording replayed: the pages the program faulted last time, read
 * into the page cache in the file's order, many at once and on a
 * descriptor of their own, and mapped into the client ahead of its
 * faults; a fault on a page a read is bringing waits for it. What is
 * replayed, and when, is replay.c's.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "fault.h"
#include "replay.h"

/* Pages one replay read brings at most: 1 MiB. */
#define REPLAY_READ_PAGES 256
/*
 * Replay reads out per region: a recording scattered over a cold file is
 * read a few pages at a time, as fast as the disk takes requests, and
 * the virtio disk here took 64 at once faster than 32.
 */
#define REPLAY_DEPTH 64
/* Pages looked up to tell a cold file (replay_cold). */
#define REPLAY_SAMPLE 64
/*
 * Pages between two recorded runs that a replay reads through: a
 * request's cost on a disk is that of reading tens of KiB more (a
 * quarter of 1 GiB at random: 796 MiB in 0.43 s read so, against 374 MiB
 * in 0.66 s with gaps of 2).
 */
#define REPLAY_GAP 8
/* A replay held back by demand faults looks again this much later. */
#define REPLAY_RETRY_NS 1000000u
/* Of a 2 MiB window, the share a dense one's plan reads (replay_dense). */
#define REPLAY_DENSE_DIV 2

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
	uint64_t win;		/* the 2 MiB window read last, plus 1 */
	int win_dense;		/* and replay_dense's answer for it */
	int broken;		/* an install that cannot succeed stopped it */
	struct timer retry;
	struct replay_read slots[REPLAY_DEPTH]; /* free: run is NULL */
};

static void replay_pump(struct replay_run *);

/*
 * The plan in the file's order, runs fewer than REPLAY_GAP pages apart
 * read as one: a disk reads a file's pages in order fastest, and a gap's
 * few pages cost less than a read of their own. A quarter of a 1 GiB
 * file's pages at random (65536 reads of 4 KiB, 32 at once) took a
 * virtio disk here 0.8 s in their own order, 0.5 s so (with gaps of 2).
 */
void
replay_order(struct replay_rec *rec)
{
	const struct replay_range *u;
	struct replay_range *v;
	size_t i, n = 0;

	if (rec->sorted == NULL || (v = malloc(rec->nsorted * sizeof *v +
	    1)) == NULL) {
		rec->order = rec->plan;
		rec->norder = rec->nplan;
		return;
	}
	for (i = 0; i < rec->nsorted; i++) {
		u = &rec->sorted[i];
		if (n > 0 && u->first - (v[n - 1].first + v[n - 1].n) <=
		    REPLAY_GAP)
			v[n - 1].n = u->first + u->n - v[n - 1].first;
		else
			v[n++] = *u;
	}
	rec->order = v;
	rec->norder = n;
}

/*
 * A reading of c's file of its own, with no read-ahead: a replay's reads
 * name the pages the program will touch and no others, where the kernel
 * would read ahead of each (8 MiB here) and bring in the whole file,
 * while the client's descriptor (which the cache holds) keeps the
 * read-ahead its faults' reads get. Reopened through the cache's
 * descriptor (cache_reopen), of region r's cache. -1 where that fails,
 * and on a file system whose opens may hang (FUSE, NFS: not read inline):
 * the worker would wait in it, and every session of the worker with it.
 */
int
replay_reopen(const struct region *r)
{
	int fd;

	if (!r->read_inline)
		return -1;
	if ((fd = cache_reopen(r->cache)) != -1)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	return fd;
}

/*
 * rec's file reopened for its replay (replay_reopen), held while it
 * replays and charged to the user's descriptors; where either fails, the
 * cache's descriptor serves.
 */
static void
replay_open(struct session *s, struct replay_rec *rec, const struct region *r)
{
	char why[PD_REASON_MAX];

	if (quota_charge(&s->quota, QUOTA_FDS, 1, "working-set replay", why,
	    sizeof why) != 0) {
		log_debug("session %u: %s", s->id, why);
		return;
	}
	if ((rec->fd = replay_reopen(r)) == -1)
		quota_uncharge(&s->quota, QUOTA_FDS, 1);
}

/* Is page of map out of the kernel's page cache, as mincore(2) says? */
static int
replay_page_out(const char *map, uint64_t page)
{
	unsigned char vec;

	return mincore((void *)(uintptr_t)(map + page * page_size), page_size,
	    &vec) == 0 && !(vec & 1);
}

/*
 * Is most of fd's file (pages, or its recorded runs v, n of them) not in
 * the kernel's page cache? Asked of REPLAY_SAMPLE pages spread evenly
 * over those pages (not over the runs: read through their gaps, a few
 * runs may hold the whole file), each as cache_page_cold() asks, or
 * mincore(2) of map where it is not NULL.
 */
static int
replay_sample(int fd, const char *map, uint64_t pages,
    const struct replay_range *v, size_t n)
{
	uint64_t total = 0, before = 0, page, k, want;
	size_t i = 0, cold = 0, asked = 0;

	if (v != NULL)
		for (i = 0; i < n; i++)
			total += v[i].n;
	else
		total = pages;
	for (k = 0, i = 0; k < REPLAY_SAMPLE && k < total; k++) {
		want = k * total / REPLAY_SAMPLE;
		if (v != NULL) {
			while (want >= before + v[i].n)
				before += v[i++].n;
			page = v[i].first + (want - before);
		} else
			page = want;
		if (map != NULL ? replay_page_out(map, page) :
		    cache_page_cold(fd, page * page_size))
			cold++;
		asked++;
	}
	return asked > 0 && cold * 2 > asked;
}

int
replay_cold(int fd, uint64_t pages, const struct replay_range *v, size_t n)
{
	return replay_sample(fd, NULL, pages, v, n);
}

/*
 * replay_cold() of a file whose server may never answer (not read
 * inline: FUSE, NFS), asked through fd (the cache's own) of nothing that
 * goes to that server: mincore(2) of a mapping, where the daemon owns the
 * file (mincore tells no one else); else not cold, as a read that may not
 * wait finds such a file.
 */
int
replay_cold_quiet(int fd, uint64_t pages)
{
	struct stat st;
	void *map;
	int cold;

	if (pages == 0 || region_stat(fd, &st) == -1 || st.st_uid !=
	    geteuid() || (map = mmap(NULL, pages * page_size, PROT_READ,
	    MAP_SHARED, fd, 0)) == MAP_FAILED)
		return 0;
	cold = replay_sample(fd, map, pages, NULL, 0);
	munmap(map, pages * page_size);
	return cold;
}

/*
 * Where rec's file is cold, its replay reads go past the page cache: with
 * O_DIRECT they land in the cache's pages straight from the disk, and no
 * page of the kernel's is allocated, filled and copied on the way (where
 * the file is in the page cache, reading it there is faster than any
 * disk). Only on a local file system, whose reads do not hang, and one
 * that takes O_DIRECT. A cold file's new faults are recorded a page each
 * (replay_window).
 */
static void
replay_direct(struct session *s, struct region *r, struct replay_rec *rec)
{
	int flags;

	if (rec->fd == -1 || rec->direct || !replay_cold(rec->fd,
	    REPLAY_PAGES(rec->size), rec->order, rec->norder))
		return;
	rec->one = 1;
	if (!r->read_inline || (flags = fcntl(rec->fd, F_GETFL)) == -1 ||
	    fcntl(rec->fd, F_SETFL, flags | O_DIRECT) == -1)
		return;
	rec->direct = 1;
	log_debug("session %u: %s is not in the page cache: replayed with "
	    "O_DIRECT", s->id, rec->path);
}

/*
 * A read with O_DIRECT failed as only such a read can (EINVAL: the file
 * system's alignment): the rest go through the page cache.
 */
static void
replay_indirect(struct replay_rec *rec)
{
	int flags;

	if (rec->fd == -1 || !rec->direct ||
	    (flags = fcntl(rec->fd, F_GETFL)) == -1)
		return;
	if (fcntl(rec->fd, F_SETFL, flags & ~O_DIRECT) == 0)
		rec->direct = 0;
}

/* rec's replays are over: its descriptor goes. */
void
replay_close(struct session *s, struct replay_rec *rec)
{
	if (rec->fd == -1)
		return;
	close(rec->fd);
	rec->fd = -1;
	rec->direct = 0;
	quota_uncharge(&s->quota, QUOTA_FDS, 1);
}

/* The run is over: its region and session let go. */
static void
replay_run_end(struct replay_run *run)
{
	struct session *s = run->s;

	worker_timer_del(s->worker, &run->retry);
	if (run->pages > 0 && !s->closing && session_log_allow(s->uid,
	    LOG_INFO))
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
	uint64_t dst = r->start + first * page_size - r->offset;
	uint64_t len = n * page_size;
	int64_t done;

	/*
	 * A munmap cut the region since the read went out: what lies past
	 * its end is a hole or another region now, whose waiters fault again.
	 */
	if (dst + len > r->end) {
		fault_wake(run->s, dst, len);
		len = dst < r->end ? r->end - dst : 0;
	}
	done = len > 0 ? fault_install(run->s, r, FILL_CONTINUE, dst, NULL,
	    len) : 0;
	fault_count(run->s, done, 1);
	if (done > 0)
		run->pages += (uint64_t)done;
	if (fault_install_broken(done)) {
		/*
		 * It cannot succeed (the client's mapping there is not the
		 * region's): the run stops, and the faults that waited for
		 * this read fault again, to fail with SIGBUS on their own.
		 * Said once a run: its reads out may fail the same way.
		 */
		fault_wake(run->s, dst, len);
		run->next = run->rec->norder;
		run->skip = 0;
		if (!run->broken && !run->s->closing &&
		    session_log_allow(run->s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): region %u: replay "
			    "stopped: UFFDIO_CONTINUE at 0x%" PRIx64 ": %s",
			    run->s->id, (int)run->s->pid, run->s->comm, r->id,
			    dst, strerror((int)-done));
		run->broken = 1;
	}
}

static void
replay_read_cqe(struct op *op, const struct io_uring_cqe *cqe)
{
	struct replay_read *rd = container_of(op, struct replay_read, op);
	struct replay_run *run = rd->run;
	struct cache *c = run->r->cache;
	uint64_t good = 0;

	LIST_REMOVE(rd, entry);
	if (cqe->res == -EINVAL)
		replay_indirect(run->rec);
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
	/*
	 * Even when the region went or was cut: faults parked before, in a
	 * part split off from it, wait at these addresses (a move woke them).
	 */
	if (good < rd->n && !run->s->closing)
		fault_wake(run->s, run->r->start + (rd->first + good) *
		    page_size - run->r->offset, (rd->n - good) * page_size);
	cache_unuse(c, rd->first, rd->n);
	run->out--;
	rd->run = NULL;
	replay_pump(run);
}

/*
 * The next pages to bring, within the region, in the plan's order
 * (replay_order): consecutive runs joined, up to a read's worth, and
 * within one 2 MiB window where replay_dense decides the mapping. 0 when
 * the plan is done.
 */
static int
replay_next(struct replay_run *run, uint64_t *first, uint64_t *n)
{
	const struct replay_rec *rec = run->rec;
	const struct region *r = run->r;
	uint64_t lo = r->offset / page_size, hi = lo + (r->end - r->start) /
	    page_size, wp = evict_window_pages(), a, b, end = 0;
	/* Only where the window's density decides (cache_fill_map). */
	int split = r->cache->huge && !evict_fits(r->cache->size);

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
		if (*n == 0) {
			*first = a;
			end = split ? (a / wp + 1) * wp : UINT64_MAX;
		}
		if (b - a > REPLAY_READ_PAGES - *n)
			b = a + REPLAY_READ_PAGES - *n;
		if (b > end)
			b = end;
		*n += b - a;
		run->skip = b - rec->order[run->next].first;
		if (*n == REPLAY_READ_PAGES || b == end)
			return 1;
	}
	return *n > 0;
}

/*
 * Does the run's plan read most of page's 2 MiB window? Then it is read
 * into huge pages whatever the file's size (cache_fill_map): the window
 * is filled at once, not over the time in which eviction would punch a
 * huge page out of a file past its user's share. The reads, at most
 * 1 MiB, never told so by their own size. The plan is in the file's
 * order (replay_order), and so are the run's reads: the window's ranges
 * lie around the one read next.
 */
static int
replay_dense(struct replay_run *run, uint64_t page)
{
	const struct replay_rec *rec = run->rec;
	uint64_t wp = evict_window_pages(), lo = page / wp * wp, a, b, pages;
	size_t i;

	if (run->win == page / wp + 1)
		return run->win_dense;
	pages = 0;
	for (i = run->next < rec->norder ? run->next : rec->norder; i > 0 &&
	    rec->order[i - 1].first + rec->order[i - 1].n > lo; i--)
		;
	for (; i < rec->norder && rec->order[i].first < lo + wp; i++) {
		a = rec->order[i].first > lo ? rec->order[i].first : lo;
		b = rec->order[i].first + rec->order[i].n;
		if (b > lo + wp)
			b = lo + wp;
		if (b > a)
			pages += b - a;
	}
	run->win = page / wp + 1;
	run->win_dense = pages * REPLAY_DENSE_DIV >= wp;
	return run->win_dense;
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
		    c->file_fd, cache_fill_map(c, replay_dense(run, first)) +
		    first * page_size,
		    (unsigned int)(n * page_size), first * page_size);
		io_uring_sqe_set_data(sqe, &rd->op);
		/*
		 * On io_uring's threads, not inline: filling a cache through
		 * its mapping costs a page allocation a page, which both CPUs
		 * share out that way (0.7 s instead of 0.94 for 253 MiB). A
		 * read with O_DIRECT goes inline: it does not wait for the
		 * disk there, and on those threads, each waiting for its own,
		 * 375 MiB took 3.5 s instead of 0.8.
		 */
		if (!run->rec->direct)
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
		replay_open(s, rec, r);
	replay_direct(s, r, rec);
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

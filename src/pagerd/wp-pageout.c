/*
 * Page-out of write-back regions (PAGERD_MAP_WRITEBACK). Their pages are
 * the client's memfd, filled from the backing file, and they count
 * against the page caches' budget (evict.c), which asks for them back
 * (wp_pageout_shrink) in proportion to what they hold. A clean page is
 * punched out of the memfd as a cache window is: the next touch faults
 * and reads it again from the file, which holds what it held. Dirty ones
 * are written back first (wp-writeback.c), which write-protects each
 * page again before it writes it: a write that comes meanwhile faults and
 * makes the page dirty again, and a dirty page is never punched out. The
 * policy is the caches' CLOCK, over windows of the same size: a window
 * faulted in or written since the hand last passed is passed over once.
 *
 * A region of the session's WP_ASYNC userfaultfd (wp-async.c) is paged
 * out otherwise, as the kernel writes its pages without a fault: a page
 * written after the last scan would be punched out unsaved. A window of
 * it is captured whole (wp_pageout_capture): PAGEMAP_SCAN takes the
 * writes so far and protects the pages again; splice(2) from the memfd
 * into two pipes takes a reference to every folio of the window (shmem
 * splices its folios, not copies, since Linux 6.5; PAGEMAP_SCAN needs
 * 6.7); the punch takes the folios out of the memfd and every client's
 * mapping; a second, read-only scan lists the pages written between the
 * two (their entries were writable when zapped, so none is left, while
 * a protected one leaves a marker: the kernel cannot lose a write that
 * way, only list a page too many); and the pipes give the window as the
 * punch left it, writes up to the punch included, since they landed in
 * the folios the pipes hold. Those pages, and the dirty ones, are written
 * to the file before the worker does anything else: a fault in the
 * window after the punch reaches the daemon, which reads it only then.
 * Only whole windows wholly in the file are captured: a punch of part of
 * a huge folio that the pipes hold zeroes it in place instead of taking
 * it out. Chosen over moving the region to fault tracking first (its
 * holes must be filled before the unregister-register gap: the whole
 * region resident, so one larger than the budget cannot be paged out)
 * and over never giving write-back regions WP_ASYNC (a round trip to the
 * daemon for each first write to a page: 3x the time in
 * writeback-pageout-race-test). The writes are synchronous, as the hole
 * fill of wp-async.c: such regions are on file systems whose I/O does
 * not hang (others and store regions are tracked by faults from the
 * start), and a sync after them fsyncs the file even with nothing dirty
 * (unsynced).
 *
 * A region's bitmaps are its worker's: everything here that touches them
 * runs on that worker, and other threads only post it a job. Not paged
 * out: a window with a read out into it (its read would install what the
 * file held before a write-back), nor one a write-back is writing from,
 * nor a region being snapshotted; nor the page that holds the file's end
 * or any past it, which the file does not keep (for an async region: the
 * window that holds it).
 */
#include "config.h"

#include <sys/vfs.h>

#include <linux/magic.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"
#include "wp.h"

/* Windows each region's hand moves a round: regions take turns. */
#define WP_PAGEOUT_ROUND 8

/*
 * Windows a worker captures (and writes back, synchronously) before it
 * serves its other sessions again: 32 MiB of writes at most.
 */
#define WP_PAGEOUT_CAPTURES 16

/* The capture pipes of a worker: each holds half a window. */
#define WP_PAGEOUT_PIPES 2

/* The most pages a window has (the smallest page size). */
#define WP_PAGEOUT_WINDOW_MAX (PAGERD_EVICT_WINDOW / 4096)

/*
 * One worker's job: page out its regions down to the target; and what it
 * captures async regions' windows with (empty pipes between captures).
 */
struct wp_pageout_job {
	struct job job;
	int posted;		/* atomic: on the worker's queue */
	int pipe[WP_PAGEOUT_PIPES][2];	/* read end, write end; -1: none */
	char *buf;		/* a window's bytes, read out of the pipes */
	unsigned int captured;	/* windows, this turn of the worker's */
	struct timer more;	/* the next turn, after the round's events */
};

static uint64_t wp_pageout_held;	/* present pages, every region */
static int wp_pageout_can_capture;	/* every worker has its pipes */
static uint64_t wp_pageout_target;	/* what they should come down to */
static struct wp_pageout_job *wp_pageout_jobs;	/* one a worker */

static void wp_pageout_job_run(struct worker *, struct job *);
static void wp_pageout_more(struct worker *, struct timer *);
static void wp_pageout_shrink(uint64_t);

/* Pages of write-back regions present in their memfds, every worker. */
static uint64_t
wp_pageout_pages(void)
{
	return __atomic_load_n(&wp_pageout_held, __ATOMIC_RELAXED);
}

static const struct evict_pool wp_pageout_pool = {
	.pages = wp_pageout_pages,
	.shrink = wp_pageout_shrink,
};

/*
 * A worker's capture pipes, half a window each (made at start, while the
 * daemon may still pass the per-user pipe quota): 0, or -1 and why.
 */
static int
wp_pageout_pipes(struct wp_pageout_job *pj, const char **why)
{
	size_t half = PAGERD_EVICT_WINDOW / WP_PAGEOUT_PIPES;
	int i, size;

	for (i = 0; i < WP_PAGEOUT_PIPES; i++) {
		if (pipe2(pj->pipe[i], O_CLOEXEC | O_NONBLOCK) == -1) {
			pj->pipe[i][0] = pj->pipe[i][1] = -1;
			*why = "pipe2 failed";
			return -1;
		}
		size = fcntl(pj->pipe[i][1], F_SETPIPE_SZ, (int)half);
		if (size == -1 || (size_t)size < half) {
			*why = "pipes of 1 MiB refused (fs.pipe-max-size, "
			    "fs.pipe-user-pages-soft?)";
			return -1;
		}
	}
	if ((pj->buf = malloc(PAGERD_EVICT_WINDOW)) == NULL)
		fatal("malloc");
	return 0;
}

/* At start, once the workers are made. */
void
wp_pageout_init(void)
{
	const char *why = NULL;
	int i, j, ok = 1;

	if ((wp_pageout_jobs = calloc((size_t)nworkers,
	    sizeof *wp_pageout_jobs)) == NULL)
		fatal("calloc");
	for (i = 0; i < nworkers; i++) {
		wp_pageout_jobs[i].job.run = wp_pageout_job_run;
		wp_pageout_jobs[i].more.run = wp_pageout_more;
		for (j = 0; j < WP_PAGEOUT_PIPES; j++)
			wp_pageout_jobs[i].pipe[j][0] =
			    wp_pageout_jobs[i].pipe[j][1] = -1;
		if (ok && wp_pageout_pipes(&wp_pageout_jobs[i], &why) != 0)
			ok = 0;
	}
	wp_pageout_can_capture = ok;
	if (!ok)
		log_info("write-back regions are tracked by write faults, not "
		    "by the kernel (wp-async): page-out cannot capture their "
		    "windows: %s", why);
	evict_add_pool(&wp_pageout_pool);
}

/*
 * Can page-out capture r's windows (an async region of a backing file
 * the worker writes itself)?
 */
int
wp_pageout_capturable(const struct region *r)
{
	return wp_pageout_can_capture && r->backing == PD_BACKING_FILE &&
	    r->fd != -1;
}

/*
 * n pages of r came into its memfd (add) or left it. Past the budget,
 * eviction follows: the worker that brings pages in is the one slowed.
 */
void
wp_pageout_present(struct region *r, uint64_t n, int add)
{
	if (!add && n > r->wp->npresent)
		n = r->wp->npresent;
	if (n == 0 || !(r->flags & PD_REGION_WRITEBACK))
		return;
	if (!add) {
		r->wp->npresent -= n;
		__atomic_fetch_sub(&wp_pageout_held, n, __ATOMIC_RELAXED);
		return;
	}
	r->wp->npresent += n;
	__atomic_fetch_add(&wp_pageout_held, n, __ATOMIC_RELAXED);
	evict_added();
}

/* Page p of r was faulted in or written: its window is in use. */
void
wp_pageout_used(struct region *r, uint64_t p)
{
	if (r->wp->referenced != NULL)
		r->wp->referenced[p / evict_window_pages()] = 1;
}

/* Does window w of wp hold a page? */
static int
wp_pageout_window_present(const struct wp_region *wp, uint64_t w)
{
	uint64_t wpages = evict_window_pages(), i, end = (w + 1) * wpages;

	if (end > wp->npages)
		end = wp->npages;
	for (i = w * wpages; i < end; i++)
		if (bit_test(wp->present, i))
			return 1;
	return 0;
}

/* Are the regions past their target? */
static int
wp_pageout_over(void)
{
	return wp_pageout_pages() > __atomic_load_n(&wp_pageout_target,
	    __ATOMIC_RELAXED);
}

/* Is a read out into [first, end) of r (pages)? Its install would win. */
static int
wp_pageout_reading(const struct session *s, const struct region *r,
    uint64_t first, uint64_t end)
{
	uint64_t start = r->start + first * page_size;
	uint64_t stop = r->start + end * page_size;
	const struct fault_io *io;
	int i;

	for (i = 0; i < opts.queue_depth; i++) {
		io = &s->worker->ios[i];
		if (io->s == s && io->r == r && io->addr < stop &&
		    io->addr + io->len > start)
			return 1;
	}
	return 0;
}

/*
 * Punch the clean pages of window w of r out of its memfd: how many went.
 * *dirty is set where a dirty page kept the window.
 */
static uint64_t
wp_pageout_window(struct session *s, struct region *r, uint64_t w,
    int *dirty)
{
	struct wp_region *wp = r->wp;
	uint64_t wpages = evict_window_pages(), first = w * wpages, end, p, run;
	uint64_t fend = r->file_size > r->offset ? r->file_size - r->offset : 0;
	uint64_t freed = 0;

	/* Pages wholly in the file: the rest would come back as zeros. */
	end = first + wpages;
	if (end > wp->npages)
		end = wp->npages;
	if (end > fend / page_size)
		end = fend / page_size;
	if (first >= end || wp->writing[w] != 0 ||
	    wp_pageout_reading(s, r, first, end))
		return 0;
	for (p = first; p < end; p = run) {
		if (!bit_test(wp->present, p) || bit_test(wp->dirty, p)) {
			if (bit_test(wp->dirty, p))
				*dirty = 1;
			run = p + 1;
			continue;
		}
		for (run = p; run < end && bit_test(wp->present, run) &&
		    !bit_test(wp->dirty, run); run++)
			bit_clear(wp->present, run);
		if (fallocate(wp->memfd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)(p * page_size),
		    (off_t)((run - p) * page_size)) == -1) {
			if (session_log_allow(s->uid, LOG_WARNING))
				log_warn("session %u: pid %d (%s): region %u: "
				    "punching its memfd at page %" PRIu64 "; "
				    "its pages are kept from now on", s->id,
				    (int)s->pid, s->comm, r->id, p);
			for (; p < run; p++)
				bit_set(wp->present, p);
			wp->pageout_failed = 1;
			break;
		}
		freed += run - p;
	}
	wp_pageout_present(r, freed, 0);
	evict_pool_freed(freed);
	return freed;
}

/* Pages of a window by bit; start: the window's address, for a scan. */
struct wp_pageout_seen {
	uint64_t start;
	uint64_t n;
	unsigned long bits[BITMAP_WORDS(WP_PAGEOUT_WINDOW_MAX)];
};

/* Pages [start, end) were written since the capture's first scan. */
static void
wp_pageout_rewritten(void *arg, uint64_t start, uint64_t end)
{
	struct wp_pageout_seen *seen = arg;
	uint64_t a;

	for (a = start; a < end; a += page_size)
		if (a >= seen->start && a < seen->start + seen->n * page_size)
			bit_set(seen->bits, (a - seen->start) / page_size);
}

/* Empty pj's pipes (a capture that stopped before reading them out). */
static void
wp_pageout_drain(struct wp_pageout_job *pj)
{
	int i;

	for (i = 0; i < WP_PAGEOUT_PIPES; i++)
		while (read(pj->pipe[i][0], pj->buf, PAGERD_EVICT_WINDOW /
		    WP_PAGEOUT_PIPES) > 0)
			;
}

/*
 * Move len bytes of fd at off through pipe end from (splice) or into buf
 * (read): 0, or -errno.
 */
static int
wp_pageout_move(int fd, off_t off, int to, char *buf, size_t len)
{
	size_t done = 0;
	loff_t at = off;
	ssize_t n;

	while (done < len) {
		if (buf == NULL)
			n = splice(fd, &at, to, NULL, len - done,
			    SPLICE_F_NONBLOCK);
		else
			n = read(fd, buf + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -EIO : -errno;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Write pages of buf (page first of r onwards) that bits marks to r's
 * file (put) or back into its memfd: 0, or -errno.
 */
static int
wp_pageout_put(struct region *r, const char *buf, uint64_t first,
    const unsigned long *bits, uint64_t n, int tofile)
{
	uint64_t p, run;
	size_t done, len;
	ssize_t got;
	off_t at;

	for (p = 0; p < n; p = run) {
		if (!bit_test(bits, p)) {
			run = p + 1;
			continue;
		}
		for (run = p; run < n && bit_test(bits, run); run++)
			;
		len = (size_t)(run - p) * page_size;
		at = (off_t)((first + p) * page_size);
		for (done = 0; done < len; done += (size_t)got) {
			got = pwrite(tofile ? r->fd : r->wp->memfd, buf +
			    p * page_size + done, len - done, at + (off_t)done +
			    (tofile ? (off_t)r->offset : 0));
			if (got == -1 && errno == EINTR)
				got = 0;
			else if (got <= 0)
				return got == 0 ? -EIO : -errno;
		}
	}
	return 0;
}

/*
 * Page out window w of async region r, as this file's header says: the
 * pages it freed. The worker does nothing else meanwhile, so that no
 * fault in the window is served before its writes are in the file.
 */
static uint64_t
wp_pageout_capture(struct session *s, struct region *r, uint64_t w)
{
	struct wp_pageout_job *pj = &wp_pageout_jobs[s->worker->index];
	struct wp_region *wp = r->wp;
	uint64_t wpages = evict_window_pages(), first = w * wpages, p;
	uint64_t fend = r->file_size > r->offset ? r->file_size - r->offset : 0;
	uint64_t start = r->start + first * page_size, freed = 0, written = 0;
	size_t half = PAGERD_EVICT_WINDOW / WP_PAGEOUT_PIPES;
	struct wp_pageout_seen had = { .n = wpages }, put = { .n = wpages };
	struct wp_pageout_seen again = { .start = start, .n = wpages };
	struct statfs sfs;
	const char *what;
	int error, i;

	if (wpages > WP_PAGEOUT_WINDOW_MAX || first + wpages > wp->npages ||
	    (first + wpages) * page_size > fend || wp->writing[w] != 0 ||
	    wp_pageout_reading(s, r, first, first + wpages))
		return 0;
	/*
	 * A memfd of huge pages (hugetlbfs) splices copies, not references,
	 * and its punch zeroes what it cannot free: only shmem is captured.
	 */
	if (fstatfs(wp->memfd, &sfs) == -1 || sfs.f_type != TMPFS_MAGIC) {
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): region %u: its "
			    "memfd is not shmem: not paged out", s->id,
			    (int)s->pid, s->comm, r->id);
		wp->pageout_failed = 1;
		return 0;
	}
	/* The writes so far, the pages protected again. */
	if ((error = wp_async_scan_range(s, r, start, start + wpages *
	    page_size)) != 0) {
		/* (It said why.) Not again at every round. */
		if (error != -ESRCH)
			wp->pageout_failed = 1;
		return 0;
	}
	/* A reference to each folio of the window, in the pipes. */
	for (i = 0; i < WP_PAGEOUT_PIPES; i++)
		if ((error = wp_pageout_move(wp->memfd, (off_t)(first *
		    page_size + i * half), pj->pipe[i][1], NULL, half)) != 0) {
			if (session_log_allow(s->uid, LOG_WARNING))
				log_warnx("session %u: pid %d (%s): region "
				    "%u: splice of its memfd at page %" PRIu64
				    ": %s; its pages are kept from now on",
				    s->id, (int)s->pid, s->comm, r->id, first,
				    strerror(-error));
			wp->pageout_failed = 1;
			wp_pageout_drain(pj);
			return 0;
		}
	for (p = 0; p < wpages; p++)
		if (bit_test(wp->present, first + p)) {
			bit_set(had.bits, p);
			bit_clear(wp->present, first + p);
			freed++;
		}
	if (fallocate(wp->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)(first * page_size), (off_t)(wpages * page_size)) == -1) {
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warn("session %u: pid %d (%s): region %u: punching "
			    "its memfd at page %" PRIu64 "; its pages are kept "
			    "from now on", s->id, (int)s->pid, s->comm, r->id,
			    first);
		for (p = 0; p < wpages; p++)
			if (bit_test(had.bits, p))
				bit_set(wp->present, first + p);
		wp->pageout_failed = 1;
		wp_pageout_drain(pj);
		return 0;
	}
	/* Written since the first scan; all of them if it cannot tell. */
	if (uffd_scan_written(s->pagemap, start, start + wpages * page_size, 0,
	    wp_pageout_rewritten, &again) != 0)
		memset(again.bits, 0xff, sizeof again.bits);
	for (p = 0; p < wpages; p++) {
		if (!bit_test(had.bits, p) || (!bit_test(again.bits, p) &&
		    !bit_test(wp->dirty, first + p)))
			continue;
		bit_set(put.bits, p);
		written++;
	}
	error = 0;
	for (i = 0; i < WP_PAGEOUT_PIPES && error == 0; i++)
		error = wp_pageout_move(pj->pipe[i][0], 0, -1, pj->buf + i *
		    half, half);
	what = "reading the pipes";
	if (error == 0) {
		what = "writing its pages back";
		error = wp_pageout_put(r, pj->buf, first, put.bits, wpages, 1);
	}
	if (error != 0) {
		wp_pageout_drain(pj);
		/* Back into the memfd, as they were, and dirty. */
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): region %u: paging "
			    "out page %" PRIu64 ": %s: %s; its pages are kept "
			    "from now on", s->id, (int)s->pid, s->comm, r->id,
			    first, what, strerror(-error));
		wp->pageout_failed = 1;
		if (wp_pageout_put(r, pj->buf, first, had.bits, wpages, 0) !=
		    0 && session_log_allow(s->uid, LOG_WARNING))
			log_warn("session %u: pid %d (%s): region %u: %" PRIu64
			    " written pages at page %" PRIu64 " are lost",
			    s->id, (int)s->pid, s->comm, r->id, written, first);
		for (p = 0; p < wpages; p++) {
			if (bit_test(had.bits, p))
				bit_set(wp->present, first + p);
			if (bit_test(put.bits, p) && !bit_test(wp->dirty,
			    first + p)) {
				bit_set(wp->dirty, first + p);
				wp->ndirty++;
			}
		}
		return 0;
	}
	for (p = 0; p < wpages; p++)
		if (bit_test(wp->dirty, first + p)) {
			bit_clear(wp->dirty, first + p);
			wp->ndirty--;
		}
	if (written > 0) {
		wp->unsynced = 1;
		STAT_COUNT(s, pages_written, written);
	}
	pj->captured++;
	wp_pageout_present(r, freed, 0);
	evict_pool_freed(freed);
	return freed;
}

/*
 * A round of CLOCK on r: its hand looks at WP_PAGEOUT_ROUND windows that
 * hold pages. Dirty ones found are written back, to go at a later round.
 * Returns whether it evicted or aged a window.
 */
static int
wp_pageout_clock(struct session *s, struct region *r)
{
	struct wp_pageout_job *pj = &wp_pageout_jobs[s->worker->index];
	struct wp_region *wp = r->wp;
	uint64_t i, w, looked = 0;
	int changed = 0, dirty = 0;

	if (r->dead || !(r->flags & PD_REGION_WRITEBACK) || wp == NULL ||
	    ((r->flags & PD_REGION_ASYNC) && !wp_pageout_capturable(r)) ||
	    wp->npresent == 0 || wp->snap != NULL || wp->pageout_failed)
		return 0;
	for (i = 0; i < wp->nwindows && looked < WP_PAGEOUT_ROUND &&
	    pj->captured < WP_PAGEOUT_CAPTURES && wp_pageout_over(); i++) {
		w = wp->hand;
		wp->hand = (wp->hand + 1) % wp->nwindows;
		if (!wp_pageout_window_present(wp, w))
			continue;
		looked++;
		if (wp->referenced[w]) {
			wp->referenced[w] = 0;
			changed = 1;
			continue;
		}
		if (r->flags & PD_REGION_ASYNC) {
			if (wp_pageout_capture(s, r, w) > 0)
				changed = 1;
		} else if (wp_pageout_window(s, r, w, &dirty) > 0)
			changed = 1;
	}
	if (dirty && wp->syncs == 0) {
		log_debug("session %u: region %u: %" PRIu64 " dirty pages "
		    "written back to be paged out", s->id, r->id, wp->ndirty);
		wp->pageout_sync = 1;
		wp_writeback_pageout(s, r);
	}
	return changed;
}

/*
 * Page out w's write-back regions down to the target: CLOCK rounds until
 * then, or until a round changes nothing (what is left is in use, dirty
 * or being written back), or the hands have gone round often enough that
 * every window was passed over once.
 */
static void
wp_pageout_worker(struct worker *w)
{
	struct wp_pageout_job *pj = &wp_pageout_jobs[w->index];
	uint64_t rounds = 0, most = 0;
	struct session *s;
	size_t i;
	int changed;

	pj->captured = 0;
	while (wp_pageout_over()) {
		changed = 0;
		TAILQ_FOREACH(s, &w->sessions, entry)
			for (i = 0; i < s->nregions && !s->closing; i++) {
				if (s->regions[i]->wp != NULL &&
				    s->regions[i]->wp->nwindows > most)
					most = s->regions[i]->wp->nwindows;
				changed |= wp_pageout_clock(s, s->regions[i]);
			}
		if (!changed || ++rounds > (most / WP_PAGEOUT_ROUND + 1) * 2)
			break;
		/* Faults of other sessions first, then on from here. */
		if (pj->captured >= WP_PAGEOUT_CAPTURES) {
			worker_timer_add(w, &pj->more, 0);
			break;
		}
	}
}

static void
wp_pageout_more(struct worker *w, struct timer *t)
{
	(void)t;
	wp_pageout_worker(w);
}

static void
wp_pageout_job_run(struct worker *w, struct job *j)
{
	struct wp_pageout_job *pj = container_of(j, struct wp_pageout_job,
	    job);

	__atomic_store_n(&pj->posted, 0, __ATOMIC_RELEASE);
	wp_pageout_worker(w);
}

/*
 * Eviction asks the write-back regions for want pages back (any thread):
 * each worker pages out its own, on its own thread.
 */
static void
wp_pageout_shrink(uint64_t want)
{
	uint64_t held = wp_pageout_pages();
	int i;

	__atomic_store_n(&wp_pageout_target, held > want ? held - want : 0,
	    __ATOMIC_RELAXED);
	for (i = 0; i < nworkers; i++)
		if (!__atomic_exchange_n(&wp_pageout_jobs[i].posted, 1,
		    __ATOMIC_ACQUIRE))
			worker_post(&workers[i], &wp_pageout_jobs[i].job);
}

/*
 * A fault that would bring a page into r while its dirty pages are being
 * written back for page-out, close to the budget, waits for the end of
 * that write-back (1): the fault is not answered, and the faulting
 * thread is woken to fault again then, as the kernel makes a writer wait
 * for write-back under its dirty limit. Else 0: serve it.
 */
int
wp_pageout_wait(struct session *s, struct region *r)
{
	if (!r->wp->pageout_sync || !evict_tight())
		return 0;
	if (!r->wp->throttled)
		log_debug("session %u: region %u: faults wait for its "
		    "write-back, close to the budget", s->id, r->id);
	r->wp->throttled = 1;
	return 1;
}

/*
 * A write-back for page-out ended (ok: on the disk): its pages that were
 * not written again meanwhile are clean now and may go; the faults that
 * waited for it are tried again. One that failed left its pages dirty:
 * the region is no longer paged out, and its writes are not lost.
 */
void
wp_pageout_written(struct session *s, struct region *r, int ok)
{
	r->wp->pageout_sync = 0;
	if (!ok)
		r->wp->pageout_failed = 1;
	else if (!s->closing && !r->dead)
		wp_pageout_worker(s->worker);
	if (r->wp->throttled && !s->closing) {
		r->wp->throttled = 0;
		fault_wake(s, r->start, r->end - r->start);
	}
}

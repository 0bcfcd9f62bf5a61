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
 * A region's bitmaps are its worker's: everything here that touches them
 * runs on that worker, and other threads only post it a job. Not paged
 * out: a region of a WP_ASYNC userfaultfd, whose writes are not seen as
 * they come (wp-async.c), a window with a read out into it (its read would install what the
 * file held before a write-back), nor one a write-back is writing from,
 * nor a region being snapshotted; nor the page that holds the file's end
 * or any past it, which the file does not keep.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>

#include "log.h"
#include "pagerd.h"
#include "wp.h"

/* Windows each region's hand moves a round: regions take turns. */
#define WP_PAGEOUT_ROUND 8

/* One worker's job: page out its regions down to the target. */
struct wp_pageout_job {
	struct job job;
	int posted;		/* atomic: on the worker's queue */
};

static uint64_t wp_pageout_held;	/* present pages, every region */
static uint64_t wp_pageout_target;	/* what they should come down to */
static struct wp_pageout_job *wp_pageout_jobs;	/* one a worker */

static void wp_pageout_job_run(struct worker *, struct job *);
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

/* At start, once the workers are made. */
void
wp_pageout_init(void)
{
	int i;

	if ((wp_pageout_jobs = calloc((size_t)nworkers,
	    sizeof *wp_pageout_jobs)) == NULL)
		fatal("calloc");
	for (i = 0; i < nworkers; i++)
		wp_pageout_jobs[i].job.run = wp_pageout_job_run;
	evict_add_pool(&wp_pageout_pool);
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
	if (n == 0 || !(r->flags & PD_REGION_WRITEBACK) ||
	    (add && (r->flags & PD_REGION_ASYNC)))
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
			log_warn("session %u: pid %d (%s): region %u: punching "
			    "its memfd at page %" PRIu64 "; its pages are kept "
			    "from now on", s->id, (int)s->pid, s->comm, r->id, p);
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

/*
 * A round of CLOCK on r: its hand looks at WP_PAGEOUT_ROUND windows that
 * hold pages. Dirty ones found are written back, to go at a later round.
 * Returns whether it evicted or aged a window.
 */
static int
wp_pageout_clock(struct session *s, struct region *r)
{
	struct wp_region *wp = r->wp;
	uint64_t i, w, looked = 0;
	int changed = 0, dirty = 0;

	if (r->dead || !(r->flags & PD_REGION_WRITEBACK) ||
	    (r->flags & PD_REGION_ASYNC) || wp == NULL || wp->npresent == 0 ||
	    wp->snap != NULL || wp->pageout_failed)
		return 0;
	for (i = 0; i < wp->nwindows && looked < WP_PAGEOUT_ROUND &&
	    wp_pageout_over(); i++) {
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
		if (wp_pageout_window(s, r, w, &dirty) > 0)
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
	uint64_t rounds = 0, most = 0;
	struct session *s;
	size_t i;
	int changed;

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
	}
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

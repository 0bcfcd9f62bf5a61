/*
 * Description: the kernel's uffd-stress idea on pagerd. One client maps a
 * zero region and a file region; one thread per CPU (at least 4) takes
 * random pages for a few seconds and, for each, takes a spinlock that
 * lives inside the page, bumps a counter in the page and a shadow counter
 * in ordinary memory, and releases the lock. The first half's read-ahead
 * windows are first touched by every thread at once (in step, a window at
 * a time), so the daemon's window installs race one another and the
 * EEXIST path runs however the threads are scheduled; the second half's
 * are first touched at random. Afterwards every page's counter
 * equals its shadow (no lost update, no page installed twice over
 * written data), the file region's bytes equal the file, and the daemon's
 * totals show installs that found their page present.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed000eull
#define PAGE 4096u
#define NPAGES 4096u		/* 16 MiB of zero region */
#define FILE_SIZE (16u << 20)
#define SECONDS 3
#define WINDOW 16u		/* pages: the daemon's default read-ahead */

struct page_head {
	int lock;		/* a spinlock inside the faulting page */
	uint64_t count;
};

static unsigned char *zero;
static unsigned char *file;
static uint64_t *shadow;
static int stop;
static pthread_barrier_t step;

static void
page_lock(int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			;
}

static void
page_unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

/* One locked update of page p's counter and its shadow. */
static void
update(uint64_t p)
{
	struct page_head *h = (struct page_head *)(void *)(zero + p * PAGE);

	page_lock(&h->lock);
	h->count++;
	__atomic_add_fetch(&shadow[p], 1, __ATOMIC_RELAXED);
	page_unlock(&h->lock);
}

static void *
worker(void *arg)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1), p, w, off;
	int64_t win;

	/*
	 * In step: every thread writes the first page of the same untouched
	 * window at once. The first fault installs the window; the others'
	 * messages, already sent, find it present. Backwards, so that no
	 * fault is the next of a sequential stream (its window would grow
	 * and take the next ones' first touch).
	 */
	for (win = NPAGES / WINDOW / 2 - 1; win >= 0; win--) {
		pthread_barrier_wait(&step);
		update((uint64_t)win * WINDOW);
	}
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p = x % NPAGES;
		update(p);
		/* A read of the file region, checked against the file. */
		off = (x >> 20) % (FILE_SIZE / 8) * 8;
		memcpy(&w, file + off, 8);
		CHECKF(w == harness_word(off, SEED), "file offset %" PRIu64
		    ": 0x%" PRIx64, off, w);
	}
	return NULL;
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	struct pagerd *pd;
	pthread_t t[16];
	char path[512];
	uint64_t p, total = 0, count;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int i, nthreads, fd;

	nthreads = ncpu < 4 ? 4 : ncpu > 16 ? 16 : (int)ncpu;
	harness_start(&d, NULL);
	harness_make_file(&d, "file", FILE_SIZE, SEED, path, sizeof path);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, NPAGES * PAGE, PROT_READ | PROT_WRITE, 0,
	    (void **)&zero) == 0, "map zero: %s", pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, FILE_SIZE, PROT_READ, 0,
	    (void **)&file) == 0, "map file: %s", pagerd_errmsg());
	close(fd);
	CHECK((shadow = calloc(NPAGES, sizeof *shadow)) != NULL);

	CHECK(pthread_barrier_init(&step, NULL, (unsigned int)nthreads) == 0);
	for (i = 0; i < nthreads; i++)
		CHECK(pthread_create(&t[i], NULL, worker,
		    (void *)(uintptr_t)i) == 0);
	sleep(SECONDS);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);

	for (p = 0; p < NPAGES; p++) {
		count = ((struct page_head *)(void *)(zero + p * PAGE))->count;
		CHECKF(count == shadow[p], "page %" PRIu64 ": counter %" PRIu64
		    ", shadow %" PRIu64, p, count, shadow[p]);
		total += count;
	}
	harness_check_range(file, 0, FILE_SIZE, SEED, UINT64_MAX);
	harness_control_stats(d.sock, &sr);
	printf("%d threads, %" PRIu64 " locked updates, %" PRIu64 " faults, "
	    "%" PRIu64 " installs found their page present\n", nthreads, total,
	    sr.counters.faults, sr.counters.eexist);
	CHECKF(sr.counters.eexist > 0, "no install raced another: the "
	    "EEXIST path did not run");
	pagerd_close(pd);
	pthread_barrier_destroy(&step);
	free(shadow);
	harness_stop(&d);
	return 0;
}

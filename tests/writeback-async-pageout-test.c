/*
 * Description: page-out of a write-back region whose writes the kernel
 * tracks (WP_ASYNC) loses no write. The region's resident pages count in
 * the daemon's held total (pagerctl status) first; then, under
 * cache-max-mib 8, four threads write random pages of a 48 MiB region
 * for a few seconds without a pause, each page a new stamp every time,
 * while the daemon captures and punches windows out under them: a write
 * lands before a window's scan, between its scan and its punch, or after
 * the punch (it faults the page in again). Every page must then read its
 * last stamp, and after pagerd_sync() so must the file.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
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
#include "writeback-harness.h"

#define SEED 0xa5f0c3e1ull
#define SIZE (48ull << 20)
#define THREADS 4
#define SECONDS 4
#define TOUCHED (4ull << 20)	/* read first, to be counted */

static struct harness_daemon d;
static unsigned char *region;
static size_t page;
static uint32_t last[SIZE / 4096];	/* each page's last stamp, 0: none */
static int stop;

/* What a page holds after its write number k (k > 0). */
static uint64_t
stamp(uint64_t pg, uint32_t k)
{
	return harness_word(pg * page, SEED) ^ ((uint64_t)k << 32) ^ 0x5a5a;
}

/*
 * Thread t writes random pages of its own (pg % THREADS == t), whole,
 * until told to stop: the first word last, so that a page torn by a lost
 * write shows.
 */
static void *
writer(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg, n = SIZE / page / THREADS;
	uint64_t seed = 0x2545f4914f6cdd1dull * (t + 1), pg, w, j;
	uint32_t k = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		pg = t + ((seed >> 29) % n) * THREADS;
		k++;
		w = stamp(pg, k);
		for (j = page - 8;; j -= 8) {
			memcpy(region + pg * page + j, &w, 8);
			if (j == 0)
				break;
		}
		last[pg] = k;
	}
	return NULL;
}

int
main(void)
{
	struct pd_stats_reply sr;
	struct pagerd *pd;
	pthread_t t[THREADS];
	char path[512];
	volatile unsigned char sink;
	uint64_t pg, i, written;
	int64_t bad;
	int fd;

	page = (size_t)sysconf(_SC_PAGESIZE);
	CHECK(page == 4096);
	harness_start_conf(&d, "cache-max-mib 8\n");
	region = harness_map_writeback_async(&d, SIZE, SEED, &pd, &fd, path,
	    sizeof path);
	harness_writeback_stamps(last, stamp, SEED, page);

	/* Resident pages of the region are held against the budget. */
	for (i = 0; i < TOUCHED; i += page)
		sink = region[i];
	(void)sink;
	harness_control_stats(d.sock, &sr);
	CHECKF(sr.cache_held >= TOUCHED, "%" PRIu64 " KiB of the region "
	    "resident, %" PRIu64 " KiB held: its pages are not counted",
	    (uint64_t)(TOUCHED >> 10), sr.cache_held >> 10);

	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, writer,
		    (void *)(uintptr_t)i) == 0);
	sleep(SECONDS);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	for (pg = 0, written = 0; pg < SIZE / page; pg++) {
		written += last[pg];
		bad = harness_writeback_stamped(region + pg * page,
		    pg * page, page);
		CHECKF(bad == -1, "the region reads wrong at 0x%" PRIx64
		    " (page written %u times)", (uint64_t)bad, last[pg]);
	}
	harness_control_stats(d.sock, &sr);
	printf("%" PRIu64 " page writes; %" PRIu64 " KiB paged out, %" PRIu64
	    " pages written back, %" PRIu64 " KiB held\n", written,
	    sr.cache_evicted >> 10, sr.counters.pages_written,
	    sr.cache_held >> 10);
	CHECKF(sr.cache_evicted >= SIZE, "only %" PRIu64 " KiB paged out: "
	    "the writes did not race page-out", sr.cache_evicted >> 10);
	CHECKF(sr.counters.pages_written > 0, "page-out wrote nothing back");

	harness_writeback_end(&d, pd, region, fd, path, SIZE,
	    harness_writeback_stamped);
	return 0;
}

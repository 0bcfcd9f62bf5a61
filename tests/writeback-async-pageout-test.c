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

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "writeback-harness.h"

#define SEED 0xa5f0c3e1ull
#define SIZE (48ull << 20)
#define PAGE 4096u
#define THREADS 4
#define SECONDS 4
#define TOUCHED (4ull << 20)	/* read first, to be counted */

static struct harness_writeback w;
static uint32_t last[SIZE / PAGE];	/* each page's last stamp, 0: none */
static int stop;

/* What a page holds after its write number k (k > 0). */
static uint64_t
stamp(uint64_t pg, uint32_t k)
{
	return harness_word(pg * PAGE, SEED) ^ ((uint64_t)k << 32) ^ 0x5a5a;
}

/*
 * Thread t writes random pages of its own (pg % THREADS == t), whole,
 * until told to stop: the first word last, so that a page torn by a lost
 * write shows.
 */
static void *
writer(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg, n = SIZE / PAGE / THREADS;
	uint64_t seed = 0x2545f4914f6cdd1dull * (t + 1), pg, v, j;
	uint32_t k = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		pg = t + ((seed >> 29) % n) * THREADS;
		k++;
		v = stamp(pg, k);
		for (j = PAGE - 8;; j -= 8) {
			memcpy(w.region + pg * PAGE + j, &v, 8);
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
	volatile unsigned char sink;
	uint64_t pg, i, written;

	harness_writeback_start(&w, "cache-max-mib 8\n", SIZE, SEED, 1);
	harness_writeback_stamps(last, stamp, SEED);

	/* Resident pages of the region are held against the budget. */
	for (i = 0; i < TOUCHED; i += PAGE)
		sink = w.region[i];
	(void)sink;
	harness_control_stats(w.d.sock, &sr);
	CHECKF(sr.cache_held >= TOUCHED, "%" PRIu64 " KiB of the region "
	    "resident, %" PRIu64 " KiB held: its pages are not counted",
	    (uint64_t)(TOUCHED >> 10), sr.cache_held >> 10);

	harness_writeback_writers(THREADS, writer, SECONDS, &stop);
	harness_writeback_check_stamps(&w, "after the writes");
	for (pg = 0, written = 0; pg < SIZE / PAGE; pg++)
		written += last[pg];
	printf("%" PRIu64 " page writes\n", written);
	harness_writeback_raced(&w, &sr);
	CHECKF(sr.counters.pages_written > 0, "page-out wrote nothing back");

	harness_writeback_end(&w, harness_writeback_stamped);
	return 0;
}

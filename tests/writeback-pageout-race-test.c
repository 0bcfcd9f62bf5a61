/*
 * Description: writes that race page-out of a write-back region are never
 * lost. A 48 MiB write-back region under cache-max-mib 8 is written by
 * four threads at once, each its own pages in a random order, several
 * rounds, every write a new stamp of (page, round): page-out writes
 * dirty pages back and punches clean ones out all the while, so writes
 * land on pages being written back, just written back, or just punched
 * out (the write then faults the page in again). Each page must then
 * read its last stamp, and after pagerd_sync() so must the file.
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
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "writeback-harness.h"

#define SEED 0x5eedace5ull
#define SIZE (48ull << 20)
#define THREADS 4
#define ROUNDS 3

static struct harness_daemon d;
static unsigned char *region;
static size_t page;
static uint32_t last[SIZE / 4096];	/* each page's last round, 0: none */

/* What a page holds after round r wrote it: its stamp in every word. */
static uint64_t
stamp(uint64_t pg, uint32_t r)
{
	return harness_word(pg * page, SEED) ^ ((uint64_t)r << 56);
}

/* Thread t writes pages t, t + THREADS, ... in a random order a round. */
static void *
writer(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg, n = SIZE / page / THREADS;
	uint64_t *order, i, j, tmp, w, pg, seed = 0x9e3779b9u * (t + 1);
	uint32_t r;

	CHECK((order = malloc(n * sizeof *order)) != NULL);
	for (i = 0; i < n; i++)
		order[i] = t + i * THREADS;
	for (r = 1; r <= ROUNDS; r++) {
		for (i = n - 1; i > 0; i--) {
			seed = seed * 6364136223846793005ull +
			    1442695040888963407ull;
			j = (seed >> 33) % (i + 1);
			tmp = order[i];
			order[i] = order[j];
			order[j] = tmp;
		}
		/* A round writes three pages in four, not always the same. */
		for (i = 0; i < n; i++) {
			pg = order[i];
			if ((pg + r) % 4 == 0)
				continue;
			w = stamp(pg, r);
			for (j = 0; j < page; j += 8)
				memcpy(region + pg * page + j, &w, 8);
			last[pg] = r;
		}
	}
	free(order);
	return NULL;
}

int
main(void)
{
	struct pd_stats_reply sr;
	struct pagerd *pd;
	pthread_t t[THREADS];
	char path[512];
	uint64_t pg, i;
	int64_t bad;
	int fd;

	page = (size_t)sysconf(_SC_PAGESIZE);
	CHECK(page == 4096);
	harness_start_conf(&d, "cache-max-mib 8\n");
	region = harness_map_writeback(&d, SIZE, SEED, &pd, &fd, path,
	    sizeof path);
	harness_writeback_stamps(last, stamp, SEED, page);

	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, writer,
		    (void *)(uintptr_t)i) == 0);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	for (pg = 0; pg < SIZE / page; pg++) {
		bad = harness_writeback_stamped(region + pg * page,
		    pg * page, page);
		CHECKF(bad == -1, "the region reads wrong at 0x%" PRIx64
		    " (page written last in round %u)", (uint64_t)bad,
		    last[pg]);
	}
	harness_control_stats(d.sock, &sr);
	printf("%" PRIu64 " KiB paged out, %" PRIu64 " pages written back\n",
	    sr.cache_evicted >> 10, sr.counters.pages_written);
	CHECKF(sr.cache_evicted >= SIZE, "only %" PRIu64 " KiB paged out: "
	    "the writes did not race page-out", sr.cache_evicted >> 10);

	harness_writeback_end(&d, pd, region, fd, path, SIZE,
	    harness_writeback_stamped);
	return 0;
}

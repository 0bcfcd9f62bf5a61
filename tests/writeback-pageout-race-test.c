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

#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "writeback-harness.h"

#define SEED 0x5eedace5ull
#define SIZE (48ull << 20)
#define PAGE 4096u
#define THREADS 4
#define ROUNDS 3

static struct harness_writeback w;
static uint32_t last[SIZE / PAGE];	/* each page's last round, 0: none */

/* What a page holds after round r wrote it: its stamp in every word. */
static uint64_t
stamp(uint64_t pg, uint32_t r)
{
	return harness_word(pg * PAGE, SEED) ^ ((uint64_t)r << 56);
}

/* Thread t writes pages t, t + THREADS, ... in a random order a round. */
static void *
writer(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg, n = SIZE / PAGE / THREADS;
	uint64_t *order, i, j, tmp, pg, seed = 0x9e3779b9u * (t + 1);
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
			harness_writeback_fill(&w, pg, stamp(pg, r));
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

	harness_writeback_start(&w, "cache-max-mib 8\n", SIZE, SEED, 0);
	harness_writeback_stamps(last, stamp, SEED);
	harness_writeback_writers(THREADS, writer, 0, NULL);
	harness_writeback_check_stamps(&w, "after the rounds");
	harness_writeback_raced(&w, &sr);
	harness_writeback_end(&w, harness_writeback_stamped);
	return 0;
}

/*
 * Description: a write-back region four times the daemon's page budget
 * (cache-max-mib 16, a 64 MiB file) is written all over, half of every
 * page, while the test watches the region's pages resident in the
 * client's memfd (mincore) and the daemon's resident bytes (stats): both
 * stay within the budget, as the daemon writes dirty pages back and
 * punches clean ones out. Every page then reads back as written (those
 * paged out fault in again from the file), and after pagerd_sync() the
 * file holds, byte for byte, what the client wrote beside what it did
 * not touch. Before page-out the region's pages all stayed: 64 MiB.
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

#define SEED 0x5eedb0b0ull	/* the file's pattern */
#define WROTE 0x77717e00ull	/* the client's */
#define SIZE (64ull << 20)
#define PAGE 4096u
#define BUDGET (16ull << 20)

static struct harness_writeback w;
static int done;
static uint64_t most_resident, most_held, samples;

/* The region's pages resident in its memfd, by mincore. */
static uint64_t
resident(void)
{
	static unsigned char vec[SIZE / PAGE];
	uint64_t i, n = 0;

	CHECKF(mincore(w.region, SIZE, vec) == 0, "mincore: %s",
	    strerror(errno));
	for (i = 0; i < SIZE / PAGE; i++)
		n += vec[i] & 1;
	return n * PAGE;
}

/* Sample both counts until the writer is done. */
static void *
watch(void *arg)
{
	struct pd_stats_reply sr;
	uint64_t r;

	(void)arg;
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		r = resident();
		harness_control_stats(w.d.sock, &sr);
		if (r > most_resident)
			most_resident = r;
		if (sr.cache_held > most_held)
			most_held = sr.cache_held;
		samples++;
		harness_sleep_ms(5);
	}
	return NULL;
}

/* What the byte at off holds once the client wrote the first halves. */
static uint64_t
expected_word(uint64_t off)
{
	return off % PAGE < PAGE / 2 ? harness_word(off, WROTE) :
	    harness_word(off, SEED);
}

/* The first word of len bytes at off that is not as expected, or -1. */
static int64_t
check(const unsigned char *mem, uint64_t off, size_t len)
{
	uint64_t i, v;

	for (i = 0; i < len; i += 8) {
		memcpy(&v, mem + i, 8);
		if (v != expected_word(off + i))
			return (int64_t)(off + i);
	}
	return -1;
}

int
main(void)
{
	struct pd_stats_reply sr;
	pthread_t t;
	uint64_t off, i, v;
	int64_t bad;

	harness_writeback_start(&w, "cache-max-mib 16\n", SIZE, SEED, 0);

	CHECK(pthread_create(&t, NULL, watch, NULL) == 0);
	for (off = 0; off < SIZE; off += PAGE)
		for (i = 0; i < PAGE / 2; i += 8) {
			v = harness_word(off + i, WROTE);
			memcpy(w.region + off + i, &v, 8);
		}
	/* Read it all back: the pages paged out fault in from the file. */
	bad = check(w.region, 0, SIZE);
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	CHECK(pthread_join(t, NULL) == 0);
	CHECKF(bad == -1, "the region reads wrong at 0x%" PRIx64 " after "
	    "page-out", (uint64_t)bad);
	harness_control_stats(w.d.sock, &sr);
	printf("%" PRIu64 " samples: at most %" PRIu64 " KiB resident in the "
	    "memfd, %" PRIu64 " KiB held by the daemon; %" PRIu64 " KiB "
	    "evicted, %" PRIu64 " pages written\n", samples,
	    most_resident >> 10, most_held >> 10, sr.cache_evicted >> 10,
	    sr.counters.pages_written);
	CHECKF(samples >= 10, "only %" PRIu64 " samples taken", samples);
	CHECKF(most_held > 0, "the daemon never counted the region's pages");
	CHECKF(sr.cache_evicted >= SIZE - BUDGET, "only %" PRIu64 " bytes "
	    "paged out", sr.cache_evicted);
	CHECKF(most_resident <= BUDGET, "%" PRIu64 " KiB of the region were "
	    "resident at once, over the budget", most_resident >> 10);
	CHECKF(most_held <= BUDGET, "the daemon held %" PRIu64 " KiB, over "
	    "the budget", most_held >> 10);

	harness_writeback_end(&w, check);
	return 0;
}

/*
 * Description: dirty tracking by the kernel (UFFD_FEATURE_WP_ASYNC with
 * PAGEMAP_SCAN). A write-back file region and a copy-on-write zero region
 * are written at random from 4 threads, in three rounds: after each,
 * pagerd_dirty() reports exactly the pages written (every one, and no
 * page only read or never touched), pagerd_sync() makes the file equal memory byte for
 * byte, and the next round's dirty set holds only that round's pages (the
 * scan protected them again). pagerd_info() says WP_ASYNC is in use where
 * the kernel has it; with PAGERD_NO_WP_ASYNC set (wp-async-fallback-test)
 * it must not be, and the same checks hold for tracking by faults.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

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
#include "uffd.h"

#define SEED 0xa5e7c001ull
#define PAGE 4096u
#define NPAGES 4096u		/* 16 MiB */
#define WRITERS 4
#define ROUNDS 3

static struct pagerd *pd;
static unsigned char *wb, *zero;	/* the regions */
static unsigned char *want;		/* what the file region must hold */
static unsigned char written[2][NPAGES]; /* this round, per region */

struct writer {
	unsigned int index;
	unsigned int round;
};

/* Does the kernel offer WP_ASYNC and PAGEMAP_SCAN? */
static int
kernel_has_async(void)
{
	char why[256];
	uint64_t features;
	int fd, error;

	if (uffd_probe_features(&features, why, sizeof why) != 0 ||
	    !(features & UFFD_FEATURE_WP_ASYNC))
		return 0;
	if ((fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	error = uffd_scan_written(fd, 0, 0, 0, NULL, NULL);
	close(fd);
	return error == 0;
}

/*
 * A few hundred random pages of its own (p % WRITERS == index) in each
 * region, one word each, at a random place: the word is never what the
 * page held.
 */
static void *
writer(void *arg)
{
	struct writer *w = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (w->index + 1) + w->round, p, v;
	unsigned int i, off, r;

	for (i = 0; i < 300; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p = (x % (NPAGES / WRITERS)) * WRITERS + w->index;
		off = (unsigned int)((x >> 32) % (PAGE / 8)) * 8;
		r = (unsigned int)(x >> 20) & 1;
		v = ~harness_word(p * PAGE + off, SEED) ^ x;
		if (r == 0) {
			memcpy(wb + p * PAGE + off, &v, 8);
			memcpy(want + p * PAGE + off, &v, 8);
		} else
			memcpy(zero + p * PAGE + off, &(uint64_t){ v | 1 }, 8);
		written[r][p] = 1;
	}
	return NULL;
}

static void
dirty_equals(unsigned char *base, const unsigned char *expect,
    const char *what, unsigned int round)
{
	static unsigned char vec[NPAGES];
	size_t ndirty, n = 0, p;

	CHECKF(pagerd_dirty(pd, base, vec, &ndirty) == 0, "dirty: %s",
	    pagerd_errmsg());
	for (p = 0; p < NPAGES; p++) {
		CHECKF(vec[p] == expect[p], "round %u: %s page %zu: dirty %d, "
		    "written %d", round, what, p, vec[p], expect[p]);
		n += expect[p];
	}
	CHECKF(ndirty == n, "round %u: %s: %zu pages dirty, %zu written",
	    round, what, ndirty, n);
}

static void
file_equals(const char *path, unsigned int round)
{
	char what[64];

	snprintf(what, sizeof what, "round %u", round);
	harness_file_equals(path, want, NPAGES * PAGE, what);
}

int
main(void)
{
	static unsigned char zero_dirty[NPAGES];
	struct harness_daemon d;
	struct pagerd_info info;
	struct writer w[WRITERS];
	pthread_t t[WRITERS];
	char path[512];
	volatile unsigned char sink;
	int fd, async, fallback = getenv("PAGERD_NO_WP_ASYNC") != NULL;
	unsigned int round, i, p;

	harness_start(&d, NULL);
	harness_make_file(&d, "wb", NPAGES * PAGE, SEED, path, sizeof path);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	if (pagerd_map_file(pd, fd, 0, NPAGES * PAGE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, (void **)&wb) == -EOPNOTSUPP)
		harness_skip("%s", pagerd_errmsg());
	CHECKF(wb != NULL, "map: %s", pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, NPAGES * PAGE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&zero) == 0, "map: %s", pagerd_errmsg());
	CHECK((want = malloc(NPAGES * PAGE)) != NULL);
	CHECK(pread(fd, want, NPAGES * PAGE, 0) == NPAGES * PAGE);
	close(fd);

	pagerd_info(pd, &info);
	async = (info.uffd_features & UFFD_FEATURE_WP_ASYNC) != 0;
	if (fallback)
		CHECKF(!async, "PAGERD_NO_WP_ASYNC is set, yet the connection "
		    "uses WP_ASYNC");
	else if (!async && kernel_has_async())
		harness_fail(__FILE__, __LINE__, "the kernel has WP_ASYNC and "
		    "PAGEMAP_SCAN, the connection does not use them");
	else if (!async)
		harness_skip("the kernel lacks WP_ASYNC or PAGEMAP_SCAN "
		    "(Linux 6.7)");

	/*
	 * Every other page of the first half is read first (present and
	 * clean); the second half is never touched before the writers.
	 */
	for (p = 0; p < NPAGES / 2; p += 2)
		sink = wb[p * PAGE] + zero[p * PAGE];
	(void)sink;
	dirty_equals(wb, written[0], "write-back", 0);
	dirty_equals(zero, written[1], "zero", 0);

	for (round = 1; round <= ROUNDS; round++) {
		memset(written, 0, sizeof written);
		for (i = 0; i < WRITERS; i++) {
			w[i] = (struct writer){ i, round };
			CHECK(pthread_create(&t[i], NULL, writer, &w[i]) == 0);
		}
		for (i = 0; i < WRITERS; i++)
			pthread_join(t[i], NULL);
		/* A copy-on-write region's set grows: nothing writes back. */
		for (p = 0; p < NPAGES; p++)
			zero_dirty[p] |= written[1][p];
		dirty_equals(wb, written[0], "write-back", round);
		dirty_equals(zero, zero_dirty, "zero", round);
		CHECKF(pagerd_sync(pd, wb) == 0, "sync: %s", pagerd_errmsg());
		file_equals(path, round);
		memset(written[0], 0, sizeof written[0]);
		dirty_equals(wb, written[0], "write-back after sync", round);
	}
	CHECK(pagerd_unmap(pd, wb) == 0);
	file_equals(path, round);
	pagerd_close(pd);
	CHECKF(harness_alive(&d), "the daemon died");
	unlink(path);
	harness_stop(&d);
	printf("ok: %s: dirty pages exact and the file equal to memory after "
	    "%u rounds of 4 random writers\n", async ? "WP_ASYNC" :
	    "tracking by faults", ROUNDS);
	return 0;
}

/*
 * What the write-back page-out tests share (writeback-harness.h).
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

#include "uffd.h"
#include "writeback-harness.h"

#define WB_PAGE 4096u
#define WB_WRITERS 16

/*
 * A new pattern file of size bytes (seed) in w's daemon's directory,
 * mapped as a write-back region through a new connection. Skips where
 * the daemon has no write-back regions. Where the connection uses
 * WP_ASYNC, the region must too: the daemon did not move it to write
 * faults (a read-only PAGEMAP_SCAN of it fails with EPERM once it has).
 */
static void
harness_writeback_map(struct harness_writeback *w, size_t size,
    uint64_t seed)
{
	struct pagerd_info info;
	int pm, error;
	void *p = NULL;

	w->size = size;
	harness_make_file(&w->d, "data", size, seed, w->path, sizeof w->path);
	CHECKF(pagerd_connect(w->d.sock, &w->pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF((w->fd = open(w->path, O_RDWR | O_CLOEXEC)) != -1, "open: %s",
	    strerror(errno));
	if (pagerd_map_file(w->pd, w->fd, 0, size, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, &p) != 0 && errno == EOPNOTSUPP)
		harness_skip("no write-back regions here: %s", pagerd_errmsg());
	CHECKF(p != NULL, "map: %s", pagerd_errmsg());
	w->region = p;
	pagerd_info(w->pd, &info);
	if (!(info.uffd_features & UFFD_FEATURE_WP_ASYNC))
		return;
	CHECK((pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) != -1);
	error = uffd_scan_written(pm, (uint64_t)(uintptr_t)p,
	    (uint64_t)(uintptr_t)p + size, 0, NULL, NULL);
	close(pm);
	CHECKF(error == 0, "the region's writes are not tracked by the kernel "
	    "(PAGEMAP_SCAN: %s): the daemon moved it to write faults",
	    strerror(-error));
}

/*
 * A daemon with configuration conf and a write-back region of size bytes
 * over a new pattern file of seed (harness_writeback_map). With async,
 * the test is of regions whose writes the kernel tracks (WP_ASYNC): it
 * skips where the connection does not use it.
 */
void
harness_writeback_start(struct harness_writeback *w, const char *conf,
    size_t size, uint64_t seed, int async)
{
	struct pagerd_info info;

	if (sysconf(_SC_PAGESIZE) != WB_PAGE)
		harness_skip("pages of %ld bytes: the write-back tests' tables "
		    "assume 4 KiB", sysconf(_SC_PAGESIZE));
	if (async && getenv("PAGERD_NO_WP_ASYNC") != NULL)
		harness_skip("PAGERD_NO_WP_ASYNC is set: this test is of "
		    "regions the kernel tracks");
	harness_start_conf(&w->d, conf);
	harness_writeback_map(w, size, seed);
	pagerd_info(w->pd, &info);
	if (async && !(info.uffd_features & UFFD_FEATURE_WP_ASYNC))
		harness_skip("the connection does not use WP_ASYNC (a kernel "
		    "before 6.7, or no PAGEMAP_SCAN)");
}

/*
 * The end of a harness_writeback_start test: the region written back
 * (durably), unmapped and the connection closed; then the file must read
 * right by check (given a chunk of it and its offset: the offset of the
 * first wrong byte, or -1), and the daemon must be alive; it is stopped
 * and the file removed.
 */
void
harness_writeback_end(struct harness_writeback *w,
    int64_t (*check)(const unsigned char *, uint64_t, size_t))
{
	const size_t chunk = 1 << 20;
	unsigned char *buf;
	uint64_t off;
	size_t n;
	int64_t bad;

	CHECKF(pagerd_sync(w->pd, w->region) >= 0, "sync: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_unmap(w->pd, w->region) == 0, "unmap: %s",
	    pagerd_errmsg());
	pagerd_close(w->pd);
	CHECK((buf = malloc(chunk)) != NULL);
	for (off = 0; off < w->size; off += n) {
		n = w->size - off < chunk ? w->size - off : chunk;
		CHECK(pread(w->fd, buf, n, (off_t)off) == (ssize_t)n);
		bad = check(buf, off, n);
		CHECKF(bad == -1, "the file is wrong at 0x%" PRIx64,
		    (uint64_t)bad);
	}
	free(buf);
	close(w->fd);
	CHECKF(harness_alive(&w->d), "the daemon died");
	harness_stop(&w->d);
	unlink(w->path);
}

/*
 * n threads of fn, each given its number (0 to n - 1), to their end; with
 * seconds, they are told to stop (*stop set) once that many have passed.
 */
void
harness_writeback_writers(int n, void *(*fn)(void *), int seconds, int *stop)
{
	pthread_t t[WB_WRITERS];
	int i;

	CHECK(n > 0 && n <= WB_WRITERS);
	for (i = 0; i < n; i++)
		CHECK(pthread_create(&t[i], NULL, fn,
		    (void *)(uintptr_t)i) == 0);
	if (seconds > 0) {
		sleep((unsigned int)seconds);
		__atomic_store_n(stop, 1, __ATOMIC_RELAXED);
	}
	for (i = 0; i < n; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
}

/* Page pg of the region, whole, filled with word v. */
void
harness_writeback_fill(struct harness_writeback *w, uint64_t pg, uint64_t v)
{
	uint64_t j;

	for (j = 0; j < WB_PAGE; j += 8)
		memcpy(w->region + pg * WB_PAGE + j, &v, 8);
}

/* What harness_writeback_stamped checks against (a test's own). */
static const uint32_t *stamps_last;
static uint64_t (*stamps_stamp)(uint64_t, uint32_t);
static uint64_t stamps_seed;

/*
 * A test whose writers fill page pg whole with stamp(pg, last[pg]) words
 * (last[pg] 0: never written, the file's pattern of seed) checks with
 * harness_writeback_stamped.
 */
void
harness_writeback_stamps(const uint32_t *last,
    uint64_t (*stamp)(uint64_t, uint32_t), uint64_t seed)
{
	stamps_last = last;
	stamps_stamp = stamp;
	stamps_seed = seed;
}

/*
 * The offset of the first wrong word of len bytes (whole pages) at file
 * offset off, which mem holds, or -1.
 */
int64_t
harness_writeback_stamped(const unsigned char *mem, uint64_t off, size_t len)
{
	uint64_t i, v, pg, want;

	for (i = 0; i < len; i += 8) {
		pg = (off + i) / WB_PAGE;
		want = stamps_last[pg] != 0 ? stamps_stamp(pg,
		    stamps_last[pg]) : harness_word(off + i, stamps_seed);
		memcpy(&v, mem + i, 8);
		if (v != want)
			return (int64_t)(off + i);
	}
	return -1;
}

/* Every page of the region must read its last stamp (when: after what). */
void
harness_writeback_check_stamps(const struct harness_writeback *w,
    const char *when)
{
	uint64_t pg;
	int64_t bad;

	for (pg = 0; pg < w->size / WB_PAGE; pg++) {
		bad = harness_writeback_stamped(w->region + pg * WB_PAGE,
		    pg * WB_PAGE, WB_PAGE);
		CHECKF(bad == -1, "the region reads wrong at 0x%" PRIx64
		    " %s (page stamped %u)", (uint64_t)bad, when,
		    stamps_last[pg]);
	}
}

/*
 * The daemon's counts (*sr) after writers raced page-out: printed, and
 * the whole region must have been paged out (in total) meanwhile.
 */
void
harness_writeback_raced(const struct harness_writeback *w,
    struct pd_stats_reply *sr)
{
	harness_control_stats(w->d.sock, sr);
	printf("%" PRIu64 " KiB paged out, %" PRIu64 " pages written back, "
	    "%" PRIu64 " KiB held\n", sr->cache_evicted >> 10,
	    sr->counters.pages_written, sr->cache_held >> 10);
	CHECKF(sr->cache_evicted >= w->size, "only %" PRIu64 " KiB paged "
	    "out: the writes did not race page-out", sr->cache_evicted >> 10);
}

/*
 * Description: a fault in a block of pages the shared page cache holds
 * whole maps the rest of the block at once, and skips the pages this
 * client had mapped already: no install finds its page present. Before,
 * each of those pages cost an ioctl that failed with EEXIST, and clients
 * of one file that ran apart (as with two workers) paid it on most
 * faults. Pages the client drops (MADV_DONTNEED, a whole chunk of the
 * hint) cost the hint that chunk only: the fault that maps them again
 * finds no page present either.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x3a11b10cull
#define SIZE (2u << 20)
#define PAGE 4096u

/* A page in the middle of the first 1 MiB block, and one further on. */
#define EARLY_PAGE 40u
#define LATE_PAGE 100u
/* A chunk of the hint (16 pages, from the mapping's start) in that block. */
#define DROP_PAGE 192u
#define DROP_PAGES 16u

int
main(void)
{
	struct pagerd_stats before, after;
	struct pd_stats_reply s0, s1;
	struct harness_daemon d;
	struct pagerd *pd, *other;
	char path[512];
	unsigned char *p, *q;
	pid_t pid;

	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);

	/* This client maps the read-ahead window around one page only. */
	harness_check_range(p + EARLY_PAGE * PAGE, EARLY_PAGE * PAGE, PAGE,
	    SEED, UINT64_MAX);

	/* Another client reads the whole file: the cache holds it all. */
	if ((pid = fork()) == 0) {
		q = harness_map_cached(&other, d.sock, path, SIZE, PROT_READ);
		harness_check_range(q, 0, SIZE, SEED, UINT64_MAX);
		pagerd_close(other);
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "the client that filled the cache "
	    "failed");

	harness_control_stats(d.sock, &s0);
	CHECK(pagerd_stats(pd, &before) == 0);
	harness_check_range(p + LATE_PAGE * PAGE, LATE_PAGE * PAGE, PAGE, SEED,
	    UINT64_MAX);
	CHECK(pagerd_stats(pd, &after) == 0);
	harness_control_stats(d.sock, &s1);
	printf("the fault mapped %" PRIu64 " pages; %" PRIu64 " installs found "
	    "their page present\n", after.pages_file - before.pages_file,
	    s1.counters.eexist - s0.counters.eexist);
	CHECKF(after.faults - before.faults == 1, "%" PRIu64 " faults for one "
	    "touch", after.faults - before.faults);
	CHECKF(after.pages_file - before.pages_file > 16, "the fault mapped "
	    "%" PRIu64 " pages, not the block the cache holds whole: the case "
	    "is not tested", after.pages_file - before.pages_file);
	CHECKF(s1.counters.eexist == s0.counters.eexist, "%" PRIu64 " installs "
	    "found their page present: the pages mapped before were mapped "
	    "again", s1.counters.eexist - s0.counters.eexist);

	/*
	 * The block is mapped whole. Dropped, a chunk of it faults again;
	 * the rest of the hint stands: only that chunk is mapped.
	 */
	CHECK(madvise(p + DROP_PAGE * PAGE, DROP_PAGES * PAGE,
	    MADV_DONTNEED) == 0);
	harness_control_stats(d.sock, &s0);
	CHECK(pagerd_stats(pd, &before) == 0);
	harness_check_range(p + (DROP_PAGE + 3) * PAGE, (DROP_PAGE + 3) * PAGE,
	    PAGE, SEED, UINT64_MAX);
	CHECK(pagerd_stats(pd, &after) == 0);
	harness_control_stats(d.sock, &s1);
	printf("after %u pages were dropped: the fault mapped %" PRIu64
	    " pages; %" PRIu64 " installs found their page present\n",
	    DROP_PAGES, after.pages_file - before.pages_file,
	    s1.counters.eexist - s0.counters.eexist);
	CHECKF(after.faults - before.faults == 1, "%" PRIu64 " faults for one "
	    "touch of the dropped pages", after.faults - before.faults);
	CHECKF(s1.counters.eexist == s0.counters.eexist, "%" PRIu64 " installs "
	    "found their page present: dropping a chunk lost the hint of the "
	    "others", s1.counters.eexist - s0.counters.eexist);

	/* Everything the client has is the file's. */
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	pagerd_close(pd);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	return 0;
}

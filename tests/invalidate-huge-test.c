/*
 * Description: an invalidation of a range that runs to the end of every
 * file (a length near 2^64) drops the file's pages from its page caches.
 * A client reads a file through the page cache, then says it wrote from
 * offset 0 on, for UINT64_MAX - 100 bytes: the daemon answers only once
 * the pages are gone, and its caches hold none of the file soon after. (The
 * old code rounded offset + length up past 2^64 to 0 pages, dropped
 * nothing and said it had: others kept reading what was overwritten.)
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed1a1dull
#define SIZE (4u << 20)

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	struct pagerd *pd;
	char path[512];
	uint64_t held;
	void *p;
	int fd, wfd, i;

	harness_start(&d, NULL);
	harness_make_file(&d, "file", SIZE, SEED, path, sizeof path);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECK((wfd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	harness_check_range(p, 0, SIZE, SEED, SIZE);
	harness_control_stats(d.sock, &sr);
	held = sr.cache_held;
	if (held == 0)
		harness_skip("the file was not read through a page cache");
	CHECK(harness_raw_invalidate(d.sock, wfd, 0, UINT64_MAX - 100) == 0);
	/* What the cache holds is counted again on the daemon's tick. */
	for (i = 0; i < 500; i++) {
		harness_control_stats(d.sock, &sr);
		if (sr.cache_held == 0)
			break;
		harness_sleep_ms(10);
	}
	CHECKF(sr.cache_held == 0, "the page cache holds %llu of %llu bytes "
	    "after the whole file was invalidated",
	    (unsigned long long)sr.cache_held, (unsigned long long)held);
	CHECK(pagerd_unmap(pd, p) == 0);
	pagerd_close(pd);
	close(wfd);
	close(fd);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("an invalidation to the end of the file drops its pages\n");
	return 0;
}

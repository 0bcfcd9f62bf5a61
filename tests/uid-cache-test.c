/*
 * Description: one user's share of the page caches (uid-max-cache-mib) is
 * the pages it holds resident, and passing it costs that user its own
 * pages, nobody else's. With a share of 40 MiB, root maps a 32 MiB file
 * and reads it; pagerd-ta then reads two files of 32 MiB through shared
 * page caches (past its share: the second file is not refused its cache,
 * as when the share counted file sizes), every byte right; its pages are evicted
 * down to its share, and root's are untouched: root reads its file again
 * without a fault.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SIZE (32u << 20)
#define SHARE (40u << 20)

static struct harness_daemon d;
static char paths[3][512];

/* Map file i whole, check every page; the mapping's address. */
static void *
map(struct pagerd *pd, int i)
{
	void *p;
	int fd;

	CHECK((fd = open(paths[i], O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "uid %d: map file %d: %s", (int)getuid(), i, pagerd_errmsg());
	close(fd);
	harness_check_range(p, 0, SIZE, 0x5eed0030ull + (uint64_t)i,
	    UINT64_MAX);
	return p;
}

static void
attacker(void *unused)
{
	struct pagerd *pd;

	(void)unused;
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	map(pd, 1);
	map(pd, 2);
	harness_wait_caches(d.sock, 3, "pagerd-ta mapped files 1 and 2");
	CHECKF(!harness_log_has(&d, "would pass the"), "a file was refused "
	    "its cache");
	pagerd_close(pd);
}

int
main(void)
{
	struct pagerd_stats before, after;
	struct pd_stats_reply sr;
	struct pagerd *pd;
	int i, status;
	void *p;

	harness_test_user("pagerd-ta");
	harness_start_conf(&d, "uid-max-cache-mib 40\ncache-max-mib 512\n"
	    "cache-linger 30\n");
	for (i = 0; i < 3; i++)
		harness_make_file(&d, i == 0 ? "f0" : i == 1 ? "f1" : "f2",
		    SIZE, 0x5eed0030ull + (uint64_t)i, paths[i],
		    sizeof paths[i]);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	p = map(pd, 0);
	status = harness_as_user("pagerd-ta", attacker, NULL);
	if (status == 77) {
		harness_stop(&d);
		harness_skip("pagerd-ta's userfaultfd cannot map a shared page "
		    "cache");
	}
	CHECKF(status == 0, "pagerd-ta failed");
	/* pagerd-ta's pages go down to its share, on a tick at the latest. */
	harness_wait_held(d.sock, SIZE + SHARE, &sr);
	printf("held %" PRIu64 " KiB, evicted %" PRIu64 " KiB\n",
	    sr.cache_held >> 10, sr.cache_evicted >> 10);
	CHECKF(sr.cache_held <= SIZE + SHARE, "the caches hold %" PRIu64
	    " KiB: pagerd-ta kept more than its share", sr.cache_held >> 10);
	CHECKF(sr.cache_held >= SIZE, "the caches hold %" PRIu64 " KiB: root's "
	    "pages went for pagerd-ta's", sr.cache_held >> 10);
	CHECK(pagerd_stats(pd, &before) == 0);
	harness_check_range(p, 0, SIZE, 0x5eed0030ull, UINT64_MAX);
	CHECK(pagerd_stats(pd, &after) == 0);
	CHECKF(after.faults == before.faults, "root's file faulted %" PRIu64
	    " times again: pagerd-ta's reads evicted it", after.faults -
	    before.faults);
	pagerd_close(pd);
	harness_stop(&d);
	return 0;
}

/*
 * Description: one user's page caches are bounded, and the bound costs
 * nobody else. With uid-max-cache-mib 48, pagerd-ta maps a 32 MiB file
 * through the shared page cache and unmaps it (the cache lingers); a
 * second 32 MiB file makes that lingering cache go rather than be
 * refused; a third while the second is mapped is refused its cache
 * (EDQUOT, naming uid-max-cache-mib, in the daemon's log) and served by
 * copies, right. Root then gets a cache of that third file.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SIZE (32u << 20)

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
	struct pagerd_info info;
	struct pagerd *pd;
	void *p;

	(void)unused;
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	pagerd_info(pd, &info);
	if (!info.shared_cache) {
		printf("SKIP: pagerd-ta's userfaultfd cannot map a shared "
		    "page cache\n");
		fflush(stdout);
		_exit(77);
	}
	p = map(pd, 0);
	harness_wait_caches(d.sock, 1, "pagerd-ta mapped file 0");
	CHECK(pagerd_unmap(pd, p) == 0);
	harness_wait_caches(d.sock, 1, "file 0 unmapped: its cache "
	    "lingers");
	map(pd, 1);
	harness_wait_caches(d.sock, 1, "file 1 mapped: file 0's lingering "
	    "cache gave way");
	CHECKF(!harness_log_has(&d, "uid-max-cache-mib"), "file 1 was refused "
	    "a cache: file 0's lingering one was kept instead");
	map(pd, 2);
	harness_wait_caches(d.sock, 1, "file 2 mapped past the limit, by "
	    "copies");
	CHECK(harness_log_has(&d, "uid-max-cache-mib"));
	printf("pagerd-ta: file 2 served by copies past uid-max-cache-mib\n");
	fflush(stdout);
	pagerd_close(pd);
}

int
main(void)
{
	struct pagerd *pd;
	int i, status;

	harness_test_user("pagerd-ta");
	harness_start_conf(&d, "uid-max-cache-mib 48\ncache-linger 30\n");
	for (i = 0; i < 3; i++)
		harness_make_file(&d, i == 0 ? "f0" : i == 1 ? "f1" : "f2",
		    SIZE, 0x5eed0030ull + (uint64_t)i, paths[i],
		    sizeof paths[i]);
	status = harness_as_user("pagerd-ta", attacker, NULL);
	if (status == 77) {
		harness_stop(&d);
		harness_skip("pagerd-ta's userfaultfd cannot map a shared page "
		    "cache");
	}
	CHECKF(status == 0, "pagerd-ta failed");
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	map(pd, 2);
	/* pagerd-ta's file 1 cache lingers; root's own is the second. */
	harness_wait_caches(d.sock, 2, "root mapped file 2");
	pagerd_close(pd);
	harness_stop(&d);
	return 0;
}

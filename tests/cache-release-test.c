/*
 * Description: a page cache goes when its last region goes, not when its
 * session does. A client maps a 64 MiB sparse file through the shared
 * page cache, touches every page and unmaps it, staying connected: with
 * cache-linger 0 the daemon has no cache left (and the descriptors of
 * the cache are closed); mapping it again makes a new one.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SIZE (64u << 20)

int
main(void)
{
	struct harness_daemon d;
	struct pagerd *pd;
	char path[512];
	volatile unsigned char *p;
	unsigned int sum = 0;
	int fd, before, after;
	size_t off;

	harness_start_conf(&d, "cache-linger 0\n");
	snprintf(path, sizeof path, "%s/sparse", d.dir);
	CHECK((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) != -1);
	CHECK(ftruncate(fd, SIZE) == 0);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	before = harness_settled_fds(d.pid);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, (void **)&p) ==
	    0, "map: %s", pagerd_errmsg());
	for (off = 0; off < SIZE; off += 4096)
		sum += p[off];
	CHECK(sum == 0);
	harness_wait_caches(d.sock, 1, "mapped");
	CHECKF(pagerd_unmap(pd, (void *)p) == 0, "unmap: %s",
	    pagerd_errmsg());
	harness_wait_caches(d.sock, 0, "unmapped, session still open");
	after = harness_settled_fds(d.pid);
	printf("cache released; daemon descriptors %d before the map, %d "
	    "after the unmap\n", before, after);
	CHECKF(after <= before, "the daemon holds %d descriptors more after "
	    "the unmap", after - before);

	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, (void **)&p) ==
	    0, "map again: %s", pagerd_errmsg());
	CHECK(p[SIZE - 1] == 0);
	harness_wait_caches(d.sock, 1, "mapped again");
	pagerd_close(pd);
	close(fd);
	harness_wait_caches(d.sock, 0, "closed");
	harness_stop(&d);
	return 0;
}

/*
 * Description: one client at scale. 10,000 separate regions are mapped
 * and each is faulted; a 64 GiB region of a sparse file on this smaller
 * machine is touched at 4096 scattered pages, each reading the bytes
 * written there; and the daemon's memory grows with what was touched, not
 * with the address space handed to it.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define PAGE 4096u
#define NREGIONS 10000
#define HUGE_SIZE (64ull << 30)
#define TOUCHES 4096

static uint64_t
touch_offset(unsigned i)
{
	/* Scattered, page aligned, all over the 64 GiB. */
	return ((uint64_t)i * 0x9E3779B1u % (HUGE_SIZE / PAGE)) * PAGE;
}

static void
client(const char *sock, const char *path)
{
	static unsigned char *regions[NREGIONS];
	struct pagerd_stats st;
	struct pagerd *pd;
	unsigned char *huge;
	uint64_t off, v;
	unsigned i;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	for (i = 0; i < NREGIONS; i++)
		CHECKF(pagerd_map_zero(pd, 2 * PAGE, PROT_READ | PROT_WRITE, 0,
		    (void **)&regions[i]) == 0, "region %u: %s", i,
		    pagerd_errmsg());
	for (i = 0; i < NREGIONS; i++) {
		CHECKF(regions[i][PAGE + 1] == 0, "region %u not zero", i);
		regions[i][1] = (unsigned char)i;
	}
	for (i = 0; i < NREGIONS; i++)
		CHECKF(regions[i][1] == (unsigned char)i, "region %u lost its "
		    "write", i);
	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	CHECKF(st.regions == NREGIONS, "the daemon has %u regions", st.regions);

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, HUGE_SIZE, PROT_READ, 0,
	    (void **)&huge) == 0, "map 64 GiB: %s", pagerd_errmsg());
	close(fd);
	for (i = 0; i < TOUCHES; i++) {
		off = touch_offset(i);
		memcpy(&v, huge + off, sizeof v);
		CHECKF(v == off + 1, "64 GiB region at 0x%" PRIx64 ": 0x%" PRIx64,
		    off, v);
		/* A hole next to it reads zeros. */
		CHECK(huge[off + 100] == 0);
	}
	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	CHECK(st.errors == 0);
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	char path[512];
	uint64_t off, v;
	long before, after;
	unsigned i;
	pid_t pid;
	int fd;

	/*
	 * Scattered touches: windows of one page, whatever the backing. On
	 * the daemon's default huge caches too: a scattered fill takes small
	 * pages there.
	 */
	harness_start(&d, "--readahead", "1", NULL);
	snprintf(path, sizeof path, "%s/sparse", d.dir);
	CHECK((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) != -1);
	CHECK(ftruncate(fd, (off_t)HUGE_SIZE) == 0);
	for (i = 0; i < TOUCHES; i++) {
		off = touch_offset(i);
		v = off + 1;
		CHECK(pwrite(fd, &v, sizeof v, (off_t)off) == sizeof v);
	}
	close(fd);

	before = harness_rss_kib(d.pid);
	fflush(NULL);
	if ((pid = fork()) == 0)
		client(d.sock, path);
	CHECKF(harness_wait(pid) == 0, "the client failed");
	after = harness_rss_kib(d.pid);
	/* 10,000 regions and 4096 windows: a few MiB, not gigabytes. */
	CHECKF(after - before < 64 * 1024, "the daemon grew from %ld to %ld "
	    "KiB", before, after);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	printf("10000 regions and a sparse 64 GiB region: all served; daemon "
	    "RSS %ld -> %ld KiB\n", before, after);
	return 0;
}

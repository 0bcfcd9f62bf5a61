/*
 * Description: a write-back region whose writes the kernel tracks
 * (WP_ASYNC) across a daemon restart (kill -9): the library hands the
 * new daemon its second userfaultfd before the regions, a thread that
 * faults on an untouched page while no daemon runs gets the file's bytes
 * from the new one, every page written since the last sync (before the
 * kill and after it) is reported dirty, and pagerd_sync() then makes the
 * file equal memory byte for byte.
 */
#include "config.h"

#include <sys/mman.h>

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

#define SEED 0x7e57a12cull
#define PAGE 4096u
#define NPAGES 4096u		/* 16 MiB */

static unsigned char *base, *want, written[NPAGES];

/*
 * Write one word into every stride-th page of [first, end), in both
 * copies.
 */
static void
scribble(unsigned int first, unsigned int end, unsigned int stride,
    uint64_t round)
{
	unsigned int p;
	uint64_t v;

	for (p = first; p < end; p += stride) {
		v = ~harness_word(p * PAGE, SEED) ^ round;
		memcpy(base + p * PAGE + round * 8, &v, 8);
		memcpy(want + p * PAGE + round * 8, &v, 8);
		written[p] = 1;
	}
}

/* While the daemon is away: untouched pages read, then written. */
static void *
away(void *arg)
{
	unsigned int p;

	(void)arg;
	for (p = 3 * NPAGES / 4; p < NPAGES; p += 7)
		CHECKF(memcmp(base + p * PAGE, want + p * PAGE, PAGE) == 0,
		    "page %u: not the file's bytes after the restart", p);
	scribble(3 * NPAGES / 4 + 1, NPAGES, 5, 3);
	return NULL;
}

static void
file_equals(const char *path)
{
	harness_file_equals(path, want, NPAGES * PAGE, "write-back");
}

/* The client, in a process of its own: the test kills its daemon. */
static void
client(const char *sock, const char *path, int ready, int killed)
{
	static unsigned char vec[NPAGES];
	struct pagerd_stats st;
	struct pagerd_info info;
	struct pagerd *pd;
	pthread_t t;
	size_t ndirty, p;
	char c;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	CHECK((want = malloc(NPAGES * PAGE)) != NULL);
	CHECK(pread(fd, want, NPAGES * PAGE, 0) == NPAGES * PAGE);
	if (pagerd_map_file(pd, fd, 0, NPAGES * PAGE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, (void **)&base) != 0)
		harness_skip("%s", pagerd_errmsg());
	close(fd);
	pagerd_info(pd, &info);
	if (!(info.uffd_features & UFFD_FEATURE_WP_ASYNC))
		harness_skip("no WP_ASYNC dirty tracking here (Linux 6.7 has "
		    "it, and PAGERD_NO_WP_ASYNC must not be set)");

	/*
	 * Written and synced; then written again, not synced. The last
	 * quarter stays untouched (read-ahead takes at most 2 MiB).
	 */
	scribble(0, NPAGES / 2, 3, 1);
	CHECKF(pagerd_sync(pd, base) == 0, "sync: %s", pagerd_errmsg());
	file_equals(path);
	memset(written, 0, sizeof written);
	scribble(1, NPAGES / 2, 11, 2);

	CHECK(write(ready, "r", 1) == 1);
	CHECK(read(killed, &c, 1) == 1);
	CHECK(pthread_create(&t, NULL, away, NULL) == 0);
	pthread_join(t, NULL);
	/* The new session's own count: the away thread's faults. */
	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	CHECKF(st.faults > 0, "no fault of the WP_ASYNC userfaultfd reached "
	    "the new daemon");

	pagerd_info(pd, &info);
	CHECKF(info.uffd_features & UFFD_FEATURE_WP_ASYNC, "WP_ASYNC is not "
	    "in use after the restart");
	CHECKF(pagerd_dirty(pd, base, vec, &ndirty) == 0, "dirty: %s",
	    pagerd_errmsg());
	for (p = 0; p < NPAGES; p++)
		CHECKF(!written[p] || vec[p], "page %zu was written and is not "
		    "reported dirty", p);
	CHECKF(pagerd_sync(pd, base) == 0, "sync: %s", pagerd_errmsg());
	file_equals(path);
	CHECK(pagerd_unmap(pd, base) == 0);
	file_equals(path);
	pagerd_close(pd);
	exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	int ready[2], killed[2], status;
	char path[512], c;
	pid_t pid;

	harness_start(&d, NULL);
	harness_make_file(&d, "wb", NPAGES * PAGE, SEED, path, sizeof path);
	CHECK(pipe(ready) == 0 && pipe(killed) == 0);
	if ((pid = fork()) == 0)
		client(d.sock, path, ready[1], killed[0]);
	CHECK(pid != -1);
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		status = harness_wait(pid);
		if (status == 77)
			exit(77);
		harness_fail(__FILE__, __LINE__, "the client failed (%d)",
		    status);
	}
	harness_kill(&d);
	CHECK(write(killed[1], "k", 1) == 1);
	usleep(200000);
	harness_restart(&d);
	CHECKF((status = harness_wait(pid)) == 0, "the client failed across "
	    "the restart (status %d)", status);
	CHECKF(harness_alive(&d), "the daemon died");
	unlink(path);
	harness_stop(&d);
	printf("ok: WP_ASYNC write-back region across a daemon restart\n");
	return 0;
}

/*
 * Description: a daemon in a memory cgroup of 256 MiB serves a 1 GiB file
 * to two clients at once through its shared page cache: its budget comes
 * from the cgroup (128 MiB, logged), every byte the clients read is the
 * file's, the daemon lives, and the group's peak usage stays under its
 * limit. Before page-out the daemon kept every page and was OOM-killed,
 * and its clients got SIGBUS or hung. A v1 memory cgroup where the
 * machine has one (/sys/fs/cgroup/memory), else v2; skipped where
 * neither can be made.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eedc6c6ull
#define SIZE (1ull << 30)
#define LIMIT (256ull << 20)

static struct harness_daemon d;
static struct harness_memgroup group;
static char path[512];

/* The daemon gone first (a group with a process cannot go), the group. */
static void
cleanup(void)
{
	harness_memgroup_remove(&group, d.pid);
}

static void
timeout(int sig)
{
	(void)sig;
	harness_fail(__FILE__, __LINE__, "a client did not read the file in "
	    "300 s");
}

/* A client: the whole file through the shared cache, every byte. */
static void
client(void)
{
	struct pagerd_info info;
	struct pagerd *pd;
	void *p;
	int fd;

	signal(SIGALRM, timeout);
	alarm(300);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	pagerd_info(pd, &info);
	if (!info.shared_cache)
		_exit(77);
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open: %s",
	    strerror(errno));
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	close(fd);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	uint64_t peak;

	harness_memgroup_make(&group, LIMIT);
	atexit(cleanup);
	/* The daemon starts in the group, the test and clients outside. */
	harness_cgroup_enter(group.dir);
	harness_start(&d, NULL);
	harness_cgroup_enter(group.home);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	harness_clients(&d, 2, client, "no shared page cache on this kernel");
	CHECKF(harness_alive(&d), "the daemon died");
	CHECKF(harness_log_has(&d, "page caches may hold 128 MiB"), "the "
	    "budget did not come from the cgroup's 256 MiB");
	peak = harness_memgroup_usage(&group, 1);
	printf("cgroup v%d: peak %" PRIu64 " MiB of %llu MiB\n",
	    group.version, peak >> 20, LIMIT >> 20);
	CHECKF(peak < LIMIT, "the group's peak usage %" PRIu64 " reached its "
	    "limit", peak);
	harness_stop(&d);
	d.pid = 0;
	unlink(path);
	return 0;
}

/*
 * Description: a daemon in a memory cgroup of 256 MiB serves a 1 GiB file
 * to two clients at once through its shared page cache: its budget comes
 * from the cgroup (128 MiB, logged), every byte the clients read is the
 * file's, the daemon lives, nothing in the group is OOM-killed, and the
 * group's memory that only the daemon can give back (its heap and its
 * caches' shared memory, watched every 20 ms) stays under the limit. The
 * group's peak usage is reported but not bounded: it counts the file's
 * own page cache too, which the kernel reclaims at the limit and which is
 * charged to the group when a busy machine had dropped it before the
 * daemon read it. Before page-out the daemon kept every page and was
 * OOM-killed, and its clients got SIGBUS or hung. A v1 memory cgroup
 * where the machine has one (/sys/fs/cgroup/memory), else v2; skipped
 * where neither can be made.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
/*
 * The watch is a process, not a thread: the clients are forked while it
 * runs, and a fork while a thread is inside malloc (fopen) leaves the
 * child's allocator locked for ever (seen under ASan: a client hung).
 */
struct watch {
	volatile int watching;
	volatile uint64_t held_peak; /* the most anonymous and shared memory */
};
static struct watch *w;

/* The daemon gone first (a group with a process cannot go), the group. */
static void
cleanup(void)
{
	harness_memgroup_remove(&group, d.pid);
}

/* The group's memory only its processes can give back, every 20 ms. */
static void
watch(void)
{
	uint64_t anon, shmem;

	while (w->watching) {
		anon = harness_memgroup_stat(&group, group.version == 1 ?
		    "rss" : "anon");
		shmem = harness_memgroup_stat(&group, "shmem");
		if (anon != UINT64_MAX && shmem != UINT64_MAX &&
		    anon + shmem > w->held_peak)
			w->held_peak = anon + shmem;
		harness_sleep_ms(20);
	}
	_exit(0);
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
	struct pagerd *pd;
	void *p;

	signal(SIGALRM, timeout);
	alarm(300);
	p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	uint64_t peak, oom, held_peak;
	pid_t watcher;

	harness_memgroup_make(&group, LIMIT);
	atexit(cleanup);
	/* The daemon starts in the group, the test and clients outside. */
	harness_cgroup_enter(group.dir);
	harness_start(&d, NULL);
	harness_cgroup_enter(group.home);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	CHECK((w = mmap(NULL, sizeof *w, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0)) != MAP_FAILED);
	w->watching = 1;
	CHECK((watcher = fork()) != -1);
	if (watcher == 0)
		watch();
	harness_clients(&d, 2, client, "no shared page cache on this kernel");
	w->watching = 0;
	CHECK(waitpid(watcher, NULL, 0) == watcher);
	held_peak = w->held_peak;
	CHECKF(harness_alive(&d), "the daemon died");
	oom = harness_memgroup_key(&group, group.version == 1 ?
	    "memory.oom_control" : "memory.events", "oom_kill");
	CHECKF(oom == 0 || oom == UINT64_MAX, "%" PRIu64 " processes of the "
	    "group were OOM-killed", oom);
	CHECKF(harness_log_has(&d, "page caches may hold 128 MiB"), "the "
	    "budget did not come from the cgroup's 256 MiB");
	peak = harness_memgroup_usage(&group, 1);
	printf("cgroup v%d: anonymous and shared memory at most %" PRIu64
	    " MiB, usage at most %" PRIu64 " MiB (the file's page cache with "
	    "it), of %llu MiB\n", group.version, held_peak >> 20, peak >> 20,
	    LIMIT >> 20);
	CHECKF(held_peak > 0, "no anonymous or shared memory figures in the "
	    "group's memory.stat");
	CHECKF(held_peak < LIMIT, "the group's anonymous and shared memory "
	    "reached %" PRIu64 " MiB, its limit", held_peak >> 20);
	harness_stop(&d);
	d.pid = 0;
	unlink(path);
	return 0;
}

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

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
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
static char group[256];		/* the test's cgroup, or "" */
static char home[512];		/* the test's own group, to go back to */
static int version;
static char path[512];
static volatile int watching;
static uint64_t held_peak;	/* the most anonymous and shared memory */

/* A number file of the group; UINT64_MAX where it has none. */
static uint64_t
get(const char *name)
{
	char p[700], line[64];
	uint64_t v = UINT64_MAX;
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", group, name);
	if ((f = fopen(p, "re")) == NULL)
		return UINT64_MAX;
	if (fgets(line, sizeof line, f) != NULL)
		v = strtoull(line, NULL, 10);
	fclose(f);
	return v;
}

/*
 * The value of key in the group's file name of "key value" lines (memory.stat,
 * memory.events, memory.oom_control); 0 where it has none.
 */
static uint64_t
get_key(const char *name, const char *key)
{
	char p[700], line[256];
	size_t len = strlen(key);
	uint64_t v = 0;
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", group, name);
	if ((f = fopen(p, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, len) == 0 && line[len] == ' ')
			v = strtoull(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/* The group's memory only its processes can give back, every 20 ms. */
static void *
watch(void *arg)
{
	uint64_t held;

	(void)arg;
	while (watching) {
		held = get_key("memory.stat", version == 1 ? "rss" : "anon") +
		    get_key("memory.stat", "shmem");
		if (held > held_peak)
			held_peak = held;
		harness_sleep_ms(20);
	}
	return NULL;
}

/* The daemon gone first (a group with a process cannot go), the group. */
static void
cleanup(void)
{
	int i;

	if (group[0] == '\0')
		return;
	if (d.pid > 0)
		kill(d.pid, SIGKILL);
	for (i = 0; i < 100 && rmdir(group) == -1 && errno == EBUSY; i++)
		harness_sleep_ms(50);
	group[0] = '\0';
}

/*
 * This process's group, into home: v1's memory hierarchy (a line
 * "N:memory:/path", memory maybe among others), or v2's ("0::/path").
 */
static void
own_group(const char *root)
{
	char line[512], *ctl, *p;
	FILE *f;

	CHECK((f = fopen("/proc/self/cgroup", "re")) != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((ctl = strchr(line, ':')) == NULL || (p = strchr(ctl + 1,
		    ':')) == NULL)
			continue;
		*p++ = '\0';
		ctl++;
		if (version == 1 ? strstr(ctl, "memory") != NULL : *ctl == '\0')
			snprintf(home, sizeof home, "%s%s", root, p);
	}
	fclose(f);
	CHECKF(home[0] != '\0', "no cgroup v%d line in /proc/self/cgroup",
	    version);
}

/* Make the group: v1, else v2; skip where neither is possible. */
static void
make_group(void)
{
	char limit[32];

	snprintf(limit, sizeof limit, "%llu\n", (unsigned long long)LIMIT);
	if (access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0) {
		version = 1;
		own_group("/sys/fs/cgroup/memory");
		snprintf(group, sizeof group,
		    "/sys/fs/cgroup/memory/pagerd-test.%d", (int)getpid());
	} else if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK) ==
	    0) {
		version = 2;
		own_group("/sys/fs/cgroup");
		(void)harness_cgroup_put("/sys/fs/cgroup",
		    "cgroup.subtree_control", "+memory");
		snprintf(group, sizeof group, "/sys/fs/cgroup/pagerd-test.%d",
		    (int)getpid());
	} else
		harness_skip("no memory cgroup to make: neither "
		    "/sys/fs/cgroup/memory (v1) nor a writable v2 hierarchy");
	if (mkdir(group, 0755) == -1) {
		group[0] = '\0';
		harness_skip("cannot make a memory cgroup: %s",
		    strerror(errno));
	}
	atexit(cleanup);
	if (version == 1)
		CHECKF(harness_cgroup_put(group, "memory.limit_in_bytes",
		    limit) == 0, "memory.limit_in_bytes: %s", strerror(errno));
	else if (harness_cgroup_put(group, "memory.max", limit) == -1)
		harness_skip("v2 group without the memory controller: %s",
		    strerror(errno));
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
	uint64_t peak, oom;
	pthread_t t;

	harness_need_root();
	make_group();
	/* The daemon starts in the group, the test and clients outside. */
	harness_cgroup_enter(group);
	harness_start(&d, NULL);
	harness_cgroup_enter(home);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	watching = 1;
	CHECK(pthread_create(&t, NULL, watch, NULL) == 0);
	harness_clients(&d, 2, client, "no shared page cache on this kernel");
	watching = 0;
	CHECK(pthread_join(t, NULL) == 0);
	CHECKF(harness_alive(&d), "the daemon died");
	oom = get_key(version == 1 ? "memory.oom_control" : "memory.events",
	    "oom_kill");
	CHECKF(oom == 0, "%" PRIu64 " processes of the group were OOM-killed",
	    oom);
	CHECKF(harness_log_has(&d, "page caches may hold 128 MiB"), "the "
	    "budget did not come from the cgroup's 256 MiB");
	peak = get(version == 1 ? "memory.max_usage_in_bytes" :
	    "memory.peak");
	if (peak == UINT64_MAX)
		peak = get("memory.current");
	printf("cgroup v%d: anonymous and shared memory at most %" PRIu64 " MiB, "
	    "usage at most %" PRIu64 " MiB (the file's page cache with it), "
	    "of %llu MiB\n", version, held_peak >> 20, peak >> 20,
	    LIMIT >> 20);
	CHECKF(held_peak < LIMIT, "the group's anonymous and shared memory "
	    "reached %" PRIu64 " MiB, its limit", held_peak >> 20);
	harness_stop(&d);
	d.pid = 0;
	unlink(path);
	return 0;
}

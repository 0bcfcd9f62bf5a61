/*
 * Description: memory pressure (PSI) makes the daemon give back page
 * cache memory below its budget. The daemon runs in a cgroup of its own
 * (v2, for its memory.pressure; with a v1 memory controller beside it on
 * a hybrid layout, for the limit) of 256 MiB, with cache-max-mib 200,
 * and holds a 160 MiB file in its cache for a client; two processes in
 * the same group then read files that do not fit in what is left, over
 * and over, and stall on memory. The daemon must see the group's
 * pressure (its trigger on the group's memory.pressure, logged) and give
 * back at least a quarter of what it holds, while the client's mapping
 * stays whole. Skipped where the kernel has no PSI, where no v2 group
 * with memory.pressure or no memory limit can be made, or where the
 * readers could not make the group stall as long as the trigger asks;
 * a group that stalled that long while the daemon saw nothing fails.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <linux/magic.h>

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

#define SEED 0x5eed9519ull
#define CACHED (160ull << 20)
#define READ_SIZE (64ull << 20)
#define LIMIT "268435456\n"	/* 256 MiB */
#define READERS 2
#define WAIT_S 40

static struct harness_daemon d;
static char v2[256], v2home[512];	/* the v2 group, and ours */
static char v1[256], v1home[512];	/* the v1 memory group ("": none) */
static pid_t readers[READERS];

/* Into and out of the test's groups. */
static void
enter_groups(int in)
{
	harness_cgroup_enter(in ? v2 : v2home);
	if (v1[0] != '\0')
		harness_cgroup_enter(in ? v1 : v1home);
}

/* The group's memory stalls ("some"), in microseconds. */
static uint64_t
stalled_us(void)
{
	char p[300], line[256];
	uint64_t total = 0;
	FILE *f;

	snprintf(p, sizeof p, "%s/memory.pressure", v2);
	CHECKF((f = fopen(p, "re")) != NULL, "%s: %s", p, strerror(errno));
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "some ", 5) == 0 && strstr(line, "total=") !=
		    NULL)
			total = strtoull(strstr(line, "total=") + 6, NULL, 10);
	fclose(f);
	return total;
}

static void
cleanup(void)
{
	int i, k;

	for (i = 0; i < READERS; i++)
		if (readers[i] > 0) {
			kill(readers[i], SIGKILL);
			waitpid(readers[i], NULL, 0);
			readers[i] = 0;
		}
	if (d.pid > 0)
		kill(d.pid, SIGKILL);
	for (k = 0; k < 100; k++) {
		if ((v2[0] == '\0' || rmdir(v2) == 0 || errno != EBUSY) &&
		    (v1[0] == '\0' || rmdir(v1) == 0 || errno != EBUSY))
			break;
		harness_sleep_ms(50);
	}
	v2[0] = v1[0] = '\0';
}

/* Our own group of a hierarchy ("0::" for v2, else the controller's). */
static void
own_group(const char *root, const char *ctl, char *home, size_t len)
{
	char line[512], *c, *p;
	FILE *f;

	CHECK((f = fopen("/proc/self/cgroup", "re")) != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((c = strchr(line, ':')) == NULL || (p = strchr(c + 1, ':')) ==
		    NULL)
			continue;
		*p++ = '\0';
		c++;
		if (ctl == NULL ? *c == '\0' : strstr(c, ctl) != NULL)
			snprintf(home, len, "%s%s", root, p);
	}
	fclose(f);
	CHECKF(home[0] != '\0', "no line for %s in /proc/self/cgroup", root);
}

/*
 * The groups: on a pure v2 layout one group with memory.max; on a hybrid
 * one, a v2 group (unified) and a v1 memory group. Skips where neither.
 */
static void
make_groups(void)
{
	char p[300];
	const char *root;

	if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK) == 0)
		root = "/sys/fs/cgroup";
	else if (access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) == 0 &&
	    access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0)
		root = "/sys/fs/cgroup/unified";
	else
		harness_skip("no writable cgroup v2 hierarchy with a memory "
		    "controller, pure or beside a v1 one");
	own_group(root, NULL, v2home, sizeof v2home);
	if (strcmp(root, "/sys/fs/cgroup") == 0)
		(void)harness_cgroup_put(root, "cgroup.subtree_control",
		    "+memory");
	snprintf(v2, sizeof v2, "%s/pagerd-pressure.%d", root, (int)getpid());
	if (mkdir(v2, 0755) == -1) {
		v2[0] = '\0';
		harness_skip("cannot make a v2 group: %s", strerror(errno));
	}
	atexit(cleanup);
	snprintf(p, sizeof p, "%s/memory.pressure", v2);
	if (access(p, R_OK) != 0)
		harness_skip("the v2 group has no memory.pressure (PSI off?)");
	if (strcmp(root, "/sys/fs/cgroup") == 0) {
		if (harness_cgroup_put(v2, "memory.max", LIMIT) == -1)
			harness_skip("the v2 group has no memory controller: %s",
			    strerror(errno));
		return;
	}
	own_group("/sys/fs/cgroup/memory", "memory", v1home, sizeof v1home);
	snprintf(v1, sizeof v1, "/sys/fs/cgroup/memory/pagerd-pressure.%d",
	    (int)getpid());
	if (mkdir(v1, 0755) == -1) {
		v1[0] = '\0';
		harness_skip("cannot make a v1 memory group: %s",
		    strerror(errno));
	}
	CHECKF(harness_cgroup_put(v1, "memory.limit_in_bytes", LIMIT) == 0,
	    "memory.limit_in_bytes: %s", strerror(errno));
}

/* A file the readers read, none of it in memory. */
static void
reader_file(const char *name, char *path, size_t len)
{
	int fd;

	harness_make_file(&d, name, READ_SIZE, SEED, path, len);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(fdatasync(fd) == 0 || errno == EINVAL);
	CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	close(fd);
}

/* Read path, in the groups, over and over until killed. */
static pid_t
reader(const char *path)
{
	static char buf[1 << 20];
	off_t off;
	pid_t pid;
	int fd;

	CHECK((pid = fork()) != -1);
	if (pid > 0)
		return pid;
	enter_groups(1);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		_exit(1);
	for (;;)
		for (off = 0; off < (off_t)READ_SIZE; off += sizeof buf)
			if (pread(fd, buf, sizeof buf, off) <= 0)
				_exit(1);
}

int
main(void)
{
	struct pd_stats_reply sr;
	struct statfs sfs;
	struct pagerd *pd;
	char path[512], rpath[READERS][512], name[32], want[600];
	uint64_t held0, before, stalls;
	void *p;
	int i, s;

	harness_need_root();
	if (access("/proc/pressure/memory", R_OK) != 0)
		harness_skip("the kernel has no PSI (/proc/pressure/memory)");
	make_groups();
	enter_groups(1);
	harness_start_conf(&d, "cache-max-mib 200\n");
	enter_groups(0);
	snprintf(want, sizeof want, "pressure watched on %s/memory.pressure",
	    v2);
	CHECKF(harness_log_has(&d, want), "the daemon does not watch its "
	    "group's pressure (%s)", want);
	CHECK(statfs(d.dir, &sfs) == 0);
	if (sfs.f_type == TMPFS_MAGIC)
		harness_skip("%s is a tmpfs: reading its files makes no memory "
		    "stalls", d.dir);

	harness_make_file(&d, "data", CACHED, SEED, path, sizeof path);
	p = harness_map_cached(&pd, d.sock, path, CACHED, PROT_READ);
	harness_check_range(p, 0, CACHED, SEED, UINT64_MAX);
	harness_control_stats(d.sock, &sr);
	held0 = sr.cache_held;
	CHECKF(held0 >= CACHED / 2, "the cache holds only %" PRIu64 " KiB",
	    held0 >> 10);

	for (i = 0; i < READERS; i++) {
		snprintf(name, sizeof name, "read%d", i);
		reader_file(name, rpath[i], sizeof rpath[i]);
	}
	before = stalled_us();
	for (i = 0; i < READERS; i++)
		readers[i] = reader(rpath[i]);
	for (s = 0; s < WAIT_S * 10; s++) {
		harness_sleep_ms(100);
		harness_control_stats(d.sock, &sr);
		if (sr.pressure_events > 0 && sr.cache_held <= held0 / 4 * 3)
			break;
		CHECKF(harness_alive(&d), "the daemon died under pressure");
	}
	stalls = stalled_us() - before;
	for (i = 0; i < READERS; i++) {
		kill(readers[i], SIGKILL);
		waitpid(readers[i], NULL, 0);
		readers[i] = 0;
	}
	printf("the group stalled %" PRIu64 " ms; %" PRIu64 " pressure "
	    "events; the cache held %" PRIu64 " KiB, then %" PRIu64 " KiB\n",
	    stalls / 1000, sr.pressure_events, held0 >> 10,
	    sr.cache_held >> 10);
	if (sr.pressure_events == 0 && stalls < 300000)
		harness_skip("the readers made the group stall only %" PRIu64
		    " ms in %d s, less than one trigger's window asks",
		    stalls / 1000, WAIT_S);
	CHECKF(sr.pressure_events > 0, "the group stalled %" PRIu64 " ms but "
	    "the daemon saw no pressure event", stalls / 1000);
	CHECKF(sr.cache_held <= held0 / 4 * 3, "under pressure the cache "
	    "still holds %" PRIu64 " of %" PRIu64 " KiB", sr.cache_held >> 10,
	    held0 >> 10);
	/* What was given back faults in again, right. */
	harness_check_range(p, 0, CACHED, SEED, UINT64_MAX);
	CHECK(pagerd_unmap(pd, p) == 0);
	pagerd_close(pd);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	d.pid = 0;
	return 0;
}

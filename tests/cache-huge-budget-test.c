/*
 * Description: random 4 KiB reads through the daemon's default page
 * caches (its private tmpfs, huge=within_size) over a file 16 times its
 * budget (cache-max-mib 32) keep the daemon's shared memory within that
 * budget as its memory cgroup sees it (the shmem line of memory.stat,
 * v1 here, v2 where the machine has no v1, sampled while the client
 * reads), and the daemon's count of what it holds (pagerctl status) is
 * what the group sees. The budget used to count the 4 KiB pages in the
 * caches' bitmaps while each scattered fill took a 2 MiB huge page: the
 * daemon held most of the 512 MiB file.
 */
#include "config.h"

#include <sys/mman.h>
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

#define SEED 0x4b6e5a11ull
#define SIZE (512ull << 20)
#define BUDGET (32ull << 20)
/* What eviction may lag behind the fills (fills in flight), and noise. */
#define SLACK (8ull << 20)
#define READS 8192

static struct harness_daemon d;
static struct harness_memgroup group;
static char path[512];

static void
cleanup(void)
{
	harness_memgroup_remove(&group, d.pid);
}

static void
timeout(int sig)
{
	(void)sig;
	harness_fail(__FILE__, __LINE__, "the client did not finish its "
	    "reads in 300 s");
}

/* Random 4 KiB reads over the whole file, every word checked. */
static void
client(void)
{
	struct pagerd *pd;
	uint64_t off, x = SEED;
	const uint64_t *p;
	int i;

	signal(SIGALRM, timeout);
	alarm(300);
	p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);
	for (i = 0; i < READS; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		off = x % (SIZE / 4096) * 4096;
		CHECKF(p[off / 8] == harness_word(off, SEED), "wrong word at "
		    "offset 0x%" PRIx64, off);
	}
	pagerd_close(pd);
	_exit(0);
}

/*
 * Run the client, sampling the group's shared memory meanwhile: the most
 * it held.
 */
static uint64_t
run_client(void)
{
	uint64_t most = 0, v;
	pid_t pid, r;
	int status;

	fflush(NULL);
	CHECK((pid = fork()) != -1);
	if (pid == 0)
		client();
	for (;;) {
		if ((v = harness_memgroup_stat(&group, "shmem")) != UINT64_MAX &&
		    v > most)
			most = v;
		if ((r = waitpid(pid, &status, WNOHANG)) == pid)
			break;
		CHECK(r == 0);
		harness_sleep_ms(10);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		harness_skip("no shared page cache on this kernel");
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client "
	    "failed (%d); the daemon %s", status, harness_alive(&d) ? "lives" :
	    "died");
	return most;
}

int
main(void)
{
	struct pd_stats_reply st;
	uint64_t base, most, now;

	harness_memgroup_make(&group, 0);
	atexit(cleanup);
	/* The daemon in the group, the test and its client outside. */
	harness_cgroup_enter(group.dir);
	harness_start_conf(&d, "cache-max-mib 32\nuid-max-cache-mib 32\n");
	harness_cgroup_enter(group.home);
	if (!harness_log_has(&d, "private tmpfs (huge=within_size)"))
		harness_skip("the daemon's caches are not on its private huge "
		    "tmpfs (a cache-dir, or it may not mount)");
	if ((base = harness_memgroup_stat(&group, "shmem")) == UINT64_MAX)
		harness_skip("the group's memory.stat has no shmem line");
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	most = run_client();
	CHECKF(harness_alive(&d), "the daemon died");
	now = harness_memgroup_stat(&group, "shmem");
	harness_control_stats(d.sock, &st);
	printf("cgroup v%d: the daemon's shared memory went from %" PRIu64
	    " to at most %" PRIu64 " MiB, %" PRIu64 " MiB at the end; it "
	    "counts %" PRIu64 " MiB held of its %" PRIu64 " MiB\n",
	    group.version, base >> 20, most >> 20, now >> 20,
	    st.cache_held >> 20, st.cache_budget >> 20);
	CHECKF(most - base <= BUDGET + SLACK, "the daemon's caches took %"
	    PRIu64 " MiB of a %llu MiB budget", (most - base) >> 20,
	    BUDGET >> 20);
	/* Its count is its memory, within the noise. */
	CHECKF(st.cache_held + SLACK >= now - base && now - base + SLACK >=
	    st.cache_held, "the daemon counts %" PRIu64 " MiB held, its "
	    "group sees %" PRIu64 " MiB", st.cache_held >> 20,
	    (now - base) >> 20);
	CHECKF(st.cache_held <= BUDGET, "the daemon counts %" PRIu64 " MiB "
	    "held, past its budget", st.cache_held >> 20);
	harness_stop(&d);
	d.pid = 0;
	unlink(path);
	return 0;
}

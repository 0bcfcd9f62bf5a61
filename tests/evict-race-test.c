/*
 * Description: eviction races faults and is never seen. With a budget of
 * 16 MiB (cache-max-mib) over a 256 MiB file, two clients of the one
 * shared page cache, four threads each, scan it and read random pages of
 * it at once, so that windows are punched out while others fault, fill,
 * prefetch and map them: every byte read is the file's (never zeros),
 * nothing hangs, the daemon lives, evicted bytes are counted and the
 * caches end within their budget.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

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

#define SEED 0x5eed0e71c7ull
#define SIZE (256ull << 20)
#define BUDGET (16ull << 20)
#define PAGE 4096u
#define THREADS 4
#define RANDOM_PAGES 4000

static const char *sock;
static char path[512];
static const unsigned char *mem;

static void
check_page(uint64_t page)
{
	harness_check_range(mem + page * PAGE, page * PAGE, PAGE, SEED, SIZE);
}

/* Thread 0 scans the file; the others read random pages of it. */
static void *
reader(void *arg)
{
	uint64_t i, x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;

	if ((uintptr_t)arg == 0) {
		for (i = 0; i < SIZE / PAGE; i++)
			check_page(i);
		return NULL;
	}
	for (i = 0; i < RANDOM_PAGES; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Half of them in a hot 4 MiB, the rest anywhere. */
		check_page(i % 2 ? x % (SIZE / PAGE) : x % (4u << 20) / PAGE);
	}
	return NULL;
}

static void
timeout(int sig)
{
	(void)sig;
	harness_fail(__FILE__, __LINE__, "a client's reads did not end in "
	    "180 s");
}

/* One client: map the file through the shared cache, read it racing. */
static void
client(void)
{
	pthread_t t[THREADS];
	struct pagerd *pd;
	uintptr_t i;
	void *p;

	signal(SIGALRM, timeout);
	alarm(180);
	p = harness_map_cached(&pd, sock, path, SIZE, PROT_READ);
	mem = p;
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, reader, (void *)i) == 0);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;

	harness_need_root();
	harness_start_conf(&d, "cache-max-mib 16\n");
	sock = d.sock;
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	harness_clients(&d, 2, client, "no shared page cache on this kernel: nothing is "
	    "evicted in copy mode");
	CHECKF(harness_alive(&d), "the daemon died");
	/* Windows filling as the clients ended are evicted on a tick. */
	harness_wait_held(d.sock, BUDGET, &sr);
	printf("budget %" PRIu64 " MiB, held %" PRIu64 " KiB, evicted %"
	    PRIu64 " MiB, %" PRIu64 " refaults\n", sr.cache_budget >> 20,
	    sr.cache_held >> 10, sr.cache_evicted >> 20, sr.cache_refaults);
	CHECKF(sr.cache_budget == BUDGET, "budget %" PRIu64 " bytes",
	    sr.cache_budget);
	CHECKF(sr.cache_evicted >= SIZE - BUDGET, "only %" PRIu64 " bytes "
	    "evicted of a %llu MiB file read through a %llu MiB budget",
	    sr.cache_evicted, SIZE >> 20, BUDGET >> 20);
	CHECKF(sr.cache_held <= BUDGET, "the caches hold %" PRIu64 " bytes, "
	    "past their budget, 5 s after the clients", sr.cache_held);
	CHECKF(harness_log_count(&d, "UFFDIO_CONTINUE") == 0, "the daemon "
	    "logged failed UFFDIO_CONTINUEs");
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	return 0;
}

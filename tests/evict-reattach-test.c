/*
 * Description: a restarted daemon counts and evicts the pages of the
 * caches it adopts. With a budget of 8 MiB, a client reads a 32 MiB file
 * through its shared cache; the daemon is killed and started again, and
 * the client's re-attach hands it the cache: the new daemon counts the
 * pages the cache still holds (which its empty bitmap does not know) as
 * held, the client reads the whole file again, every byte right, and the
 * daemon ends within its budget having evicted them. Before, the adopted
 * pages were counted nowhere and never evicted.
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

#define SEED 0x5eedad09ull
#define SIZE (32u << 20)
#define BUDGET (8u << 20)

/* Read the file, tell the parent, read it again when told to. */
static void
client(const char *sock, const char *path, int up, int down)
{
	struct pagerd *pd;
	char c;
	void *p;
	int fd;

	setenv("PAGERD_REATTACH_TIMEOUT", "20000", 1);
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	close(fd);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	CHECK(write(up, "r", 1) == 1);
	CHECK(read(down, &c, 1) == 1);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	char path[512], conf[256];
	int up[2], down[2], fd, i, status;
	pid_t pid;
	char c;

	harness_need_root();
	/* A file the restarted daemon reads too: -f, not harness_start_conf. */
	snprintf(conf, sizeof conf, "%s/pagerd-conf.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CHECK((fd = mkstemp(conf)) != -1);
	CHECK(write(fd, "cache-max-mib 8\n", 16) == 16);
	close(fd);
	harness_start(&d, "-f", conf, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	fflush(NULL);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		client(d.sock, path, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	CHECKF(read(up[0], &c, 1) == 1, "the client failed its first read");
	harness_control_stats(d.sock, &sr);
	if (sr.cache_held == 0 && sr.caches == 0)
		harness_skip("no shared page cache on this kernel");

	harness_kill(&d);
	harness_restart(&d);
	for (i = 0; i < 100 && !harness_log_has(&d, "re-attached"); i++)
		harness_sleep_ms(50);
	CHECKF(harness_log_has(&d, "adopted after a restart"), "the client "
	    "did not hand its cache over");
	harness_control_stats(d.sock, &sr);
	printf("after the restart: %" PRIu64 " KiB held\n", sr.cache_held >>
	    10);
	CHECKF(sr.cache_held > 0, "the adopted cache's pages are not counted");
	CHECKF(sr.cache_held <= BUDGET + (2u << 20), "%" PRIu64 " KiB held "
	    "after a restart: the old daemon passed its budget",
	    sr.cache_held >> 10);

	CHECK(write(down[1], "g", 1) == 1);
	CHECKF((status = harness_wait(pid)) == 0, "the client failed its read "
	    "after the restart (%d)", status);
	harness_wait_held(d.sock, BUDGET, &sr);
	printf("after the second read: %" PRIu64 " KiB held, %" PRIu64
	    " KiB evicted\n", sr.cache_held >> 10, sr.cache_evicted >> 10);
	CHECKF(sr.cache_held <= BUDGET, "%" PRIu64 " KiB held, past the budget",
	    sr.cache_held >> 10);
	CHECKF(sr.cache_evicted >= SIZE - BUDGET, "only %" PRIu64 " KiB "
	    "evicted", sr.cache_evicted >> 10);
	harness_stop(&d);
	unlink(conf);
	unlink(path);
	return 0;
}

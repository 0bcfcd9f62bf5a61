/*
 * Description: a store server that dies while a read is out and stays
 * away: after the daemon's bounded reconnection attempts the page gets
 * SIGBUS (never zeros) and a log line says so; meanwhile another client
 * of the daemon is served at once; and once the server is back, a new
 * client of the store reads right.
 */
#include "config.h"

#include <sys/mman.h>

#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed3018ull
#define SIZE (8u << 20)

/* A zero region's pages, each touched: served while the store is away. */
static void
zero_client(const char *sock)
{
	struct pagerd *pd;
	unsigned char *z;
	size_t i;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, 1 << 20, PROT_READ, 0, (void **)&z) == 0,
	    "map zero: %s", pagerd_errmsg());
	for (i = 0; i < 1 << 20; i += 4096)
		CHECK(z[i] == 0);
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon d;
	struct timespec t0, t1;
	struct nbdkit k;
	char path[512], kdir[256];
	int status, i;
	double ms;
	pid_t pid, zpid;

	nbdkit_delayed_store(&d, &k, kdir, sizeof kdir, path, sizeof path,
	    SIZE, SEED, "delay-read=3");
	/* The read is at the server, which holds it for 3 s. */
	pid = nbdkit_touch_held(&d, &k, SIZE, 4u << 20, SEED);
	nbdkit_kill(&k);
	/* The daemon retries for about 3 s: others are served meanwhile. */
	for (i = 0; i < 2; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		fflush(NULL);
		if ((zpid = fork()) == 0) {
			zero_client(d.sock);
			_exit(0);
		}
		CHECKF((status = harness_wait(zpid)) == 0, "a zero region's "
		    "client while the store was away: status %d", status);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		CHECKF(ms < 1000, "a zero region's client took %.0f ms while "
		    "the store was away", ms);
	}
	status = harness_wait(pid);
	CHECKF(status == 128 + SIGBUS, "the client of a store gone: status %d, "
	    "expected death by SIGBUS", status);
	for (i = 0; i < 500 && !harness_log_has(&d, "attempts failed"); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, "attempts failed"), "no log line of the "
	    "attempts");
	nbdkit_start(&k, kdir, "file", path, NULL);
	status = nbdkit_touch(d.sock, "img", SIZE, 5u << 20, SEED, SIZE);
	CHECKF(status == 0, "a client once the server is back: status %d",
	    status);
	nbdkit_end(&d, &k, kdir);
	printf("a store gone: SIGBUS after the retries, others served\n");
	return 0;
}

/*
 * Description: a store whose server takes the connection and never
 * answers the NBD handshake (a listening socket nobody accepts on) is
 * given up after store-connect-timeout (2 s here): a pagerd_map_store()
 * waiting for the store's size fails with ETIMEDOUT and a reason naming
 * the key, within a few seconds rather than never; pagerctl stores shows
 * the store failing and why, the log says so, and the daemon goes on
 * serving.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define TIMEOUT_S 2
/* A generous bound: the timer, a loaded machine, ASan. */
#define WITHIN_S 20

int
main(void)
{
	struct harness_daemon d;
	struct harness_hang h;
	char conf[64], out[8192];
	struct pagerd *pd;
	double start, took;
	void *addr;
	int error;

	harness_need_root();
	snprintf(conf, sizeof conf, "store-connect-timeout %d\n", TIMEOUT_S);
	harness_hang_start(&d, &h, conf);

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	start = harness_now_s();
	error = pagerd_map_store(pd, "hang", 0, 1 << 20, PROT_READ, 0, &addr);
	took = harness_now_s() - start;
	printf("map of a store that never answers: %d (%s) after %.1f s\n",
	    error, pagerd_errmsg(), took);
	CHECKF(error == -ETIMEDOUT, "the map of a store that never answers "
	    "returned %d (%s), not -ETIMEDOUT", error, pagerd_errmsg());
	CHECKF(strstr(pagerd_errmsg(), "store-connect-timeout") != NULL,
	    "the reason does not name store-connect-timeout: %s",
	    pagerd_errmsg());
	CHECKF(took >= TIMEOUT_S - 0.5 && took < WITHIN_S, "the map failed "
	    "after %.1f s, store-connect-timeout is %d s", took, TIMEOUT_S);

	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"state\":\"failing\"") != NULL && strstr(out,
	    "store-connect-timeout") != NULL, "pagerctl stores does not show "
	    "the store failing for store-connect-timeout: %s", out);
	CHECKF(harness_log_has(&d, "no NBD handshake within"), "no log line "
	    "says why the store failed");

	/* The daemon serves on: a zero region on the same connection. */
	CHECKF(pagerd_map_zero(pd, 1 << 20, PROT_READ | PROT_WRITE, 0,
	    &addr) == 0, "map zero: %s", pagerd_errmsg());
	CHECK(((volatile char *)addr)[4096] == 0);
	pagerd_close(pd);
	harness_hang_end(&d, &h);
	printf("a store that never answers the handshake fails its waits "
	    "after store-connect-timeout\n");
	return 0;
}

/*
 * Description: a user cannot flood the log through a store's failing
 * requests. pagerd-ta maps a store whose export is read-only
 * (nbdkit -r) for write-back and syncs a written page 60 times: libnbd
 * refuses each write before it goes, and the daemon's line for it
 * ("store ro: uid N: write of ...") counts against pagerd-ta's uid
 * (uid-log-rate 2: a burst of 10, then 2 a second), whose dropped lines
 * are said to be dropped; every sync still fails with the cause.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SIZE (8u << 20)
#define SYNCS 60
#define RATE 2

static struct harness_daemon d;

/* As pagerd-ta: write and sync a page of the read-only store, SYNCS times. */
static void
flood(void *arg)
{
	struct pagerd *pd;
	unsigned char *m;
	void *addr;
	int i;

	(void)arg;
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "ro", 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, &addr) == 0, "map ro: %s", pagerd_errmsg());
	m = addr;
	for (i = 0; i < SYNCS; i++) {
		m[(size_t)(i % 64) * 4096] = (unsigned char)(i + 1);
		CHECKF(pagerd_sync(pd, m) < 0, "sync %d to a read-only "
		    "export succeeded", i);
	}
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon f;
	struct nbdkit ro;
	char conf[1024], text[128];
	double t0, secs;
	uid_t ta;

	harness_need_root();
	ta = harness_test_user("pagerd-ta");
	nbdkit_need();
	nbdkit_files(&f);
	nbdkit_start(&ro, f.dir, "-r", "memory", "8M", NULL);
	snprintf(conf, sizeof conf, "uid-log-rate %d\nstore ro %s\n", RATE,
	    ro.uri);
	harness_start_conf(&d, conf);

	t0 = harness_now_s();
	CHECKF(harness_as_user("pagerd-ta", flood, NULL) == 0, "pagerd-ta's "
	    "client failed");
	secs = harness_now_s() - t0;

	harness_log_within_rate(&d, ": write of 0x", ta, RATE, secs);
	snprintf(text, sizeof text, "store ro: uid %u: write of ",
	    (unsigned int)ta);
	CHECKF(harness_log_has(&d, text), "no line names the refused write "
	    "and its uid");
	CHECKF(harness_alive(&d), "the daemon died");
	nbdkit_end(&d, &ro, f.dir);
	printf("a store's refused requests: within the uid's log rate\n");
	return 0;
}

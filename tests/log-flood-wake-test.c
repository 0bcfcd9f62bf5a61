/*
 * Description: a client that makes the daemon's UFFDIO_WAKE fail cannot
 * flood the log, nor stop the daemon. The daemon checks a region's
 * addresses against 2^57, the most any kernel gives a process; the
 * kernel's own limit (TASK_SIZE) is lower, and UFFDIO_WAKE of a range
 * past it fails with EINVAL. pagerd-ta re-attaches (a hello with
 * PD_HELLO_REATTACH) with NREGIONS zero regions just below 2^57 and says
 * it has re-sent them all: the daemon wakes each region, and each wake
 * fails. Its line ("UFFDIO_WAKE 0x...: Invalid argument") counts against
 * pagerd-ta's uid (uid-log-rate 2: a burst of 10, then 2 a second),
 * whose dropped lines are said to be dropped. The daemon answers the
 * re-attach and still serves a client's faults.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define NREGIONS 100
#define RATE 2
#define ADDR_LIMIT (1ull << 57)

static struct harness_daemon d;

/* As pagerd-ta: the re-attach described above; exits 0 if answered. */
static void
reattach(void)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	char why[PD_REASON_MAX];
	union pd_msg msg;
	uint32_t seq = 1;
	int fd, uffd, i;

	harness_become_user("pagerd-ta");
	fd = harness_raw_hello_flags(d.sock, PD_HELLO_REATTACH, &uffd);
	for (i = 0; i < NREGIONS; i++) {
		proto_init(&msg, PD_MSG_REGION_ADD, ++seq);
		msg.region_add.start = ADDR_LIMIT - (uint64_t)(i + 1) * 2 *
		    page;
		msg.region_add.length = page;
		msg.region_add.backing = PD_BACKING_ZERO;
		msg.region_add.prot = PD_PROT_READ;
		msg.region_add.mode = PD_MODE_MISSING;
		CHECKF(harness_raw_request(fd, &msg, why, sizeof why) == 0,
		    "region %d refused: %s", i, why);
	}
	proto_init(&msg, PD_MSG_REATTACHED, ++seq);
	CHECKF(harness_raw_request(fd, &msg, why, sizeof why) == 0,
	    "the re-attach was refused: %s", why);
	close(fd);
	close(uffd);
	_exit(0);
}

/* A client's zero region, faulted in and read back as zeros. */
static void
served(void)
{
	struct pagerd *pd;
	size_t len = 16 * 4096, i;
	const unsigned char *p;
	void *map;

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, len, PROT_READ, 0, &map) == 0, "map: %s",
	    pagerd_errmsg());
	for (p = map, i = 0; i < len; i += 4096)
		CHECKF(p[i] == 0, "byte %zu of a zero region is not zero", i);
	pagerd_close(pd);
}

int
main(void)
{
	char text[64];
	double t0;
	uid_t ta;
	pid_t pid;

	ta = harness_test_user("pagerd-ta");
	snprintf(text, sizeof text, "uid-log-rate %d\n", RATE);
	harness_start_conf(&d, text);
	t0 = harness_now_s();
	fflush(NULL);
	if ((pid = fork()) == 0)
		reattach();
	CHECK(pid > 0);
	CHECKF(harness_wait(pid) == 0, "pagerd-ta's re-attach failed");
	harness_wait_idle(d.sock);
	CHECKF(harness_log_has(&d, "UFFDIO_WAKE"), "no line says a wake "
	    "failed: did the kernel take a range past its TASK_SIZE?");
	harness_log_within_rate(&d, "UFFDIO_WAKE", ta, RATE, harness_now_s() -
	    t0);
	CHECKF(harness_alive(&d), "the daemon died");
	served();
	harness_stop(&d);
	printf("failing wakes: within the uid's log rate, the daemon serves "
	    "on\n");
	return 0;
}

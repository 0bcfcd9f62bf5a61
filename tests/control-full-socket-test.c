/*
 * Description: a control peer that asks for a long listing and does not
 * read it freezes nothing. With one worker, a client of 2000 regions and
 * a control session that sends REGIONS and never reads, the daemon closes
 * that session once its socket is full ("not reading its replies") and
 * goes on answering: another control session's stats come back, and the
 * client's regions are still served. (The listing used to be sent under
 * the worker's table lock, which closing the session takes again: the
 * worker deadlocked on itself.)
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define NREGIONS 2000

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	unsigned char *p[NREGIONS];
	struct pagerd *pd;
	union pd_msg msg;
	int fd, i;

	harness_start(&d, "--workers", "1", NULL);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	for (i = 0; i < NREGIONS; i++)
		CHECKF(pagerd_map_zero(pd, 4096, PROT_READ | PROT_WRITE, 0,
		    (void **)&p[i]) == 0, "map %d: %s", i, pagerd_errmsg());

	CHECKF((fd = harness_raw_connect(d.sock)) != -1, "connect: %s",
	    strerror(errno));
	CHECK(harness_raw_hello_control(fd) == 0);
	proto_init(&msg, PD_MSG_REGIONS, 2);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, NULL, 0) == 0);
	/* The listing fills the socket, which nobody reads. */
	for (i = 0; i < 50 && !harness_log_has(&d, "not reading its replies");
	    i++)
		harness_sleep_ms(100);
	CHECKF(harness_log_has(&d, "not reading its replies"), "the session "
	    "that does not read was not closed");

	/* The worker still answers, and still serves the client. */
	harness_control_stats(d.sock, &sr);
	CHECK(sr.regions == NREGIONS);
	for (i = 0; i < NREGIONS; i += 100) {
		CHECK(p[i][0] == 0);
		p[i][1] = 1;
	}
	close(fd);
	pagerd_close(pd);
	CHECK(harness_alive(&d));
	harness_stop(&d);
	return 0;
}

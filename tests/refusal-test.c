/*
 * Description: a client the daemon refuses is told why. With allow-uid
 * pagerd-tb, pagerd-ta's pagerd_connect fails with EACCES and
 * pagerd_errmsg() gives the daemon's reason (allow-uid), whether the
 * refusal comes before or after its hello was sent; a raw connection
 * gets the refusal without sending anything. pagerd-tb is served.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define TRIES 20

static void
refused(void *sock)
{
	struct pagerd *pd;
	union pd_msg msg;
	int fd, i, error, status;
	/* The refusal races the hello: either order must give the reason. */
	for (i = 0; i < TRIES; i++) {
		error = pagerd_connect(sock, &pd);
		CHECKF(error == -EACCES && strstr(pagerd_errmsg(),
		    "allow-uid") != NULL, "connect %d: %d: %s", i, error,
		    pagerd_errmsg());
		if (i % 2)
			harness_sleep_ms(20);
	}
	printf("pagerd-ta: %s\n", pagerd_errmsg());
	CHECKF((fd = harness_raw_connect(sock)) != -1, "connect: %s",
	    strerror(errno));
	status = harness_raw_refusal(fd, &msg, 5000);
	CHECKF(status == -EACCES && strstr(msg.reply.reason, "allow-uid") !=
	    NULL, "raw refusal %d: %s", status, msg.reply.reason);
	close(fd);
}

static void
served(void *sock)
{
	struct pagerd *pd;
	unsigned char *p;
	CHECKF(pagerd_connect(sock, &pd) == 0, "pagerd-tb was refused: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, 4096, PROT_READ | PROT_WRITE, 0,
	    (void **)&p) == 0, "map: %s", pagerd_errmsg());
	p[0] = 1;
	CHECK(p[0] == 1 && p[4095] == 0);
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon d;

	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	harness_start_conf(&d, "allow-uid pagerd-tb\n");
	CHECKF(harness_as_user("pagerd-ta", refused, d.sock) == 0,
	    "pagerd-ta was not told why");
	CHECKF(harness_as_user("pagerd-tb", served, d.sock) == 0,
	    "pagerd-tb was not served");
	CHECK(harness_log_has(&d, "not allowed by allow-uid"));
	harness_stop(&d);
	return 0;
}

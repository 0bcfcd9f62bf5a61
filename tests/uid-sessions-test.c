/*
 * Description: one user's idle connections lock nobody else out. With
 * uid-max-sessions 8 and max-clients 16, pagerd-ta opens 20 connections
 * and says no hello on any: the 12 past its limit are refused at once
 * with a reply that names the limit (EAGAIN), root and pagerd-tb still
 * connect and are served, and the 8 idle ones are closed, told why, after
 * the hello-timeout.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define CAP 8
#define CONNS 20
#define SIZE (1u << 20)

/* A client of the daemon: a zero region, written and read back. */
static void
served(void *sock)
{
	struct pagerd *pd;
	unsigned char *p;
	size_t i;

	CHECKF(pagerd_connect(sock, &pd) == 0, "uid %d was refused: %s",
	    (int)getuid(), pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, SIZE, PROT_READ | PROT_WRITE, 0,
	    (void **)&p) == 0, "uid %d: map: %s", (int)getuid(),
	    pagerd_errmsg());
	for (i = 0; i < SIZE; i += 4096) {
		CHECK(p[i] == 0);
		p[i] = (unsigned char)(i >> 12);
	}
	for (i = 0; i < SIZE; i += 4096)
		CHECK(p[i] == (unsigned char)(i >> 12));
	pagerd_close(pd);
}

/* Is there word from the daemon on fd (within ms)? */
static int
readable(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

static void
attacker(const char *sock, struct harness_hold *h)
{
	int fds[CONNS], refused, i, j, status;
	union pd_msg msg;

	harness_become_user("pagerd-ta");
	for (i = 0; i < CONNS; i++)
		CHECKF((fds[i] = harness_raw_connect(sock)) != -1, "connect: "
		    "%s", strerror(errno));
	/* The daemon answers those past the limit at once. */
	for (refused = 0, i = 0; i < 400 && refused < CONNS - CAP; i++) {
		harness_sleep_ms(10);
		for (refused = 0, j = 0; j < CONNS; j++)
			refused += readable(fds[j], 0);
	}
	CHECKF(refused == CONNS - CAP, "%d of %d connections refused, "
	    "expected %d past uid-max-sessions %d", refused, CONNS,
	    CONNS - CAP, CAP);
	for (i = 0; i < CONNS; i++) {
		if (!readable(fds[i], 0))
			continue;
		status = harness_raw_refusal(fds[i], &msg, 1000);
		CHECKF(status == -EAGAIN && strstr(msg.reply.reason,
		    "uid-max-sessions") != NULL, "refusal %d: %s", status,
		    msg.reply.reason);
		close(fds[i]);
		fds[i] = -1;
	}
	printf("pagerd-ta: %d connections past the limit refused: %s\n",
	    refused, msg.reply.reason);
	harness_hold_ready(h);

	/* The idle ones go after the hello-timeout (3 s), told why. */
	for (i = 0; i < CONNS; i++) {
		if (fds[i] == -1)
			continue;
		status = harness_raw_refusal(fds[i], &msg, 8000);
		CHECKF(status == -ETIMEDOUT, "an idle connection was closed "
		    "with %d: %s", status, msg.reply.reason);
		close(fds[i]);
	}
	printf("pagerd-ta: idle connections closed: %s\n", msg.reply.reason);
	fflush(stdout);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	struct harness_hold h;

	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	harness_start_conf(&d, "uid-max-sessions 8\nmax-clients 16\n"
	    "hello-timeout 3\n");
	if (harness_hold_start(&h) == 0)
		attacker(d.sock, &h);
	CHECKF(harness_hold_wait(&h) == 0, "pagerd-ta failed");
	served(d.sock);
	printf("root: served\n");
	CHECKF(harness_as_user("pagerd-tb", served, d.sock) == 0,
	    "pagerd-tb was not served");
	printf("pagerd-tb: served\n");
	CHECKF(harness_hold_end(&h) == 0, "pagerd-ta's idle connections");
	CHECK(harness_log_has(&d, "no hello within 3 s (hello-timeout)"));
	harness_stop(&d);
	return 0;
}

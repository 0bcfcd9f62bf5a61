/*
 * Description: a client cannot pile up requests for a store that is not
 * connected yet. The store's server takes the connection and never
 * answers it (a listening socket nobody accepts on), so every request
 * for the store waits for it. An unprivileged client (pagerd-ta,
 * speaking the protocol itself) sends 150 requests for the store's page
 * cache without waiting: past a bound per session (64) the daemon refuses
 * them at once (EAGAIN), instead of holding each, and the daemon goes on
 * answering others (root's stats).
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define REQUESTS 150

static struct harness_daemon d;

static void
attacker(void)
{
	struct pollfd pfd = { .events = POLLIN };
	union pd_msg msg;
	int sock, uffd, i, refused = 0;

	harness_become_user("pagerd-ta");
	sock = harness_raw_hello_client(d.sock, &uffd);
	for (i = 0; i < REQUESTS; i++) {
		proto_init(&msg, PD_MSG_STORE, (uint32_t)i + 2);
		memcpy(msg.store.name, "hang", sizeof "hang");
		CHECKF(harness_raw_send(sock, &msg, msg.hdr.size, NULL, 0) == 0,
		    "request %d not taken", i);
	}
	/* Each refusal comes at once; the held requests, never. */
	pfd.fd = sock;
	while (poll(&pfd, 1, 2000) == 1 && recv(sock, &msg, sizeof msg, 0) >
	    0) {
		CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status ==
		    -EAGAIN, "a request for a store not connected: %d, %s",
		    msg.reply.status, msg.reply.reason);
		refused++;
	}
	CHECKF(refused > 0 && refused < REQUESTS, "%d of %d requests for a "
	    "store not connected refused at once", refused, REQUESTS);
	printf("%d of %d requests refused: %s\n", refused, REQUESTS,
	    msg.reply.reason);
	fflush(stdout);
	close(sock);
}

int
main(void)
{
	struct pd_stats_reply sr;
	struct harness_hang h;

	harness_need_root();
	harness_test_user("pagerd-ta");
	harness_hang_start(&d, &h, "");
	harness_clients(&d, 1, attacker, "");
	harness_control_stats(d.sock, &sr);
	harness_hang_end(&d, &h);
	printf("requests for a store not connected are bounded per session\n");
	return 0;
}

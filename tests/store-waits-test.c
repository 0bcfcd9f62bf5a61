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
#include <sys/un.h>

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
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char conf[1024], dir[] = "/tmp/pagerd-hang.XXXXXX";
	int l;

	harness_need_root();
	harness_test_user("pagerd-ta");
	/* A server that takes the connection and never says a word. */
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/hang.sock", dir);
	CHECK((l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	CHECKF(bind(l, (struct sockaddr *)&sun, sizeof sun) == 0, "bind %s: %s",
	    sun.sun_path, strerror(errno));
	CHECK(listen(l, 16) == 0);
	snprintf(conf, sizeof conf, "store hang nbd+unix:///?socket=%s\n",
	    sun.sun_path);
	harness_start_conf(&d, conf);
	harness_clients(&d, 1, attacker, "");
	harness_control_stats(d.sock, &sr);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	close(l);
	unlink(sun.sun_path);
	rmdir(dir);
	printf("requests for a store not connected are bounded per session\n");
	return 0;
}

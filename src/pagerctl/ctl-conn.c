/*
 * pagerctl's side of the control session: the hello, one request and its
 * answers, and the listings that come as records ended by a reply. Any
 * failure exits with its reason: pagerctl asks one thing and ends.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerctl.h"

static uint32_t ctl_caps;	/* PD_CAP_* the daemon agreed to */
static int ctl_greeted;		/* the daemon took our hello */

/*
 * One answer of type (or of also, when not 0); exits on any failure but,
 * with may_fail, a refusal: its status (a negative errno) is returned.
 */
int
ctl_receive_or(int fd, union pd_msg *reply, uint32_t type, uint32_t also,
    int may_fail)
{
	char why[PD_REASON_MAX];
	struct proto_in in;
	int error;

	error = proto_recv(fd, &in, PD_TO_PEER, 0, 0, why, sizeof why);
	/* A refusal's reset comes before the reply that says why. */
	if (error == -ECONNRESET && (error = proto_recv(fd, &in, PD_TO_PEER,
	    MSG_DONTWAIT, 0, why, sizeof why)) < 0 && in.len == 0)
		error = -ECONNRESET;
	if (error == 0)
		errx(1, "%s: pagerd closed the connection", ctl_socket);
	if (error < 0 && in.len == 0)
		errx(1, "%s: %s", ctl_socket, strerror(-error));
	if (error < 0)
		errx(1, "%s: %s (a pagerd of another version?)", ctl_socket,
		    why);
	*reply = in.msg;
	if (reply->hdr.type == PD_MSG_REPLY && reply->reply.status != 0) {
		reply->reply.reason[sizeof reply->reply.reason - 1] = '\0';
		/* Only an older daemon finds our hello malformed. */
		if (!ctl_greeted && (reply->reply.status == -EBADMSG ||
		    reply->reply.status == -EPROTONOSUPPORT))
			errx(1, "pagerd refused the hello: %s (pagerd is older "
			    "than pagerctl %s and does not speak its protocol)",
			    reply->reply.reason, PACKAGE_VERSION);
		if (may_fail)
			return reply->reply.status;
		errx(1, "pagerd refused: %s", reply->reply.reason);
	}
	if (reply->hdr.type != type && (also == 0 || reply->hdr.type != also))
		errx(1, "pagerd answered %s, expected %s",
		    proto_type_name(reply->hdr.type), proto_type_name(type));
	return 0;
}

/* One answer of type (or of also, when not 0); exits on any failure. */
void
ctl_receive(int fd, union pd_msg *reply, uint32_t type, uint32_t also)
{
	ctl_receive_or(fd, reply, type, also, 0);
}

/* One request, its answers to be read by the caller. */
void
ctl_send(int fd, const union pd_msg *msg)
{
	int error;

	if ((error = proto_send(fd, msg, NULL, 0, ctl_caps, MSG_NOSIGNAL)) !=
	    0 && error != -EPIPE && error != -ECONNRESET)
		errx(1, "send to %s: %s", ctl_socket, strerror(-error));
}

/* One request with nfds descriptors, then its answer. */
void
ctl_exchange_fds(int fd, union pd_msg *msg, const int *fds, int nfds,
    union pd_msg *reply, uint32_t type, uint32_t also)
{
	int error;

	/*
	 * A daemon that refused the connection may have hung up before the
	 * hello went out: its reply, saying why, waits to be read all the
	 * same. Before the daemon's caps are known, the hello goes whole.
	 */
	error = proto_send(fd, msg, fds, nfds, msg->hdr.type == PD_MSG_HELLO ?
	    PD_CAP_EXTENSIBLE : ctl_caps, MSG_NOSIGNAL);
	if (error != 0 && error != -EPIPE && error != -ECONNRESET)
		errx(1, "send to %s: %s", ctl_socket, strerror(-error));
	ctl_receive(fd, reply, type, also);
}

void
ctl_exchange(int fd, union pd_msg *msg, union pd_msg *reply, uint32_t type,
    uint32_t also)
{
	ctl_exchange_fds(fd, msg, NULL, 0, reply, type, also);
}

int
ctl_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	union pd_msg msg, reply;
	int fd;

	if (strlen(ctl_socket) >= sizeof sun.sun_path)
		errx(1, "socket path %s is too long", ctl_socket);
	strcpy(sun.sun_path, ctl_socket);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		errx(1, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		errx(1, "connect %s: %s%s", ctl_socket, strerror(errno),
		    proto_connect_hint(errno));
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CONTROL;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	ctl_greeted = 0;
	ctl_exchange(fd, &msg, &reply, PD_MSG_REPLY, 0);
	ctl_greeted = 1;
	/* An older daemon's reply ends before caps: they read 0. */
	ctl_caps = reply.reply.caps & PD_CAPS_ALL;
	return fd;
}

/* Every record of a listing request, until the reply that ends it. */
size_t
ctl_list(uint32_t type, uint32_t record, int32_t pid, union pd_msg **out)
{
	union pd_msg msg, reply, *recs = NULL, *n;
	size_t nrecs = 0, cap = 0;
	int fd;

	fd = ctl_connect();
	proto_init(&msg, type, 2);
	msg.list.pid = pid;
	ctl_exchange(fd, &msg, &reply, record, PD_MSG_REPLY);
	while (reply.hdr.type == record) {
		if (nrecs == cap) {
			cap = cap ? cap * 2 : 16;
			if ((n = reallocarray(recs, cap, sizeof *recs)) == NULL)
				err(1, "reallocarray");
			recs = n;
		}
		recs[nrecs++] = reply;
		ctl_receive(fd, &reply, record, PD_MSG_REPLY);
	}
	close(fd);
	*out = recs;
	return nrecs;
}

void
ctl_stats(struct ctl_stats *st, int users)
{
	union pd_msg msg, reply;
	struct pd_user_info *v;
	size_t cap = 0;
	int fd;

	memset(st, 0, sizeof *st);
	fd = ctl_connect();
	proto_init(&msg, PD_MSG_STATS, 2);
	/* An older daemon takes the request cut to its size, no flags. */
	if (users && (ctl_caps & PD_CAP_EXTENSIBLE))
		msg.stats.flags = PD_STATS_USERS;
	ctl_exchange(fd, &msg, &reply, PD_MSG_STATS_REPLY, PD_MSG_USER_INFO);
	while (reply.hdr.type == PD_MSG_USER_INFO) {
		if (st->nusers == cap) {
			cap = cap ? cap * 2 : 16;
			if ((v = reallocarray(st->users, cap, sizeof *v)) ==
			    NULL)
				err(1, "reallocarray");
			st->users = v;
		}
		st->users[st->nusers++] = reply.user_info;
		ctl_receive(fd, &reply, PD_MSG_STATS_REPLY, PD_MSG_USER_INFO);
	}
	close(fd);
	st->sr = reply.stats_reply;
	st->sr.version[sizeof st->sr.version - 1] = '\0';
}

/*
 * The connection's messages: a request sent, its reply awaited past the
 * notices that come before it, and the exchanges every call makes.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"

/*
 * Send a request with nfds descriptors. A hello goes whole: the daemon's
 * caps are not known before its answer.
 */
static int
pagerd_send(struct pagerd *pd, union pd_msg *msg, const int *fds, int nfds)
{
	int error;

	error = proto_send(pd->sock, msg, fds, nfds, msg->hdr.type ==
	    PD_MSG_HELLO ? PD_CAP_EXTENSIBLE : pd->caps, MSG_NOSIGNAL);
	if (error != 0)
		return pagerd_fail(error, "send %s to pagerd: %s",
		    proto_type_name(msg->hdr.type), strerror(-error));
	return 0;
}

/*
 * Take one message off the socket (without waiting when dontwait) and
 * check its framing. A descriptor that comes with it goes to *fdp, or is
 * closed when fdp is NULL; only a reply may carry one unasked for by its
 * type, a resumed session's userfaultfd (proto.h).
 */
int
pagerd_recv_msg(struct pagerd *pd, union pd_msg *m, int dontwait, int *fdp)
{
	char why[PD_REASON_MAX];
	struct proto_in in;
	int error, i;

	error = proto_recv(pd->sock, &in, PD_TO_PEER, dontwait ?
	    MSG_DONTWAIT : 0, fdp != NULL ? PROTO_REPLY_FD : 0, why,
	    sizeof why);
	if (error == 1) {
		*m = in.msg;
		error = 0;
	} else if (error == 0)
		error = pagerd_fail(-ECONNRESET, "pagerd closed the "
		    "connection");
	else if (error == -EAGAIN)
		error = dontwait ? -EAGAIN : pagerd_fail(-ETIMEDOUT, "no reply "
		    "from pagerd in %d s", PAGERD_REPLY_TIMEOUT);
	else if (in.len == 0)
		error = pagerd_fail(error, "receive from pagerd: %s",
		    strerror(-error));
	else if (error == -EMFILE)
		/* The kernel could not give us the descriptor sent along. */
		error = pagerd_fail(-EMFILE, "pagerd's reply came without its "
		    "descriptor: the process has as many open files as it "
		    "may (RLIMIT_NOFILE)");
	else
		error = pagerd_fail(error, "bad message from pagerd: %s", why);
	if (error == 0 && fdp != NULL && in.nfds > 0) {
		*fdp = pagerd_fd_high(in.fds[0]);
		in.fds[0] = -1;
	}
	for (i = 0; i < in.nfds; i++)
		if (in.fds[i] != -1)
			close(in.fds[i]);
	return error;
}

/*
 * Wait for the reply to the request numbered seq, of the given type,
 * taking care of notices that come before it. A descriptor that comes
 * with it goes to *fdp, or is closed when fdp is NULL or the reply is
 * refused.
 */
static int
pagerd_recv(struct pagerd *pd, union pd_msg *reply, uint32_t type,
    uint32_t seq, int *fdp)
{
	int error, fd = -1;

	for (;;) {
		if ((error = pagerd_recv_msg(pd, reply, 0, &fd)) != 0)
			return error;
		if (reply->hdr.type != PD_MSG_NOTICE || reply->hdr.seq != 0)
			break;
		pagerd_notice(pd, &reply->notice);
	}
	/* A refusal numbered 0 refuses the session, whatever was asked. */
	if (reply->hdr.seq != seq && (reply->hdr.seq != 0 ||
	    reply->hdr.type != PD_MSG_REPLY || reply->reply.status >= 0))
		error = pagerd_fail(-EPROTO, "pagerd answered request %u, "
		    "expected %u", reply->hdr.seq, seq);
	else if (reply->hdr.type == PD_MSG_REPLY && reply->reply.status != 0) {
		/* Refusals come as a plain reply whatever was asked. */
		reply->reply.reason[sizeof reply->reply.reason - 1] = '\0';
		error = pagerd_fail(reply->reply.status < 0 ?
		    reply->reply.status : -EPROTO, "pagerd: %s",
		    reply->reply.reason);
	} else if (reply->hdr.type != type)
		error = pagerd_fail(-EPROTO, "pagerd answered with %s, expected "
		    "%s", proto_type_name(reply->hdr.type),
		    proto_type_name(type));
	if (error != 0 || fdp == NULL) {
		if (fd != -1)
			close(fd);
	} else
		*fdp = fd;
	return error;
}

/* Take the notices waiting on the socket. Called with pd->lock held. */
void
pagerd_drain_notices(struct pagerd *pd)
{
	union pd_msg m;

	if (pagerd_need(pd) != 0)
		return;

	while (pagerd_recv_msg(pd, &m, 1, NULL) == 0)
		if (m.hdr.type == PD_MSG_NOTICE && m.hdr.seq == 0)
			pagerd_notice(pd, &m.notice);
}

/* One exchange on the connection as it is. */
int
pagerd_exchange(struct pagerd *pd, union pd_msg *msg, const int *fds,
    int nfds, union pd_msg *reply, uint32_t reply_type, int *fdp)
{
	int error;

	msg->hdr.seq = ++pd->seq;
	if ((error = pagerd_send(pd, msg, fds, nfds)) != 0)
		return error;
	return pagerd_recv(pd, reply, reply_type, msg->hdr.seq, fdp);
}

/*
 * One exchange, on a new connection if the program closed ours; the
 * caller holds pd->lock (or owns pd alone).
 */
int
pagerd_request_fds(struct pagerd *pd, union pd_msg *msg, const int *fds,
    int nfds, union pd_msg *reply, uint32_t reply_type, int *fdp)
{
	int error;

	if ((error = pagerd_need(pd)) != 0)
		return error;
	return pagerd_exchange(pd, msg, fds, nfds, reply, reply_type, fdp);
}

/* An exchange with at most one descriptor each way (fd -1: none). */
int
pagerd_request(struct pagerd *pd, union pd_msg *msg, int fd,
    union pd_msg *reply, uint32_t reply_type)
{
	return pagerd_request_fds(pd, msg, &fd, fd != -1, reply, reply_type,
	    NULL);
}

/*
 * The file of a page cache region opened again twice into own, for the
 * daemon's reads of its streams (PD_REGION_OWN_FDS): new open file
 * descriptions, with this process's rights, where the daemon's may not
 * open the file (another user's, mode 0600). Only where the daemon takes
 * them and reads so: a file on a block device (not FUSE, NFS or tmpfs,
 * which are not asked to open it again). O_NONBLOCK: an open that would
 * wait for a lease's break fails instead. Returns 2, or 0 with none.
 */
static int
pagerd_own_fds(const struct pagerd *pd, const struct pagerd_region *r,
    int *own)
{
	struct stat st, ost;
	char path[64];
	int i;

	if (!(pd->caps & PD_CAP_OWN_FDS) || r->add.backing !=
	    PD_BACKING_CACHE || r->fd == -1 || r->wpfd != -1 ||
	    fstat(r->fd, &st) == -1 || major(st.st_dev) == 0)
		return 0;
	snprintf(path, sizeof path, "/proc/self/fd/%d", r->fd);
	for (i = 0; i < 2; i++) {
		own[i] = pagerd_fd_high(open(path, O_RDONLY | O_CLOEXEC |
		    O_NOCTTY | O_NONBLOCK));
		/* A /proc that is not the kernel's is not asked again. */
		if (own[i] == -1 || fstat(own[i], &ost) == -1 || ost.st_dev !=
		    st.st_dev || ost.st_ino != st.st_ino)
			break;
	}
	if (i == 2)
		return 2;
	for (; i >= 0; i--)
		if (own[i] != -1)
			close(own[i]);
	return 0;
}

/*
 * Hand a region over: its backing file (or page cache) unless it is zero-
 * fill, a page cache's file opened again twice for the daemon's reads
 * (where it can be: else the daemon opens it), then a write-protected
 * region's memfd. The file's two are the daemon's alone: ours go.
 */
int
pagerd_request_region(struct pagerd *pd, union pd_msg *msg,
    const struct pagerd_region *r, union pd_msg *reply)
{
	int fds[PD_MAX_FDS], nfds = 0, own, nown, error;

	/* The caps of the connection the region goes on. */
	if ((error = pagerd_need(pd)) != 0)
		return error;
	if (r->add.backing != PD_BACKING_ZERO)
		fds[nfds++] = r->memfd != -1 ? r->memfd : r->fd;
	own = nfds;
	if ((nown = pagerd_own_fds(pd, r, &fds[own])) != 0)
		msg->region_add.flags |= PD_REGION_OWN_FDS;
	nfds += nown;
	if (r->wpfd != -1)
		fds[nfds++] = r->wpfd;
	error = pagerd_request_fds(pd, msg, fds, nfds, reply, PD_MSG_REPLY,
	    NULL);
	msg->region_add.flags &= ~PD_REGION_OWN_FDS;
	while (nown-- > 0)
		close(fds[own + nown]);
	return error;
}

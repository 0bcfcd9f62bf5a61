/*
 * The one message layer: sending and receiving a protocol message with its
 * descriptors (EINTR, MSG_CTRUNC, close-on-exec), used by the daemon's
 * sessions, libpagerd, pagerctl and the tests. What a message may hold is
 * proto.c's table; proto_recv() passes every message through proto_check().
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

/* sendmsg of iov with nfds descriptors, EINTR retried: 0 or -errno. */
static int
proto_sendv(int sock, struct iovec *iov, int iovcnt, const int *fds,
    int nfds, int flags)
{
	union {
		struct cmsghdr align;
		char raw[CMSG_SPACE(sizeof(int) * PROTO_SEND_FDS)];
	} cbuf;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
	struct cmsghdr *cm;
	size_t len = 0;
	int saved = errno, error = 0, i;
	ssize_t n;

	if (nfds < 0 || nfds > PROTO_SEND_FDS)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof cbuf);
		mh.msg_control = &cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(sock, &mh, flags);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		error = -errno;
	else if ((size_t)n != len)
		error = -EMSGSIZE;	/* not on SOCK_SEQPACKET */
	errno = saved;
	return error;
}

/*
 * Send len bytes of buf as one datagram, whatever they are, with nfds
 * descriptors (up to the kernel's limit): for tests that play a hostile
 * peer. 0 or -errno.
 */
int
proto_send_raw(int sock, const void *buf, size_t len, const int *fds,
    int nfds, int flags)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)buf,
	    .iov_len = len };

	return proto_sendv(sock, &iov, 1, fds, nfds, flags);
}

/*
 * Send msg on sock with nfds descriptors, retrying on EINTR; 0 or -errno.
 * A peer without PD_CAP_EXTENSIBLE in caps checks exact sizes: it gets
 * the message cut to its type's first size, which is all it knows.
 * Async-signal-safe (the shim's fault handler sends with it): no malloc,
 * no stdio, and errno is kept.
 */
int
proto_send(int sock, const union pd_msg *msg, const int *fds, int nfds,
    uint32_t caps, int flags)
{
	struct pd_hdr hdr = msg->hdr;
	struct iovec iov[2];
	size_t min = proto_min(hdr.type);

	if (nfds < 0 || nfds > PD_MAX_FDS || hdr.size < sizeof hdr ||
	    hdr.size > PD_MSG_MAX)
		return -EINVAL;
	if (!(caps & PD_CAP_EXTENSIBLE) && min != 0 && hdr.size > min)
		hdr.size = (uint32_t)min;
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (char *)(uintptr_t)msg + sizeof hdr;
	iov[1].iov_len = hdr.size - sizeof hdr;
	return proto_sendv(sock, iov, 2, fds, nfds, flags);
}

void
proto_close_fds(struct proto_in *in)
{
	int i;

	for (i = 0; i < in->nfds; i++)
		if (in->fds[i] != -1)
			close(in->fds[i]);
	in->nfds = 0;
}

/*
 * Take one message off sock into in, for a receiver on side to (PD_TO_*):
 * descriptors close-on-exec, EINTR retried, the framing checked (sizes,
 * version, direction, descriptor count). recv_flags go to recvmsg, flags
 * are PROTO_*. Returns 1 with a message, 0 when the peer hung up; else
 * -errno and why, with in->len 0 when nothing was read (the socket's
 * error: EAGAIN, ECONNRESET...), else the message is refused: its seq (0
 * if it had no header) is in in->msg, and its descriptors are closed.
 */
int
proto_recv(int sock, struct proto_in *in, unsigned int to, int recv_flags,
    int flags, char *why, size_t whylen)
{
	union {
		struct cmsghdr align;
		char raw[CMSG_SPACE(sizeof(int) * PROTO_RECV_FDS)];
	} cbuf;
	union {
		struct pd_hdr hdr;
		char raw[PD_MSG_MAX];
	} buf;
	struct iovec iov = { .iov_base = &buf, .iov_len = sizeof buf };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &cbuf,
		.msg_controllen = sizeof cbuf,
	};
	struct cmsghdr *cm;
	size_t i, n, want;
	ssize_t len;
	int error;

	memset(&in->msg, 0, sizeof in->msg);
	in->len = 0;
	in->nfds = 0;
	do
		len = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC |
		    recv_flags);
	while (len == -1 && errno == EINTR);
	if (len == -1) {
		error = -errno;
		snprintf(why, whylen, "recvmsg: %s", strerror(errno));
		return error;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n && in->nfds < PROTO_RECV_FDS; i++)
			memcpy(&in->fds[in->nfds++], CMSG_DATA(cm) +
			    i * sizeof(int), sizeof(int));
	}
	if (len == 0) {
		proto_close_fds(in);
		return 0;
	}
	in->len = (size_t)len;
	/* The known part: absent fields read 0, a longer tail is ignored. */
	want = (size_t)len >= sizeof buf.hdr ? proto_size(buf.hdr.type) : 0;
	if (want == 0 || want > (size_t)len)
		want = (size_t)len;
	if (want > sizeof in->msg)
		want = sizeof in->msg;
	memcpy(&in->msg, &buf, want);
	if ((mh.msg_flags & MSG_CTRUNC) && in->nfds < PROTO_RECV_FDS) {
		/* Room was left: our descriptor table is full. */
		snprintf(why, whylen, "no descriptors left for the message's "
		    "(RLIMIT_NOFILE)");
		error = -EMFILE;
	} else if (mh.msg_flags & MSG_CTRUNC) {
		snprintf(why, whylen, "more than %d descriptors in one message",
		    PROTO_RECV_FDS);
		error = -EBADMSG;
	} else if ((size_t)len > sizeof buf) {
		snprintf(why, whylen, "message of %zd bytes exceeds the largest "
		    "(%d)", len, PD_MSG_MAX);
		error = -EMSGSIZE;
	} else
		error = proto_check(&in->msg, (size_t)len, in->nfds, to,
		    flags, why, whylen);
	if (error != 0) {
		proto_close_fds(in);
		return error;
	}
	return 1;
}

/*
 * Words after a failed connect to the daemon's socket, for its errno: the
 * likely cause of a user's mistake, or "".
 */
const char *
proto_connect_hint(int error)
{
	switch (error) {
	case ENOENT:
	case ECONNREFUSED:
		return " (is pagerd running?)";
	case EACCES:
		return " (the socket's mode or group, or its directory's, shut "
		    "this user out)";
	case EPROTOTYPE:
		return " (a socket of another kind: not pagerd's)";
	}
	return "";
}

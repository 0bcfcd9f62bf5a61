/*
 * Sessions with the daemon: whether to trust it, the socket, the
 * userfaultfd and the hello; a new session, one resumed after the program
 * closed the connection, and re-attaching to a restarted daemon.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd.h"

/*
 * The uid PAGERD_DAEMON_UID names, or -1. A set-user-ID or otherwise
 * secure process reads no PAGERD_* variable: whoever ran it chose them.
 */
uid_t
pagerd_daemon_uid(void)
{
	const char *env = secure_getenv("PAGERD_DAEMON_UID"), *errstr;
	long long uid;

	if (env == NULL || *env == '\0')
		return (uid_t)-1;
	uid = strtonum(env, 0, UINT32_MAX - 1, &errstr);
	return errstr != NULL ? (uid_t)-1 : (uid_t)uid;
}

/*
 * May a daemon running as peer have this process's memory? Root may, and
 * this process's effective user (a user's own daemon is the user's
 * business), and named (PAGERD_DAEMON_UID). Async-signal-safe.
 */
int
pagerd_daemon_trusted(uid_t peer, uid_t named)
{
	return peer == 0 || peer == geteuid() || (named != (uid_t)-1 &&
	    peer == named);
}

/* Refuse a daemon that runs as someone the process may not trust. */
static int
pagerd_check_daemon(struct pagerd *pd, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return pagerd_fail(-errno, "%s: SO_PEERCRED: %s", pd->path,
		    strerror(errno));
	if (!pagerd_daemon_trusted(cred.uid, pagerd_daemon_uid()))
		return pagerd_fail(-EPERM, "%s: the daemon there runs as uid "
		    "%d, not root, this process's user (%d) or "
		    "PAGERD_DAEMON_UID: it gets no memory of this process",
		    pd->path, (int)cred.uid, (int)geteuid());
	return 0;
}

/* A new connection to the daemon at pd->path, in *sockp. */
static int
pagerd_open_socket(struct pagerd *pd, int *sockp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = PAGERD_REPLY_TIMEOUT };
	int fd, error;

	strlcpy(sun.sun_path, pd->path, sizeof sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return pagerd_fail(-errno, "socket: %s", strerror(errno));
	fd = pagerd_fd_high(fd);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1) {
		error = pagerd_fail(-errno, "SO_RCVTIMEO: %s", strerror(errno));
		close(fd);
		return error;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		error = pagerd_fail(-errno, "connect %s: %s%s", pd->path,
		    strerror(errno), proto_connect_hint(errno));
		close(fd);
		return error;
	}
	if ((error = pagerd_check_daemon(pd, fd)) != 0) {
		close(fd);
		return error;
	}
	*sockp = fd;
	return 0;
}

static int
pagerd_open_uffd(struct pagerd *pd)
{
	char why[512];
	uint64_t supported;
	int error;

	if ((error = uffd_probe_features(&supported, why, sizeof why)) != 0)
		return pagerd_fail(error, "%s", why);
	pd->supported = supported;
	pd->uffd = uffd_open(O_CLOEXEC | O_NONBLOCK, &pd->user_mode_only, why,
	    sizeof why);
	if (pd->uffd < 0) {
		error = pd->uffd;
		pd->uffd = -1;
		return pagerd_fail(error, "%s", why);
	}
	pd->uffd = pagerd_fd_high(pd->uffd);
	if ((error = uffd_api(pd->uffd, PAGERD_WANTED_FEATURES & supported,
	    &pd->features, why, sizeof why)) != 0)
		return pagerd_fail(error, "%s", why);
	pd->use_cache = (pd->features & PAGERD_CACHE_FEATURES) ==
	    PAGERD_CACHE_FEATURES && secure_getenv("PAGERD_NO_CACHE") == NULL;
	return 0;
}

/*
 * The daemon refuses a connection it will not serve (the allow lists, a
 * limit) with a reply numbered 0 and hangs up, perhaps before it reads
 * the hello, which then fails with a reset. The reset is reported once,
 * before what is still queued: look for the refusal behind it.
 */
static int
pagerd_refused(struct pagerd *pd, int error)
{
	char first[PAGERD_ERROR_MAX];
	union pd_msg m;
	int i;

	if (error != -ECONNRESET && error != -EPIPE)
		return error;
	strlcpy(first, pagerd_lasterror(), sizeof first);
	for (i = 0; i < 2; i++) {
		if (pagerd_recv_msg(pd, &m, 1, NULL) != 0)
			continue;
		if (m.hdr.type == PD_MSG_REPLY && m.hdr.seq == 0 &&
		    m.reply.status < 0) {
			m.reply.reason[sizeof m.reply.reason - 1] = '\0';
			return pagerd_fail(m.reply.status, "pagerd: %s",
			    m.reply.reason);
		}
	}
	return pagerd_fail(error, "%s", first);
}

/*
 * A daemon older than the library refuses its hello's framing (the hello
 * grew); the library refuses a daemon that raised the version past its
 * own. Say so rather than only the words.
 */
static int
pagerd_older(int error)
{
	char words[PAGERD_ERROR_MAX];

	if (error != -EBADMSG && error != -EPROTONOSUPPORT)
		return error;
	strlcpy(words, pagerd_lasterror(), sizeof words);
	return pagerd_fail(error, "pagerd and libpagerd %s do not speak the "
	    "same protocol version: upgrade the older (%s)", PACKAGE_VERSION,
	    words);
}

static int
pagerd_hello(struct pagerd *pd, uint32_t flags)
{
	union pd_msg msg, reply;
	int error;

	proto_init(&msg, PD_MSG_HELLO, 0);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.flags = flags | (pd->user_mode_only ?
	    PD_HELLO_USER_MODE_ONLY : 0);
	msg.hello.uffd_features = pd->features;
	msg.hello.page_size = (uint32_t)pd->page_size;
	if ((error = pagerd_exchange(pd, &msg, &pd->uffd, 1, &reply,
	    PD_MSG_REPLY, NULL)) != 0)
		return pagerd_older(pagerd_refused(pd, error));
	pd->session_id = reply.reply.value;
	/* An older daemon's reply ends before caps: they read 0. */
	pd->caps = reply.reply.caps & PD_CAPS_ALL;
	return 0;
}

/* sock is the connection now: remember what it is. */
static void
pagerd_set_sock(struct pagerd *pd, int sock)
{
	struct stat st;

	pd->sock = sock;
	pd->gen++;
	if (fstat(sock, &st) == 0) {
		pd->sock_dev = st.st_dev;
		pd->sock_ino = st.st_ino;
	}
}

/*
 * Did the program close the connection (closefrom, close_range), or put
 * something else at its number? Then the daemon keeps serving the
 * session, detached, and the library must not touch that number again.
 */
int
pagerd_conn_lost(struct pagerd *pd)
{
	struct stat st;

	return pd->sock == -1 || fstat(pd->sock, &st) == -1 ||
	    !S_ISSOCK(st.st_mode) || st.st_dev != pd->sock_dev ||
	    st.st_ino != pd->sock_ino;
}

/* Is pd->uffd still our userfaultfd, not closed nor reused? */
int
pagerd_uffd_ours(struct pagerd *pd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/self/fd/%d", pd->uffd);
	if (pd->uffd == -1 || (n = readlink(path, link, sizeof link - 1)) <=
	    0)
		return 0;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[userfaultfd]") == 0;
}

/*
 * A new session on a new connection, with a userfaultfd of its own; the
 * old connection and userfaultfd are closed where they are still ours.
 */
int
pagerd_new_session(struct pagerd *pd)
{
	int error, sock;

	if (pd->sock != -1 && !pagerd_conn_lost(pd))
		close(pd->sock);
	if (pd->uffd != -1 && pagerd_uffd_ours(pd))
		close(pd->uffd);
	pd->sock = pd->uffd = -1;
	if ((error = pagerd_open_socket(pd, &sock)) != 0)
		return error;
	pagerd_set_sock(pd, sock);
	if ((error = pagerd_open_uffd(pd)) != 0)
		return error;
	return pagerd_hello(pd, 0);
}

/*
 * The program closed the connection (and, as a rule, every descriptor of
 * ours): take the session up again on a new one, with a copy of its
 * userfaultfd where ours is gone. Where the daemon refuses (it cannot
 * tell this process from another without pidfds, or is older), a new
 * session serves
 * what is mapped from now on, and the old one, detached, what was mapped
 * before, until the process ends. The regions' descriptors are taken
 * for lost: their numbers may be the program's now. Called with
 * pd->lock held.
 */
static int
pagerd_reconnect(struct pagerd *pd)
{
	union pd_msg msg, reply;
	int error, sock, fd = -1;
	size_t i;

	for (i = 0; i < pd->nregions; i++)
		pd->regions[i].fd = pd->regions[i].memfd =
		    pd->regions[i].wpfd = -1;
	pd->nheld = 0;
	/* Lost with the rest: new regions are tracked by faults. */
	pagerd_async_drop(pd, 0);
	pd->async = -1;
	pd->sock = -1;
	/* Before a new descriptor may take its number. */
	if (!pagerd_uffd_ours(pd))
		pd->uffd = -1;
	if ((error = pagerd_open_socket(pd, &sock)) != 0)
		return error;
	pagerd_set_sock(pd, sock);
	proto_init(&msg, PD_MSG_HELLO, 0);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.flags = PD_HELLO_RESUME;
	msg.hello.resume = pd->session_id;
	msg.hello.uffd_features = pd->features;
	msg.hello.page_size = (uint32_t)pd->page_size;
	error = pagerd_exchange(pd, &msg, NULL, 0, &reply, PD_MSG_REPLY, &fd);
	if (error == 0 && fd != -1) {
		if (pd->uffd != -1)
			close(fd);
		else
			pd->uffd = fd;
		return pagerd_watch(pd);
	}
	if (fd != -1)
		close(fd);
	/*
	 * Refused (or a daemon that knows no resuming: it refuses the flag),
	 * or the reply came without the descriptor: a new session.
	 */
	if ((error = pagerd_new_session(pd)) != 0)
		return error;
	return pagerd_watch(pd);
}

/* Before a request: a connection, a new one if ours is lost. */
int
pagerd_need(struct pagerd *pd)
{
	if (pd->stopping)
		return pagerd_fail(-ESHUTDOWN, "the connection is closing");
	if (!pagerd_conn_lost(pd))
		return 0;
	return pagerd_reconnect(pd);
}

/*
 * Hand every region of the former session over on the current connection,
 * after its hello: the backing (a page cache's memfd adopted, so that the
 * daemon knows it), then the region. Called with pd->lock held.
 */
int
pagerd_send_regions(struct pagerd *pd, uint32_t session)
{
	struct pagerd_region *r;
	union pd_msg msg, reply;
	int error, fds[2];
	size_t i;

	for (i = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		/*
		 * A region whose descriptors the program closed, or that an
		 * older, detached session serves, cannot be handed over.
		 */
		if (r->session != session || (r->add.backing !=
		    PD_BACKING_ZERO && r->fd == -1 && r->memfd == -1) ||
		    ((r->add.flags & PD_REGION_WP) && r->wpfd == -1))
			continue;
		/*
		 * A store's page cache is adopted by name, where the daemon
		 * still has the store and lets the user use it; where it
		 * does not, the region is left out and its untouched pages
		 * fault with SIGBUS (libpagerd(3), DAEMON RESTARTS).
		 */
		if (r->add.backing == PD_BACKING_STORE) {
			error = pagerd_store_adopt(pd, r);
			/* Unreachable: tried again, as a daemon not yet up. */
			if (error == -EHOSTUNREACH)
				return error;
			if (error != 0)
				continue;
		} else if (r->memfd != -1) {
			fds[0] = r->fd;
			fds[1] = r->memfd;
			proto_init(&msg, PD_MSG_CACHE_OPEN, 0);
			msg.cache_open.flags = PD_CACHE_ADOPT;
			if ((error = pagerd_request_fds(pd, &msg, fds, 2, &reply,
			    PD_MSG_CACHE_REPLY, NULL)) != 0)
				return error;
		}
		msg.region_add = r->add;
		if ((error = pagerd_request_region(pd, &msg, r, &reply)) != 0)
			return error;
		r->id = reply.reply.value;
		r->session = UINT32_MAX;	/* the new session's, below */
	}
	for (i = 0; i < pd->nregions; i++)
		if (pd->regions[i].session == UINT32_MAX)
			pd->regions[i].session = pd->session_id;
	return 0;
}

/*
 * Wake the threads whose faults the dead daemon read in regions the new
 * one does not serve (left out above): they fault again, and the new
 * daemon answers a fault outside its regions with SIGBUS, where they
 * would sleep for ever. Called with pd->lock held.
 */
static void
pagerd_wake_left(struct pagerd *pd)
{
	struct uffdio_range range;
	struct pagerd_region *r;
	size_t i;

	for (i = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		if (r->session == pd->session_id)
			continue;
		range.start = r->add.start;
		range.len = r->add.length;
		(void)ioctl((r->add.flags & PD_REGION_ASYNC) ? pd->auffd :
		    pd->uffd, UFFDIO_WAKE, &range);
	}
}

/*
 * Hand everything to a restarted daemon on a new connection: the same
 * userfaultfd (its ranges never stopped being registered) and every
 * region, which the daemon wakes so that threads whose faults the dead
 * daemon had read fault again. Called with pd->lock held.
 */
int
pagerd_reattach(struct pagerd *pd)
{
	union pd_msg msg, reply;
	uint32_t session = pd->session_id;
	int error, sock;

	if ((error = pagerd_open_socket(pd, &sock)) != 0)
		return error;
	close(pd->sock);
	pagerd_set_sock(pd, sock);
	if ((error = pagerd_hello(pd, PD_HELLO_REATTACH)) != 0)
		return error;
	/* Its async regions are registered with this one: first. */
	if (pd->auffd != -1 && (error = pagerd_async_send(pd)) != 0)
		return error;
	if ((error = pagerd_send_regions(pd, session)) != 0)
		return error;
	proto_init(&msg, PD_MSG_REATTACHED, 0);
	if ((error = pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY)) != 0)
		return error;
	pagerd_wake_left(pd);
	return 0;
}

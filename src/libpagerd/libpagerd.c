/*
 * libpagerd: the client side of pagerd. Creates the connection's
 * userfaultfd, registers regions with it and hands them to the daemon; a
 * watchdog thread re-attaches them to a restarted daemon. Returns -errno
 * and keeps a per-thread message; never prints or exits, except when the
 * daemon is lost for good or a forked child cannot be handed to it (see
 * pagerd_end): then the regions' pages cannot be served, and the process
 * ends with SIGBUS rather than read zeros.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd.h"

#define PUBLIC __attribute__((visibility("default")))

/* How long a request waits for the daemon's reply. */
#define PAGERD_REPLY_TIMEOUT 30

/* Features asked of the kernel where it has them. */
#define PAGERD_WANTED_FEATURES (UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_POISON | \
	PAGERD_CACHE_FEATURES | PAGERD_WP_FEATURES | PAGERD_EVENT_FEATURES)

/*
 * The address-space changes the daemon must hear of to keep its table true:
 * munmap, mremap, madvise(MADV_DONTNEED/REMOVE). (Fork is handled here:
 * UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE, and the child's copy of
 * the regions is registered again by the fork handler instead.)
 */
#define PAGERD_EVENT_FEATURES (UFFD_FEATURE_EVENT_UNMAP | \
	UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE)

/* What mapping a file's shared page cache takes. */
#define PAGERD_CACHE_FEATURES (UFFD_FEATURE_MISSING_SHMEM | \
	UFFD_FEATURE_MINOR_SHMEM)

/* What write-protected regions (their memory is a memfd) take. */
#define PAGERD_WP_FEATURES (UFFD_FEATURE_PAGEFAULT_FLAG_WP | \
	UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM)

#define PAGERD_MAP_WP_FLAGS (PAGERD_MAP_COW | PAGERD_MAP_WRITEBACK | \
	PAGERD_MAP_READONLY | PAGERD_MAP_REPORT)

/* Violation reports and finished snapshots kept per connection. */
#define PAGERD_VIOLATIONS_KEPT 64
#define PAGERD_SNAPSHOTS_KEPT 16

/* How long the watchdog tries to re-attach to a lost daemon, by default. */
#define PAGERD_REATTACH_TIMEOUT_MS 5000

/*
 * The library's descriptors live at or above this number (or half the
 * descriptor limit, if that is lower): the low numbers a program opens,
 * dup2()s to and expects to be free stay the program's.
 */
#define PAGERD_FD_FLOOR 512

/*
 * How often the watchdog looks whether the program closed the
 * connection under it (its poll holds the socket open meanwhile).
 */
#define PAGERD_WATCH_MS 1000

/* A region as handed to the daemon: enough to hand it over again. */
struct pagerd_region {
	struct pd_region_add add;	/* the request that added it */
	size_t maplen;			/* mapped; past add.length: zeros */
	int fd;				/* the backing file (held), or -1 */
	int memfd;			/* its page cache (held), or -1 */
	int wpfd;			/* a write-protected region's memory */
	uint32_t id;
	uint32_t session;		/* the session that serves it */
};

/*
 * A descriptor regions hold: the backing file, or its page cache, once
 * for all the regions of one file (opened the same way), not once a
 * region. A restarted daemon needs them (DAEMON RESTARTS in libpagerd.3);
 * thousands of regions of a few files then cost a few descriptors.
 */
struct pagerd_fd {
	int fd;
	dev_t dev;
	ino_t ino;
	int mode;			/* O_ACCMODE */
	unsigned int refs;		/* regions holding it */
};

struct pagerd_snapshot_done {
	uint32_t id;
	int status;
};

struct pagerd {
	pthread_mutex_t lock;	/* one request at a time; the region list */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int sock;
	dev_t sock_dev;		/* what sock is: the program may close it */
	ino_t sock_ino;
	uint64_t gen;		/* of the connection, bumped on each new one */
	int uffd;
	int stopping;		/* pagerd_close: watchdogs leave */
	unsigned int watchers;	/* watchdog threads running */
	pthread_cond_t watchers_cv;
	int reattach_ms;
	int user_mode_only;
	int use_cache;		/* map files through the shared page cache */
	uint64_t features;
	uint32_t session_id;
	uint32_t caps;		/* PD_CAP_* the daemon agreed to */
	uint32_t seq;
	size_t page_size;
	struct pagerd_region *regions;
	size_t nregions;
	size_t regions_cap;
	struct pagerd_fd *held;	/* the regions' descriptors */
	size_t nheld;
	LIST_ENTRY(pagerd) entry;	/* on pagerd_all, for exit's sync */

	struct pagerd_violation violations[PAGERD_VIOLATIONS_KEPT];
	uint64_t nviolations;
	struct pagerd_snapshot_done snapshots[PAGERD_SNAPSHOTS_KEPT];
	size_t nsnapshots;
};

/* Every connection, so that exit writes back what write-back regions hold. */
static pthread_mutex_t pagerd_all_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, pagerd) pagerd_all = LIST_HEAD_INITIALIZER(pagerd_all);
static pthread_once_t pagerd_atexit_once = PTHREAD_ONCE_INIT;

static int pagerd_sync_all(struct pagerd *);
static void pagerd_atexit_register(void);
static int pagerd_watch(struct pagerd *);
static int pagerd_need(struct pagerd *);
__attribute__((noreturn)) static void pagerd_end(struct pagerd *,
    const char *, const char *);

static __thread char pagerd_error[512];
static __thread int pagerd_error_code;	/* what pagerd_error explains */

static int __attribute__((format(printf, 2, 3)))
pagerd_fail(int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pagerd_error, sizeof pagerd_error, fmt, ap);
	va_end(ap);
	pagerd_error_code = error;
	return error;
}

/* Has a connection of this process a user-mode-only userfaultfd, and regions? */
static int
pagerd_user_mode_regions(void)
{
	struct pagerd *pd;
	int found = 0;

	pthread_mutex_lock(&pagerd_all_lock);
	LIST_FOREACH(pd, &pagerd_all, entry)
		if (pd->user_mode_only && __atomic_load_n(&pd->nregions,
		    __ATOMIC_RELAXED) > 0)
			found = 1;
	pthread_mutex_unlock(&pagerd_all_lock);
	return found;
}

/*
 * A system call that just failed with EFAULT (errno still says so) where
 * the process has regions served by a user-mode-only userfaultfd most
 * likely touched an untouched page of one: the kernel cannot say so, the
 * library can. A pagerd_* call's own -EFAULT keeps its message.
 */
PUBLIC const char *
pagerd_errmsg(void)
{
	int saved = errno;

	if (saved == EFAULT && pagerd_error_code != -EFAULT &&
	    pagerd_user_mode_regions())
		snprintf(pagerd_error, sizeof pagerd_error, "EFAULT: a system "
		    "call read or wrote a page of a pagerd region not yet "
		    "touched, and this process's userfaultfd serves user-mode "
		    "faults only (root, CAP_SYS_PTRACE, access to "
		    "/dev/userfaultfd or vm.unprivileged_userfaultfd=1 lift "
		    "that): touch the pages first");
	errno = saved;
	return pagerd_error;
}

PUBLIC const char *
pagerd_version(void)
{
	return PACKAGE_VERSION;
}

/*
 * Move a descriptor of the library's to PAGERD_FD_FLOOR or above, close
 * on exec; where that fails it stays where it is.
 */
static int
pagerd_fd_floor(void)
{
	static int floor;
	struct rlimit rl;
	int f;

	if ((f = __atomic_load_n(&floor, __ATOMIC_RELAXED)) == 0) {
		f = PAGERD_FD_FLOOR;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
		    RLIM_INFINITY && rl.rlim_cur / 2 < (rlim_t)f)
			f = (int)(rl.rlim_cur / 2);
		__atomic_store_n(&floor, f, __ATOMIC_RELAXED);
	}
	return f;
}

int
pagerd_fd_high(int fd)
{
	int nfd;

	if (fd < 0 || fd >= pagerd_fd_floor() ||
	    (nfd = fcntl(fd, F_DUPFD_CLOEXEC, pagerd_fd_floor())) == -1)
		return fd;
	close(fd);
	return nfd;
}

/* A close-on-exec copy of fd, high; -1 with errno set if refused. */
static int
pagerd_dup(int fd)
{
	int nfd;

	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, pagerd_fd_floor())) == -1)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return nfd;
}

/*
 * A region's hold on a descriptor of the same file as fd, opened the same
 * way: one already held, or a copy of fd (with take, fd itself), high.
 * With take, fd is ours and closed when not kept. Returns the held
 * number, or -1 with errno set. Called with pd->lock held.
 */
static int
pagerd_fd_hold(struct pagerd *pd, int fd, int take)
{
	struct pagerd_fd *h;
	struct stat st;
	size_t i;
	int mode, nfd, saved;

	if (fstat(fd, &st) == -1 || (mode = fcntl(fd, F_GETFL)) == -1)
		goto fail;
	mode &= O_ACCMODE;
	for (i = 0; i < pd->nheld; i++) {
		h = &pd->held[i];
		if (h->dev == st.st_dev && h->ino == st.st_ino &&
		    h->mode == mode) {
			h->refs++;
			if (take)
				close(fd);
			return h->fd;
		}
	}
	if ((h = reallocarray(pd->held, pd->nheld + 1, sizeof *h)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	pd->held = h;
	if ((nfd = take ? pagerd_fd_high(fd) : pagerd_dup(fd)) == -1)
		return -1;
	h = &pd->held[pd->nheld++];
	*h = (struct pagerd_fd){ .fd = nfd, .dev = st.st_dev,
	    .ino = st.st_ino, .mode = mode, .refs = 1 };
	return nfd;
fail:
	saved = errno;
	if (take)
		close(fd);
	errno = saved;
	return -1;
}

/* Another region holds fd too. Called with pd->lock held. */
static int
pagerd_fd_share(struct pagerd *pd, int fd)
{
	size_t i;

	for (i = 0; fd != -1 && i < pd->nheld; i++)
		if (pd->held[i].fd == fd)
			pd->held[i].refs++;
	return fd;
}

/* A region lets go of fd; the last closes it. Called with pd->lock held. */
static void
pagerd_fd_drop(struct pagerd *pd, int fd)
{
	size_t i;

	for (i = 0; fd != -1 && i < pd->nheld; i++) {
		if (pd->held[i].fd != fd)
			continue;
		if (--pd->held[i].refs == 0) {
			close(fd);
			pd->held[i] = pd->held[--pd->nheld];
		}
		return;
	}
}

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
static int
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
 * A notice the daemon sent unasked. A write to a read-only region under
 * the kill policy: make the page read-only for real and wake the writer,
 * whose write then gets the kernel's own SIGSEGV (SEGV_ACCERR, with the
 * address), so that a debugger or a core shows the faulting write.
 * Called with pd->lock held.
 */
static void
pagerd_notice(struct pagerd *pd, const struct pd_notice *n)
{
	struct pagerd_violation *v;
	struct uffdio_range range;
	char line[PD_REASON_MAX + 128];
	size_t i;
	int len;

	if (n->kind == PD_NOTICE_SNAPSHOT_DONE) {
		i = pd->nsnapshots++ % PAGERD_SNAPSHOTS_KEPT;
		pd->snapshots[i].id = n->value;
		pd->snapshots[i].status = n->status;
		return;
	}
	if (n->kind != PD_NOTICE_VIOLATION)
		return;
	v = &pd->violations[pd->nviolations++ % PAGERD_VIOLATIONS_KEPT];
	memset(v, 0, sizeof *v);
	v->addr = (void *)(uintptr_t)n->addr;
	v->tid = (pid_t)n->tid;
	v->killed = n->value == PD_VIOLATION_KILL;
	for (i = 0; i < pd->nregions; i++)
		if (pd->regions[i].id == n->region_id)
			v->region = (void *)(uintptr_t)pd->regions[i].add.start;
	memcpy(v->reason, n->reason, sizeof v->reason);
	v->reason[sizeof v->reason - 1] = '\0';
	if (!v->killed)
		return;
	len = snprintf(line, sizeof line, "libpagerd: thread %d: %s: "
	    "SIGSEGV\n", (int)v->tid, v->reason);
	if (len > 0 && write(STDERR_FILENO, line, (size_t)len) == -1) {
		/* The signal says it anyway. */
	}
	if (mprotect((void *)(uintptr_t)(n->addr & ~(uint64_t)(pd->page_size -
	    1)), pd->page_size, PROT_READ) == -1)
		return;
	range.start = n->addr & ~(uint64_t)(pd->page_size - 1);
	range.len = pd->page_size;
	ioctl(pd->uffd, UFFDIO_WAKE, &range);
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
static void
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
static int
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
static int
pagerd_request_fds(struct pagerd *pd, union pd_msg *msg, const int *fds,
    int nfds, union pd_msg *reply, uint32_t reply_type, int *fdp)
{
	int error;

	if ((error = pagerd_need(pd)) != 0)
		return error;
	return pagerd_exchange(pd, msg, fds, nfds, reply, reply_type, fdp);
}

/* An exchange with at most one descriptor each way (fd -1: none). */
static int
pagerd_request(struct pagerd *pd, union pd_msg *msg, int fd,
    union pd_msg *reply, uint32_t reply_type)
{
	return pagerd_request_fds(pd, msg, &fd, fd != -1, reply, reply_type,
	    NULL);
}

/*
 * Hand a region over: its backing file (or page cache) unless it is zero-
 * fill, then a write-protected region's memfd.
 */
static int
pagerd_request_region(struct pagerd *pd, union pd_msg *msg,
    const struct pagerd_region *r, union pd_msg *reply)
{
	int fds[2], nfds = 0;

	if (r->add.backing != PD_BACKING_ZERO)
		fds[nfds++] = r->memfd != -1 ? r->memfd : r->fd;
	if (r->wpfd != -1)
		fds[nfds++] = r->wpfd;
	return pagerd_request_fds(pd, msg, fds, nfds, reply, PD_MSG_REPLY,
	    NULL);
}

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
		    strerror(errno), (errno == ENOENT || errno == ECONNREFUSED)
		    ? " (is pagerd running?)" : "");
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
	char first[sizeof pagerd_error];
	union pd_msg m;
	int i;

	if (error != -ECONNRESET && error != -EPIPE)
		return error;
	strlcpy(first, pagerd_error, sizeof first);
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
	char words[sizeof pagerd_error];

	if (error != -EBADMSG && error != -EPROTONOSUPPORT)
		return error;
	strlcpy(words, pagerd_error, sizeof words);
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
static int
pagerd_conn_lost(struct pagerd *pd)
{
	struct stat st;

	return pd->sock == -1 || fstat(pd->sock, &st) == -1 ||
	    !S_ISSOCK(st.st_mode) || st.st_dev != pd->sock_dev ||
	    st.st_ino != pd->sock_ino;
}

/* Is pd->uffd still our userfaultfd, not closed nor reused? */
static int
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
static int
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
static int
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
static int
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
		if (r->memfd != -1) {
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
 * Hand everything to a restarted daemon on a new connection: the same
 * userfaultfd (its ranges never stopped being registered) and every
 * region, which the daemon wakes so that threads whose faults the dead
 * daemon had read fault again. Called with pd->lock held.
 */
static int
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
	if ((error = pagerd_send_regions(pd, session)) != 0)
		return error;
	proto_init(&msg, PD_MSG_REATTACHED, 0);
	return pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY);
}

/*
 * The daemon is gone and did not come back in time. Threads touching
 * pages it has not served would wait forever, or read zeros if we let
 * go of the userfaultfd: end the process with a signal and a reason.
 */
__attribute__((noreturn)) static void
pagerd_end(struct pagerd *pd, const char *what, const char *why)
{
	char msg[768];
	int n;

	n = snprintf(msg, sizeof msg, "libpagerd: pagerd at %s: %s (%s): "
	    "ending the process with SIGBUS\n", pd->path, what, why);
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) == -1) {
		/* Nothing left to tell. */
	}
	signal(SIGBUS, SIG_DFL);
	kill(getpid(), SIGBUS);
	for (;;)
		pause();
}

static void
pagerd_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * The watchdog: a thread that never touches registered memory, waiting
 * for the daemon's end of the socket to go away. It leaves when
 * pagerd_close() shuts the socket down, and when the program closed the
 * connection under it (a new watchdog comes with the next connection):
 * its poll holds the socket open, so it looks every PAGERD_WATCH_MS.
 */
static void *
pagerd_watchdog(void *arg)
{
	struct pagerd *pd = arg;
	struct pollfd pfd;
	uint64_t gen;
	sigset_t all;
	int waited, error;

	/* Signals are for the application's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&pd->lock);
	gen = pd->gen;
	for (;;) {
		if (pd->stopping || pd->gen != gen || pagerd_conn_lost(pd))
			break;
		pfd = (struct pollfd){ .fd = pd->sock,
		    .events = POLLIN | POLLRDHUP };
		pthread_mutex_unlock(&pd->lock);
		if (poll(&pfd, 1, PAGERD_WATCH_MS) == -1)
			pfd.revents = 0;
		pthread_mutex_lock(&pd->lock);
		if (pd->stopping || pd->gen != gen || pagerd_conn_lost(pd))
			break;
		if (pfd.revents == 0)
			continue;
		if (!(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			pagerd_drain_notices(pd);
			continue;
		}
		for (waited = 0;; waited += 50) {
			if ((error = pagerd_reattach(pd)) == 0)
				break;
			if (waited >= pd->reattach_ms)
				pagerd_end(pd, "lost it and could not "
				    "re-attach in time (PAGERD_REATTACH_TIMEOUT)",
				    pagerd_errmsg());
			pagerd_sleep_ms(50);
		}
		gen = pd->gen;
	}
	if (--pd->watchers == 0)
		pthread_cond_broadcast(&pd->watchers_cv);
	pthread_mutex_unlock(&pd->lock);
	return NULL;
}

/* Start a watchdog for the current connection. Called with pd->lock held. */
static int
pagerd_watch(struct pagerd *pd)
{
	pthread_attr_t attr;
	pthread_t t;
	int error;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	error = pthread_create(&t, &attr, pagerd_watchdog, pd);
	pthread_attr_destroy(&attr);
	if (error != 0)
		return pagerd_fail(-error, "pthread_create: %s",
		    strerror(error));
	pd->watchers++;
	return 0;
}

static int
pagerd_reattach_timeout(void)
{
	const char *env = secure_getenv("PAGERD_REATTACH_TIMEOUT");
	const char *errstr;
	long long ms;

	if (env == NULL || *env == '\0')
		return PAGERD_REATTACH_TIMEOUT_MS;
	ms = strtonum(env, 0, 3600 * 1000, &errstr);
	return errstr != NULL ? PAGERD_REATTACH_TIMEOUT_MS : (int)ms;
}

PUBLIC int
pagerd_connect(const char *path, struct pagerd **pdp)
{
	struct pagerd *pd;
	const char *env;
	int error;

	*pdp = NULL;
	if (path == NULL) {
		env = secure_getenv("PAGERD_SOCKET");
		path = env != NULL && *env != '\0' ? env :
		    PAGERD_DEFAULT_SOCKET;
	}
	if ((pd = calloc(1, sizeof *pd)) == NULL)
		return pagerd_fail(-ENOMEM, "out of memory");
	pd->sock = pd->uffd = -1;
	pd->page_size = (size_t)sysconf(_SC_PAGESIZE);
	pd->reattach_ms = pagerd_reattach_timeout();
	if ((error = pthread_mutex_init(&pd->lock, NULL)) != 0) {
		free(pd);
		return pagerd_fail(-error, "pthread_mutex_init: %s",
		    strerror(error));
	}
	pthread_cond_init(&pd->watchers_cv, NULL);
	if (strlcpy(pd->path, path, sizeof pd->path) >= sizeof pd->path) {
		error = pagerd_fail(-ENAMETOOLONG, "socket path %s is too long",
		    path);
		goto fail;
	}

	if ((error = pagerd_new_session(pd)) != 0)
		goto fail;
	pthread_mutex_lock(&pd->lock);
	error = pagerd_watch(pd);
	pthread_mutex_unlock(&pd->lock);
	if (error != 0)
		goto fail;
	pthread_once(&pagerd_atexit_once, pagerd_atexit_register);
	pthread_mutex_lock(&pagerd_all_lock);
	LIST_INSERT_HEAD(&pagerd_all, pd, entry);
	pthread_mutex_unlock(&pagerd_all_lock);
	*pdp = pd;
	return 0;

fail:
	if (pd->uffd != -1)
		close(pd->uffd);
	if (pd->sock != -1)
		close(pd->sock);
	pthread_cond_destroy(&pd->watchers_cv);
	pthread_mutex_destroy(&pd->lock);
	free(pd);
	return error;
}

/* Called with pd->lock held. */
static void
pagerd_region_release(struct pagerd *pd, struct pagerd_region *r)
{
	/* Unmapping also drops the registration. */
	munmap((void *)(uintptr_t)r->add.start, r->maplen);
	pagerd_fd_drop(pd, r->fd);
	pagerd_fd_drop(pd, r->memfd);
	if (r->wpfd != -1)
		close(r->wpfd);
}

PUBLIC void
pagerd_close(struct pagerd *pd)
{
	size_t i;
	int lost;

	if (pd == NULL)
		return;
	pthread_mutex_lock(&pagerd_all_lock);
	LIST_REMOVE(pd, entry);
	pthread_mutex_unlock(&pagerd_all_lock);
	pthread_mutex_lock(&pd->lock);
	pagerd_sync_all(pd);
	/*
	 * Unmapped while the daemon still serves the session: a munmap
	 * waits until the daemon has read its unmap event.
	 */
	for (i = 0; i < pd->nregions; i++)
		pagerd_region_release(pd, &pd->regions[i]);
	pd->nregions = 0;
	/*
	 * The watchdogs leave: the current one woken by the shutdown, one
	 * left on a connection the program closed within PAGERD_WATCH_MS.
	 */
	pd->stopping = 1;
	lost = pagerd_conn_lost(pd);
	if (!lost)
		shutdown(pd->sock, SHUT_RDWR);
	while (pd->watchers > 0)
		pthread_cond_wait(&pd->watchers_cv, &pd->lock);
	pthread_mutex_unlock(&pd->lock);
	free(pd->held);
	if (!lost)
		close(pd->sock);
	if (pagerd_uffd_ours(pd))
		close(pd->uffd);
	pthread_cond_destroy(&pd->watchers_cv);
	pthread_mutex_destroy(&pd->lock);
	free(pd->regions);
	free(pd);
}

static int
pagerd_check_prot(int prot)
{
	if (prot != PROT_READ && prot != (PROT_READ | PROT_WRITE))
		return pagerd_fail(-EINVAL, "prot must be PROT_READ or "
		    "PROT_READ|PROT_WRITE");
	return 0;
}

/*
 * Map the file's shared page cache at addr for up to length bytes from
 * offset: the cache's memfd, privately, so that writes stay ours. Returns
 * the bytes it covers (the rest of the region lies past the end of the
 * file and stays anonymous zero-fill memory), 0 when the daemon has no
 * cache for this file, or -errno. Called with pd->lock held.
 */
static ssize_t
pagerd_map_cache(struct pagerd *pd, struct pagerd_region *r, void *addr,
    uint64_t offset, size_t length, int prot)
{
	union pd_msg msg, reply;
	size_t covered;
	int error, memfd = -1;

	proto_init(&msg, PD_MSG_CACHE_OPEN, 0);
	error = pagerd_request_fds(pd, &msg, &r->fd, 1, &reply,
	    PD_MSG_CACHE_REPLY, &memfd);
	if (error == -ECONNRESET || error == -ETIMEDOUT || error == -EPROTO ||
	    error == -EBADMSG || error == -EMFILE)
		return error;
	/* Refused (an empty file, a limit): serve it by copies instead. */
	if (error != 0 || reply.cache_reply.size <= offset) {
		if (memfd != -1)
			close(memfd);
		return 0;
	}
	if ((r->memfd = pagerd_fd_hold(pd, memfd, 1)) == -1)
		return pagerd_fail(-errno, "the page cache's descriptor: %s",
		    strerror(errno));
	covered = reply.cache_reply.size - offset < length ?
	    (size_t)(reply.cache_reply.size - offset) : length;
	if (mmap(addr, covered, prot, MAP_PRIVATE | MAP_FIXED, r->memfd,
	    (off_t)offset) == MAP_FAILED)
		return pagerd_fail(-errno, "mmap of the page cache: %s",
		    strerror(errno));
	return (ssize_t)covered;
}

/*
 * Make addr a boundary between records: a record that straddles it is cut
 * in two, the second with descriptors of its own (the daemon cuts its
 * regions the same way on the kernel's events). A write-protected region
 * is not cut, as the daemon does not cut it. A piece without registered
 * pages (a page cache region's zero tail) is no region: it is dropped.
 * Called with pd->lock held.
 */
static void
pagerd_cut(struct pagerd *pd, uint64_t addr)
{
	struct pagerd_region *r, n, *regions;
	uint64_t delta;
	size_t i, cap;

	for (i = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		if (r->add.start < addr && addr < r->add.start + r->maplen)
			break;
	}
	if (i == pd->nregions || (pd->regions[i].add.flags & PD_REGION_WP))
		return;
	r = &pd->regions[i];
	delta = addr - r->add.start;
	n = *r;
	n.id = 0;	/* the daemon's number for the piece is its own */
	n.add.start = addr;
	n.maplen = r->maplen - delta;
	n.add.length = r->add.length > delta ? r->add.length - delta : 0;
	if (n.add.backing != PD_BACKING_ZERO)
		n.add.offset += delta;
	r->maplen = delta;
	if (r->add.length > delta)
		r->add.length = delta;
	if (n.add.length == 0)
		return;
	if (pd->nregions == pd->regions_cap) {
		cap = pd->regions_cap * 2;
		/* Else the piece cannot be handed over after a restart. */
		if ((regions = reallocarray(pd->regions, cap,
		    sizeof *regions)) == NULL)
			return;
		pd->regions = regions;
		pd->regions_cap = cap;
	}
	pagerd_fd_share(pd, n.fd);
	pagerd_fd_share(pd, n.memfd);
	pd->regions[pd->nregions++] = n;
}

/* Drop the records of [start, start + len). Called with pd->lock held. */
static void
pagerd_forget(struct pagerd *pd, uint64_t start, uint64_t len)
{
	struct pagerd_region *r;
	size_t i;

	pagerd_cut(pd, start);
	pagerd_cut(pd, start + len);
	for (i = 0; i < pd->nregions;) {
		r = &pd->regions[i];
		if (r->add.start >= start && r->add.start < start + len &&
		    !(r->add.flags & PD_REGION_WP)) {
			pagerd_fd_drop(pd, r->fd);
			pagerd_fd_drop(pd, r->memfd);
			pd->regions[i] = pd->regions[--pd->nregions];
		} else
			i++;
	}
}

int
pagerd_overlaps(struct pagerd *pd, const void *addr, size_t len)
{
	uint64_t a = (uintptr_t)addr;
	size_t i;
	int found = 0;

	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nregions && !found; i++)
		found = pd->regions[i].add.start < a + len &&
		    a < pd->regions[i].add.start + pd->regions[i].maplen;
	pthread_mutex_unlock(&pd->lock);
	return found;
}

int
pagerd_advise(struct pagerd *pd, const void *addr, size_t len, int advice)
{
	uint64_t a = (uintptr_t)addr;
	struct pagerd_region *r;
	int error, found = 0;
	size_t i;

	/* Advice anonymous memory takes and a private file mapping refuses. */
	switch (advice) {
	case MADV_FREE:
	case MADV_WIPEONFORK:
		error = -EINVAL;	/* anonymous memory only */
		break;
	case MADV_REMOVE:
		error = -EACCES;	/* shared mappings only */
		break;
	default:
		return 0;
	}
	if ((a & (pd->page_size - 1)) != 0)
		return 0;		/* the kernel says EINVAL first */
	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nregions && !found; i++) {
		r = &pd->regions[i];
		found = r->fd != -1 && r->wpfd == -1 && r->add.start < a + len &&
		    a < r->add.start + r->maplen;
	}
	pthread_mutex_unlock(&pd->lock);
	return found ? error : 0;
}

void
pagerd_unmapped(struct pagerd *pd, const void *addr, size_t len)
{
	pthread_mutex_lock(&pd->lock);
	pagerd_forget(pd, (uintptr_t)addr, len);
	pthread_mutex_unlock(&pd->lock);
}

void *
pagerd_writeback_region(struct pagerd *pd, const void *addr)
{
	uint64_t a = (uintptr_t)addr;
	void *start = NULL;
	size_t i;

	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nregions; i++)
		if ((pd->regions[i].add.flags & PD_REGION_WRITEBACK) &&
		    pd->regions[i].add.start <= a && a <
		    pd->regions[i].add.start + pd->regions[i].maplen)
			start = (void *)(uintptr_t)pd->regions[i].add.start;
	pthread_mutex_unlock(&pd->lock);
	return start;
}

/*
 * After mremap(2): the records of the old range move (the daemon moves its
 * regions on the kernel's event); a shrunk tail is gone (an unmap event
 * told the daemon); a grown tail is registered already, inheriting the
 * mapping's registration, and becomes a region of its own here.
 */
int
pagerd_remapped(struct pagerd *pd, const void *old, size_t old_len,
    void *new, size_t new_len)
{
	uint64_t o = (uintptr_t)old, n = (uintptr_t)new, end = o + old_len;
	struct pagerd_region *r, *last = NULL, ext, *regions;
	union pd_msg msg, reply;
	size_t i, cap;
	int error = 0;

	pthread_mutex_lock(&pd->lock);
	pagerd_cut(pd, o);
	pagerd_cut(pd, end);
	for (i = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		if (r->add.start < o || r->add.start >= end)
			continue;
		r->add.start = r->add.start - o + n;
		if (r->add.start + r->maplen == n + old_len)
			last = r;
	}
	if (new_len < old_len) {
		pagerd_forget(pd, n + new_len, old_len - new_len);
		last = NULL;
	}
	if (new_len > old_len && last != NULL &&
	    last->add.length == last->maplen) {
		ext = *last;
		ext.add.start = n + old_len;
		ext.add.length = ext.maplen = new_len - old_len;
		if (ext.add.backing != PD_BACKING_ZERO)
			ext.add.offset += last->maplen;
		if (pd->nregions == pd->regions_cap) {
			cap = pd->regions_cap * 2;
			if ((regions = reallocarray(pd->regions, cap,
			    sizeof *regions)) == NULL) {
				error = pagerd_fail(-ENOMEM, "out of memory");
				goto out;
			}
			pd->regions = regions;
			pd->regions_cap = cap;
		}
		msg.region_add = ext.add;
		if ((error = pagerd_request_region(pd, &msg, &ext, &reply)) !=
		    0)
			goto out;
		ext.id = reply.reply.value;
		pagerd_fd_share(pd, ext.fd);
		pagerd_fd_share(pd, ext.memfd);
		pd->regions[pd->nregions++] = ext;
	}
out:
	pthread_mutex_unlock(&pd->lock);
	return error;
}

/*
 * Create, register and hand over a region: an anonymous private mapping
 * whose missing pages the daemon fills, or a private mapping of a file's
 * shared page cache, whose pages the daemon maps.
 */
static int
pagerd_map(struct pagerd *pd, uint32_t backing, int fd, uint64_t offset,
    size_t length, int prot, unsigned int flags, void *hint, int fixed,
    void **addrp)
{
	struct uffdio_register reg;
	struct pagerd_region *regions, r;
	union pd_msg msg, reply;
	ssize_t covered = 0;
	size_t cap;
	void *addr;
	int error;

	if (length == 0 || length > PD_REGION_MAX_LENGTH)
		return pagerd_fail(-EINVAL, "length %zu is not in 1 .. %llu",
		    length, PD_REGION_MAX_LENGTH);
	length = (length + pd->page_size - 1) & ~(pd->page_size - 1);

	memset(&r, 0, sizeof r);
	r.fd = r.memfd = r.wpfd = -1;
	r.maplen = length;

	if (flags & PAGERD_MAP_WP_FLAGS) {
		/*
		 * A write-protected region's memory is a memfd the daemon
		 * maps too. A read-only region is writable underneath: the
		 * daemon catches, reports and judges every write.
		 */
		if ((pd->features & PAGERD_WP_FEATURES) != PAGERD_WP_FEATURES) {
			error = pagerd_fail(-EOPNOTSUPP, "write-protected "
			    "regions need userfaultfd write protection of "
			    "shared memory (Linux 5.19), which this kernel "
			    "lacks");
			goto fail_fd;
		}
		/*
		 * Sealed at its size: the daemon copies from it, and a
		 * stray ftruncate would cut pages from under both.
		 */
		if ((r.wpfd = pagerd_fd_high(memfd_create("pagerd-region",
		    MFD_CLOEXEC | MFD_ALLOW_SEALING))) == -1 ||
		    ftruncate(r.wpfd, (off_t)length) == -1 ||
		    fcntl(r.wpfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		    F_SEAL_SEAL) == -1) {
			error = pagerd_fail(-errno, "memfd of %zu bytes: %s",
			    length, strerror(errno));
			goto fail_fd;
		}
		addr = mmap(hint, length, PROT_READ | PROT_WRITE, MAP_SHARED |
		    MAP_NORESERVE | fixed, r.wpfd, 0);
	} else
		addr = mmap(hint, length, prot, MAP_PRIVATE | MAP_ANONYMOUS |
		    MAP_NORESERVE | fixed, -1, 0);
	if (addr == MAP_FAILED) {
		error = pagerd_fail(-errno, "mmap of %zu bytes: %s", length,
		    strerror(errno));
		goto fail_fd;
	}
	proto_init(&msg, PD_MSG_REGION_ADD, 0);
	msg.region_add.start = (uintptr_t)addr;
	msg.region_add.length = length;
	msg.region_add.offset = offset;
	msg.region_add.backing = backing;
	msg.region_add.prot = PD_PROT_READ |
	    ((prot & PROT_WRITE) ? PD_PROT_WRITE : 0);
	msg.region_add.mode = PD_MODE_MISSING;
	if (flags & PAGERD_MAP_WP_FLAGS) {
		msg.region_add.mode |= PD_MODE_WP;
		msg.region_add.flags = PD_REGION_WP |
		    ((flags & PAGERD_MAP_WRITEBACK) ? PD_REGION_WRITEBACK : 0) |
		    ((flags & PAGERD_MAP_READONLY) ? PD_REGION_READONLY : 0) |
		    ((flags & PAGERD_MAP_REPORT) ? PD_REGION_REPORT : 0);
	}
	r.add = msg.region_add;

	pthread_mutex_lock(&pd->lock);
	/* MAP_FIXED replaced whatever was there, regions included. */
	if (fixed != 0)
		pagerd_forget(pd, (uintptr_t)addr, length);
	/* The userfaultfd registered below must be the session's. */
	if ((error = pagerd_need(pd)) != 0)
		goto fail_locked;
	/* A copy of the backing file, held to re-attach with. */
	if (fd != -1 && (r.fd = pagerd_fd_hold(pd, fd, 0)) == -1) {
		error = pagerd_fail(-errno, "a copy of the backing file's "
		    "descriptor: %s", strerror(errno));
		goto fail_locked;
	}
	if (backing == PD_BACKING_FILE && pd->use_cache && r.wpfd == -1) {
		covered = pagerd_map_cache(pd, &r, addr, offset, length, prot);
		if (covered < 0) {
			error = (int)covered;
			goto fail_locked;
		}
		if (covered > 0) {
			r.add.backing = PD_BACKING_CACHE;
			r.add.length = (uint64_t)covered;
			r.add.mode |= PD_MODE_MINOR;
		}
	}

	/*
	 * A child gets a private copy of a region, registered again by the
	 * fork handler. A write-protected region is memory shared with the
	 * daemon, which a child must not share: it does not inherit it.
	 */
	if (r.wpfd != -1 && madvise(addr, length, MADV_DONTFORK) == -1) {
		error = pagerd_fail(-errno, "madvise MADV_DONTFORK: %s",
		    strerror(errno));
		goto fail_locked;
	}
	reg = (struct uffdio_register){ .range = { .start = (uintptr_t)addr,
	    .len = r.add.length }, .mode = UFFDIO_REGISTER_MODE_MISSING |
	    ((r.add.mode & PD_MODE_MINOR) ? UFFDIO_REGISTER_MODE_MINOR : 0) |
	    ((r.add.mode & PD_MODE_WP) ? UFFDIO_REGISTER_MODE_WP : 0) };
	if (ioctl(pd->uffd, UFFDIO_REGISTER, &reg) == -1) {
		error = pagerd_fail(-errno, "UFFDIO_REGISTER: %s",
		    strerror(errno));
		goto fail_locked;
	}

	if (pd->nregions == pd->regions_cap) {
		cap = pd->regions_cap ? pd->regions_cap * 2 : 8;
		regions = reallocarray(pd->regions, cap, sizeof *regions);
		if (regions == NULL) {
			error = pagerd_fail(-ENOMEM, "out of memory");
			goto fail_locked;
		}
		pd->regions = regions;
		pd->regions_cap = cap;
	}
	msg.region_add = r.add;
	if ((error = pagerd_request_region(pd, &msg, &r, &reply)) != 0)
		goto fail_locked;
	r.id = reply.reply.value;
	r.session = pd->session_id;
	pd->regions[pd->nregions++] = r;
	pthread_mutex_unlock(&pd->lock);
	*addrp = addr;
	return 0;

fail_locked:
	pagerd_region_release(pd, &r);
	pthread_mutex_unlock(&pd->lock);
	return error;

fail_fd:
	if (r.wpfd != -1)
		close(r.wpfd);
	return error;
}

static int
pagerd_check_flags(unsigned int flags, int prot, int file)
{
	if (flags & ~PAGERD_MAP_WP_FLAGS)
		return pagerd_fail(-EINVAL, "unknown flags 0x%x", flags &
		    ~PAGERD_MAP_WP_FLAGS);
	if ((flags & PAGERD_MAP_WRITEBACK) && (!file || (flags &
	    PAGERD_MAP_READONLY)))
		return pagerd_fail(-EINVAL, "PAGERD_MAP_WRITEBACK is for "
		    "writable file regions");
	if ((flags & PAGERD_MAP_REPORT) && !(flags & PAGERD_MAP_READONLY))
		return pagerd_fail(-EINVAL, "PAGERD_MAP_REPORT goes with "
		    "PAGERD_MAP_READONLY");
	if ((flags & PAGERD_MAP_READONLY) && prot != PROT_READ)
		return pagerd_fail(-EINVAL, "a PAGERD_MAP_READONLY region "
		    "takes PROT_READ");
	if ((flags & PAGERD_MAP_WP_FLAGS) && !(flags & PAGERD_MAP_READONLY) &&
	    !(prot & PROT_WRITE))
		return pagerd_fail(-EINVAL, "copy-on-write and write-back "
		    "regions take PROT_READ|PROT_WRITE");
	return 0;
}

static int
pagerd_check_file(struct pagerd *pd, int fd, off_t offset, int prot,
    unsigned int flags)
{
	struct stat st;
	int error, fl;

	if ((error = pagerd_check_prot(prot)) != 0 ||
	    (error = pagerd_check_flags(flags, prot, 1)) != 0)
		return error;
	if (offset < 0 || ((uint64_t)offset & (pd->page_size - 1)) != 0)
		return pagerd_fail(-EINVAL, "offset %lld is not a multiple of "
		    "the page size %zu", (long long)offset, pd->page_size);
	if (fstat(fd, &st) == -1)
		return pagerd_fail(-errno, "backing file: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pagerd_fail(-EINVAL, "backing file: not a regular file");
	/* O_PATH reads as O_RDONLY, and grants no reading at all. */
	if ((fl = fcntl(fd, F_GETFL)) == -1 || (fl & O_PATH) ||
	    (fl & O_ACCMODE) == O_WRONLY)
		return pagerd_fail(-EBADF, "backing file: not open for "
		    "reading%s", fl != -1 && (fl & O_PATH) ? " (an O_PATH "
		    "descriptor)" : "");
	if ((flags & PAGERD_MAP_WRITEBACK) && (fl & O_ACCMODE) != O_RDWR)
		return pagerd_fail(-EBADF, "backing file: PAGERD_MAP_WRITEBACK "
		    "needs it open for reading and writing");
	return 0;
}

PUBLIC int
pagerd_map_file(struct pagerd *pd, int fd, off_t offset, size_t length,
    int prot, unsigned int flags, void **addrp)
{
	int error;

	if ((error = pagerd_check_file(pd, fd, offset, prot, flags)) != 0)
		return error;
	return pagerd_map(pd, PD_BACKING_FILE, fd, (uint64_t)offset, length,
	    prot, flags, NULL, 0, addrp);
}

int
pagerd_map_at(struct pagerd *pd, void *hint, int fixed, int fd, off_t offset,
    size_t length, int prot, unsigned int flags, void **addrp)
{
	int error;

	if (fd == -1) {
		if ((error = pagerd_check_prot(prot)) != 0 ||
		    (error = pagerd_check_flags(flags, prot, 0)) != 0)
			return error;
		return pagerd_map(pd, PD_BACKING_ZERO, -1, 0, length, prot,
		    flags, hint, fixed, addrp);
	}
	if ((error = pagerd_check_file(pd, fd, offset, prot, flags)) != 0)
		return error;
	return pagerd_map(pd, PD_BACKING_FILE, fd, (uint64_t)offset, length,
	    prot, flags, hint, fixed, addrp);
}

PUBLIC int
pagerd_map_zero(struct pagerd *pd, size_t length, int prot,
    unsigned int flags, void **addrp)
{
	int error;

	if ((error = pagerd_check_prot(prot)) != 0 ||
	    (error = pagerd_check_flags(flags, prot, 0)) != 0)
		return error;
	return pagerd_map(pd, PD_BACKING_ZERO, -1, 0, length, prot, flags,
	    NULL, 0, addrp);
}

/* The region that starts at addr. Called with pd->lock held. */
static int
pagerd_find(struct pagerd *pd, void *addr, size_t *ip)
{
	size_t i;

	*ip = 0;
	for (i = 0; i < pd->nregions; i++)
		if (pd->regions[i].add.start == (uintptr_t)addr) {
			*ip = i;
			return 0;
		}
	return pagerd_fail(-EINVAL, "%p is not the start of a pagerd region",
	    addr);
}

/*
 * The region at addr, to ask the daemon about: on the current session,
 * not on one the program's closing of the connection left detached.
 */
static int
pagerd_find_live(struct pagerd *pd, void *addr, size_t *ip)
{
	int error;

	if ((error = pagerd_need(pd)) != 0 ||
	    (error = pagerd_find(pd, addr, ip)) != 0)
		return error;
	if (pd->regions[*ip].session != pd->session_id)
		return pagerd_fail(-ENOTCONN, "%p is served by an earlier "
		    "session of this process, which the daemon keeps detached "
		    "since the program closed its connection", addr);
	return 0;
}

/* Called with pd->lock held. */
static int
pagerd_sync_region(struct pagerd *pd, struct pagerd_region *r)
{
	union pd_msg msg, reply;

	proto_init(&msg, PD_MSG_SYNC, 0);
	msg.region_req.region_id = r->id;
	return pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY);
}

/* Write back every write-back region. Called with pd->lock held. */
static int
pagerd_sync_all(struct pagerd *pd)
{
	size_t i;
	int error, first = 0;

	/* A detached session writes its regions back when it ends. */
	for (i = 0; i < pd->nregions; i++)
		if ((pd->regions[i].add.flags & PD_REGION_WRITEBACK) &&
		    pd->regions[i].session == pd->session_id &&
		    (error = pagerd_sync_region(pd, &pd->regions[i])) != 0 &&
		    first == 0)
			first = error;
	return first;
}

/*
 * At exit, what the program wrote to write-back regions reaches the files
 * before exit() returns to the kernel. (Should the process die instead,
 * the daemon writes it back when the connection ends.)
 */
static void
pagerd_atexit(void)
{
	struct pagerd *pd;

	pthread_mutex_lock(&pagerd_all_lock);
	LIST_FOREACH(pd, &pagerd_all, entry) {
		pthread_mutex_lock(&pd->lock);
		pagerd_sync_all(pd);
		pthread_mutex_unlock(&pd->lock);
	}
	pthread_mutex_unlock(&pagerd_all_lock);
}

/*
 * fork: the child's copy of every region lost its registration (without
 * UFFD_FEATURE_EVENT_FORK, which needs CAP_SYS_PTRACE): a page it had not
 * touched would read zeros. Before the child runs, its regions are
 * registered with a userfaultfd of its own and handed to the daemon on a
 * connection of its own; the pages already there are its private copies.
 * The connections are locked across the fork so that none is mid-request.
 */
static void
pagerd_fork_prepare(void)
{
	struct pagerd *pd;

	pthread_mutex_lock(&pagerd_all_lock);
	LIST_FOREACH(pd, &pagerd_all, entry)
		pthread_mutex_lock(&pd->lock);
}

static void
pagerd_fork_parent(void)
{
	struct pagerd *pd;

	LIST_FOREACH(pd, &pagerd_all, entry)
		pthread_mutex_unlock(&pd->lock);
	pthread_mutex_unlock(&pagerd_all_lock);
}

static int
pagerd_child_attach(struct pagerd *pd)
{
	struct uffdio_register reg;
	struct pagerd_region *r;
	uint32_t session = pd->session_id;
	size_t i, j;
	int error;

	/* Write-protected regions stay with the parent (MADV_DONTFORK). */
	for (i = j = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		if (r->add.flags & PD_REGION_WP) {
			pagerd_fd_drop(pd, r->fd);
			if (r->wpfd != -1)
				close(r->wpfd);
			continue;
		}
		pd->regions[j++] = *r;
	}
	pd->nregions = j;
	pd->nviolations = pd->nsnapshots = 0;

	/*
	 * The parent's socket and descriptor are the parent's (if the
	 * program did not close them), its watchdogs stayed with it.
	 */
	pd->watchers = 0;
	pthread_cond_init(&pd->watchers_cv, NULL);
	if ((error = pagerd_new_session(pd)) != 0)
		return error;
	for (i = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		reg = (struct uffdio_register){ .range = {
		    .start = r->add.start, .len = r->add.length },
		    .mode = UFFDIO_REGISTER_MODE_MISSING |
		    ((r->add.mode & PD_MODE_MINOR) ?
		    UFFDIO_REGISTER_MODE_MINOR : 0) };
		if (ioctl(pd->uffd, UFFDIO_REGISTER, &reg) == -1)
			return pagerd_fail(-errno, "UFFDIO_REGISTER: %s",
			    strerror(errno));
	}
	if ((error = pagerd_send_regions(pd, session)) != 0)
		return error;
	return pagerd_watch(pd);
}

static void
pagerd_fork_child(void)
{
	struct pagerd *pd;

	LIST_FOREACH(pd, &pagerd_all, entry) {
		if (pagerd_child_attach(pd) != 0)
			pagerd_end(pd, "could not hand a forked child's regions "
			    "to pagerd", pagerd_errmsg());
		pthread_mutex_unlock(&pd->lock);
	}
	pthread_mutex_unlock(&pagerd_all_lock);
}

static void
pagerd_atexit_register(void)
{
	atexit(pagerd_atexit);
	pthread_atfork(pagerd_fork_prepare, pagerd_fork_parent,
	    pagerd_fork_child);
}

PUBLIC int
pagerd_sync(struct pagerd *pd, void *addr)
{
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find_live(pd, addr, &i)) == 0) {
		if (pd->regions[i].add.flags & PD_REGION_WRITEBACK)
			error = pagerd_sync_region(pd, &pd->regions[i]);
		else
			error = pagerd_fail(-EINVAL, "%p is not a "
			    "PAGERD_MAP_WRITEBACK region", addr);
	}
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_dirty(struct pagerd *pd, void *addr, unsigned char *vec,
    size_t *ndirty)
{
	union pd_msg msg, reply;
	uint64_t first, i, npages = 1;
	size_t k;
	int error;

	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find_live(pd, addr, &k)) != 0)
		goto out;
	if (!(pd->regions[k].add.flags & PD_REGION_WP)) {
		error = pagerd_fail(-EINVAL, "%p is not a write-protected "
		    "region", addr);
		goto out;
	}
	for (first = 0; first < npages; first += PD_DIRTY_BITS) {
		proto_init(&msg, PD_MSG_DIRTY, 0);
		msg.dirty.region_id = pd->regions[k].id;
		msg.dirty.first = first;
		if ((error = pagerd_request(pd, &msg, -1, &reply,
		    PD_MSG_DIRTY_REPLY)) != 0)
			goto out;
		npages = reply.dirty_reply.npages;
		if (ndirty != NULL)
			*ndirty = (size_t)reply.dirty_reply.ndirty;
		if (vec == NULL)
			break;
		for (i = 0; i < PD_DIRTY_BITS && first + i < npages; i++)
			vec[first + i] = (reply.dirty_reply.bits[i / 8] >>
			    (i % 8)) & 1;
	}
out:
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_snapshot_start(struct pagerd *pd, void *addr, int fd, uint32_t *idp)
{
	union pd_msg msg, reply;
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find_live(pd, addr, &i)) == 0) {
		proto_init(&msg, PD_MSG_SNAPSHOT, 0);
		msg.region_req.region_id = pd->regions[i].id;
		error = pagerd_request(pd, &msg, fd, &reply, PD_MSG_REPLY);
		if (error == 0)
			*idp = reply.reply.value;
	}
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_snapshot_wait(struct pagerd *pd, uint32_t id)
{
	union pd_msg m;
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	for (;;) {
		for (i = 0; i < PAGERD_SNAPSHOTS_KEPT && i < pd->nsnapshots;
		    i++)
			if (pd->snapshots[i].id == id)
				break;
		if (i < PAGERD_SNAPSHOTS_KEPT && i < pd->nsnapshots) {
			pd->snapshots[i].id = 0;
			error = pd->snapshots[i].status;
			if (error != 0)
				pagerd_fail(error, "snapshot %u: %s", id,
				    strerror(-error));
			break;
		}
		/* A long copy outlasts the reply timeout: keep waiting. */
		error = pagerd_recv_msg(pd, &m, 0, NULL);
		if (error == -ETIMEDOUT)
			continue;
		if (error != 0)
			break;
		if (m.hdr.type == PD_MSG_NOTICE && m.hdr.seq == 0)
			pagerd_notice(pd, &m.notice);
	}
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_snapshot(struct pagerd *pd, void *addr, int fd)
{
	uint32_t id;
	int error;

	if ((error = pagerd_snapshot_start(pd, addr, fd, &id)) != 0)
		return error;
	return pagerd_snapshot_wait(pd, id);
}

PUBLIC size_t
pagerd_violations(struct pagerd *pd, struct pagerd_violation *v, size_t n)
{
	uint64_t total, first, i;

	pthread_mutex_lock(&pd->lock);
	pagerd_drain_notices(pd);
	total = pd->nviolations;
	first = total > PAGERD_VIOLATIONS_KEPT ? total -
	    PAGERD_VIOLATIONS_KEPT : 0;
	if (total - first > n)
		first = total - n;
	for (i = first; i < total; i++)
		v[i - first] = pd->violations[i % PAGERD_VIOLATIONS_KEPT];
	pthread_mutex_unlock(&pd->lock);
	return (size_t)(total - first);
}

PUBLIC int
pagerd_unmap(struct pagerd *pd, void *addr)
{
	struct pagerd_region r;
	union pd_msg msg, reply;
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find(pd, addr, &i)) != 0) {
		pthread_mutex_unlock(&pd->lock);
		return error;
	}
	/* What was written goes to the file before the memory goes. */
	if ((pd->regions[i].add.flags & PD_REGION_WRITEBACK) &&
	    pd->regions[i].session == pd->session_id &&
	    (error = pagerd_sync_region(pd, &pd->regions[i])) != 0) {
		pthread_mutex_unlock(&pd->lock);
		return error;
	}
	r = pd->regions[i];
	pd->regions[i] = pd->regions[--pd->nregions];
	/* Unmap first: the daemon may then free its side at leisure. */
	pagerd_region_release(pd, &r);
	/* A detached session of ours drops it on the munmap event alone. */
	if (r.session != pd->session_id) {
		pthread_mutex_unlock(&pd->lock);
		return 0;
	}
	/* The daemon may have dropped it on the munmap event already. */
	proto_init(&msg, PD_MSG_REGION_DEL, 0);
	msg.region_del.region_id = r.id;
	error = pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY);
	pthread_mutex_unlock(&pd->lock);
	return error == -ENOENT ? 0 : error;
}

PUBLIC int
pagerd_info(struct pagerd *pd, struct pagerd_info *info)
{
	memset(info, 0, sizeof *info);
	pthread_mutex_lock(&pd->lock);
	info->session_id = pd->session_id;
	pthread_mutex_unlock(&pd->lock);
	info->kernel_faults = !pd->user_mode_only;
	info->shared_cache = pd->use_cache;
	info->uffd_features = pd->features;
	info->page_size = pd->page_size;
	return 0;
}

PUBLIC int
pagerd_stats(struct pagerd *pd, struct pagerd_stats *stats)
{
	union pd_msg msg, reply;
	int error;

	proto_init(&msg, PD_MSG_STATS, 0);
	pthread_mutex_lock(&pd->lock);
	error = pagerd_request(pd, &msg, -1, &reply, PD_MSG_STATS_REPLY);
	pthread_mutex_unlock(&pd->lock);
	if (error != 0)
		return error;
	memset(stats, 0, sizeof *stats);
	stats->faults = reply.stats_reply.counters.faults;
	stats->pages_file = reply.stats_reply.counters.pages_file;
	stats->pages_zero = reply.stats_reply.counters.pages_zero;
	stats->pages_poisoned = reply.stats_reply.counters.pages_poisoned;
	stats->bytes_read = reply.stats_reply.counters.bytes_read;
	stats->reads = reply.stats_reply.counters.reads;
	stats->errors = reply.stats_reply.counters.errors;
	stats->pages_dirtied = reply.stats_reply.counters.pages_dirtied;
	stats->pages_written = reply.stats_reply.counters.pages_written;
	stats->violations = reply.stats_reply.counters.violations;
	stats->snapshots = reply.stats_reply.counters.snapshots;
	stats->regions = reply.stats_reply.regions;
	return 0;
}

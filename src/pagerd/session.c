/*
 * Sessions: one per connected peer. Admits the peer, polls its socket,
 * userfaultfd and pidfd, receives every message through the message layer
 * (proto.c, which frames and checks it) for session-msg.c's handlers,
 * sends replies and notices, and tears the session down when the peer
 * leaves or breaks the protocol.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"

/* Linux 6.5; the headers may predate it. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/*
 * The lines a client causes at will (connections, hellos, refusals,
 * closes, its snapshots, write-back, page-out and read-ahead): per uid,
 * uid-log-rate a second after a burst of this many seconds' worth.
 */
#define SESSION_LOG_BURST_S 5

static struct ratelimit session_log_rate = RATELIMIT_INIT("session log lines",
    "not logged", 0, 0);
static uint32_t session_next_id;
static unsigned int session_count;	/* allocated, all workers */
static int session_pidfd_said;

static void session_create(struct worker *, int);
static void session_stop(struct worker *);
static void session_ticks(struct worker *);
static void session_sock_done(struct op *, const struct io_uring_cqe *);
static void session_uffd_done(struct op *, const struct io_uring_cqe *);
static void session_auffd_done(struct op *, const struct io_uring_cqe *);
static void session_pidfd_done(struct op *, const struct io_uring_cqe *);

/* A worker's sockets handed over, stop and ticks are sessions' business. */
const struct worker_hooks session_hooks = {
	.accept = session_create,
	.stop = session_stop,
	.tick = session_ticks,
};

/*
 * May a line that uid's client caused, at priority (LOG_WARNING, LOG_INFO,
 * LOG_DEBUG), be logged now? A line the verbosity hides is not counted.
 * Debug lines, shown only to an administrator who asked for them (-v),
 * are not limited and take nothing from the uid's rate: a chatty client
 * under -v would else lose its own warnings. The rate is read at each
 * line, so that a reload changes it at once.
 */
int
session_log_allow(uid_t uid, int priority)
{
	int rate;

	if (log_getverbose() < (priority == LOG_DEBUG ? 1 :
	    priority == LOG_INFO ? 0 : -1))
		return 0;
	if (priority == LOG_DEBUG || (rate = config_get(CONFIG_UID_LOG_RATE)) ==
	    0)
		return 1;
	return ratelimit_allow_rate(&session_log_rate, uid, rate,
	    SESSION_LOG_BURST_S * rate);
}

static void
session_comm(struct session *s)
{
	char path[64];
	ssize_t n, i;
	int fd;

	strlcpy(s->comm, "?", sizeof s->comm);
	snprintf(path, sizeof path, "/proc/%d/comm", (int)s->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, s->comm, sizeof s->comm - 1);
	close(fd);
	if (n <= 0) {
		strlcpy(s->comm, "?", sizeof s->comm);
		return;
	}
	s->comm[n] = '\0';
	s->comm[strcspn(s->comm, "\n")] = '\0';
	/* The process names itself: no control bytes into listings. */
	for (i = 0; s->comm[i] != '\0'; i++)
		if ((unsigned char)s->comm[i] < 0x20 ||
		    (unsigned char)s->comm[i] >= 0x7f)
			s->comm[i] = '?';
}

/*
 * Tell a peer refused before it has a session why, then hang up. Its
 * hello may not even be read: the reply has seq 0.
 */
static void
session_turn_away(int fd, const struct ucred *cred, int status,
    const char *why)
{
	union pd_msg msg;

	if (session_log_allow(cred->uid, LOG_WARNING))
		log_warnx("refused pid %d uid %d gid %d: %s", (int)cred->pid,
		    (int)cred->uid, (int)cred->gid, why);
	proto_init(&msg, PD_MSG_REPLY, 0);
	msg.reply.status = status;
	strlcpy(msg.reply.reason, why, sizeof msg.reply.reason);
	/* No hello read: its first release's reply, which every peer reads. */
	(void)proto_send(fd, &msg, NULL, 0, 0, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

/*
 * May this peer have a session? The allow lists first, then its uid's
 * limits (a session, its socket and pidfd), then the daemon's: one user
 * at its limit is refused before it can fill the daemon for everyone.
 * Charges h on success; else -errno and why.
 */
static int
session_admit(const struct ucred *cred, int npidfd, struct quota_hold *h,
    char *why, size_t whylen)
{
	int error, max;

	if (!config_allows(cred->uid, cred->gid)) {
		snprintf(why, whylen, "uid %d gid %d is not allowed by "
		    "allow-uid or allow-gid", (int)cred->uid, (int)cred->gid);
		return -EACCES;
	}
	quota_hold_init(h, cred->uid);
	if ((error = quota_charge(h, QUOTA_SESSIONS, 1, "session", why,
	    whylen)) != 0 || (error = quota_charge(h, QUOTA_FDS,
	    1 + (uint64_t)npidfd, "session", why, whylen)) != 0) {
		quota_release(h);
		return error;
	}
	max = config_get(CONFIG_MAX_CLIENTS);
	if (__atomic_load_n(&session_count, __ATOMIC_RELAXED) >=
	    (unsigned int)max) {
		quota_release(h);
		snprintf(why, whylen, "session: the daemon has %d sessions, "
		    "the max-clients limit", max);
		return -EAGAIN;
	}
	return 0;
}

static void
session_create(struct worker *w, int fd)
{
	char why[PD_REASON_MAX];
	struct quota_hold hold;
	struct session *s;
	struct ucred cred;
	socklen_t len = sizeof cred;
	int error, pidfd;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("new session: SO_PEERCRED");
		close(fd);
		return;
	}
	/*
	 * The peer's pidfd: signals go through it, and a client's session
	 * lives as long as its process, not its socket. Where the kernel has
	 * no SO_PEERPIDFD (before 6.5), pidfd_open of the peer's pid is a
	 * race (the peer may be gone and its pid reused since connect): then
	 * a session is only kept while its address space lives, and no
	 * other connection may resume it.
	 */
	len = sizeof pidfd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == -1) {
		pidfd = -1;
		if (!__atomic_exchange_n(&session_pidfd_said, 1,
		    __ATOMIC_RELAXED))
			log_info("no SO_PEERPIDFD (%s): a client that closes "
			    "its connection is served until its address space "
			    "is gone, but cannot resume its session",
			    strerror(errno));
	}
	if ((error = session_admit(&cred, pidfd != -1, &hold, why,
	    sizeof why)) != 0) {
		if (pidfd != -1)
			close(pidfd);
		session_turn_away(fd, &cred, error, why);
		return;
	}
	if ((s = calloc(1, sizeof *s)) == NULL) {
		log_warn("new session");
		quota_release(&hold);
		if (pidfd != -1)
			close(pidfd);
		close(fd);
		return;
	}
	s->worker = w;
	s->id = __atomic_add_fetch(&session_next_id, 1, __ATOMIC_RELAXED);
	s->sock = fd;
	s->uffd = -1;
	s->auffd = s->pagemap = -1;
	s->pid = cred.pid;
	s->pidfd = pidfd;
	s->uid = cred.uid;
	s->gid = cred.gid;
	s->quota = hold;
	s->created = monotonic_ns();
	s->sock_op.done = session_sock_done;
	s->uffd_op.done = session_uffd_done;
	s->auffd_op.done = session_auffd_done;
	s->pidfd_op.done = session_pidfd_done;
	session_comm(s);
	pthread_mutex_lock(&w->table_lock);
	TAILQ_INSERT_TAIL(&w->sessions, s, entry);
	pthread_mutex_unlock(&w->table_lock);
	__atomic_add_fetch(&session_count, 1, __ATOMIC_RELAXED);
	w->sessions_alive++;

	s->inflight++;
	worker_arm_poll(w, &s->sock_op, s->sock);
	if (session_log_allow(s->uid, LOG_DEBUG))
		log_debug("session %u: pid %d (%s) uid %d connected to worker "
		    "%d", s->id, (int)s->pid, s->comm, (int)s->uid, w->index);
}

/*
 * On each tick: sessions that have not said hello within hello-timeout
 * seconds go, so that idle connections hold nothing for long.
 */
static void
session_tick(struct worker *w)
{
	uint64_t now = monotonic_ns(), timeout;
	struct session *s, *next;
	int secs = config_get(CONFIG_HELLO_TIMEOUT);

	timeout = (uint64_t)secs * 1000000000u;
	TAILQ_FOREACH_SAFE(s, &w->sessions, entry, next)
		if (s->role == 0 && now - s->created >= timeout) {
			if (session_log_allow(s->uid, LOG_WARNING))
				log_warnx("session %u: pid %d (%s) uid %d: no "
				    "hello within %d s (hello-timeout), "
				    "closing", s->id, (int)s->pid, s->comm,
				    (int)s->uid, secs);
			session_reply(s, 0, -ETIMEDOUT, 0, 0, "no hello within "
			    "the hello-timeout");
			session_close(s, "no hello in time");
		}
}

/*
 * On each tick: the page caches a session opened and put in no region
 * within PAGERD_CACHE_HOLD_S go (libpagerd adds the region at once), so
 * that a session cannot keep a cache, and a retired store with it, for
 * its whole life without using it. A cache dropped lingers as any other.
 */
static void
session_cache_tick(struct worker *w)
{
	uint64_t now = monotonic_ns(), hold = (uint64_t)PAGERD_CACHE_HOLD_S *
	    1000000000u;
	struct session *s;
	size_t i;

	TAILQ_FOREACH(s, &w->sessions, entry)
		for (i = 0; i < s->ncaches;) {
			if (now - s->caches[i].since < hold) {
				i++;
				continue;
			}
			log_debug("session %u: pid %d (%s): a page cache it "
			    "opened in no region for %d s, let go", s->id,
			    (int)s->pid, s->comm, PAGERD_CACHE_HOLD_S);
			session_cache_drop(s, i);
		}
}

/*
 * Each tick: the hello timeout, and detached sessions' (detach.c); the
 * count of a flood of session lines or violations that ended.
 */
static void
session_ticks(struct worker *w)
{
	ratelimit_flush(&session_log_rate, 0);
	violation_flush(0);
	session_tick(w);
	session_cache_tick(w);
	detach_tick(w);
	collapse_tick(w);
}

/* The daemon stops: every session of the worker goes. */
static void
session_stop(struct worker *w)
{
	struct session *s, *next;

	TAILQ_FOREACH_SAFE(s, &w->sessions, entry, next)
		session_close(s, s->nregions > 0 ? "daemon shutting down; "
		    "its regions wait for a restarted daemon, else SIGBUS" :
		    "daemon shutting down");
	ratelimit_flush(&session_log_rate, 1);
	violation_flush(1);
}

static void
session_free(struct session *s)
{
	size_t i;

	s->worker->sessions_alive--;
	__atomic_sub_fetch(&session_count, 1, __ATOMIC_RELAXED);
	if (s->pidfd != -1)
		close(s->pidfd);
	for (i = 0; i < s->ncaches; i++)
		cache_unref(s->caches[i].cache);
	free(s->caches);
	free(s->regions);
	replay_session_free(s);
	quota_release(&s->quota);
	free(s);
}

/* Drop a reference held by a poll or a read; the last one frees. */
void
session_unref(struct session *s)
{
	if (--s->inflight == 0 && s->closing)
		session_free(s);
}

/*
 * Close the session: cancel its polls, close its descriptors and regions.
 * The memory goes when the last completion that points at it has come
 * back, never here, so callers may still look at s->closing.
 */
void
session_close(struct session *s, const char *fmt, ...)
{
	struct worker *w = s->worker;
	char reason[256];
	va_list ap;

	if (s->closing)
		return;
	s->closing = 1;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (s->role == PD_ROLE_CLIENT) {
		if (session_log_allow(s->uid, LOG_INFO))
			log_info("session %u: pid %d (%s): closed: %s; uid %d, %"
			    PRIu64 " faults, %" PRIu64 " pages from files, %"
			    PRIu64 " zero, %" PRIu64 " failed", s->id,
			    (int)s->pid, s->comm, reason, (int)s->uid,
			    s->counters.faults,
			    s->counters.pages_file, s->counters.pages_zero,
			    s->counters.errors);
	} else if (session_log_allow(s->uid, LOG_DEBUG))
		log_debug("session %u: pid %d (%s): closed: %s", s->id,
		    (int)s->pid, s->comm, reason);

	worker_cancel_poll(w, &s->sock_op);
	worker_cancel_poll(w, &s->uffd_op);
	worker_cancel_poll(w, &s->auffd_op);
	worker_cancel_poll(w, &s->pidfd_op);
	/*
	 * A poll armed in this round is still only a submission naming the
	 * descriptor by number: submit it (and its removal) before the
	 * number is closed and perhaps reused by another thread's open.
	 */
	ring_submit(&w->ring);
	pthread_mutex_lock(&w->table_lock);
	TAILQ_REMOVE(&w->sessions, s, entry);
	pthread_mutex_unlock(&w->table_lock);
	if (s->starved) {
		TAILQ_REMOVE(&w->starved, s, starved_entry);
		s->starved = 0;
	}
	replay_session_close(s);
	region_clear(s);
	collapse_release_all(s);
	if (s->role == PD_ROLE_CLIENT)
		STAT_ADD(w->nsessions, -1u);
	if (s->sock != -1)
		close(s->sock);
	s->sock = -1;
	if (s->uffd != -1) {
		close(s->uffd);
		s->uffd = -1;
	}
	if (s->auffd != -1) {
		close(s->auffd);
		s->auffd = -1;
	}
	if (s->pagemap != -1) {
		close(s->pagemap);
		s->pagemap = -1;
	}
}

/* Send a message, with a descriptor when fd is not -1. */
void
session_send_fd(struct session *s, const union pd_msg *msg, int fd)
{
	int error;

	/* A detached session has no one to tell. */
	if (s->sock == -1)
		return;
	error = proto_send(s->sock, msg, &fd, fd != -1, s->caps, MSG_NOSIGNAL |
	    MSG_DONTWAIT);
	if (error == -EAGAIN)
		session_close(s, "peer is not reading its replies");
	else if (error != 0)
		session_close(s, "send: %s", strerror(-error));
}

void
session_send(struct session *s, const union pd_msg *msg)
{
	session_send_fd(s, msg, -1);
}

void
session_reply(struct session *s, uint32_t seq, int status, uint32_t value,
    uint64_t features, const char *reason)
{
	union pd_msg msg;

	proto_init(&msg, PD_MSG_REPLY, seq);
	msg.reply.status = status;
	msg.reply.value = value;
	msg.reply.features = features;
	if (reason != NULL)
		strlcpy(msg.reply.reason, reason, sizeof msg.reply.reason);
	session_send(s, &msg);
}

/* Tell the client something it did not ask about (seq 0). */
void
session_notice(struct session *s, struct pd_notice *notice)
{
	union pd_msg msg;

	/*
	 * A detached client cannot make the page read-only and wake the
	 * writer: the signal it would have had comes from here.
	 */
	if (s->sock == -1 && notice->kind == PD_NOTICE_VIOLATION &&
	    notice->value == PD_VIOLATION_KILL) {
		if (notice->tid != 0)
			syscall(SYS_tgkill, s->pid, notice->tid, SIGSEGV);
		else if (s->pidfd != -1)
			syscall(SYS_pidfd_send_signal, s->pidfd, SIGSEGV, NULL,
			    0);
		return;
	}

	proto_init(&msg, PD_MSG_NOTICE, 0);
	notice->hdr = msg.hdr;
	notice->reason[sizeof notice->reason - 1] = '\0';
	memcpy(&msg.notice, notice, sizeof *notice);
	session_send(s, &msg);
}

/*
 * Refuse a request. A broken protocol (fatal) closes the session after the
 * reply; a refused but well-formed request leaves it usable.
 */
void
session_refuse(struct session *s, uint32_t seq, int status, int fatal_error,
    const char *why)
{
	if (session_log_allow(s->uid, LOG_WARNING))
		log_warnx("session %u: pid %d (%s): %s: %s%s", s->id,
		    (int)s->pid, s->comm, fatal_error ? "protocol error" :
		    "refused", why, fatal_error ? ", closing" : "");
	session_reply(s, seq, status, 0, 0, why);
	if (fatal_error)
		session_close(s, "%s", why);
}

/* Take one message off the socket; returns 0 when there is no more. */
static int
session_recv(struct session *s)
{
	struct proto_in in;
	char why[PD_REASON_MAX];
	int error;

	error = proto_recv(s->sock, &in, PD_TO_DAEMON, MSG_DONTWAIT, 0, why,
	    sizeof why);
	if (error == 0 || error == -ECONNRESET) {
		detach_hangup(s, error == 0 ? "peer hung up" :
		    "connection reset");
		return 0;
	}
	if (error == -EAGAIN)
		return 0;
	if (error < 0 && in.len == 0) {
		session_close(s, "%s", why);
		return 0;
	}
	if (error == -EMFILE) {
		/* The request is lost, the session need not be. */
		strlcat(why, "; try again later", sizeof why);
		session_refuse(s, in.msg.hdr.seq, error, 0, why);
	} else if (error < 0)
		session_refuse(s, in.msg.hdr.seq, error, 1, why);
	else
		session_dispatch(s, &in.msg, in.fds);

	/* Whatever descriptors were not taken over are closed here. */
	proto_close_fds(&in);
	return !s->closing && s->sock != -1;
}

/*
 * A multishot poll's completion on one of the session's descriptors (at
 * *fdp): its input goes to input. When the poll ends it is re-armed
 * before its reference is dropped, unless its descriptor went (a
 * detached session's socket).
 */
static void
session_poll(struct session *s, struct op *op, const int *fdp,
    const struct io_uring_cqe *cqe, void (*input)(struct session *))
{
	if (!s->closing && cqe->res > 0 && *fdp != -1)
		input(s);
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	if (!s->closing && *fdp != -1) {
		s->inflight++;
		worker_arm_poll(s->worker, op, *fdp);
	} else
		op->armed = 0;
	session_unref(s);
}

static void
session_input(struct session *s)
{
	while (session_recv(s))
		;
}

static void
session_sock_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct session *s = container_of(op, struct session, sock_op);

	session_poll(s, op, &s->sock, cqe, session_input);
}

static void
session_uffd_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct session *s = container_of(op, struct session, uffd_op);

	session_poll(s, op, &s->uffd, cqe, fault_uffd_ready);
}

/* The WP_ASYNC userfaultfd: its missing faults and events. */
static void
session_auffd_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct session *s = container_of(op, struct session, auffd_op);

	session_poll(s, op, &s->auffd, cqe, fault_uffd_ready);
}

static void
session_exited(struct session *s)
{
	session_close(s, "its process exited");
}

/* The client's pidfd is readable: its process exited. */
static void
session_pidfd_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct session *s = container_of(op, struct session, pidfd_op);

	session_poll(s, op, &s->pidfd, cqe, session_exited);
}

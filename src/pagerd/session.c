/*
 * Sessions: one per connected peer. Receives every message through the
 * message layer (proto.c, which frames and checks it), hands it to its
 * type's handler, answers each request with a reply, and tears the
 * session down when the peer leaves or breaks the protocol.
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
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"

/* The kernel marks a context that has been through UFFDIO_API. */
#define UFFD_FEATURE_INITIALIZED (1ull << 31)

/* Linux 6.5; the headers may predate it. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static uint32_t session_next_id;
static unsigned int session_count;	/* allocated, all workers */
static int session_pidfd_said;

static void session_create(struct worker *, int);
static void session_stop(struct worker *);
static void session_ticks(struct worker *);
static void session_sock_done(struct op *, const struct io_uring_cqe *);
static void session_uffd_done(struct op *, const struct io_uring_cqe *);
static void session_pidfd_done(struct op *, const struct io_uring_cqe *);

/* A worker's sockets handed over, stop and ticks are sessions' business. */
const struct worker_hooks session_hooks = {
	.accept = session_create,
	.stop = session_stop,
	.tick = session_ticks,
};

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
	s->pid = cred.pid;
	s->pidfd = pidfd;
	s->uid = cred.uid;
	s->gid = cred.gid;
	s->quota = hold;
	s->created = monotonic_ns();
	s->sock_op.done = session_sock_done;
	s->uffd_op.done = session_uffd_done;
	s->pidfd_op.done = session_pidfd_done;
	session_comm(s);
	pthread_mutex_lock(&w->table_lock);
	TAILQ_INSERT_TAIL(&w->sessions, s, entry);
	pthread_mutex_unlock(&w->table_lock);
	__atomic_add_fetch(&session_count, 1, __ATOMIC_RELAXED);
	w->sessions_alive++;

	s->inflight++;
	worker_arm_poll(w, &s->sock_op, s->sock);
	log_debug("session %u: pid %d (%s) uid %d connected to worker %d",
	    s->id, (int)s->pid, s->comm, (int)s->uid, w->index);
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
			log_warnx("session %u: pid %d (%s) uid %d: no hello "
			    "within %d s (hello-timeout), closing", s->id,
			    (int)s->pid, s->comm, (int)s->uid, secs);
			session_reply(s, 0, -ETIMEDOUT, 0, 0, "no hello within "
			    "the hello-timeout");
			session_close(s, "no hello in time");
		}
}

/* Each tick: the hello timeout, and detached sessions' (detach.c). */
static void
session_ticks(struct worker *w)
{
	session_tick(w);
	detach_tick(w);
}

/* The daemon stops: every session of the worker goes. */
static void
session_stop(struct worker *w)
{
	struct session *s, *next;

	TAILQ_FOREACH_SAFE(s, &w->sessions, entry, next)
		session_close(s, "daemon shutting down");
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
		cache_unref(s->caches[i]);
	free(s->caches);
	free(s->regions);
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
	if (s->role == PD_ROLE_CLIENT)
		log_info("session %u: pid %d (%s): closed: %s; %" PRIu64
		    " faults, %" PRIu64 " pages from files, %" PRIu64
		    " zero, %" PRIu64 " failed", s->id, (int)s->pid, s->comm,
		    reason, s->counters.faults, s->counters.pages_file,
		    s->counters.pages_zero, s->counters.errors);
	else
		log_debug("session %u: pid %d (%s): closed: %s", s->id,
		    (int)s->pid, s->comm, reason);

	worker_cancel_poll(w, &s->sock_op);
	worker_cancel_poll(w, &s->uffd_op);
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
	region_clear(s);
	if (s->role == PD_ROLE_CLIENT)
		STAT_ADD(w->nsessions, -1u);
	if (s->sock != -1)
		close(s->sock);
	s->sock = -1;
	if (s->uffd != -1) {
		close(s->uffd);
		s->uffd = -1;
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
	log_warnx("session %u: pid %d (%s): %s: %s%s", s->id, (int)s->pid,
	    s->comm, fatal_error ? "protocol error" : "refused", why,
	    fatal_error ? ", closing" : "");
	session_reply(s, seq, status, 0, 0, why);
	if (fatal_error)
		session_close(s, "%s", why);
}

static void
session_hello(struct session *s, const union pd_msg *msg, int *fds)
{
	const struct pd_hello *h = &msg->hello;
	struct worker *w = s->worker;
	char why[PD_REASON_MAX], names[256];
	struct pd_reply *r;
	union pd_msg reply;
	uint64_t features;
	int error, flags;

	/* From here on the peer reads what it said it can. */
	s->caps = h->caps & PD_CAPS_ALL;
	if (h->flags & PD_HELLO_RESUME) {
		detach_resume(s, h);
		return;
	}
	if (h->role == PD_ROLE_CLIENT) {
		/* Trust the kernel's description of the descriptor only. */
		if (uffd_fdinfo(fds[0], &features) != 0) {
			session_refuse(s, h->hdr.seq, -EBADF, 1,
			    "hello: the descriptor is not a userfaultfd");
			return;
		}
		if (!(features & UFFD_FEATURE_INITIALIZED)) {
			session_refuse(s, h->hdr.seq, -EINVAL, 1, "hello: the "
			    "userfaultfd has not been through UFFDIO_API");
			return;
		}
		features &= ~UFFD_FEATURE_INITIALIZED;
		if (features & UFFD_FEATURE_SIGBUS) {
			session_refuse(s, h->hdr.seq, -EINVAL, 1, "hello: the "
			    "userfaultfd has the sigbus feature: its faults "
			    "never reach a handler");
			return;
		}
		if (features != h->uffd_features) {
			snprintf(why, sizeof why, "hello: features 0x%" PRIx64
			    " claimed, the userfaultfd has 0x%" PRIx64,
			    h->uffd_features, features);
			session_refuse(s, h->hdr.seq, -EINVAL, 1, why);
			return;
		}
		flags = fcntl(fds[0], F_GETFL);
		if (flags == -1 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK)
		    == -1) {
			snprintf(why, sizeof why, "hello: userfaultfd: %s",
			    strerror(errno));
			session_refuse(s, h->hdr.seq, -errno, 1, why);
			return;
		}
		if ((error = quota_charge(&s->quota, QUOTA_FDS, 1, "hello",
		    why, sizeof why)) != 0) {
			session_refuse(s, h->hdr.seq, error, 1, why);
			return;
		}
		s->uffd = fds[0];
		fds[0] = -1;
		s->features = features;
		/* A re-attaching client's faults wait for all its regions. */
		s->reattaching = (h->flags & PD_HELLO_REATTACH) != 0;
		s->user_mode_only = (h->flags & PD_HELLO_USER_MODE_ONLY) != 0;
		if (!s->reattaching) {
			s->inflight++;
			worker_arm_poll(w, &s->uffd_op, s->uffd);
		}
		/* The session ends when the process does, socket or not. */
		if (s->pidfd != -1) {
			s->inflight++;
			worker_arm_poll(w, &s->pidfd_op, s->pidfd);
		}
		STAT_ADD(w->nsessions, 1);
		uffd_feature_names(features, names, sizeof names);
		log_info("session %u: pid %d (%s) uid %d: %s, features %s%s",
		    s->id, (int)s->pid, s->comm, (int)s->uid, s->reattaching ?
		    "client re-attaching after a daemon restart" : "client",
		    names, s->user_mode_only ? "; user-mode faults only (a "
		    "system call into an untouched page of a region fails "
		    "with EFAULT)" : "");
	} else
		log_debug("session %u: pid %d (%s) uid %d: control", s->id,
		    (int)s->pid, s->comm, (int)s->uid);
	s->role = h->role;
	proto_init(&reply, PD_MSG_REPLY, h->hdr.seq);
	r = &reply.reply;
	r->value = s->id;
	r->features = s->features;
	r->caps = s->caps;
	session_send(s, &reply);
}

/*
 * A region now holds the cache the session opened for it: the session's
 * own reference goes, so that the cache is released (or lingers) once no
 * region uses it, not when the session ends.
 */
static void
session_cache_taken(struct session *s, struct cache *c)
{
	size_t i;

	for (i = 0; i < s->ncaches && s->caches[i] != c; i++)
		;
	if (i == s->ncaches)
		return;
	s->caches[i] = s->caches[--s->ncaches];
	cache_unref(c);
}

static void
session_region_add(struct session *s, const union pd_msg *msg, int *fds)
{
	const struct pd_region_add *ra = &msg->region_add;
	char why[PD_REASON_MAX];
	struct region *r;
	int error;

	if ((error = region_add(s, ra, fds, why, sizeof why, &r)) != 0) {
		session_refuse(s, ra->hdr.seq, error, 0, why);
		return;
	}
	log_debug("session %u: region %u: 0x%" PRIx64 "-0x%" PRIx64 " %s%s "
	    "%s offset 0x%" PRIx64 " size %" PRIu64 "%s%s%s%s", s->id, r->id,
	    r->start, r->end, (r->prot & PD_PROT_READ) ? "r" : "-",
	    (r->prot & PD_PROT_WRITE) ? "w" : "-",
	    r->backing == PD_BACKING_FILE ? "file" : r->backing ==
	    PD_BACKING_CACHE ? "page-cache" : "zero", r->offset,
	    r->file_size, (r->flags & PD_REGION_WP) ? ", copy-on-write" : "",
	    (r->flags & PD_REGION_WRITEBACK) ? ", write-back" : "",
	    (r->flags & PD_REGION_READONLY) ? ", read-only" : "",
	    (r->flags & PD_REGION_REPORT) ? " (report)" : "");
	if (r->cache != NULL)
		session_cache_taken(s, r->cache);
	session_reply(s, ra->hdr.seq, 0, r->id, 0, NULL);
}

/*
 * Open (or, after a restart, adopt) the shared page cache of a file and
 * hand the client its memfd. The session keeps a reference until a region
 * of the cache takes it over (or the session closes), so that the memfd
 * the client maps stays the cache's.
 */
static void
session_cache_open(struct session *s, const union pd_msg *in, int *fds)
{
	const struct pd_cache_open *co = &in->cache_open;
	char why[PD_REASON_MAX];
	struct cache **caches, *c;
	union pd_msg msg;
	size_t i;
	int error;

	if (s->ncaches >= PAGERD_MAX_CACHES) {
		snprintf(why, sizeof why, "cache-open: the session already has "
		    "%d page caches, the limit", PAGERD_MAX_CACHES);
		session_refuse(s, co->hdr.seq, -ENOSPC, 0, why);
		return;
	}
	caches = reallocarray(s->caches, s->ncaches + 1, sizeof *caches);
	if (caches == NULL) {
		session_refuse(s, co->hdr.seq, -ENOMEM, 0, "cache-open: out of "
		    "memory");
		return;
	}
	s->caches = caches;
	error = cache_open(fds[0], (co->flags & PD_CACHE_ADOPT) ? fds[1] : -1,
	    s->uid, &c, why, sizeof why);
	if (error != 0) {
		session_refuse(s, co->hdr.seq, error, 0, why);
		return;
	}
	/* One reference per session and cache is enough. */
	for (i = 0; i < s->ncaches && s->caches[i] != c; i++)
		;
	if (i < s->ncaches)
		cache_unref(c);
	else
		s->caches[s->ncaches++] = c;
	proto_init(&msg, PD_MSG_CACHE_REPLY, co->hdr.seq);
	msg.cache_reply.size = c->size;
	session_send_fd(s, &msg, c->memfd);
}

/* A re-attaching client has re-sent every region: serve and wake them. */
static void
session_reattached(struct session *s, const union pd_msg *msg, int *fds)
{
	uint32_t seq = msg->hdr.seq;
	size_t i;

	(void)fds;
	if (!s->reattaching) {
		session_refuse(s, seq, -EPROTO, 1, "reattached without a "
		    "re-attaching hello");
		return;
	}
	s->reattaching = 0;
	s->inflight++;
	worker_arm_poll(s->worker, &s->uffd_op, s->uffd);
	for (i = 0; i < s->nregions; i++)
		fault_wake(s, s->regions[i]->start, s->regions[i]->end -
		    s->regions[i]->start);
	log_info("session %u: pid %d (%s): re-attached with %zu regions",
	    s->id, (int)s->pid, s->comm, s->nregions);
	session_reply(s, seq, 0, 0, 0, NULL);
}

/* The page caches' numbers (evict.c), for control sessions. */
static void
session_stats_memory(struct pd_stats_reply *sr)
{
	struct evict_stats es;

	evict_get_stats(&es);
	sr->cache_budget = es.budget;
	sr->cache_held = es.held;
	sr->cache_evicted = es.evicted;
	sr->cache_refaults = es.refaults;
	sr->pressure_events = es.pressure;
}

static void
session_stats(struct session *s, const union pd_msg *in, int *fds)
{
	union pd_msg msg;

	(void)fds;
	proto_init(&msg, PD_MSG_STATS_REPLY, in->hdr.seq);
	msg.stats_reply.uptime_ms = server_uptime_ms();
	msg.stats_reply.workers = (uint32_t)nworkers;
	strlcpy(msg.stats_reply.version, PACKAGE_VERSION,
	    sizeof msg.stats_reply.version);
	if (s->role == PD_ROLE_CONTROL) {
		control_users(s, &in->stats);
		session_stats_total(&msg.stats_reply);
		session_stats_memory(&msg.stats_reply);
	} else {
		msg.stats_reply.counters = s->counters;
		msg.stats_reply.regions = (uint32_t)s->nregions;
		msg.stats_reply.sessions = 1;
	}
	session_send(s, &msg);
}

/* The daemon's totals over every worker, for control sessions. */
void
session_stats_total(struct pd_stats_reply *sr)
{
	struct worker *w;
	int i, b;

	sr->caches = cache_count();
	for (i = 0; i < nworkers; i++) {
		w = &workers[i];
		for (b = 0; b < PD_LATENCY_BUCKETS; b++)
			sr->latency[b] += STAT_GET(w->latency[b]);
		sr->sessions += STAT_GET(w->nsessions);
		sr->regions += STAT_GET(w->nregions);
		stat_sum(&sr->counters, &w->totals);
	}
}

static void
session_region_del(struct session *s, const union pd_msg *msg, int *fds)
{
	char why[PD_REASON_MAX];

	(void)fds;
	/*
	 * The library unmaps before it asks: the munmap event has usually
	 * taken the region already. Not worth a warning.
	 */
	if (region_del(s, msg->region_del.region_id) != 0) {
		snprintf(why, sizeof why, "region-del: no region %u",
		    msg->region_del.region_id);
		log_debug("session %u: %s", s->id, why);
		session_reply(s, msg->hdr.seq, -ENOENT, 0, 0, why);
	} else
		session_reply(s, msg->hdr.seq, 0, 0, 0, NULL);
}

/* Its pid and uid are the session's: a client reports itself. */
static void
session_report(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	violation_report(s, &msg->report);
}

static void
session_dirty(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	wp_dirty(s, &msg->dirty);
}

static void
session_sync(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	wp_sync(s, &msg->region_req);
}

static void
session_snapshot(struct session *s, const union pd_msg *msg, int *fds)
{
	wp_snapshot(s, &msg->region_req, fds);
}

static void
session_violations(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	violation_list(s, msg->hdr.seq);
}

static void
session_clients(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	control_clients(s, msg->hdr.seq);
}

static void
session_regions(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	control_regions(s, &msg->list);
}

static void
session_snapshot_of(struct session *s, const union pd_msg *msg, int *fds)
{
	control_snapshot(s, &msg->snapshot_of, fds);
}

/*
 * The handler of each request; who may send it, its descriptors and its
 * fields are proto.c's table's, checked before. Answers have none.
 */
static void (*const session_handlers[PD_MSG_TYPE_MAX + 1])(struct session *,
    const union pd_msg *, int *) = {
	[PD_MSG_HELLO] = session_hello,
	[PD_MSG_REGION_ADD] = session_region_add,
	[PD_MSG_REGION_DEL] = session_region_del,
	[PD_MSG_STATS] = session_stats,
	[PD_MSG_REATTACHED] = session_reattached,
	[PD_MSG_CACHE_OPEN] = session_cache_open,
	[PD_MSG_DIRTY] = session_dirty,
	[PD_MSG_SYNC] = session_sync,
	[PD_MSG_SNAPSHOT] = session_snapshot,
	[PD_MSG_REPORT] = session_report,
	[PD_MSG_VIOLATIONS] = session_violations,
	[PD_MSG_CLIENTS] = session_clients,
	[PD_MSG_REGIONS] = session_regions,
	[PD_MSG_SNAPSHOT_OF] = session_snapshot_of,
};

/* A framed request: may this session send it, are its fields sound? */
static void
session_dispatch(struct session *s, const union pd_msg *msg, int *fds)
{
	const struct proto_type *t = proto_type(msg->hdr.type);
	char why[PD_REASON_MAX];
	int error;

	if ((error = proto_allowed(msg->hdr.type, s->role, why,
	    sizeof why)) != 0) {
		session_refuse(s, msg->hdr.seq, error, 1, why);
		return;
	}
	if (t->check != NULL && (error = t->check(msg, (uint32_t)page_size,
	    why, sizeof why)) != 0) {
		session_refuse(s, msg->hdr.seq, error, !t->soft, why);
		return;
	}
	session_handlers[msg->hdr.type](s, msg, fds);
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

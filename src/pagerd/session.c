/*
 * Sessions: one per connected peer. Receives and checks every message,
 * answers each request with a reply, and tears the session down when the
 * peer leaves or breaks the protocol.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

/* Descriptors accepted in one datagram before it counts as hostile. */
#define SESSION_MAX_RECV_FDS 8

/* Linux 6.5; the headers may predate it. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static uint32_t session_next_id;
static unsigned int session_count;	/* allocated, all workers */

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
	(void)send(fd, &msg, msg.hdr.size, MSG_NOSIGNAL | MSG_DONTWAIT);
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

void
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
	/* Signals to the peer go through its pidfd, where there is one. */
	len = sizeof pidfd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == -1)
		pidfd = -1;
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
	s->sock_op.kind = OP_SOCKET;
	s->uffd_op.kind = OP_UFFD;
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
void
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
	close(s->sock);
	s->sock = -1;
	if (s->uffd != -1) {
		close(s->uffd);
		s->uffd = -1;
	}
}

/* Send a message, with a descriptor when fd is not -1. */
static void
session_send_fd(struct session *s, const union pd_msg *msg, int fd)
{
	ssize_t n;

	do
		n = proto_send_fd(s->sock, msg, fd, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		session_close(s, "peer is not reading its replies");
	else if (n == -1)
		session_close(s, "send: %s", strerror(errno));
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
static void
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
session_hello(struct session *s, const struct pd_hello *h, int *fds)
{
	struct worker *w = s->worker;
	char why[PD_REASON_MAX], names[256];
	uint64_t features;
	int error, flags;

	error = proto_check_hello(h, (uint32_t)page_size, why, sizeof why);
	if (error != 0) {
		session_refuse(s, h->hdr.seq, error, 1, why);
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
	session_reply(s, h->hdr.seq, 0, s->id, s->features, NULL);
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
session_region_add(struct session *s, const struct pd_region_add *ra,
    int *fds)
{
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
session_cache_open(struct session *s, const struct pd_cache_open *co,
    const int *fds)
{
	char why[PD_REASON_MAX];
	struct cache **caches, *c;
	union pd_msg msg;
	size_t i;
	int error;

	if ((error = proto_check_cache_open(co, why, sizeof why)) != 0) {
		session_refuse(s, co->hdr.seq, error, 0, why);
		return;
	}
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
session_reattached(struct session *s, uint32_t seq)
{
	size_t i;

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

static void
session_stats(struct session *s, const struct pd_stats *req)
{
	struct evict_stats es;
	union pd_msg msg;

	proto_init(&msg, PD_MSG_STATS_REPLY, req->hdr.seq);
	/* An older client's request, or one not asking: the older reply. */
	if (req->hdr.size < sizeof *req || !(req->flags & PD_STATS_MEMORY))
		msg.hdr.size = (uint32_t)proto_size_older(PD_MSG_STATS_REPLY);
	else if (s->role == PD_ROLE_CONTROL) {
		evict_get_stats(&es);
		msg.stats_reply.cache_budget = es.budget;
		msg.stats_reply.cache_held = es.held;
		msg.stats_reply.cache_evicted = es.evicted;
		msg.stats_reply.cache_refaults = es.refaults;
		msg.stats_reply.pressure_events = es.pressure;
	}
	msg.stats_reply.uptime_ms = server_uptime_ms();
	msg.stats_reply.workers = (uint32_t)nworkers;
	strlcpy(msg.stats_reply.version, PACKAGE_VERSION,
	    sizeof msg.stats_reply.version);
	if (s->role == PD_ROLE_CONTROL)
		session_stats_total(&msg.stats_reply);
	else {
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
session_dispatch(struct session *s, const union pd_msg *msg, int *fds)
{
	char why[PD_REASON_MAX];
	uint32_t type = msg->hdr.type, seq = msg->hdr.seq;

	if (type == PD_MSG_REPLY || type == PD_MSG_STATS_REPLY ||
	    type == PD_MSG_CACHE_REPLY || type == PD_MSG_DIRTY_REPLY ||
	    type == PD_MSG_NOTICE || type == PD_MSG_CLIENT_INFO ||
	    type == PD_MSG_REGION_INFO) {
		snprintf(why, sizeof why, "%s is not a request",
		    proto_type_name(type));
		session_refuse(s, seq, -EPROTO, 1, why);
		return;
	}
	if (type == PD_MSG_HELLO) {
		if (s->role != 0)
			session_refuse(s, seq, -EPROTO, 1, "second hello");
		else
			session_hello(s, &msg->hello, fds);
		return;
	}
	if (s->role == 0) {
		snprintf(why, sizeof why, "%s before hello",
		    proto_type_name(type));
		session_refuse(s, seq, -EPROTO, 1, why);
		return;
	}
	if (type == PD_MSG_STATS) {
		session_stats(s, &msg->stats);
		return;
	}
	if (type == PD_MSG_VIOLATIONS) {
		violation_list(s, seq);
		return;
	}
	if (s->role == PD_ROLE_CONTROL && type == PD_MSG_SNAPSHOT_OF) {
		if (msg->snapshot_of.reserved != 0)
			session_refuse(s, seq, -EINVAL, 1, "snapshot-of: "
			    "reserved field is not zero");
		else
			control_snapshot(s, &msg->snapshot_of, fds);
		return;
	}
	if (s->role == PD_ROLE_CONTROL && (type == PD_MSG_CLIENTS ||
	    type == PD_MSG_REGIONS)) {
		if (msg->list.reserved != 0)
			session_refuse(s, seq, -EINVAL, 1, "list: reserved "
			    "field is not zero");
		else if (type == PD_MSG_CLIENTS)
			control_clients(s, seq);
		else
			control_regions(s, &msg->list);
		return;
	}
	if (s->role != PD_ROLE_CLIENT) {
		snprintf(why, sizeof why, "%s on a control session",
		    proto_type_name(type));
		session_refuse(s, seq, -EPROTO, 1, why);
		return;
	}
	switch (type) {
	case PD_MSG_REGION_ADD:
		session_region_add(s, &msg->region_add, fds);
		break;
	case PD_MSG_REATTACHED:
		session_reattached(s, seq);
		break;
	case PD_MSG_REPORT:
		/* Its pid and uid are the session's: it reports itself. */
		violation_report(s, &msg->report);
		break;
	case PD_MSG_CACHE_OPEN:
		session_cache_open(s, &msg->cache_open, fds);
		break;
	case PD_MSG_DIRTY:
		wp_dirty(s, &msg->dirty);
		break;
	case PD_MSG_SYNC:
	case PD_MSG_SNAPSHOT:
		if (proto_check_region_req(&msg->region_req, why,
		    sizeof why) != 0)
			session_refuse(s, seq, -EINVAL, 1, why);
		else if (type == PD_MSG_SYNC)
			wp_sync(s, &msg->region_req);
		else
			wp_snapshot(s, &msg->region_req, fds);
		break;
	case PD_MSG_REGION_DEL:
		/*
		 * The library unmaps before it asks: the munmap event has
		 * usually taken the region already. Not worth a warning.
		 */
		if (region_del(s, msg->region_del.region_id) != 0) {
			snprintf(why, sizeof why, "region-del: no region %u",
			    msg->region_del.region_id);
			log_debug("session %u: %s", s->id, why);
			session_reply(s, seq, -ENOENT, 0, 0, why);
		} else
			session_reply(s, seq, 0, 0, 0, NULL);
		break;
	}
}

/* Take one datagram off the socket; returns 0 when there is no more. */
static int
session_recv(struct session *s)
{
	union {
		union pd_msg msg;
		char raw[sizeof(union pd_msg)];
	} buf;
	union {
		struct cmsghdr align;
		char raw[CMSG_SPACE(sizeof(int) * SESSION_MAX_RECV_FDS)];
	} cbuf;
	struct iovec iov = { .iov_base = &buf, .iov_len = sizeof buf };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &cbuf,
		.msg_controllen = sizeof cbuf,
	};
	char why[PD_REASON_MAX];
	struct cmsghdr *cm;
	int fds[SESSION_MAX_RECV_FDS], nfds = 0, error, i, n;
	uint32_t seq;
	ssize_t len;

	len = recvmsg(s->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT |
	    MSG_TRUNC);
	if (len == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return errno == EINTR;
		session_close(s, "recvmsg: %s", strerror(errno));
		return 0;
	}
	if (len == 0) {
		session_close(s, "peer hung up");
		return 0;
	}

	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < n && nfds < SESSION_MAX_RECV_FDS; i++)
			memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
	}

	seq = (size_t)len >= sizeof(struct pd_hdr) ? buf.msg.hdr.seq : 0;
	if ((mh.msg_flags & MSG_CTRUNC) && nfds < SESSION_MAX_RECV_FDS) {
		/*
		 * Room was left, so the kernel could not install them: the
		 * daemon's descriptor table is full. The request is lost,
		 * the session need not be.
		 */
		session_refuse(s, seq, -EMFILE, 0, "the daemon has no "
		    "descriptors left for the message's (RLIMIT_NOFILE); "
		    "try again later");
	} else if (mh.msg_flags & MSG_CTRUNC) {
		snprintf(why, sizeof why, "more than %d descriptors in one "
		    "message", SESSION_MAX_RECV_FDS);
		session_refuse(s, seq, -EBADMSG, 1, why);
	} else if ((size_t)len > sizeof buf) {
		snprintf(why, sizeof why, "message of %zd bytes exceeds the "
		    "largest (%zu)", len, sizeof buf);
		session_refuse(s, seq, -EMSGSIZE, 1, why);
	} else if ((error = proto_check(&buf, (size_t)len, nfds, why,
	    sizeof why)) != 0)
		session_refuse(s, seq, error, 1, why);
	else
		session_dispatch(s, &buf.msg, fds);

	/* Whatever descriptors were not taken over are closed here. */
	for (i = 0; i < nfds; i++)
		if (fds[i] != -1)
			close(fds[i]);
	return !s->closing;
}

void
session_input(struct session *s)
{
	while (session_recv(s))
		;
}

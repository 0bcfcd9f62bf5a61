/*
 * The session's message handlers: one per request type, each answering
 * with a reply, and the table that dispatches a framed request to its
 * handler once proto.c's table has allowed it and checked its fields.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"

/* The kernel marks a context that has been through UFFDIO_API. */
#define UFFD_FEATURE_INITIALIZED (1ull << 31)

static void
session_hello(struct session *s, const union pd_msg *msg, int *fds)
{
	const struct pd_hello *h = &msg->hello;
	struct worker *w = s->worker;
	char why[PD_REASON_MAX], names[256];
	void (*say)(const char *, ...);
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
		/*
		 * A fork's event would put the child's userfaultfd in the
		 * daemon's descriptor table, where nothing serves or closes
		 * it: one more descriptor, and a line, per fork.
		 */
		if (features & UFFD_FEATURE_EVENT_FORK) {
			session_refuse(s, h->hdr.seq, -EINVAL, 1, "hello: the "
			    "userfaultfd has the event-fork feature: the "
			    "daemon does not serve a child's descriptor");
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
		/*
		 * A client's hello is a debug line: its closing line says
		 * who it was and what it was served, and a build's short
		 * programs under the shim would else spend two of their
		 * uid's lines each. A re-attach is rare and worth saying.
		 */
		say = s->reattaching ? log_info : log_debug;
		if (session_log_allow(s->uid, s->reattaching ? LOG_INFO :
		    LOG_DEBUG))
			say("session %u: pid %d (%s) uid %d: %s, features "
			    "%s%s", s->id, (int)s->pid, s->comm, (int)s->uid,
			    s->reattaching ? "client re-attaching after a "
			    "daemon restart" : "client", names,
			    s->user_mode_only ? "; user-mode faults only (a "
			    "system call into an untouched page of a region "
			    "fails with EFAULT)" : "");
	} else if (session_log_allow(s->uid, LOG_DEBUG))
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

/* The session lets go of the i-th cache it holds. */
void
session_cache_drop(struct session *s, size_t i)
{
	struct cache *c = s->caches[i].cache;

	s->caches[i] = s->caches[--s->ncaches];
	cache_unref(c);
}

/*
 * A region now holds the cache the session opened for it (c), or, for a
 * write-protected store region, the store whose cache only named it: the
 * session's own reference goes, so that the cache is released (or
 * lingers) once no region uses it, not when the session ends.
 */
static void
session_cache_taken(struct session *s, struct cache *c, struct store *store)
{
	struct cache *held;
	size_t i = 0;

	while (i < s->ncaches) {
		held = s->caches[i].cache;
		if (held != c && (store == NULL || held->store != store)) {
			i++;
			continue;
		}
		session_cache_drop(s, i);
	}
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
	if (session_log_allow(s->uid, LOG_DEBUG))
		log_debug("session %u: region %u: 0x%" PRIx64 "-0x%" PRIx64
		    " %s%s %s offset 0x%" PRIx64 " size %" PRIu64 "%s%s%s%s",
		    s->id, r->id, r->start, r->end,
		    (r->prot & PD_PROT_READ) ? "r" : "-",
		    (r->prot & PD_PROT_WRITE) ? "w" : "-",
		    r->backing == PD_BACKING_FILE ? "file" :
		    r->backing == PD_BACKING_CACHE ? "page-cache" :
		    r->backing == PD_BACKING_STORE ? "store" : "zero",
		    r->offset, r->file_size,
		    (r->flags & PD_REGION_WP) ? ", copy-on-write" : "",
		    (r->flags & PD_REGION_WRITEBACK) ? ", write-back" : "",
		    (r->flags & PD_REGION_READONLY) ? ", read-only" : "",
		    (r->flags & PD_REGION_REPORT) ? " (report)" : "");
	if (r->cache != NULL || r->store != NULL)
		session_cache_taken(s, r->cache, r->store);
	session_reply(s, ra->hdr.seq, 0, r->id, 0, NULL);
	/* A reply that failed closed the session, and r went with it. */
	if (!s->closing)
		replay_region_added(s, r);
}

/*
 * Open (or, after a restart, adopt) the shared page cache of a file and
 * hand the client its memfd. The session keeps a reference until a region
 * of the cache takes it over (or the session closes), so that the memfd
 * the client maps stays the cache's.
 */
static int
session_cache_room(struct session *s, uint32_t seq)
{
	char why[PD_REASON_MAX];
	struct session_cache *caches;

	if (s->ncaches >= PAGERD_MAX_CACHES) {
		snprintf(why, sizeof why, "cache-open: the session already has "
		    "%d page caches, the limit", PAGERD_MAX_CACHES);
		session_refuse(s, seq, -ENOSPC, 0, why);
		return -1;
	}
	caches = reallocarray(s->caches, s->ncaches + 1, sizeof *caches);
	if (caches == NULL) {
		session_refuse(s, seq, -ENOMEM, 0, "cache-open: out of "
		    "memory");
		return -1;
	}
	s->caches = caches;
	return 0;
}

/*
 * Hand the client a page cache it asked for (a reference the caller
 * took, which the session now holds) with its memfd, in answer to seq.
 */
void
session_cache_give(struct session *s, uint32_t seq, struct cache *c)
{
	union pd_msg msg;
	size_t i;

	if (session_cache_room(s, seq) != 0) {
		cache_unref(c);
		return;
	}
	/* One reference per session and cache is enough. */
	for (i = 0; i < s->ncaches && s->caches[i].cache != c; i++)
		;
	if (i < s->ncaches)
		cache_unref(c);
	else
		s->caches[s->ncaches++].cache = c;
	/* Asked again: a region is coming. */
	s->caches[i].since = monotonic_ns();
	proto_init(&msg, PD_MSG_CACHE_REPLY, seq);
	msg.cache_reply.size = c->size;
	session_send_fd(s, &msg, c->memfd);
}

static void
session_cache_open(struct session *s, const union pd_msg *in, int *fds)
{
	const struct pd_cache_open *co = &in->cache_open;
	char why[PD_REASON_MAX];
	struct cache *c;
	int error;

	if (session_cache_room(s, co->hdr.seq) != 0)
		return;
	error = cache_open(fds[0], (co->flags & PD_CACHE_ADOPT) ? fds[1] : -1,
	    s->uid, &c, why, sizeof why);
	if (error != 0) {
		session_refuse(s, co->hdr.seq, error, 0, why);
		return;
	}
	session_cache_give(s, co->hdr.seq, c);
}

/* A store's page cache by name, or the list of stores (store.c). */
static void
session_store(struct session *s, const union pd_msg *msg, int *fds)
{
	store_request(s, &msg->store, fds);
}

static void
session_snapshot_store(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	store_snapshot(s, &msg->snapshot_store);
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
	if (s->auffd != -1) {
		s->inflight++;
		worker_arm_poll(s->worker, &s->auffd_op, s->auffd);
	}
	for (i = 0; i < s->nregions; i++)
		fault_wake(s, s->regions[i]->start, s->regions[i]->end -
		    s->regions[i]->start);
	if (session_log_allow(s->uid, LOG_INFO))
		log_info("session %u: pid %d (%s): re-attached with %zu "
		    "regions", s->id, (int)s->pid, s->comm, s->nregions);
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

/*
 * REGION_DEL of a range: the shim gives a piece of a region to the kernel,
 * a piece cut since it was added, whose number the library does not know.
 * Only the sender's own regions are looked at; the range is checked.
 */
static void
session_region_del_range(struct session *s, const struct pd_region_del *rd)
{
	char why[PD_REASON_MAX];
	int error;

	if (((rd->start | rd->length) & (page_size - 1)) != 0 ||
	    rd->start > UINT64_MAX - rd->length) {
		snprintf(why, sizeof why, "region-del: range 0x%" PRIx64
		    " + 0x%" PRIx64 " is not whole pages of the address space",
		    rd->start, rd->length);
		session_reply(s, rd->hdr.seq, -EINVAL, 0, 0, why);
		return;
	}
	if ((error = region_del_range(s, rd->start, rd->start + rd->length,
	    "region-del")) != 0) {
		snprintf(why, sizeof why, "region-del: 0x%" PRIx64 "-0x%" PRIx64
		    " cuts a region: %s", rd->start, rd->start + rd->length,
		    error == -EOPNOTSUPP ? "a write-protected region is not "
		    "cut" : strerror(-error));
		session_reply(s, rd->hdr.seq, error, 0, 0, why);
		return;
	}
	session_reply(s, rd->hdr.seq, 0, 0, 0, NULL);
}

static void
session_region_del(struct session *s, const union pd_msg *msg, int *fds)
{
	const struct pd_region_del *rd = &msg->region_del;
	char why[PD_REASON_MAX];

	(void)fds;
	if (rd->region_id == 0 && rd->length != 0) {
		session_region_del_range(s, rd);
		return;
	}
	/*
	 * The library unmaps before it asks: the munmap event has usually
	 * taken the region already. Not worth a warning.
	 */
	if (region_del(s, msg->region_del.region_id) != 0) {
		snprintf(why, sizeof why, "region-del: no region %u",
		    msg->region_del.region_id);
		if (session_log_allow(s->uid, LOG_DEBUG))
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
session_wp_async(struct session *s, const union pd_msg *msg, int *fds)
{
	wp_async_attach(s, &msg->wp_async, fds);
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

static void
session_pages(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	control_pages(s, &msg->pages);
}

static void
session_caches(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	control_caches(s, msg->hdr.seq);
}

static void
session_invalidate(struct session *s, const union pd_msg *msg, int *fds)
{
	watch_invalidate(s, &msg->invalidate, fds);
}

/* A client mapped the windows of a COLLAPSE notice huge: let them go. */
static void
session_collapsed(struct session *s, const union pd_msg *msg, int *fds)
{
	(void)fds;
	collapse_done(s, msg->collapsed.id);
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
	[PD_MSG_STORE] = session_store,
	[PD_MSG_PAGES] = session_pages,
	[PD_MSG_CACHES] = session_caches,
	[PD_MSG_INVALIDATE] = session_invalidate,
	[PD_MSG_RECORDINGS] = replay_control,
	[PD_MSG_WP_ASYNC] = session_wp_async,
	[PD_MSG_COLLAPSED] = session_collapsed,
	[PD_MSG_SNAPSHOT_STORE] = session_snapshot_store,
	[PD_MSG_STORE_ADOPT] = session_store,
};

/* A framed request: may this session send it, are its fields sound? */
void
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

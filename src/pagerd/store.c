/*
 * Network block stores: NBD exports the administrator names in
 * pagerd.conf (store NAME URI ...), paged into the shared page cache (or
 * a write-protected region's buffers) and written back to. This file holds
 * the store lines, who may map a store, and the sessions' requests: a
 * store's page cache by name, or the list for pagerctl stores. Each
 * worker's connection to a store, and what is sent on it, is store-conn.c.
 *
 * A store whose line changes or goes at a reload is retired: it maps no
 * more, and the regions mapped from it keep being served from the URI
 * they were mapped with until they go. Then, its last reference gone
 * (store_unref), its workers close their connections and the last of
 * them frees it.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

pthread_rwlock_t store_lock = PTHREAD_RWLOCK_INITIALIZER;
static LIST_HEAD(, store) stores = LIST_HEAD_INITIALIZER(stores);
static LIST_HEAD(, store) store_retired = LIST_HEAD_INITIALIZER(store_retired);

const char *
store_name(const struct store *st)
{
	return st->name;
}

int
store_is_retired(const struct store *st)
{
	return STORE_GET(st->retired);
}

void
store_ref(struct store *st)
{
	STORE_ADD(st->refs, 1);
}

/*
 * Drop a reference. The last is a retired store's (the configuration
 * holds one while it names the store): its connections are closed, each
 * by its worker, and the store freed after them. From any thread.
 */
void
store_unref(struct store *st)
{
	if (__atomic_sub_fetch(&st->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (store_conn_close_all(st) == 0)
		store_free(st);
}

/* A retired store nothing uses, its connections closed, goes. */
void
store_free(struct store *st)
{
	pthread_rwlock_wrlock(&store_lock);
	LIST_REMOVE(st, entry);
	pthread_rwlock_unlock(&store_lock);
	log_info("store %s: retired, and its last region went: freed",
	    st->name);
	free(st->uids);
	free(st->gids);
	free(st);
}

/* A URI a store line may name: NBD, over TCP or a unix socket, TLS or not. */
int
store_check_uri(const char *uri, char *why, size_t whylen)
{
	static const char *const schemes[] = { "nbd://", "nbds://",
	    "nbd+unix://", "nbds+unix://" };
	size_t i;

	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strncmp(uri, schemes[i], strlen(schemes[i])) == 0)
			break;
	if (i == sizeof schemes / sizeof schemes[0]) {
		snprintf(why, whylen, "%s is not an NBD URI (nbd://, nbds://, "
		    "nbd+unix://, nbds+unix://)", uri);
		return -1;
	}
	return 0;
}

/*
 * Whether a store over TCP cannot be reached because this process may
 * make no network socket: its unit's RestrictAddressFamilies= refuses
 * them (EAFNOSUPPORT), which libnbd reports only as a host it could not
 * connect to.
 */
static int
store_net_refused(const char *uri)
{
	static const int families[] = { AF_INET, AF_INET6 };
	size_t i;
	int fd;

	if (strncmp(uri, "nbd://", 6) != 0 && strncmp(uri, "nbds://", 7) != 0)
		return 0;
	for (i = 0; i < sizeof families / sizeof families[0]; i++) {
		if ((fd = socket(families[i], SOCK_STREAM | SOCK_CLOEXEC,
		    0)) != -1) {
			close(fd);
			return 0;
		}
		if (errno != EAFNOSUPPORT)
			return 0;
	}
	return 1;
}

/* --- Configuration --------------------------------------------------- */

static void
store_take_lists(struct store *st, struct config_store *cs)
{
	free(st->uids);
	free(st->gids);
	st->uids = cs->uids;
	st->nuids = cs->nuids;
	st->gids = cs->gids;
	st->ngids = cs->ngids;
	cs->uids = NULL;
	cs->gids = NULL;
	cs->nuids = cs->ngids = 0;
}

/*
 * Take over the store lines of a configuration, at start or at a reload:
 * a line as it was keeps its store (its allow lists may change); a line
 * whose URI changed or that went retires its store.
 */
void
store_configure(struct pagerd_config *c)
{
	struct store *st, *next, *last, **gone;
	size_t i, ngone = 0, nlive = 0;

	pthread_rwlock_wrlock(&store_lock);
	LIST_FOREACH(st, &stores, entry)
		nlive++;
	if ((gone = calloc(nlive + 1, sizeof *gone)) == NULL)
		fatal("store: retiring");
	LIST_FOREACH_SAFE(st, &stores, entry, next) {
		for (i = 0; i < c->nstores; i++)
			if (strcmp(c->stores[i].name, st->name) == 0 &&
			    strcmp(c->stores[i].uri, st->uri) == 0)
				break;
		if (i < c->nstores) {
			store_take_lists(st, &c->stores[i]);
			c->stores[i].name[0] = '\0';	/* taken */
			continue;
		}
		LIST_REMOVE(st, entry);
		LIST_INSERT_HEAD(&store_retired, st, entry);
		STORE_SET(st->retired, 1);
		gone[ngone++] = st;
		log_info("store %s: retired: its regions keep %s until they go",
		    st->name, st->uri);
	}
	for (i = 0; i < c->nstores; i++) {
		if (c->stores[i].name[0] == '\0')
			continue;
		if ((st = calloc(1, sizeof *st)) == NULL)
			fatal("store %s", c->stores[i].name);
		strlcpy(st->name, c->stores[i].name, sizeof st->name);
		strlcpy(st->uri, c->stores[i].uri, sizeof st->uri);
		st->refs = 1;	/* the configuration's */
		store_take_lists(st, &c->stores[i]);
		/* In the file's order, for pagerctl stores. */
		if ((last = LIST_FIRST(&stores)) == NULL)
			LIST_INSERT_HEAD(&stores, st, entry);
		else {
			while (LIST_NEXT(last, entry) != NULL)
				last = LIST_NEXT(last, entry);
			LIST_INSERT_AFTER(last, st, entry);
		}
		log_info("store %s: %s", st->name, st->uri);
		if (store_net_refused(st->uri))
			log_warnx("store %s: this daemon may make no network "
			    "socket (RestrictAddressFamilies= of its unit?): "
			    "%s cannot be reached", st->name, st->uri);
	}
	pthread_rwlock_unlock(&store_lock);
	/* Their lingering caches go, then the configuration's reference. */
	for (i = 0; i < ngone; i++) {
		cache_store_retired(gone[i]);
		store_unref(gone[i]);
	}
	free(gone);
}

/*
 * May session s map st? Root may; without allow lists every user the
 * daemon serves may; else its uid, primary group or one of its groups
 * (as the kernel took them at connect) must be listed. Under store_lock.
 */
static int
store_allows(const struct store *st, struct session *s)
{
	gid_t groups[64];
	socklen_t len = sizeof groups;
	size_t i, j, n = 0;

	if (s->uid == 0 || (st->nuids == 0 && st->ngids == 0))
		return 1;
	for (i = 0; i < st->nuids; i++)
		if (st->uids[i] == s->uid)
			return 1;
	if (s->sock != -1 && getsockopt(s->sock, SOL_SOCKET, SO_PEERGROUPS,
	    groups, &len) == 0)
		n = len / sizeof groups[0];
	for (i = 0; i < st->ngids; i++) {
		if (st->gids[i] == s->gid)
			return 1;
		for (j = 0; j < n; j++)
			if (st->gids[i] == groups[j])
				return 1;
	}
	return 0;
}

/* --- Requests --------------------------------------------------------- */

/*
 * Requests of one session that may wait for a store's connection at
 * once: a connection may take long to come (or never, to a server that
 * takes it and says nothing), and each waiting request holds memory.
 */
#define STORE_WAITS_MAX 64

/* A session's request about a store, waiting for the connection. */
struct store_call {
	struct store_wait w;
	struct region *r;	/* SNAPSHOT_STORE's region, held */
	uint64_t offset;	/* and where its image goes */
	int memfd;		/* STORE_ADOPT's cache, or -1 */
};

/*
 * The live store named name that session s may use, referenced, or NULL
 * with the request refused; so too when the session has as many requests
 * waiting for stores as it may.
 */
static struct store *
store_find(struct session *s, uint32_t seq, const char *name)
{
	char why[PD_REASON_MAX];
	struct store *st;
	int allowed = 0;

	if (s->store_waits >= STORE_WAITS_MAX) {
		snprintf(why, sizeof why, "store %s: the session has %d "
		    "requests waiting for stores' connections, the limit",
		    name, STORE_WAITS_MAX);
		session_refuse(s, seq, -EAGAIN, 0, why);
		return NULL;
	}
	pthread_rwlock_rdlock(&store_lock);
	LIST_FOREACH(st, &stores, entry)
		if (strcmp(st->name, name) == 0)
			break;
	if (st != NULL && (allowed = store_allows(st, s)))
		store_ref(st);
	pthread_rwlock_unlock(&store_lock);
	if (st != NULL && allowed)
		return st;
	snprintf(why, sizeof why, st == NULL ? "store %s: no such store in "
	    "the configuration" : "store %s: uid %d is not allowed to use it "
	    "(allow-uid, allow-gid)", name, (int)s->uid);
	session_refuse(s, seq, st == NULL ? -ENOENT : -EACCES, 0, why);
	return NULL;
}

/* Connected: the session gets the store's page cache (or adopts it). */
static void
store_cache_ready(struct store_wait *w, struct store *st, int error,
    const char *why)
{
	struct store_call *call = container_of(w, struct store_call, w);
	char reason[PD_REASON_MAX];
	struct cache *cache;

	w->s->store_waits--;
	if (w->s->closing)
		goto done;
	if (error == 0) {
		error = cache_open_store(st, STORE_GET(st->size), call->memfd,
		    w->s->uid, &cache, reason, sizeof reason);
		why = reason;
	}
	if (error != 0)
		session_refuse(w->s, w->seq, error, 0, why);
	else
		session_cache_give(w->s, w->seq, cache);
done:
	if (call->memfd != -1)
		close(call->memfd);
	free(call);
	store_unref(st);
}

/*
 * A session asks for a store's page cache by name; with memfd (taken),
 * the one a daemon before gave it, to adopt after a restart.
 */
static void
store_open(struct session *s, const struct pd_store *req, int *memfd)
{
	struct store_call *call;
	struct store *st;

	if ((st = store_find(s, req->hdr.seq, req->name)) == NULL)
		return;
	if ((call = calloc(1, sizeof *call)) == NULL) {
		session_refuse(s, req->hdr.seq, -ENOMEM, 0, "store: out of "
		    "memory");
		store_unref(st);
		return;
	}
	call->w.s = s;
	call->w.seq = req->hdr.seq;
	call->w.ready = store_cache_ready;
	call->memfd = *memfd;
	*memfd = -1;
	s->store_waits++;
	store_conn_wait(st, &call->w);
}

/*
 * Connected: the export's size and whether it takes writes are known, so
 * the snapshot can be checked and started.
 */
static void
store_snapshot_ready(struct store_wait *w, struct store *st, int error,
    const char *why)
{
	struct store_call *call = container_of(w, struct store_call, w);
	struct region *r = call->r;
	char reason[PD_REASON_MAX];
	uint64_t size = STORE_GET(st->size), len = r->end - r->start;
	uint32_t id = 0;

	w->s->store_waits--;
	if (w->s->closing)
		goto done;
	if (error == 0) {
		why = reason;
		if (r->dead) {
			error = -ENOENT;
			snprintf(reason, sizeof reason, "snapshot: region %u "
			    "was unmapped", r->id);
		} else if (STORE_GET(st->readonly)) {
			error = -EROFS;
			snprintf(reason, sizeof reason, "snapshot: store %s: "
			    "the export is read-only", st->name);
		} else if (call->offset > size || len > size - call->offset) {
			error = -ENOSPC;
			snprintf(reason, sizeof reason, "snapshot: store %s: "
			    "region %u (%" PRIu64 " bytes) at offset %" PRIu64
			    " goes past the export's end (%" PRIu64 " bytes)",
			    st->name, r->id, len, call->offset, size);
		} else
			error = wp_snapshot_start_store(w->s, r, st,
			    call->offset, &id, reason, sizeof reason);
	}
	if (error != 0)
		session_refuse(w->s, w->seq, error, 0, why);
	else
		session_reply(w->s, w->seq, 0, id, 0, NULL);
done:
	region_unref(r);
	free(call);
	store_unref(st);
}

/* A client's snapshot of one of its regions into a store. */
void
store_snapshot(struct session *s, const struct pd_snapshot_store *req)
{
	struct store_call *call;
	struct region *r;
	struct store *st;

	if ((r = wp_snapshot_region(s, req->region_id, req->hdr.seq)) == NULL)
		return;
	if ((st = store_find(s, req->hdr.seq, req->name)) == NULL)
		return;
	if ((call = calloc(1, sizeof *call)) == NULL) {
		session_refuse(s, req->hdr.seq, -ENOMEM, 0, "snapshot: out of "
		    "memory");
		store_unref(st);
		return;
	}
	call->w.s = s;
	call->w.seq = req->hdr.seq;
	call->w.ready = store_snapshot_ready;
	call->r = r;
	call->offset = req->offset;
	call->memfd = -1;
	r->refs++;
	s->store_waits++;
	store_conn_wait(st, &call->w);
}

/*
 * One store, to a session that sees every store whole (root, the admin
 * group: all) or else only those it may map: the size and counters of a
 * store a user may not map would tell it when and how much another user
 * reads there.
 */
static void
store_info(struct session *s, uint32_t seq, struct store *st, int retired,
    int all)
{
	union pd_msg msg;
	struct pd_store_info *si = &msg.store_info;

	proto_init(&msg, PD_MSG_STORE_INFO, seq);
	strlcpy(si->name, st->name, sizeof si->name);
	si->allowed = store_allows(st, s);
	si->state = retired ? PD_STORE_RETIRED : (uint32_t)STORE_GET(st->state);
	if (!si->allowed && !all) {
		session_send(s, &msg);
		return;
	}
	strlcpy(si->uri, st->uri, sizeof si->uri);
	strlcpy(si->error, st->error, sizeof si->error);
	si->size = STORE_GET(st->size);
	si->reads = STORE_GET(st->reads);
	si->bytes_read = STORE_GET(st->bytes);
	si->errors = STORE_GET(st->errors);
	si->reconnects = STORE_GET(st->reconnects);
	si->connections = STORE_GET(st->nconns);
	session_send(s, &msg);
}

/* The stores, a STORE_INFO each (retired ones too), then a REPLY. */
static void
store_list(struct session *s, uint32_t seq)
{
	struct store *st;
	uint32_t n = 0;
	int all = control_sees_all(s);

	pthread_rwlock_rdlock(&store_lock);
	LIST_FOREACH(st, &stores, entry) {
		store_info(s, seq, st, 0, all);
		n++;
	}
	LIST_FOREACH(st, &store_retired, entry) {
		store_info(s, seq, st, 1, all);
		n++;
	}
	pthread_rwlock_unlock(&store_lock);
	session_reply(s, seq, 0, n, 0, NULL);
}

/* STORE, or STORE_ADOPT with the cache to adopt in fds[0]. */
void
store_request(struct session *s, const struct pd_store *req, int *fds)
{
	int none = -1;

	if (req->flags & PD_STORE_LIST)
		store_list(s, req->hdr.seq);
	else if (s->role != PD_ROLE_CLIENT)
		session_refuse(s, req->hdr.seq, -EPERM, 0, "store: a control "
		    "session lists stores (PD_STORE_LIST); clients map them");
	else
		store_open(s, req, req->hdr.type == PD_MSG_STORE_ADOPT ?
		    &fds[0] : &none);
}

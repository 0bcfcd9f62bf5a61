/*
 * Listings for control sessions (pagerctl): the clients and regions of
 * every worker, read under each worker's table lock, one record message
 * each, then a reply with their number; one region's pages; the page
 * caches; and the users' page cache memory before a stats reply. A caller sees the processes (and the
 * memory) of its own uid; root and the admin group see every one.
 */
#include "config.h"

#include <sys/socket.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerd.h"

/*
 * May session c see every user's processes? Root may, and a member of
 * the admin group: the peer's groups as the kernel took them at connect.
 */
int
control_sees_all(struct session *c)
{
	gid_t one[64], *groups = one;
	socklen_t len = sizeof one;
	int all;

	if (c->uid == 0)
		return 1;
	/* ERANGE: more groups than fit; the kernel said how many. */
	if (getsockopt(c->sock, SOL_SOCKET, SO_PEERGROUPS, groups, &len) ==
	    -1 && (errno != ERANGE || (groups = malloc(len)) == NULL ||
	    getsockopt(c->sock, SOL_SOCKET, SO_PEERGROUPS, groups, &len) ==
	    -1))
		len = 0;
	all = config_admin(c->gid, groups, len / sizeof *groups);
	if (groups != one)
		free(groups);
	return all;
}

/*
 * Messages for a control session, gathered under another worker's table
 * lock and sent after it: a send that finds the socket full closes the
 * session, which takes its own worker's table lock.
 */
struct control_out {
	union pd_msg *v;
	size_t n, cap;
};

/* A new message at the end of o; NULL when out of memory. */
static union pd_msg *
control_out_new(struct control_out *o, uint32_t type, uint32_t seq)
{
	union pd_msg *v;
	size_t cap;

	if (o->n == o->cap) {
		cap = o->cap ? o->cap * 2 : 16;
		if ((v = reallocarray(o->v, cap, sizeof *v)) == NULL)
			return NULL;
		o->v = v;
		o->cap = cap;
	}
	proto_init(&o->v[o->n], type, seq);
	return &o->v[o->n++];
}

/* Send what o gathered, then free it; how many there were. */
static uint32_t
control_out_send(struct session *c, struct control_out *o)
{
	size_t i;

	for (i = 0; i < o->n && !c->closing; i++)
		session_send(c, &o->v[i]);
	free(o->v);
	return (uint32_t)o->n;
}

void
control_clients(struct session *c, uint32_t seq)
{
	struct control_out o = { 0 };
	struct pd_client_info *ci;
	union pd_msg *m;
	struct session *s;
	int i, all = control_sees_all(c);

	for (i = 0; i < nworkers; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry) {
			if (s->role != PD_ROLE_CLIENT || s->closing ||
			    (!all && s->uid != c->uid))
				continue;
			/* Short of memory, the list is cut. */
			if ((m = control_out_new(&o, PD_MSG_CLIENT_INFO,
			    seq)) == NULL)
				break;
			ci = &m->client_info;
			ci->session = s->id;
			ci->pid = (int32_t)s->pid;
			ci->uid = (uint32_t)s->uid;
			ci->regions = (uint32_t)s->nregions;
			strlcpy(ci->comm, s->comm, sizeof ci->comm);
			memcpy(&ci->counters, &s->counters,
			    sizeof s->counters);
			if (s->user_mode_only)
				ci->flags |= PD_CLIENT_USER_MODE_ONLY;
			if (s->detached)
				ci->flags |= PD_CLIENT_DETACHED;
		}
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	session_reply(c, seq, 0, control_out_send(c, &o), 0, NULL);
}

static void
control_region(struct pd_region_info *ri, const struct session *s,
    const struct region *r)
{
	ri->session = s->id;
	ri->pid = (int32_t)s->pid;
	ri->region = r->id;
	ri->backing = r->backing;
	ri->start = r->start;
	ri->length = r->end - r->start;
	ri->offset = r->offset;
	ri->prot = r->prot;
	ri->flags = r->flags;
	ri->faults = STAT_GET(r->faults);
	ri->readahead = fault_stream_window(r);
	ri->present = ri->dirty = PD_PAGES_UNKNOWN;
	if (r->wp != NULL)
		wp_region_counts(s, r, &ri->present, &ri->dirty);
	if (r->backing != PD_BACKING_ZERO)
		region_backing_name(r, ri->path, sizeof ri->path);
	if (r->backing == PD_BACKING_CACHE && r->cache != NULL) {
		ri->known |= PD_REGION_INFO_CACHED;
		ri->cached = cache_count_filled(r->cache,
		    r->offset / page_size, (r->end - r->start) / page_size);
	}
}

void
control_regions(struct session *c, const struct pd_list *l)
{
	struct control_out o = { 0 };
	union pd_msg *m;
	struct session *s;
	size_t k;
	int i, all = control_sees_all(c);

	for (i = 0; i < nworkers; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry) {
			if (s->role != PD_ROLE_CLIENT || s->closing ||
			    (l->pid != 0 && l->pid != (int32_t)s->pid) ||
			    (!all && s->uid != c->uid))
				continue;
			for (k = 0; k < s->nregions && (m = control_out_new(&o,
			    PD_MSG_REGION_INFO, l->hdr.seq)) != NULL; k++)
				control_region(&m->region_info, s,
				    s->regions[k]);
		}
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	session_reply(c, l->hdr.seq, 0, control_out_send(c, &o), 0, NULL);
}

/* The users with page cache memory, gathered under the cache lock. */
struct control_user_list {
	struct control_out o;
	int all;
	uid_t uid;
	uint32_t seq;
	uint64_t share;
};

static void
control_user_add(uid_t uid, uint64_t pages, void *arg)
{
	struct control_user_list *l = arg;
	union pd_msg *m;

	/* Short of memory, the list is cut: the reply still goes. */
	if ((!l->all && uid != l->uid) || (m = control_out_new(&l->o,
	    PD_MSG_USER_INFO, l->seq)) == NULL)
		return;
	m->user_info.uid = (uint32_t)uid;
	m->user_info.cache_held = pages * page_size;
	m->user_info.cache_share = l->share;
}

/*
 * Before a control session's STATS_REPLY, when asked: a USER_INFO for each
 * user's pages in the page caches, as the listings' privacy has it.
 */
void
control_users(struct session *c, const struct pd_stats *st)
{
	struct control_user_list l = { .uid = c->uid, .seq = st->hdr.seq };
	struct evict_stats es;

	if (!(st->flags & PD_STATS_USERS))
		return;
	l.all = control_sees_all(c);
	evict_get_stats(&es);
	l.share = es.share;
	cache_walk_users(control_user_add, &l);
	control_out_send(c, &l.o);
}

/*
 * A control session's snapshot of another process's region. The region
 * belongs to another worker, which alone may touch it: the request goes
 * there as a job, and the answers come back as jobs to the control
 * session's worker, which alone may send on its socket. The control
 * session is held (inflight) until the last answer.
 */
struct snap_job {
	struct job job;
	struct snapshot_tell tell;
	struct session *c;	/* the control session, on its worker */
	struct worker *cw;
	uid_t c_uid;
	uint32_t seq;
	int32_t pid;
	uint64_t addr;
	int fd;
	int status;		/* of the start */
	uint32_t id;
	char why[PD_REASON_MAX];
};

/* On the control session's worker: the answer, then the end. */
static void
snap_job_tell_end(struct worker *w, struct job *j)
{
	struct snap_job *sj = (struct snap_job *)(void *)j;
	union pd_msg msg;

	(void)w;
	if (!sj->c->closing) {
		proto_init(&msg, PD_MSG_NOTICE, sj->seq);
		msg.notice.kind = PD_NOTICE_SNAPSHOT_DONE;
		msg.notice.status = sj->tell.status;
		msg.notice.value = sj->id;
		snprintf(msg.notice.reason, sizeof msg.notice.reason,
		    "snapshot %u of pid %d: %" PRIu64 " pages%s%s", sj->id,
		    (int)sj->pid, sj->tell.pages, sj->tell.status ? ": " : "",
		    sj->tell.status ? strerror(-sj->tell.status) : "");
		session_send(sj->c, &msg);
	}
	session_unref(sj->c);
	free(sj);
}

static void
snap_job_answer(struct worker *w, struct job *j)
{
	struct snap_job *sj = (struct snap_job *)(void *)j;

	(void)w;
	if (!sj->c->closing)
		session_reply(sj->c, sj->seq, sj->status, sj->id, 0,
		    sj->status != 0 ? sj->why : NULL);
	if (sj->status != 0) {
		session_unref(sj->c);
		free(sj);
	}
}

/* On the owner's worker, when the snapshot ended. */
static void
snap_job_done(struct snapshot_tell *t)
{
	struct snap_job *sj = (struct snap_job *)(void *)((char *)t -
	    offsetof(struct snap_job, tell));

	sj->job.run = snap_job_tell_end;
	worker_post(sj->cw, &sj->job);
}

/* On the owner's worker: find the region and start. */
static void
snap_job_start(struct worker *w, struct job *j)
{
	struct snap_job *sj = (struct snap_job *)(void *)j;
	struct region *r = NULL;
	struct session *s;

	sj->status = -ESRCH;
	snprintf(sj->why, sizeof sj->why, "snapshot: pid %d is not a client",
	    (int)sj->pid);
	TAILQ_FOREACH(s, &w->sessions, entry) {
		if (s->role != PD_ROLE_CLIENT || s->closing ||
		    (int32_t)s->pid != sj->pid)
			continue;
		if ((r = region_find(s, sj->addr)) != NULL)
			break;
	}
	if (s != NULL && r != NULL && sj->c_uid != 0 && sj->c_uid != s->uid) {
		sj->status = -EPERM;
		snprintf(sj->why, sizeof sj->why, "snapshot: only root or the "
		    "process's own user may copy its memory");
	} else if (s != NULL && r != NULL) {
		sj->tell.done = snap_job_done;
		sj->status = wp_snapshot_start(s, r, &sj->fd, &sj->tell,
		    &sj->id, sj->why, sizeof sj->why);
	} else if (s == NULL && sj->pid > 0)
		snprintf(sj->why, sizeof sj->why, "snapshot: no region of pid "
		    "%d holds 0x%" PRIx64, (int)sj->pid, sj->addr);
	if (sj->fd != -1) {
		close(sj->fd);
		sj->fd = -1;
	}
	sj->job.run = snap_job_answer;
	worker_post(sj->cw, &sj->job);
}

/*
 * Only root may copy another user's memory; anyone else is answered
 * about its own processes only, and refused alike for every other pid,
 * so that it learns neither which of them pagerd serves nor, address by
 * address, where their regions lie.
 */
void
control_snapshot(struct session *c, const struct pd_snapshot_of *so, int *fds)
{
	struct worker *owner = NULL;
	struct snap_job *sj;
	struct session *s;
	char why[PD_REASON_MAX];
	int i, known = 0;

	for (i = 0; i < nworkers && owner == NULL; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry) {
			if (s->role != PD_ROLE_CLIENT || (int32_t)s->pid !=
			    so->pid || (c->uid != 0 && s->uid != c->uid))
				continue;
			known = 1;
			if (region_find(s, so->addr) != NULL)
				owner = &workers[i];
		}
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	if (!known && c->uid != 0) {
		snprintf(why, sizeof why, "snapshot: pid %d is no client of "
		    "uid %d: only root or the process's own user may copy its "
		    "memory", (int)so->pid, (int)c->uid);
		session_reply(c, so->hdr.seq, -EPERM, 0, 0, why);
		return;
	}
	if (owner == NULL) {
		session_reply(c, so->hdr.seq, -ESRCH, 0, 0, "snapshot: no "
		    "region of that process holds that address");
		return;
	}
	if ((sj = calloc(1, sizeof *sj)) == NULL) {
		session_reply(c, so->hdr.seq, -ENOMEM, 0, 0, "snapshot: out of "
		    "memory");
		return;
	}
	sj->c = c;
	sj->cw = c->worker;
	sj->c_uid = c->uid;
	sj->seq = so->hdr.seq;
	sj->pid = so->pid;
	sj->addr = so->addr;
	sj->fd = fds[0];
	fds[0] = -1;
	c->inflight++;
	sj->job.run = snap_job_start;
	worker_post(owner, &sj->job);
}

/*
 * One chunk of a region's pages from page first: its cache's filled
 * bitmap and busy windows, its write protection's installed and dirty
 * bitmaps, as far as the region has them. Read under the table lock of
 * the region's worker, which keeps the region and its cache.
 */
static void
control_chunk(const struct session *s, const struct region *r,
    uint64_t first, uint64_t npages, struct pd_pages_chunk *pc)
{
	pc->first = first;
	pc->npages = (uint32_t)npages;
	if (r->backing == PD_BACKING_CACHE && r->cache != NULL) {
		pc->known |= PD_PAGES_FILLED | PD_PAGES_READING;
		cache_pages(r->cache, r->offset / page_size + first, npages,
		    pc->filled, pc->reading);
	}
	if (r->wp != NULL) {
		pc->known |= PD_PAGES_INSTALLED | PD_PAGES_DIRTY;
		wp_region_pages(s, r, first, npages, pc->installed,
		    pc->dirty);
	}
}

/*
 * The pages of one region, as the daemon knows them, for pagerctl map:
 * at most PD_PAGES_CHUNKS chunks an answer, the caller asks on from where
 * it ended. A process the caller may not see has no region, as for
 * control_regions.
 */
void
control_pages(struct session *c, const struct pd_pages *pq)
{
	struct control_out o = { 0 };
	struct pd_pages_chunk *pc;
	struct session *s;
	struct region *r;
	union pd_msg *m;
	uint64_t npages, first;
	char why[PD_REASON_MAX];
	int i, found = 0, all = control_sees_all(c);

	for (i = 0; i < nworkers && !found; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry) {
			if (s->role != PD_ROLE_CLIENT || s->closing ||
			    pq->pid != (int32_t)s->pid ||
			    (!all && s->uid != c->uid) ||
			    (r = region_find(s, pq->addr)) == NULL)
				continue;
			found = 1;
			npages = (r->end - r->start) / page_size;
			for (first = pq->first; first < npages &&
			    o.n < PD_PAGES_CHUNKS && (m = control_out_new(&o,
			    PD_MSG_PAGES_CHUNK, pq->hdr.seq)) != NULL;
			    first += PD_PAGES_BITS) {
				pc = &m->pages_chunk;
				pc->session = s->id;
				pc->region = r->id;
				pc->start = r->start;
				pc->length = r->end - r->start;
				control_chunk(s, r, first, npages - first <
				    PD_PAGES_BITS ? npages - first :
				    PD_PAGES_BITS, pc);
			}
			break;
		}
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	if (!found) {
		snprintf(why, sizeof why, "pages: no region of pid %d holds "
		    "0x%" PRIx64, (int)pq->pid, pq->addr);
		session_reply(c, pq->hdr.seq, -ESRCH, 0, 0, why);
		return;
	}
	session_reply(c, pq->hdr.seq, 0, control_out_send(c, &o), 0, NULL);
}

/* The caches a control session may see, gathered under the cache lock. */
struct control_cache_list {
	struct control_out o;
	int all;
	uid_t uid;
	uint32_t seq;
	uint64_t now;
};

static void
control_cache_add(struct cache *c, void *arg)
{
	struct control_cache_list *l = arg;
	union pd_msg *m;

	/* Short of memory, the list is cut: the reply still goes. */
	if ((!l->all && c->uid != l->uid) || (m = control_out_new(&l->o,
	    PD_MSG_CACHE_INFO, l->seq)) == NULL)
		return;
	cache_describe(c, l->now, &m->cache_info);
}

/* Every page cache the control session may see, one CACHE_INFO each. */
void
control_caches(struct session *c, uint32_t seq)
{
	struct control_cache_list l = { .uid = c->uid, .seq = seq };

	l.all = control_sees_all(c);
	l.now = monotonic_ns();
	cache_walk(control_cache_add, &l);
	session_reply(c, seq, 0, control_out_send(c, &l.o), 0, NULL);
}

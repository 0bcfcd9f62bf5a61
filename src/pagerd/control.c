/*
 * Listings for control sessions (pagerctl): the clients and regions of
 * every worker, read under each worker's table lock, one record message
 * each, then a reply with their number; and the users' page cache
 * memory before a stats reply. A caller sees the processes (and the
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

void
control_clients(struct session *c, uint32_t seq)
{
	struct session *s;
	union pd_msg msg;
	uint32_t n = 0;
	int i, all = control_sees_all(c);

	for (i = 0; i < nworkers && !c->closing; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry) {
			if (s->role != PD_ROLE_CLIENT || s->closing ||
			    (!all && s->uid != c->uid))
				continue;
			proto_init(&msg, PD_MSG_CLIENT_INFO, seq);
			msg.client_info.session = s->id;
			msg.client_info.pid = (int32_t)s->pid;
			msg.client_info.uid = (uint32_t)s->uid;
			msg.client_info.regions = (uint32_t)s->nregions;
			strlcpy(msg.client_info.comm, s->comm,
			    sizeof msg.client_info.comm);
			memcpy(&msg.client_info.counters, &s->counters,
			    sizeof s->counters);
			if (s->user_mode_only)
				msg.client_info.flags |=
				    PD_CLIENT_USER_MODE_ONLY;
			session_send(c, &msg);
			n++;
		}
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	session_reply(c, seq, 0, n, 0, NULL);
}

static void
control_region(struct session *c, uint32_t seq, const struct session *s,
    const struct region *r)
{
	union pd_msg msg;

	proto_init(&msg, PD_MSG_REGION_INFO, seq);
	msg.region_info.session = s->id;
	msg.region_info.pid = (int32_t)s->pid;
	msg.region_info.region = r->id;
	msg.region_info.backing = r->backing;
	msg.region_info.start = r->start;
	msg.region_info.length = r->end - r->start;
	msg.region_info.offset = r->offset;
	msg.region_info.prot = r->prot;
	msg.region_info.flags = r->flags;
	msg.region_info.faults = STAT_GET(r->faults);
	msg.region_info.readahead = fault_stream_window(r);
	msg.region_info.present = msg.region_info.dirty = PD_PAGES_UNKNOWN;
	if (r->wp != NULL)
		wp_region_counts(s, r, &msg.region_info.present,
		    &msg.region_info.dirty);
	if (r->backing != PD_BACKING_ZERO)
		region_backing_name(r, msg.region_info.path,
		    sizeof msg.region_info.path);
	if (r->backing == PD_BACKING_CACHE && r->cache != NULL) {
		msg.region_info.known |= PD_REGION_INFO_CACHED;
		msg.region_info.cached = cache_count_filled(r->cache,
		    r->offset / page_size, (r->end - r->start) / page_size);
	}
	session_send(c, &msg);
}

void
control_regions(struct session *c, const struct pd_list *l)
{
	struct session *s;
	uint32_t n = 0;
	size_t k;
	int i, all = control_sees_all(c);

	for (i = 0; i < nworkers && !c->closing; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry) {
			if (s->role != PD_ROLE_CLIENT || s->closing ||
			    (l->pid != 0 && l->pid != (int32_t)s->pid) ||
			    (!all && s->uid != c->uid))
				continue;
			for (k = 0; k < s->nregions && !c->closing; k++, n++)
				control_region(c, l->hdr.seq, s, s->regions[k]);
		}
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	session_reply(c, l->hdr.seq, 0, n, 0, NULL);
}

/* The users with page cache memory, copied out of the cache lock. */
struct control_user_list {
	struct pd_user_info *v;
	size_t n, cap;
	int all;
	uid_t uid;
};

static void
control_user_add(uid_t uid, uint64_t pages, void *arg)
{
	struct control_user_list *l = arg;
	struct pd_user_info *v;
	size_t cap;

	if (!l->all && uid != l->uid)
		return;
	if (l->n == l->cap) {
		cap = l->cap ? l->cap * 2 : 16;
		/* Short of memory, the list is cut: the reply still goes. */
		if ((v = reallocarray(l->v, cap, sizeof *v)) == NULL)
			return;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof l->v[l->n]);
	l->v[l->n].uid = (uint32_t)uid;
	l->v[l->n++].cache_held = pages * page_size;
}

/*
 * Before a control session's STATS_REPLY, when asked: a USER_INFO for each
 * user's pages in the page caches, as the listings' privacy has it.
 */
void
control_users(struct session *c, const struct pd_stats *st)
{
	struct control_user_list l = { .uid = c->uid };
	struct evict_stats es;
	union pd_msg msg;
	size_t i;

	if (!(st->flags & PD_STATS_USERS))
		return;
	l.all = control_sees_all(c);
	evict_get_stats(&es);
	cache_walk_users(control_user_add, &l);
	for (i = 0; i < l.n && !c->closing; i++) {
		proto_init(&msg, PD_MSG_USER_INFO, st->hdr.seq);
		msg.user_info.uid = l.v[i].uid;
		msg.user_info.cache_held = l.v[i].cache_held;
		msg.user_info.cache_share = es.share;
		session_send(c, &msg);
	}
	free(l.v);
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

void
control_snapshot(struct session *c, const struct pd_snapshot_of *so, int *fds)
{
	struct worker *owner = NULL;
	struct snap_job *sj;
	struct session *s;
	int i;

	for (i = 0; i < nworkers && owner == NULL; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry)
			if (s->role == PD_ROLE_CLIENT && (int32_t)s->pid ==
			    so->pid && region_find(s, so->addr) != NULL)
				owner = &workers[i];
		pthread_mutex_unlock(&workers[i].table_lock);
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

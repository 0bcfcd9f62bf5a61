/*
 * Network block stores: NBD exports the administrator names in
 * pagerd.conf (store NAME URI ...), paged into the shared page cache (or
 * a write-protected region's buffers) and written back to, through
 * libnbd's asynchronous API driven by each worker's io_uring.
 *
 * Each worker has its own connection to a store, made on first use and
 * shared by every client of the worker. Its socket is polled in the
 * worker's ring with the events nbd_aio_get_direction() asks for, polled
 * again when they change (a generation number tells a stale poll), and
 * libnbd is told with nbd_aio_notify_read/write. libnbd's callbacks only
 * record a result on a list: what follows (installing pages, a retry)
 * runs after libnbd has returned, never within it.
 *
 * A connection that dies is made again, a few times with a growing pause;
 * the requests it owed are sent again on the new one. When every attempt
 * fails, they fail: their faults get SIGBUS, never zeros.
 *
 * A store whose line changes or goes at a reload is retired: it maps no
 * more, and the regions mapped from it keep being served from the URI
 * they were mapped with until they go. Store structs live as long as the
 * daemon: caches and connections point at them.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pagerd.h"

/* Connection attempts after a failure, the first after STORE_BACKOFF_MS. */
#define STORE_RETRIES 5
#define STORE_BACKOFF_MS 100
/* Polls a connection may have in the ring: the current and stale ones. */
#define STORE_POLLS 4
/*
 * A window is read in parts of this size, sent at once: the server reads
 * them in parallel, and the first are in the cache while the last come.
 */
#define STORE_PART (1u << 20)

enum store_conn_state {
	CONN_IDLE,		/* none: made on first use */
	CONN_CONNECTING,
	CONN_READY,
	CONN_BACKOFF,		/* lost: made again when its timer runs */
	CONN_FAILED,		/* every attempt failed: made again on use */
};

struct store_conn;

struct store_poll {
	struct op op;
	struct store_conn *c;
	uint32_t gen;
};

/*
 * One request: a read of a fault's window (the worker's io's own, one per
 * io), or a write-back's write or flush (allocated for it).
 */
struct store_req {
	TAILQ_ENTRY(store_req) entry;
	struct op *op;		/* where its result goes, as a completion */
	enum store_kind kind;
	int pooled;		/* a fault io's: not freed */
	struct store_conn *c;
	char *buf;
	uint64_t off;
	uint64_t len;
	unsigned int parts;	/* with libnbd, and 1 while being sent */
	unsigned int unanswered; /* sent, no completion callback (yet) */
	int error;		/* the first part's errno, 0 for the bytes */
	unsigned int tries;	/* sent on connections that died */
};
TAILQ_HEAD(store_reqs, store_req);

/* A session waiting for the export's size to open its page cache. */
struct store_open {
	TAILQ_ENTRY(store_open) entry;
	struct session *s;
	uint32_t seq;
};

/* A store's connection of one worker: only that worker touches it. */
struct store_conn {
	struct store *store;
	struct worker *w;
	struct nbd_handle *h;
	int fd;
	enum store_conn_state state;
	struct store_poll polls[STORE_POLLS];
	struct store_poll *cur;	/* the live poll, or NULL */
	short events;		/* what it polls for */
	uint32_t gen;
	struct store_reqs waiting; /* to send once connected */
	struct store_reqs out;	/* with libnbd */
	struct store_reqs done;	/* libnbd is done with them */
	TAILQ_HEAD(, store_open) opens;
	unsigned int attempts;	/* failed in a row */
	struct timer retry;
	struct timer kick;	/* new requests go after this round */
	int busy;		/* in store_kick: again, not within */
	int again;
};

struct store {
	LIST_ENTRY(store) entry;
	char name[PD_STORE_NAME_MAX];
	char uri[512];
	uid_t *uids;		/* under store_lock */
	size_t nuids;
	gid_t *gids;
	size_t ngids;
	char error[128];	/* the last failure, under store_lock */
	int retired;		/* atomic, like the rest below */
	int state;		/* enum pd_store_state, the latest news */
	uint64_t size;		/* of the export, 0 unknown */
	uint64_t reads, bytes, errors, reconnects, written;
	uint32_t nconns;
	struct store_conn *conns[PAGERD_MAX_WORKERS]; /* each its worker's */
};

static pthread_rwlock_t store_lock = PTHREAD_RWLOCK_INITIALIZER;
static LIST_HEAD(, store) stores = LIST_HEAD_INITIALIZER(stores);
static LIST_HEAD(, store) store_retired = LIST_HEAD_INITIALIZER(store_retired);
/* Per worker: a request per io, by the io's index. */
static struct store_req *store_reqs[PAGERD_MAX_WORKERS];

static void store_kick(struct store_conn *);
static void store_connect(struct store_conn *);
static void store_poll_done(struct op *, const struct io_uring_cqe *);

#define STORE_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define STORE_ADD(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)
#define STORE_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

const char *
store_name(const struct store *st)
{
	return st->name;
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

/* Record why the store failed, for pagerctl stores and the log. */
static void
store_set_error(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
store_set_error(struct store *st, const char *fmt, ...)
{
	va_list ap;

	pthread_rwlock_wrlock(&store_lock);
	va_start(ap, fmt);
	vsnprintf(st->error, sizeof st->error, fmt, ap);
	va_end(ap);
	pthread_rwlock_unlock(&store_lock);
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
	struct store *st, *next, *last;
	size_t i;

	pthread_rwlock_wrlock(&store_lock);
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
	}
	pthread_rwlock_unlock(&store_lock);
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

/* --- A worker's connection ------------------------------------------- */

static void
store_retry_run(struct worker *w, struct timer *t)
{
	(void)w;
	store_connect(container_of(t, struct store_conn, retry));
}

/*
 * New requests are sent after the round's completions, never within the
 * call that made them: a request that fails at once must not complete
 * under its caller's feet.
 */
static void
store_kick_run(struct worker *w, struct timer *t)
{
	struct store_conn *c = container_of(t, struct store_conn, kick);

	(void)w;
	if (c->state == CONN_IDLE || c->state == CONN_FAILED) {
		c->attempts = 0;
		store_connect(c);
	} else
		store_kick(c);
}

/* The worker's connection to st, made (not connected) on first use. */
static struct store_conn *
store_conn_get(struct store *st, struct worker *w)
{
	struct store_conn *c;
	int i;

	if ((c = st->conns[w->index]) != NULL)
		return c;
	if ((c = calloc(1, sizeof *c)) == NULL)
		fatal("store %s: a connection", st->name);
	c->store = st;
	c->w = w;
	c->fd = -1;
	for (i = 0; i < STORE_POLLS; i++) {
		c->polls[i].c = c;
		c->polls[i].op.done = store_poll_done;
	}
	TAILQ_INIT(&c->waiting);
	TAILQ_INIT(&c->out);
	TAILQ_INIT(&c->done);
	TAILQ_INIT(&c->opens);
	c->retry.run = store_retry_run;
	c->kick.run = store_kick_run;
	__atomic_store_n(&st->conns[w->index], c, __ATOMIC_RELEASE);
	return c;
}

/* libnbd's completion callback: the answer, kept for later. */
static int
store_req_cb(void *arg, int *error)
{
	struct store_req *req = arg;

	req->unanswered--;
	if (req->error == 0)
		req->error = *error;
	return 1;
}

/* libnbd is done with the part, whatever happened: act on it later. */
static void
store_req_free(void *arg)
{
	struct store_req *req = arg;

	if (--req->parts > 0)
		return;
	TAILQ_REMOVE(&req->c->out, req, entry);
	TAILQ_INSERT_TAIL(&req->c->done, req, entry);
}

/* Hand a read's result to its fault (fault-read.c), as a completion. */
static void
store_req_end(struct store_req *req, int res)
{
	struct op *op = req->op;
	struct io_uring_cqe cqe;
	struct store *st = req->c->store;

	memset(&cqe, 0, sizeof cqe);
	cqe.res = res;
	if (res < 0)
		STORE_ADD(st->errors, 1);
	else if (req->kind == STORE_READ) {
		STORE_ADD(st->reads, 1);
		STORE_ADD(st->bytes, (uint64_t)res);
	} else if (req->kind == STORE_WRITE)
		STORE_ADD(st->written, (uint64_t)res);
	if (!req->pooled)
		free(req);
	op->done(op, &cqe);
}

/* Send one part of req: a read or write of n bytes at done, or a flush. */
static int64_t
store_send_part(struct store_conn *c, struct store_req *req, uint64_t done,
    uint64_t n)
{
	nbd_completion_callback cb = { .callback = store_req_cb,
	    .user_data = req, .free = store_req_free };

	switch (req->kind) {
	case STORE_READ:
		return nbd_aio_pread(c->h, req->buf + done, n, req->off + done,
		    cb, 0);
	case STORE_WRITE:
		return nbd_aio_pwrite(c->h, req->buf + done, n, req->off +
		    done, cb, 0);
	default:
		return nbd_aio_flush(c->h, cb, 0);
	}
}

/* Send the waiting requests on a ready connection. */
static void
store_send(struct store_conn *c)
{
	struct store_req *req;
	uint64_t done, n;
	int64_t cookie;

	while (c->state == CONN_READY && (req = TAILQ_FIRST(&c->waiting)) !=
	    NULL) {
		TAILQ_REMOVE(&c->waiting, req, entry);
		TAILQ_INSERT_TAIL(&c->out, req, entry);
		req->error = 0;
		req->unanswered = 0;
		req->parts = 1;		/* not done while being sent */
		cookie = 0;
		/* (A flush is one part, of no bytes.) */
		for (done = 0; cookie != -1 && (done < req->len || (done == 0 &&
		    req->kind == STORE_FLUSH)); done += n ? n : 1) {
			n = req->len - done < STORE_PART ? req->len - done :
			    STORE_PART;
			req->parts++;
			req->unanswered++;
			cookie = store_send_part(c, req, done, n);
		}
		/*
		 * A part refused before it went (its free callback has run):
		 * one the server cannot take fails the read; one a dying
		 * connection refused goes again, all of it, on the next.
		 */
		if (cookie == -1 && nbd_aio_is_ready(c->h) == 1) {
			req->unanswered--;
			req->error = nbd_get_errno() != 0 ? nbd_get_errno() :
			    EINVAL;
			log_warnx("store %s: %s of 0x%" PRIx64 "+0x%" PRIx64
			    ": %s", c->store->name, req->kind == STORE_READ ?
			    "read" : req->kind == STORE_WRITE ? "write" :
			    "flush", req->off, req->len, nbd_get_error());
		}
		store_req_free(req);
		if (cookie == -1)
			break;
	}
}

/* The requests libnbd is done with: completed, failed, or sent again. */
static void
store_reap(struct store_conn *c)
{
	struct store_req *req;
	int live = c->h != NULL && c->state == CONN_READY;

	while ((req = TAILQ_FIRST(&c->done)) != NULL) {
		TAILQ_REMOVE(&c->done, req, entry);
		if (req->unanswered == 0 && req->error == 0) {
			store_req_end(req, (int)req->len);
			continue;
		}
		/* The server's own answer, on a connection that lives. */
		if (req->unanswered == 0 && live) {
			store_req_end(req, -req->error);
			continue;
		}
		if (++req->tries > STORE_RETRIES || c->state == CONN_FAILED) {
			store_req_end(req, -ENOTCONN);
			continue;
		}
		TAILQ_INSERT_TAIL(&c->waiting, req, entry);
	}
}

/* Every waiting request and open fails: the store cannot be reached. */
static void
store_fail_waiting(struct store_conn *c)
{
	struct store_req *req;
	struct store_open *o;
	char reason[PD_REASON_MAX];

	while ((req = TAILQ_FIRST(&c->waiting)) != NULL) {
		TAILQ_REMOVE(&c->waiting, req, entry);
		store_req_end(req, -ENOTCONN);
	}
	pthread_rwlock_rdlock(&store_lock);
	snprintf(reason, sizeof reason, "store %s: cannot be reached: %s",
	    c->store->name, c->store->error);
	pthread_rwlock_unlock(&store_lock);
	while ((o = TAILQ_FIRST(&c->opens)) != NULL) {
		TAILQ_REMOVE(&c->opens, o, entry);
		if (!o->s->closing)
			session_refuse(o->s, o->seq, -EHOSTUNREACH, 0, reason);
		session_unref(o->s);
		free(o);
	}
}

/* Sessions that waited for the export's size get its page cache. */
static void
store_answer_opens(struct store_conn *c, uint64_t size)
{
	char why[PD_REASON_MAX];
	struct store_open *o;
	struct cache *cache;
	int error;

	while ((o = TAILQ_FIRST(&c->opens)) != NULL) {
		TAILQ_REMOVE(&c->opens, o, entry);
		if (!o->s->closing) {
			if ((error = cache_open_store(c->store, size, o->s->uid,
			    &cache, why, sizeof why)) != 0)
				session_refuse(o->s, o->seq, error, 0, why);
			else
				session_cache_give(o->s, o->seq, cache);
		}
		session_unref(o->s);
		free(o);
	}
}

/* Stop polling the connection's socket: what is out is stale. */
static void
store_unpoll(struct store_conn *c)
{
	c->gen++;
	if (c->cur != NULL)
		worker_cancel_poll(c->w, &c->cur->op);
	c->cur = NULL;
	c->events = 0;
}

/*
 * Poll the socket for what libnbd waits for, anew where that changed.
 * With every slot still in the ring (stale polls not yet back), the
 * next one back arms it.
 */
static void
store_arm(struct store_conn *c)
{
	struct io_uring_sqe *sqe;
	struct store_poll *p = NULL;
	unsigned int dir;
	short events;
	int i;

	if (c->h == NULL)
		return;
	dir = nbd_aio_get_direction(c->h);
	events = (short)(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
	    ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));
	if (c->cur != NULL && c->events == events)
		return;
	if (c->cur != NULL) {
		worker_cancel_poll(c->w, &c->cur->op);
		c->cur = NULL;
	}
	if (events == 0)
		return;
	for (i = 0; i < STORE_POLLS && p == NULL; i++)
		if (!c->polls[i].op.armed)
			p = &c->polls[i];
	if (p == NULL)
		return;
	p->gen = ++c->gen;
	sqe = worker_sqe(c->w);
	io_uring_prep_poll_multishot(sqe, c->fd, (unsigned int)events);
	io_uring_sqe_set_data(sqe, &p->op);
	p->op.armed = 1;
	c->cur = p;
	c->events = events;
}

/* The connection is gone: closed, and made again after a pause. */
static void
store_lost(struct store_conn *c, const char *what)
{
	struct store *st = c->store;
	const char *err = nbd_get_error();
	uint64_t pause;

	store_set_error(st, "%s: %s", what, err != NULL ? err : "closed");
	log_warnx("store %s: worker %d: %s %s: %s", st->name, c->w->index,
	    what, st->uri, err != NULL ? err : "the server closed the "
	    "connection");
	store_unpoll(c);
	if (c->state == CONN_READY)
		STORE_ADD(st->nconns, -1u);
	/* Its requests' free callbacks run: they go on the done list. */
	nbd_close(c->h);
	c->h = NULL;
	c->fd = -1;
	if (++c->attempts > STORE_RETRIES) {
		c->state = CONN_FAILED;
		STORE_SET(st->state, PD_STORE_FAILING);
		log_warnx("store %s: worker %d: %u attempts failed; its "
		    "requests fail until it is used again", st->name,
		    c->w->index, STORE_RETRIES + 1);
		return;
	}
	c->state = CONN_BACKOFF;
	pause = (uint64_t)STORE_BACKOFF_MS << (c->attempts - 1);
	worker_timer_add(c->w, &c->retry, monotonic_ns() + pause * 1000000u);
}

/* Start connecting (a new handle); failures go by store_lost. */
static void
store_connect(struct store_conn *c)
{
	struct store *st = c->store;

	c->state = CONN_CONNECTING;
	if (STORE_GET(st->state) != PD_STORE_READY)
		STORE_SET(st->state, PD_STORE_CONNECTING);
	if ((c->h = nbd_create()) == NULL) {
		store_set_error(st, "nbd_create: %s", nbd_get_error());
		log_warnx("store %s: nbd_create: %s", st->name,
		    nbd_get_error());
		c->state = CONN_FAILED;
		store_kick(c);
		return;
	}
	/* The cache is filled only from reads that succeeded. */
	nbd_set_pread_initialize(c->h, false);
	nbd_set_handle_name(c->h, st->name);
	/* A failure leaves fd -1: store_step takes it as a lost connection. */
	c->fd = nbd_aio_connect_uri(c->h, st->uri) == -1 ? -1 :
	    nbd_aio_get_fd(c->h);
	store_kick(c);
}

/* Where the handle is now: connected, lost, or still on its way. */
static void
store_step(struct store_conn *c)
{
	struct store *st = c->store;
	int64_t size;

	if (c->h == NULL)
		return;
	if (nbd_aio_is_dead(c->h) == 1 || nbd_aio_is_closed(c->h) == 1 ||
	    (c->state == CONN_CONNECTING && c->fd == -1)) {
		store_lost(c, c->state == CONN_READY ? "connection to" :
		    "connect to");
		return;
	}
	if (c->state != CONN_CONNECTING || nbd_aio_is_ready(c->h) != 1)
		return;
	if ((size = nbd_get_size(c->h)) < 0) {
		store_lost(c, "size of the export at");
		return;
	}
	if (c->attempts > 0)
		STORE_ADD(st->reconnects, 1);
	c->state = CONN_READY;
	c->attempts = 0;
	STORE_ADD(st->nconns, 1);
	STORE_SET(st->size, (uint64_t)size);
	STORE_SET(st->state, PD_STORE_READY);
	log_debug("store %s: worker %d: connected to %s, %" PRId64 " bytes",
	    st->name, c->w->index, st->uri, size);
	store_answer_opens(c, (uint64_t)size);
}

/*
 * After any libnbd call on c: follow its state, act on the requests it is
 * done with, send what waits, poll for what it waits for. Not within
 * itself: a completion handled here may read again on c.
 */
static void
store_kick(struct store_conn *c)
{
	if (c->busy) {
		c->again = 1;
		return;
	}
	c->busy = 1;
	do {
		c->again = 0;
		store_step(c);
		store_reap(c);
		if (c->state == CONN_FAILED)
			store_fail_waiting(c);
		store_send(c);
		store_reap(c);
		store_arm(c);
		/* Idle and retired: let go (it is made again if used). */
		if (c->state == CONN_READY && STORE_GET(c->store->retired) &&
		    TAILQ_EMPTY(&c->out) && TAILQ_EMPTY(&c->waiting)) {
			store_unpoll(c);
			nbd_close(c->h);
			c->h = NULL;
			c->fd = -1;
			c->state = CONN_IDLE;
			STORE_ADD(c->store->nconns, -1u);
		}
	} while (c->again);
	c->busy = 0;
}

/* What of events fd has now, without waiting. */
static short
store_fd_events(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	return poll(&pfd, 1, 0) == 1 ? pfd.revents : 0;
}

/*
 * The socket was ready. libnbd is told only what the socket has now: it
 * takes a notice with nothing to read as the start of a reply, and sends
 * no command until one comes. It takes one step per notice, and the
 * ring's poll fires on a wake-up, not while data waits: so it is told
 * until the socket has nothing more for it.
 */
static void
store_poll_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct store_poll *p = container_of(op, struct store_poll, op);
	struct store_conn *c = p->c;
	unsigned int dir;
	short ready;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		op->armed = 0;
		if (c->cur == p)
			c->cur = NULL;
	}
	if (p->gen != c->gen || c->h == NULL || cqe->res < 0) {
		store_kick(c);
		return;
	}
	for (;;) {
		dir = nbd_aio_get_direction(c->h);
		ready = store_fd_events(c->fd, (short)(((dir &
		    LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) | ((dir &
		    LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0)));
		if ((dir & LIBNBD_AIO_DIRECTION_READ) && (ready & (POLLIN |
		    POLLHUP | POLLERR)))
			nbd_aio_notify_read(c->h);
		else if ((dir & LIBNBD_AIO_DIRECTION_WRITE) && (ready &
		    (POLLOUT | POLLHUP | POLLERR)))
			nbd_aio_notify_write(c->h);
		else
			break;
		if (nbd_aio_is_dead(c->h) == 1 || nbd_aio_is_closed(c->h) == 1)
			break;
	}
	store_kick(c);
}

/* Queue req on w's connection to st, made first where there is none. */
static void
store_queue(struct worker *w, struct store *st, struct store_req *req,
    enum store_kind kind, struct op *op, char *buf, uint64_t off,
    uint64_t len)
{
	struct store_conn *c = store_conn_get(st, w);

	req->op = op;
	req->kind = kind;
	req->c = c;
	req->buf = buf;
	req->off = off;
	req->len = len;
	req->tries = 0;
	TAILQ_INSERT_TAIL(&c->waiting, req, entry);
	if (!c->kick.pending)
		worker_timer_add(w, &c->kick, 0);
}

/*
 * Read len bytes of st at off into buf for io (a fault's window into the
 * store's page cache, or its buffer); the result comes as io's
 * completion.
 */
void
store_read(struct worker *w, struct fault_io *io, struct store *st,
    char *buf, uint64_t off, uint64_t len)
{
	struct store_req *req;

	if (store_reqs[w->index] == NULL && (store_reqs[w->index] = calloc(
	    (size_t)opts.queue_depth, sizeof *req)) == NULL)
		fatal("store %s: requests", st->name);
	req = &store_reqs[w->index][io - w->ios];
	req->pooled = 1;
	store_queue(w, st, req, STORE_READ, &io->op, buf, off, len);
}

/*
 * A write-back's write of len bytes at buf to st at off, or its flush, or
 * a snapshot's read (kind): the result comes as op's completion, the
 * bytes or -errno. A read-only export fails a write with the error
 * libnbd or the server gives.
 */
void
store_io(struct worker *w, struct store *st, enum store_kind kind,
    struct op *op, char *buf, uint64_t off, uint64_t len)
{
	struct store_req *req;
	struct io_uring_cqe cqe;

	if ((req = calloc(1, sizeof *req)) == NULL) {
		memset(&cqe, 0, sizeof cqe);
		cqe.res = -ENOMEM;
		op->done(op, &cqe);
		return;
	}
	store_queue(w, st, req, kind, op, buf, off, len);
}

/* --- Requests --------------------------------------------------------- */

/* A session asks for a store's page cache by name (or, LIST, the list). */
static void
store_open(struct session *s, const struct pd_store *req)
{
	char why[PD_REASON_MAX];
	struct store_conn *c;
	struct store_open *o;
	struct cache *cache;
	struct store *st;
	int allowed = 0;

	pthread_rwlock_rdlock(&store_lock);
	LIST_FOREACH(st, &stores, entry)
		if (strcmp(st->name, req->name) == 0)
			break;
	if (st != NULL)
		allowed = store_allows(st, s);
	pthread_rwlock_unlock(&store_lock);
	if (st == NULL || !allowed) {
		snprintf(why, sizeof why, st == NULL ? "store %s: no such "
		    "store in the configuration" : "store %s: uid %d is not "
		    "allowed to use it (allow-uid, allow-gid)", req->name,
		    (int)s->uid);
		session_refuse(s, req->hdr.seq, st == NULL ? -ENOENT : -EACCES,
		    0, why);
		return;
	}
	c = store_conn_get(st, s->worker);
	if (c->state == CONN_READY) {
		if (cache_open_store(st, STORE_GET(st->size), s->uid, &cache,
		    why, sizeof why) != 0)
			session_refuse(s, req->hdr.seq, -EINVAL, 0, why);
		else
			session_cache_give(s, req->hdr.seq, cache);
		return;
	}
	if ((o = calloc(1, sizeof *o)) == NULL) {
		session_refuse(s, req->hdr.seq, -ENOMEM, 0, "store: out of "
		    "memory");
		return;
	}
	o->s = s;
	o->seq = req->hdr.seq;
	s->inflight++;
	TAILQ_INSERT_TAIL(&c->opens, o, entry);
	if (c->state == CONN_IDLE || c->state == CONN_FAILED) {
		c->attempts = 0;
		store_connect(c);
	}
}

static void
store_info(struct session *s, uint32_t seq, struct store *st, int retired)
{
	union pd_msg msg;
	struct pd_store_info *si = &msg.store_info;

	proto_init(&msg, PD_MSG_STORE_INFO, seq);
	strlcpy(si->name, st->name, sizeof si->name);
	si->allowed = store_allows(st, s);
	if (si->allowed) {
		strlcpy(si->uri, st->uri, sizeof si->uri);
		strlcpy(si->error, st->error, sizeof si->error);
	}
	si->state = retired ? PD_STORE_RETIRED : (uint32_t)STORE_GET(st->state);
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

	pthread_rwlock_rdlock(&store_lock);
	LIST_FOREACH(st, &stores, entry) {
		store_info(s, seq, st, 0);
		n++;
	}
	LIST_FOREACH(st, &store_retired, entry) {
		store_info(s, seq, st, 1);
		n++;
	}
	pthread_rwlock_unlock(&store_lock);
	session_reply(s, seq, 0, n, 0, NULL);
}

void
store_request(struct session *s, const struct pd_store *req)
{
	if (req->flags & PD_STORE_LIST)
		store_list(s, req->hdr.seq);
	else if (s->role != PD_ROLE_CLIENT)
		session_refuse(s, req->hdr.seq, -EPERM, 0, "store: a control "
		    "session lists stores (PD_STORE_LIST); clients map them");
	else
		store_open(s, req);
}

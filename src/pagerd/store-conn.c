/*
 * Each worker's connection to a store (store.c), made on first use and
 * shared by every client of the worker, and the reads and writes sent on
 * it through libnbd's asynchronous API, driven by the worker's io_uring.
 *
 * The connection's socket is polled in the worker's ring with the events
 * nbd_aio_get_direction() asks for, polled again when they change (a
 * generation number tells a stale poll), and libnbd is told with
 * nbd_aio_notify_read/write. libnbd's callbacks only record a result on a
 * list: what follows (installing pages, a retry) runs after libnbd has
 * returned, never within it.
 *
 * A connection is started (nbd_aio_connect_uri) on a thread of its own:
 * libnbd resolves a host name with getaddrinfo, which blocks for as long
 * as the resolver takes, and a worker must never wait for a name server.
 *
 * A connection that dies is made again, a few times with a growing pause;
 * the requests it owed are sent again on the new one. When every attempt
 * fails, they fail: their faults get SIGBUS, never zeros.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "store.h"


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
	CONN_RESOLVING,		/* the connecting thread has the handle */
	CONN_CONNECTING,
	CONN_READY,
	CONN_BACKOFF,		/* lost: made again when its timer runs */
	CONN_FAILED,		/* every attempt failed: made again on use */
};

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
	uid_t uid;		/* whose fault or write-back: its log lines */
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
	TAILQ_HEAD(, store_wait) waits; /* for the connection */
	unsigned int attempts;	/* failed in a row */
	struct timer retry;
	struct timer deadline;	/* store-connect-timeout: ready by then */
	int timed_out;		/* while the connecting thread had it */
	int fail_error;		/* what waiting requests fail with, 0:
				   ENOTCONN, EHOSTUNREACH */
	struct timer kick;	/* new requests go after this round */
	int busy;		/* in store_kick: again, not within */
	int again;
	struct job connected;	/* back from the connecting thread, */
	int connect_rc;		/* with nbd_aio_connect_uri's result */
	char why[256];		/* and error (libnbd's is per thread) */
	struct job closer;	/* the store is unused: close, free */
	int closing;
};

/* Per worker: a request per io, by the io's index. */
static struct store_req *store_reqs[PAGERD_MAX_WORKERS];
/*
 * Connecting threads post back to their workers until the daemon stops:
 * then the workers' job pipes close, and a late one posts nothing.
 */
static pthread_mutex_t store_connect_lock = PTHREAD_MUTEX_INITIALIZER;
static int store_connect_stopped;

static void store_kick(struct store_conn *);
static void store_deadline_run(struct worker *, struct timer *);
static void store_connect(struct store_conn *);
static void store_connected(struct worker *, struct job *);
static void store_conn_close_run(struct worker *, struct job *);
static void store_conn_done(struct store_conn *);
static void store_poll_done(struct op *, const struct io_uring_cqe *);

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
	TAILQ_INIT(&c->waits);
	c->retry.run = store_retry_run;
	c->deadline.run = store_deadline_run;
	c->kick.run = store_kick_run;
	c->connected.run = store_connected;
	c->closer.run = store_conn_close_run;
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
			/* As many as the client faults or writes back. */
			if (session_log_allow(req->uid, LOG_WARNING))
				log_warnx("store %s: uid %u: %s of 0x%" PRIx64
				    "+0x%" PRIx64 ": %s", c->store->name,
				    (unsigned int)req->uid, req->kind ==
				    STORE_READ ? "read" : req->kind ==
				    STORE_WRITE ? "write" : "flush", req->off,
				    req->len, nbd_get_error());
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

/* A wait is over: its request goes on, or fails with why. */
static void
store_wait_end(struct store_wait *w, struct store *st, int error,
    const char *why)
{
	struct session *s = w->s;

	w->ready(w, st, error, why);
	session_unref(s);
}

/* Every waiting request and wait fails: the store cannot be reached. */
static void
store_fail_waiting(struct store_conn *c)
{
	struct store_req *req;
	struct store_wait *w;
	char reason[PD_REASON_MAX];

	while ((req = TAILQ_FIRST(&c->waiting)) != NULL) {
		TAILQ_REMOVE(&c->waiting, req, entry);
		store_req_end(req, c->fail_error != 0 ? -c->fail_error :
		    -ENOTCONN);
	}
	pthread_rwlock_rdlock(&store_lock);
	snprintf(reason, sizeof reason, "store %s: cannot be reached: %s",
	    c->store->name, c->store->error);
	pthread_rwlock_unlock(&store_lock);
	while ((w = TAILQ_FIRST(&c->waits)) != NULL) {
		TAILQ_REMOVE(&c->waits, w, entry);
		store_wait_end(w, c->store, c->fail_error != 0 ?
		    -c->fail_error : -EHOSTUNREACH, reason);
	}
}

/* Requests that waited for the export's size go on. */
static void
store_answer_waits(struct store_conn *c)
{
	struct store_wait *w;

	while ((w = TAILQ_FIRST(&c->waits)) != NULL) {
		TAILQ_REMOVE(&c->waits, w, entry);
		store_wait_end(w, c->store, 0, NULL);
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

/* Let the connection go (it is made again if used). */
static void
store_hangup(struct store_conn *c)
{
	store_unpoll(c);
	worker_timer_del(c->w, &c->deadline);
	if (c->state == CONN_READY)
		STORE_ADD(c->store->nconns, -1u);
	nbd_close(c->h);
	c->h = NULL;
	c->fd = -1;
	c->state = CONN_IDLE;
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

	if (c->h == NULL || c->state == CONN_RESOLVING)
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
	const char *err = c->why[0] != '\0' ? c->why : nbd_get_error();
	uint64_t pause;

	store_set_error(st, "%s: %s", what, err != NULL ? err : "closed");
	log_warnx("store %s: worker %d: %s %s: %s", st->name, c->w->index,
	    what, st->uri, err != NULL ? err : "the server closed the "
	    "connection");
	c->why[0] = '\0';
	/* Its requests' free callbacks run: they go on the done list. */
	store_hangup(c);
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

/*
 * The connecting thread: libnbd resolves the URI's host and starts the
 * connection; the worker takes the handle back (store_connected).
 */
static void *
store_connect_thread(void *arg)
{
	struct store_conn *c = arg;
	const char *err;
	sigset_t all;

	/* Signals are the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	c->connect_rc = nbd_aio_connect_uri(c->h, c->store->uri);
	if (c->connect_rc == -1) {
		err = nbd_get_error();
		strlcpy(c->why, err != NULL ? err : "nbd_aio_connect_uri "
		    "failed", sizeof c->why);
	}
	pthread_mutex_lock(&store_connect_lock);
	if (!store_connect_stopped)
		worker_post(c->w, &c->connected);
	pthread_mutex_unlock(&store_connect_lock);
	return NULL;
}

/* The handle is the worker's again: connecting, or failed to. */
static void
store_connected(struct worker *w, struct job *j)
{
	struct store_conn *c = container_of(j, struct store_conn, connected);

	(void)w;
	c->state = CONN_CONNECTING;
	if (c->closing) {
		store_conn_done(c);
		return;
	}
	/* Given up meanwhile (store_deadline_run): failed, as it said. */
	if (c->timed_out) {
		c->timed_out = 0;
		store_hangup(c);
		c->state = CONN_FAILED;
		store_kick(c);
		return;
	}
	/* A failure leaves fd -1: store_step takes it as a lost connection. */
	c->fd = c->connect_rc == -1 ? -1 : nbd_aio_get_fd(c->h);
	store_kick(c);
}

/* Start connecting (a new handle); failures go by store_lost. */
static void
store_connect(struct store_conn *c)
{
	struct store *st = c->store;
	pthread_attr_t attr;
	pthread_t t;
	int error, timeout = config_get(CONFIG_STORE_CONNECT_TIMEOUT);

	c->state = CONN_CONNECTING;
	c->fail_error = 0;
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
	if (timeout > 0)
		worker_timer_add(c->w, &c->deadline, monotonic_ns() +
		    (uint64_t)timeout * 1000000000u);
	c->state = CONN_RESOLVING;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	error = pthread_create(&t, &attr, store_connect_thread, c);
	pthread_attr_destroy(&attr);
	if (error != 0) {
		c->connect_rc = -1;
		snprintf(c->why, sizeof c->why, "a connecting thread: %s",
		    strerror(error));
		store_connected(c->w, &c->connected);
	}
}

/*
 * store-connect-timeout: the server took the connection and never
 * answered the handshake (or the name server never answered). Trying
 * again would only make every fault wait as long once more: what waits
 * fails now with ETIMEDOUT, and the next use connects again.
 */
static void
store_deadline_run(struct worker *w, struct timer *t)
{
	struct store_conn *c = container_of(t, struct store_conn, deadline);
	struct store *st = c->store;
	int timeout = config_get(CONFIG_STORE_CONNECT_TIMEOUT);

	if (c->state != CONN_RESOLVING && c->state != CONN_CONNECTING)
		return;
	/* pagerctl stores shows the URI: the reason first, whole. */
	store_set_error(st, "no NBD handshake within %d s "
	    "(store-connect-timeout)", timeout);
	log_warnx("store %s: worker %d: connect to %s: no NBD handshake "
	    "within %d s (store-connect-timeout); its requests fail until it "
	    "is used again", st->name, w->index, st->uri, timeout);
	STORE_SET(st->state, PD_STORE_FAILING);
	c->fail_error = ETIMEDOUT;
	c->attempts = 0;
	if (c->state == CONN_RESOLVING) {
		/* The connecting thread has the handle: store_connected. */
		c->timed_out = 1;
		store_fail_waiting(c);
		return;
	}
	store_hangup(c);
	c->state = CONN_FAILED;
	store_kick(c);
}

/* Where the handle is now: connected, lost, or still on its way. */
static void
store_step(struct store_conn *c)
{
	struct store *st = c->store;
	int64_t size;

	if (c->h == NULL || c->state == CONN_RESOLVING)
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
	worker_timer_del(c->w, &c->deadline);
	c->state = CONN_READY;
	c->attempts = 0;
	STORE_ADD(st->nconns, 1);
	STORE_SET(st->size, (uint64_t)size);
	STORE_SET(st->readonly, nbd_is_read_only(c->h) == 1);
	STORE_SET(st->state, PD_STORE_READY);
	log_debug("store %s: worker %d: connected to %s, %" PRId64 " bytes",
	    st->name, c->w->index, st->uri, size);
	store_answer_waits(c);
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
		if (c->state == CONN_FAILED || c->timed_out)
			store_fail_waiting(c);
		store_send(c);
		store_reap(c);
		store_arm(c);
		/* Idle and retired: let go (it is made again if used). */
		if (c->state == CONN_READY && STORE_GET(c->store->retired) &&
		    TAILQ_EMPTY(&c->out) && TAILQ_EMPTY(&c->waiting))
			store_hangup(c);
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
	if (c->closing) {
		store_conn_done(c);
		return;
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
    uid_t uid, enum store_kind kind, struct op *op, char *buf, uint64_t off,
    uint64_t len)
{
	struct store_conn *c = store_conn_get(st, w);

	req->op = op;
	req->uid = uid;
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
	store_queue(w, st, req, io->s->uid, STORE_READ, &io->op, buf, off,
	    len);
}

/*
 * A write-back's write of len bytes at buf to st at off, or its flush, or
 * a snapshot's read (kind): the result comes as op's completion, the
 * bytes or -errno. A read-only export fails a write with the error
 * libnbd or the server gives. Session s's worker sends it.
 */
void
store_io(struct session *s, struct store *st, enum store_kind kind,
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
	store_queue(s->worker, st, req, s->uid, kind, op, buf, off, len);
}

/*
 * w's request goes on once its session's worker is connected to st (at
 * once where it is): store.c has found that the session may use st.
 */
void
store_conn_wait(struct store *st, struct store_wait *w)
{
	struct store_conn *c;

	c = store_conn_get(st, w->s->worker);
	w->s->inflight++;
	if (c->state == CONN_READY) {
		store_wait_end(w, st, 0, NULL);
		return;
	}
	TAILQ_INSERT_TAIL(&c->waits, w, entry);
	/* Given up, the connecting thread not back yet: no use waiting. */
	if (c->timed_out) {
		store_fail_waiting(c);
		return;
	}
	if (c->state == CONN_IDLE || c->state == CONN_FAILED) {
		c->attempts = 0;
		store_connect(c);
	}
}

/*
 * A closing connection goes once the connecting thread and its polls are
 * back; the last of a store's frees the store.
 */
static void
store_conn_done(struct store_conn *c)
{
	struct store *st = c->store;
	int i;

	if (c->state == CONN_RESOLVING)
		return;			/* store_connected comes back */
	if (c->h != NULL)
		store_hangup(c);
	for (i = 0; i < STORE_POLLS; i++)
		if (c->polls[i].op.armed)
			return;		/* store_poll_done comes back */
	__atomic_store_n(&st->conns[c->w->index], NULL, __ATOMIC_RELEASE);
	free(c);
	if (__atomic_sub_fetch(&st->closing, 1, __ATOMIC_ACQ_REL) == 0)
		store_free(st);
}

/* The store is unused: its worker closes this connection. */
static void
store_conn_close_run(struct worker *w, struct job *j)
{
	struct store_conn *c = container_of(j, struct store_conn, closer);

	c->closing = 1;
	worker_timer_del(w, &c->retry);
	worker_timer_del(w, &c->deadline);
	worker_timer_del(w, &c->kick);
	store_conn_done(c);
}

/*
 * st is unused (its last reference went): each worker with a connection
 * to it closes it, and the last frees st. Returns how many there are; 0:
 * none, the caller frees st.
 */
int
store_conn_close_all(struct store *st)
{
	struct store_conn *conns[PAGERD_MAX_WORKERS];
	int i, n = 0;

	for (i = 0; i < PAGERD_MAX_WORKERS; i++)
		if ((conns[n] = __atomic_load_n(&st->conns[i],
		    __ATOMIC_ACQUIRE)) != NULL)
			n++;
	if (n == 0)
		return 0;
	__atomic_store_n(&st->closing, n, __ATOMIC_RELEASE);
	/* st may be gone once the last is posted: the list is ours. */
	for (i = 0; i < n; i++)
		worker_post(conns[i]->w, &conns[i]->closer);
	return n;
}

/* The daemon stops: connecting threads post back no more. */
void
store_conn_stop(void)
{
	pthread_mutex_lock(&store_connect_lock);
	store_connect_stopped = 1;
	pthread_mutex_unlock(&store_connect_lock);
}

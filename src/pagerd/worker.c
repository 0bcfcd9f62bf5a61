/*
 * Worker threads. Each owns an io_uring, the sessions handed to it and
 * the fault path's pool of read buffers (fault-pool.c); everything a
 * session does happens on its worker, so nothing on the fault path takes
 * a lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"

/*
 * A poll removal's completion carries its poll's op with the low bit set
 * (ops are at least 4-byte aligned), so that a removal that came while
 * the poll was busy (-EALREADY) can be tried again.
 */
#define CANCEL_TAG 1ull

/* Seconds a stopping worker waits for its sessions' last completions. */
#define WORKER_STOP_WAIT 5

/* I/O threads beyond one a read, for write-backs and snapshots. */
#define WORKER_WB_THREADS 16

static void *worker_main(void *);
static void worker_arm_tick(struct worker *);
static void worker_handoff_done(struct op *, const struct io_uring_cqe *);

struct io_uring_sqe *
worker_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe;

	if ((sqe = ring_get_sqe(&w->ring)) != NULL)
		return sqe;
	/* The submission queue is full: flush it and take a fresh entry. */
	ring_submit(&w->ring);
	if ((sqe = ring_get_sqe(&w->ring)) == NULL)
		fatalx("worker %d: io_uring submission queue stuck", w->index);
	return sqe;
}

/* Arm a multishot poll for input on fd; op->armed until its last CQE. */
void
worker_arm_poll(struct worker *w, struct op *op, int fd)
{
	struct io_uring_sqe *sqe = worker_sqe(w);

	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	io_uring_sqe_set_data(sqe, op);
	op->armed = 1;
}

void
worker_cancel_poll(struct worker *w, struct op *op)
{
	struct io_uring_sqe *sqe;

	if (!op->armed)
		return;
	sqe = worker_sqe(w);
	io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)op);
	io_uring_sqe_set_data64(sqe, (__u64)(uintptr_t)op | CANCEL_TAG);
}

/*
 * Cancel the requests of a backing-file I/O (op: every one that carries
 * it): one blocked in a file system is interrupted, if the file system
 * lets it be. Its completion comes as usual, -ECANCELED or -EINTR when
 * the cancel took. The fallback cannot cancel; it refuses.
 */
void
worker_cancel_io(struct worker *w, struct op *op)
{
	struct io_uring_sqe *sqe = worker_sqe(w);

	io_uring_prep_cancel64(sqe, (__u64)(uintptr_t)op,
	    IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, (__u64)(uintptr_t)op | CANCEL_TAG);
}

/*
 * The watchdog's tick: a worker that comes round its loop to count it is
 * not stuck. The acceptor checks the counts and tells systemd.
 */
static void
worker_arm_tick(struct worker *w)
{
	struct io_uring_sqe *sqe = worker_sqe(w);

	io_uring_prep_timeout(sqe, &w->tick, 0, 0);
	io_uring_sqe_set_data(sqe, &w->tick_op);
}

static void
worker_tick(struct op *op, const struct io_uring_cqe *cqe)
{
	struct worker *w = container_of(op, struct worker, tick_op);

	(void)cqe;
	__atomic_add_fetch(&w->heartbeat, 1, __ATOMIC_RELAXED);
	w->hooks->tick(w);
	if (!w->stop)
		worker_arm_tick(w);
}

/* Run t at due (ns), or after this round's completions if due is 0. */
void
worker_timer_add(struct worker *w, struct timer *t, uint64_t due)
{
	struct timer *after;

	worker_timer_del(w, t);
	t->due = due;
	TAILQ_FOREACH_REVERSE(after, &w->timers, timer_list, entry)
		if (after->due <= due)
			break;
	if (after != NULL)
		TAILQ_INSERT_AFTER(&w->timers, after, t, entry);
	else
		TAILQ_INSERT_HEAD(&w->timers, t, entry);
	t->pending = 1;
}

void
worker_timer_del(struct worker *w, struct timer *t)
{
	if (!t->pending)
		return;
	TAILQ_REMOVE(&w->timers, t, entry);
	t->pending = 0;
}

/*
 * The timers that were due when the round's timers began: one that adds
 * itself again as due at once waits for the next round, never holds the
 * loop.
 */
static void
worker_run_timers(struct worker *w)
{
	struct timer *t;
	unsigned int n = 0;
	uint64_t now;

	if (TAILQ_EMPTY(&w->timers))
		return;
	now = monotonic_ns();
	TAILQ_FOREACH(t, &w->timers, entry) {
		if (t->due > now)
			break;
		n++;
	}
	while (n-- > 0 && (t = TAILQ_FIRST(&w->timers)) != NULL &&
	    t->due <= now) {
		worker_timer_del(w, t);
		t->run(w, t);
	}
}

/* The worker stops: timers that run at once then are due now. */
static void
worker_stop_timers(struct worker *w)
{
	struct timer *t, *next;

	TAILQ_FOREACH_SAFE(t, &w->timers, entry, next)
		if (t->at_stop)
			worker_timer_add(w, t, 0);
}

/* A worker whose events go to hooks. */
void
worker_init(struct worker *w, int index, const struct worker_hooks *hooks)
{
	char why[256];

	w->index = index;
	w->hooks = hooks;
	TAILQ_INIT(&w->sessions);
	TAILQ_INIT(&w->starved);
	TAILQ_INIT(&w->timers);
	pthread_mutex_init(&w->table_lock, NULL);
	pthread_mutex_init(&w->jobs_lock, NULL);
	STAILQ_INIT(&w->jobs);
	if (pipe2(w->handoff, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("worker %d: pipe2", index);

	if (ring_init(&w->ring, (unsigned int)opts.queue_depth * 2 + 64, why,
	    sizeof why) != 0)
		fatalx("worker %d: %s", index, why);
	/* A thread for every read and some write-backs, stuck or not. */
	ring_io_threads(&w->ring, (unsigned int)opts.queue_depth +
	    WORKER_WB_THREADS);

	w->handoff_op.done = worker_handoff_done;
	worker_arm_poll(w, &w->handoff_op, w->handoff[0]);
	w->tick_op.done = worker_tick;
	if (opts.tick_us > 0) {
		w->tick.tv_sec = (long long)(opts.tick_us / 1000000);
		w->tick.tv_nsec = (long long)(opts.tick_us % 1000000) * 1000;
		worker_arm_tick(w);
	}
}

/* Run the worker on a thread of its own. */
void
worker_spawn(struct worker *w)
{
	int ret;

	if ((ret = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
		errno = ret;
		fatal("worker %d: pthread_create", w->index);
	}
}

/* Hand a newly accepted session socket to this worker. */
void
worker_handoff(struct worker *w, int fd)
{
	if (write(w->handoff[1], &fd, sizeof fd) != sizeof fd) {
		log_warn("worker %d: handoff of a new session", w->index);
		if (fd != -1)
			close(fd);
	}
}

/* The handoff pipe's word for "jobs are waiting" (and -1 is "stop"). */
#define HANDOFF_JOBS -2

/* Give w a job to run on its own thread. */
void
worker_post(struct worker *w, struct job *j)
{
	int word = HANDOFF_JOBS;

	pthread_mutex_lock(&w->jobs_lock);
	STAILQ_INSERT_TAIL(&w->jobs, j, entry);
	pthread_mutex_unlock(&w->jobs_lock);
	while (write(w->handoff[1], &word, sizeof word) != sizeof word) {
		if (errno != EAGAIN && errno != EINTR)
			fatal("worker %d: post", w->index);
		usleep(1000);
	}
}

static void
worker_run_jobs(struct worker *w)
{
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&w->jobs_lock);
		if ((j = STAILQ_FIRST(&w->jobs)) != NULL)
			STAILQ_REMOVE_HEAD(&w->jobs, entry);
		pthread_mutex_unlock(&w->jobs_lock);
		if (j == NULL)
			return;
		j->run(w, j);
	}
}

/* Ask the worker to close its sessions and leave its loop. */
void
worker_stop(struct worker *w)
{
	int fd = -1;

	while (write(w->handoff[1], &fd, sizeof fd) != sizeof fd) {
		if (errno != EAGAIN && errno != EINTR)
			fatal("worker %d: stop", w->index);
		usleep(1000);
	}
}

/* Wait for a stopped worker (joining its thread, if it has one). */
void
worker_join(struct worker *w)
{
	if (w->index > 0)
		pthread_join(w->thread, NULL);
	ring_exit(&w->ring);
	close(w->handoff[0]);
	close(w->handoff[1]);
}

static void
worker_read_handoff(struct worker *w)
{
	int fd;

	while (read(w->handoff[0], &fd, sizeof fd) == sizeof fd) {
		if (fd == HANDOFF_JOBS) {
			worker_run_jobs(w);
			continue;
		}
		if (fd != -1) {
			w->hooks->accept(w, fd);
			continue;
		}
		w->stop = 1;
		worker_cancel_poll(w, &w->handoff_op);
		w->hooks->stop(w);
		worker_stop_timers(w);
	}
}

static void
worker_handoff_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct worker *w = container_of(op, struct worker, handoff_op);

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		op->armed = 0;
		if (!w->stop)
			worker_arm_poll(w, op, w->handoff[0]);
	}
	worker_read_handoff(w);
}

static void
worker_dispatch(struct worker *w, const struct io_uring_cqe *cqe)
{
	struct op *op;

	if (cqe->user_data & CANCEL_TAG) {
		/*
		 * Only a busy poll is still alive here: its last completion,
		 * which frees what holds it, comes after this one. (An I/O's
		 * op, never armed, lives in the worker's array of ios.)
		 */
		op = (struct op *)(uintptr_t)(cqe->user_data & ~CANCEL_TAG);
		if (cqe->res == -EALREADY && op->armed) {
			log_debug("worker %d: a poll was busy when removed; "
			    "removing it again", w->index);
			worker_cancel_poll(w, op);
		}
		return;
	}
	op = io_uring_cqe_get_data(cqe);
	op->done(op, cqe);
}

static void *
worker_main(void *arg)
{
	worker_run(arg);
	return NULL;
}

void
worker_run(struct worker *w)
{
	struct __kernel_timespec tick = { .tv_sec = 1 }, wait;
	struct io_uring_cqe cqes[64];
	unsigned int i, n, poll_us;
	uint64_t due, now, rest;
	int ret, stopping = 0, busy = 0;

	for (;;) {
		if (w->stop && w->sessions_alive == 0 && !w->handoff_op.armed)
			break;
		/* Busy a moment ago: the next fault is likely near. */
		poll_us = (unsigned int)config_get(CONFIG_POLL_US);
		if (busy && !w->stop && poll_us > 0 &&
		    ring_poll(&w->ring, poll_us))
			ret = 0;
		else if (!w->stop && !TAILQ_EMPTY(&w->timers)) {
			/* Until the next timer at the latest. */
			due = TAILQ_FIRST(&w->timers)->due;
			now = monotonic_ns();
			rest = due > now ? due - now : 0;
			wait.tv_sec = (long long)(rest / 1000000000u);
			wait.tv_nsec = (long long)(rest % 1000000000u);
			ret = ring_wait(&w->ring, &wait);
		} else if (!w->stop)
			ret = ring_wait(&w->ring, NULL);
		else {
			/*
			 * Closing sessions wait for their last completions;
			 * should one never come, shutdown must not hang:
			 * ring_exit cancels whatever is left.
			 */
			ret = ring_wait(&w->ring, &tick);
			if (ret == -ETIME && ++stopping >= WORKER_STOP_WAIT) {
				log_warnx("worker %d: %d sessions still wait "
				    "for completions; leaving them", w->index,
				    w->sessions_alive);
				break;
			}
		}
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -ETIME)
			fatalx("worker %d: waiting for completions: %s",
			    w->index, strerror(-ret));
		busy = 0;
		while ((n = ring_peek(&w->ring, cqes, 64)) > 0) {
			ring_advance(&w->ring, n);
			for (i = 0; i < n; i++)
				worker_dispatch(w, &cqes[i]);
			busy = 1;
		}
		worker_run_timers(w);
	}
}

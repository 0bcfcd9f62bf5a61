/*
 * A worker's ring: io_uring, or, where the system refuses io_uring
 * (kernel.io_uring_disabled, a seccomp filter, ENOSYS), the same
 * submission and completion entries served without it: polls with epoll
 * (edge-triggered, as io_uring's multishot polls fire on wake-ups), reads,
 * writes and fsyncs by threads doing pread/pwrite/fdatasync (a few, and
 * more while every one is busy: one may wait forever on a file), and the
 * one timeout a worker arms by epoll_wait's. The rest of the daemon fills
 * entries with liburing's io_uring_prep_* and never knows which it has.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "log.h"
#include "pagerd.h"

/* Threads per worker doing the file I/O of the fallback, at first. */
#define COMPAT_IO_THREADS 4
/* Seconds ring_exit waits for the fallback's I/O threads. */
#define COMPAT_EXIT_WAIT 2

/* epoll data of the completion eventfd: never an op's address. */
#define COMPAT_WAKE_DATA 1ull

struct compat_io {
	STAILQ_ENTRY(compat_io) entry;
	struct io_uring_sqe sqe;
	int res;
};

struct compat_poll {
	uint64_t user_data;
	int fd;
};

struct compat {
	struct io_uring_sqe *sq;	/* prepared, not yet submitted */
	size_t nsq, capsq;
	struct io_uring_cqe *cq;	/* completions to hand out */
	size_t cqhead, ncq, capcq;
	struct compat_poll *polls;
	size_t npolls, cappolls;
	int epfd;
	int wakefd;			/* eventfd: I/O threads finished some */
	uint64_t timeout_data;		/* the armed timeout's, 0: none */
	struct timespec timeout_at;
	/* The I/O threads' queues, oldest first. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	STAILQ_HEAD(, compat_io) queued;	/* for the I/O threads */
	STAILQ_HEAD(, compat_io) finished;	/* for the worker */
	unsigned int nqueued;
	unsigned int idle;		/* threads waiting for I/O */
	int stop;
	pthread_t *threads;
	unsigned int nthreads, maxthreads;
};

static int ring_compat_said;

static void
compat_cqe(struct compat *c, uint64_t user_data, int res, uint32_t flags)
{
	struct io_uring_cqe *n;

	if (c->cqhead > 0 && c->cqhead == c->ncq)
		c->cqhead = c->ncq = 0;
	if (c->ncq == c->capcq) {
		c->capcq = c->capcq ? c->capcq * 2 : 256;
		if ((n = reallocarray(c->cq, c->capcq, sizeof *n)) == NULL)
			fatal("ring: completions");
		c->cq = n;
	}
	c->cq[c->ncq].user_data = user_data;
	c->cq[c->ncq].res = res;
	c->cq[c->ncq].flags = flags;
	c->ncq++;
}

static void *
compat_io_main(void *arg)
{
	struct compat *c = arg;
	struct compat_io *io;
	const struct io_uring_sqe *e;
	uint64_t one = 1;
	ssize_t n;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		c->idle++;
		while (STAILQ_EMPTY(&c->queued) && !c->stop)
			pthread_cond_wait(&c->cond, &c->lock);
		c->idle--;
		if (c->stop) {
			pthread_mutex_unlock(&c->lock);
			return NULL;
		}
		io = STAILQ_FIRST(&c->queued);
		STAILQ_REMOVE_HEAD(&c->queued, entry);
		c->nqueued--;
		pthread_mutex_unlock(&c->lock);

		e = &io->sqe;
		switch (e->opcode) {
		case IORING_OP_READ:
		case IORING_OP_READ_FIXED:
			n = pread(e->fd, (void *)(uintptr_t)e->addr, e->len,
			    (off_t)e->off);
			break;
		case IORING_OP_WRITE:
			n = pwrite(e->fd, (const void *)(uintptr_t)e->addr,
			    e->len, (off_t)e->off);
			break;
		default:	/* IORING_OP_FSYNC */
			n = (e->fsync_flags & IORING_FSYNC_DATASYNC) ?
			    fdatasync(e->fd) : fsync(e->fd);
			break;
		}
		io->res = n == -1 ? -errno : (int)n;
		pthread_mutex_lock(&c->lock);
		STAILQ_INSERT_TAIL(&c->finished, io, entry);
		pthread_mutex_unlock(&c->lock);
		if (write(c->wakefd, &one, sizeof one) == -1) {
			/* A full counter still wakes the loop. */
		}
	}
}

/* One more I/O thread, under c->lock; 0 or an errno. */
static int
compat_add_thread(struct compat *c)
{
	int error;

	error = pthread_create(&c->threads[c->nthreads], NULL, compat_io_main,
	    c);
	if (error == 0)
		c->nthreads++;
	return error;
}

static int
compat_init(struct ring *r, char *why, size_t whylen)
{
	struct epoll_event ev = { .events = EPOLLIN,
	    .data.u64 = COMPAT_WAKE_DATA };
	struct compat *c;
	int i, error;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return -ENOMEM;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->epfd == -1 || c->wakefd == -1 ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wakefd, &ev) == -1) {
		snprintf(why, whylen, "epoll: %s", strerror(errno));
		return -errno;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	STAILQ_INIT(&c->queued);
	STAILQ_INIT(&c->finished);
	c->maxthreads = COMPAT_IO_THREADS;
	if ((c->threads = calloc(c->maxthreads, sizeof *c->threads)) == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < COMPAT_IO_THREADS; i++)
		if ((error = compat_add_thread(c)) != 0) {
			pthread_mutex_unlock(&c->lock);
			snprintf(why, whylen, "pthread_create: %s",
			    strerror(error));
			return -error;
		}
	pthread_mutex_unlock(&c->lock);
	r->compat = c;
	return 0;
}

int
ring_init(struct ring *r, unsigned int entries, char *why, size_t whylen)
{
	struct io_uring_params p;
	int ret;

	memset(r, 0, sizeof *r);
	memset(&p, 0, sizeof p);
	/*
	 * Only the worker's own thread submits to its ring and waits on it,
	 * and it enters the kernel for every fault it serves, so a completion
	 * need not interrupt it (an inter-processor interrupt, a VM exit
	 * here): it runs at the worker's next system call. Kernels before
	 * 5.19 refuse the flag.
	 */
	p.flags = IORING_SETUP_CLAMP | IORING_SETUP_COOP_TASKRUN;
	if (getenv("PAGERD_NO_IO_URING") == NULL) {
		ret = io_uring_queue_init_params(entries, &r->uring, &p);
		if (ret == -EINVAL) {
			memset(&p, 0, sizeof p);
			p.flags = IORING_SETUP_CLAMP;
			ret = io_uring_queue_init_params(entries, &r->uring,
			    &p);
		}
		if (ret == 0) {
			if (!(p.features & IORING_FEAT_NODROP))
				log_warnx("kernel io_uring may drop completions "
				    "under overload");
			r->features = p.features;
			/*
			 * valgrind (3.19) holds its lock across io_uring_enter:
			 * a worker waiting in it would stop the acceptor's
			 * thread. It lets go across poll(2).
			 */
			r->poll_wait = RUNNING_ON_VALGRIND != 0;
			return 0;
		}
		if (ret != -EPERM && ret != -ENOSYS && ret != -EACCES) {
			snprintf(why, whylen, "io_uring_queue_init: %s",
			    strerror(-ret));
			return ret;
		}
		if (!__atomic_exchange_n(&ring_compat_said, 1,
		    __ATOMIC_RELAXED))
			log_warnx("io_uring is not available (%s: is "
			    "kernel.io_uring_disabled set, or a seccomp "
			    "filter?): serving with epoll and %d I/O threads "
			    "per worker instead", strerror(-ret),
			    COMPAT_IO_THREADS);
	} else if (!__atomic_exchange_n(&ring_compat_said, 1,
	    __ATOMIC_RELAXED))
		log_warnx("PAGERD_NO_IO_URING: serving with epoll and %d I/O "
		    "threads per worker", COMPAT_IO_THREADS);
	return compat_init(r, why, whylen);
}

int
ring_compat(const struct ring *r)
{
	return r->compat != NULL;
}

/*
 * Can the ring run a chain of splices that posts one completion: the
 * splice op (5.7) and IOSQE_CQE_SKIP_SUCCESS (5.17), whose failed step
 * posts its own completion and none for the steps it cancels?
 */
int
ring_can_splice_chain(struct ring *r)
{
	struct io_uring_probe *probe;
	int ok;

	if (r->compat != NULL || !(r->features & IORING_FEAT_CQE_SKIP))
		return 0;
	if ((probe = io_uring_get_probe_ring(&r->uring)) == NULL)
		return 0;
	ok = io_uring_opcode_supported(probe, IORING_OP_SPLICE);
	io_uring_free_probe(probe);
	return ok;
}

/*
 * Let up to n threads do the ring's file I/O at once: each read in flight
 * may be stuck in a file system, and must not keep the others waiting
 * for a thread. io_uring's bounded io-wq workers (by default 4 a CPU),
 * or the fallback's I/O threads, which it starts as they are needed.
 */
void
ring_io_threads(struct ring *r, unsigned int n)
{
	struct compat *c = r->compat;
	unsigned int vals[2] = { n, 0 };
	pthread_t *t;
	int ret;

	if (c == NULL) {
		if ((ret = io_uring_register_iowq_max_workers(&r->uring,
		    vals)) < 0)
			log_warnx("io_uring: at most %u I/O threads: %s", n,
			    strerror(-ret));
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (n > c->maxthreads && (t = reallocarray(c->threads, n,
	    sizeof *t)) != NULL) {
		c->threads = t;
		c->maxthreads = n;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Free submission entries; the fallback has room for any number. */
unsigned int
ring_sq_space(struct ring *r)
{
	if (r->compat != NULL)
		return UINT_MAX;
	return io_uring_sq_space_left(&r->uring);
}

int
ring_register_buffers(struct ring *r, const struct iovec *iov,
    unsigned int n)
{
	/* The fallback reads into the buffers' addresses as they are. */
	if (r->compat != NULL)
		return 0;
	return io_uring_register_buffers(&r->uring, iov, n);
}

struct io_uring_sqe *
ring_get_sqe(struct ring *r)
{
	struct compat *c = r->compat;
	struct io_uring_sqe *n;

	if (c == NULL)
		return io_uring_get_sqe(&r->uring);
	if (c->nsq == c->capsq) {
		c->capsq = c->capsq ? c->capsq * 2 : 64;
		if ((n = reallocarray(c->sq, c->capsq, sizeof *n)) == NULL)
			fatal("ring: submissions");
		c->sq = n;
	}
	memset(&c->sq[c->nsq], 0, sizeof c->sq[0]);
	return &c->sq[c->nsq++];
}

static void
compat_poll_remove(struct compat *c, uint64_t target, uint64_t user_data)
{
	size_t i;

	for (i = 0; i < c->npolls; i++)
		if (c->polls[i].user_data == target)
			break;
	if (i == c->npolls) {
		compat_cqe(c, user_data, -ENOENT, 0);
		return;
	}
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->polls[i].fd, NULL);
	c->polls[i] = c->polls[--c->npolls];
	compat_cqe(c, target, -ECANCELED, 0);
	compat_cqe(c, user_data, 0, 0);
}

static void
compat_poll_add(struct compat *c, const struct io_uring_sqe *e)
{
	struct epoll_event ev = { .data.u64 = e->user_data };
	struct compat_poll *n;

	ev.events = (e->poll32_events & POLLIN ? EPOLLIN : 0) |
	    (e->poll32_events & POLLOUT ? EPOLLOUT : 0) | EPOLLRDHUP | EPOLLET |
	    ((e->len & IORING_POLL_ADD_MULTI) ? 0 : EPOLLONESHOT);
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, e->fd, &ev) == -1) {
		compat_cqe(c, e->user_data, -errno, 0);
		return;
	}
	if (c->npolls == c->cappolls) {
		c->cappolls = c->cappolls ? c->cappolls * 2 : 64;
		if ((n = reallocarray(c->polls, c->cappolls, sizeof *n)) ==
		    NULL)
			fatal("ring: polls");
		c->polls = n;
	}
	c->polls[c->npolls].user_data = e->user_data;
	c->polls[c->npolls].fd = e->fd;
	c->npolls++;
}

static void
compat_submit(struct compat *c)
{
	struct io_uring_sqe *e;
	struct compat_io *io;
	struct timespec now;
	const struct __kernel_timespec *ts;
	size_t i;
	int error;

	for (i = 0; i < c->nsq; i++) {
		e = &c->sq[i];
		switch (e->opcode) {
		case IORING_OP_POLL_ADD:
			compat_poll_add(c, e);
			break;
		case IORING_OP_POLL_REMOVE:
			compat_poll_remove(c, e->addr, e->user_data);
			break;
		case IORING_OP_TIMEOUT:
			ts = (const struct __kernel_timespec *)(uintptr_t)
			    e->addr;
			clock_gettime(CLOCK_MONOTONIC, &now);
			c->timeout_data = e->user_data;
			c->timeout_at.tv_sec = now.tv_sec + ts->tv_sec +
			    (now.tv_nsec + ts->tv_nsec) / 1000000000;
			c->timeout_at.tv_nsec = (now.tv_nsec + ts->tv_nsec) %
			    1000000000;
			break;
		case IORING_OP_READ:
		case IORING_OP_READ_FIXED:
		case IORING_OP_WRITE:
		case IORING_OP_FSYNC:
			if ((io = calloc(1, sizeof *io)) == NULL)
				fatal("ring: I/O");
			io->sqe = *e;
			pthread_mutex_lock(&c->lock);
			STAILQ_INSERT_TAIL(&c->queued, io, entry);
			c->nqueued++;
			/* None idle: the busy ones may never come back. */
			if (c->nqueued > c->idle && c->nthreads <
			    c->maxthreads && (error = compat_add_thread(c)) != 0)
				log_warnx("ring: another I/O thread: %s",
				    strerror(error));
			pthread_cond_signal(&c->cond);
			pthread_mutex_unlock(&c->lock);
			break;
		default:
			compat_cqe(c, e->user_data, -EINVAL, 0);
			break;
		}
	}
	c->nsq = 0;
}

int
ring_submit(struct ring *r)
{
	if (r->compat == NULL)
		return io_uring_submit(&r->uring);
	compat_submit(r->compat);
	return 0;
}

static void
compat_reap_io(struct compat *c)
{
	STAILQ_HEAD(, compat_io) reaped = STAILQ_HEAD_INITIALIZER(reaped);
	struct compat_io *io;
	uint64_t count;

	if (read(c->wakefd, &count, sizeof count) == -1) {
		/* Nothing counted yet: the list says what is done. */
	}
	pthread_mutex_lock(&c->lock);
	STAILQ_CONCAT(&reaped, &c->finished);
	pthread_mutex_unlock(&c->lock);
	while ((io = STAILQ_FIRST(&reaped)) != NULL) {
		STAILQ_REMOVE_HEAD(&reaped, entry);
		compat_cqe(c, io->sqe.user_data, io->res, 0);
		free(io);
	}
}

static long
ms_until(const struct timespec *at)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (at->tv_sec - now.tv_sec) * 1000 + (at->tv_nsec - now.tv_nsec) /
	    1000000;
	return ms < 0 ? 0 : ms + 1;
}

/* ring_wait by poll(2) on the ring's descriptor, for valgrind. */
static int
ring_wait_poll(struct ring *r, const struct __kernel_timespec *ts)
{
	struct pollfd pfd = { .fd = r->uring.ring_fd, .events = POLLIN };
	int ret, ms = -1;

	if (ts != NULL)
		ms = (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) /
		    1000000);
	if ((ret = io_uring_submit(&r->uring)) < 0)
		return ret;
	if (io_uring_cq_ready(&r->uring) > 0)
		return 0;
	if ((ret = poll(&pfd, 1, ms)) == -1)
		return -errno;
	return ret == 0 ? -ETIME : 0;
}

/*
 * Submit, then wait until a completion is there, or for ts (NULL:
 * forever): 0, or -ETIME when ts passed first, or -errno.
 */
int
ring_wait(struct ring *r, const struct __kernel_timespec *ts)
{
	struct compat *c = r->compat;
	struct epoll_event evs[64];
	struct io_uring_cqe *cqe;
	struct timespec until;
	long ms, t;
	int n, i;

	if (c == NULL && r->poll_wait)
		return ring_wait_poll(r, ts);
	if (c == NULL) {
		if (ts == NULL)
			return io_uring_submit_and_wait(&r->uring, 1);
		return io_uring_submit_and_wait_timeout(&r->uring, &cqe, 1,
		    (struct __kernel_timespec *)(uintptr_t)ts, NULL);
	}
	compat_submit(c);
	if (ts != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += ts->tv_sec + (until.tv_nsec + ts->tv_nsec) /
		    1000000000;
		until.tv_nsec = (until.tv_nsec + ts->tv_nsec) % 1000000000;
	}
	while (c->ncq == c->cqhead) {
		ms = ts != NULL ? ms_until(&until) : -1;
		if (c->timeout_data != 0 && ((t = ms_until(&c->timeout_at)) <
		    ms || ms == -1))
			ms = t;
		n = epoll_wait(c->epfd, evs, 64, (int)ms);
		if (n == -1 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 == COMPAT_WAKE_DATA) {
				compat_reap_io(c);
				continue;
			}
			compat_cqe(c, evs[i].data.u64, (int)(evs[i].events &
			    (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP |
			    EPOLLRDHUP)), IORING_CQE_F_MORE);
		}
		if (c->timeout_data != 0 && ms_until(&c->timeout_at) <= 1 &&
		    c->ncq == c->cqhead) {
			compat_cqe(c, c->timeout_data, -ETIME, 0);
			c->timeout_data = 0;
		}
		if (ts != NULL && ms_until(&until) == 0 && c->ncq == c->cqhead)
			return -ETIME;
	}
	return 0;
}

/*
 * Submit, then look for a completion for up to us microseconds without
 * sleeping: 1 when one is there. A fault that comes while a worker polls
 * is taken without the wake-up of a sleeping thread, which on a virtual
 * machine costs tens of microseconds. The fallback does not poll.
 */
int
ring_poll(struct ring *r, unsigned int us)
{
	uint64_t end = monotonic_ns() + (uint64_t)us * 1000;
	struct io_uring_cqe *cqe;

	if (r->compat != NULL)
		return 0;
	io_uring_submit(&r->uring);
	do {
		/* Run the completions' task work, then look. */
		io_uring_get_events(&r->uring);
		if (io_uring_peek_cqe(&r->uring, &cqe) == 0)
			return 1;
	} while (monotonic_ns() < end);
	return 0;
}

/* Copy up to max completions out; ring_advance() consumes them. */
unsigned int
ring_peek(struct ring *r, struct io_uring_cqe *out, unsigned int max)
{
	struct compat *c = r->compat;
	struct io_uring_cqe *cqe;
	unsigned int n = 0;
	unsigned head;

	if (c == NULL) {
		io_uring_for_each_cqe(&r->uring, head, cqe) {
			if (n == max)
				break;
			out[n++] = *cqe;
		}
		return n;
	}
	for (; n < max && c->cqhead + n < c->ncq; n++)
		out[n] = c->cq[c->cqhead + n];
	return n;
}

void
ring_advance(struct ring *r, unsigned int n)
{
	if (r->compat == NULL)
		io_uring_cq_advance(&r->uring, n);
	else
		r->compat->cqhead += n;
}

void
ring_exit(struct ring *r)
{
	struct compat *c = r->compat;
	struct compat_io *io;
	struct timespec until;
	unsigned int i;

	if (c == NULL) {
		io_uring_queue_exit(&r->uring);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += COMPAT_EXIT_WAIT;
	for (i = 0; i < c->nthreads; i++)
		if (pthread_timedjoin_np(c->threads[i], NULL, &until) != 0) {
			/* Stuck in a file system: left with what it uses. */
			log_warnx("ring: an I/O thread is stuck in a read or "
			    "write; leaving it");
			r->compat = NULL;
			return;
		}
	free(c->threads);
	while ((io = STAILQ_FIRST(&c->queued)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->queued, entry);
		free(io);
	}
	while ((io = STAILQ_FIRST(&c->finished)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->finished, entry);
		free(io);
	}
	close(c->epfd);
	close(c->wakefd);
	free(c->sq);
	free(c->cq);
	free(c->polls);
	free(c);
	r->compat = NULL;
}

/*
 * The fault path's pool, one a worker: the read buffers (registered with
 * the worker's ring where the kernel and the memory lock limit allow)
 * with the ios that carry a read, and the pipes page caches fill through
 * by splice. Only the worker's own thread takes from it and gives back.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "fault.h"

/*
 * Pipes for filling page caches by splice, and the size each asks for:
 * pipe-max-size's default, what an unprivileged daemon may have. A fill
 * of a cache window (8 MiB) is a chain of 16 splices through one pipe.
 */
#define FAULT_FILL_PIPES 8
#define FAULT_FILL_PIPE_SIZE (1 << 20)

static int fault_pool_said;

struct fault_io *
fault_io_get(struct worker *w)
{
	struct fault_io *io = w->free_ios;

	if (io != NULL) {
		w->free_ios = io->next_free;
		w->nfree--;
	}
	return io;
}

void
fault_io_put(struct worker *w, struct fault_io *io)
{
	io->s = NULL;
	io->r = NULL;
	io->prefetch = 0;
	io->one = 0;
	io->sequential = 0;
	io->joined = io->next_joined = NULL;
	io->shared = 0;
	io->next_free = w->free_ios;
	w->free_ios = io;
	w->nfree++;
}

/*
 * Read buffers, registered with the ring where the kernel and the memory
 * lock limit allow it.
 */
static void
fault_pool_ios(struct worker *w)
{
	struct iovec *iov;
	int i, n = opts.queue_depth, ret;

	w->buf_size = (size_t)opts.readahead_max * page_size;
	w->bufs = mmap(NULL, w->buf_size * (size_t)n, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (w->bufs == MAP_FAILED)
		fatal("worker %d: mmap of %d read buffers", w->index, n);
	if ((w->ios = calloc((size_t)n, sizeof *w->ios)) == NULL)
		fatal("worker %d: calloc", w->index);
	if ((iov = calloc((size_t)n, sizeof *iov)) == NULL)
		fatal("worker %d: calloc", w->index);
	for (i = n - 1; i >= 0; i--) {
		w->ios[i].buf_index = (unsigned int)i;
		w->ios[i].buf = w->bufs + (size_t)i * w->buf_size;
		iov[i].iov_base = w->ios[i].buf;
		iov[i].iov_len = w->buf_size;
		fault_io_put(w, &w->ios[i]);
	}
	ret = ring_register_buffers(&w->ring, iov, (unsigned int)n);
	if (ret < 0)
		log_warnx("worker %d: read buffers not registered with "
		    "io_uring (%s; is RLIMIT_MEMLOCK below %zu KiB?): plain "
		    "reads, a little slower", w->index, strerror(-ret),
		    w->buf_size * (size_t)n / 1024);
	w->bufs_registered = ret >= 0;
	free(iov);
}

/* A fresh empty pipe of w->pipe_size bytes into p; -1 if refused. */
static int
fault_pipe_open(struct worker *w, struct fill_pipe *p)
{
	int size;

	if (pipe2(p->fd, O_CLOEXEC) == -1) {
		p->fd[0] = p->fd[1] = -1;
		return -1;
	}
	if ((size = fcntl(p->fd[1], F_SETPIPE_SZ, FAULT_FILL_PIPE_SIZE)) ==
	    -1 || (w->pipe_size != 0 && (size_t)size != w->pipe_size)) {
		close(p->fd[0]);
		close(p->fd[1]);
		p->fd[0] = p->fd[1] = -1;
		return -1;
	}
	w->pipe_size = (size_t)size;
	return 0;
}

/*
 * Page caches fill by splice from the file through a pipe into the memfd:
 * one copy, into pages the memfd need not zero. A read into the daemon's
 * mapping of the memfd faults each page in zeroed, then copies: a fill
 * by splice takes ~20% less (1.41 against 1.75 us a page of a hot file).
 */
static void
fault_pool_pipes(struct worker *w)
{
	const char *why = NULL;
	int i, made = 0;

	if (!ring_can_splice_chain(&w->ring))
		why = ring_compat(&w->ring) ? "no io_uring" :
		    "the kernel's io_uring has no splice chains";
	else
		why = cache_fill_by_reads();
	if (why == NULL) {
		if ((w->pipes = calloc(FAULT_FILL_PIPES, sizeof *w->pipes)) ==
		    NULL)
			fatal("worker %d: calloc", w->index);
		for (i = 0; i < FAULT_FILL_PIPES; i++)
			w->pipes[i].fd[0] = w->pipes[i].fd[1] = -1;
	}
	for (i = 0; why == NULL && i < FAULT_FILL_PIPES; i++) {
		if (fault_pipe_open(w, &w->pipes[i]) == -1)
			break;
		fault_pipe_put(w, &w->pipes[i]);
		made++;
	}
	if (why == NULL && made == 0) {
		why = "pipes of 1 MiB refused (fs.pipe-max-size, "
		    "fs.pipe-user-pages-soft?)";
		free(w->pipes);
		w->pipes = NULL;
		w->pipe_size = 0;
	}
	if (__atomic_exchange_n(&fault_pool_said, 1, __ATOMIC_RELAXED))
		return;
	if (why != NULL)
		log_info("page caches fill by reads into their mappings: %s",
		    why);
	else
		log_info("page caches fill by splice (%d pipes of %zu KiB per "
		    "worker) and by reads, a window each in turn", made,
		    w->pipe_size / 1024);
}

struct fill_pipe *
fault_pipe_get(struct worker *w)
{
	struct fill_pipe *p = w->free_pipes;

	if (p != NULL)
		w->free_pipes = p->next_free;
	return p;
}

void
fault_pipe_put(struct worker *w, struct fill_pipe *p)
{
	p->next_free = w->free_pipes;
	w->free_pipes = p;
}

/*
 * A fill that failed part way may leave bytes in its pipe: it is
 * replaced by a new one, or, if that is refused, the pool has one less.
 */
void
fault_pipe_discard(struct worker *w, struct fill_pipe *p)
{
	close(p->fd[0]);
	close(p->fd[1]);
	if (fault_pipe_open(w, p) == 0)
		fault_pipe_put(w, p);
	else
		log_warn("worker %d: a new splice pipe", w->index);
}

/* w's pool, once its ring is made. */
void
fault_pool_init(struct worker *w)
{
	fault_pool_ios(w);
	fault_pool_pipes(w);
}

/* w's pool, once its ring is gone. */
void
fault_pool_free(struct worker *w)
{
	int i;

	munmap(w->bufs, w->buf_size * (size_t)opts.queue_depth);
	free(w->ios);
	for (i = 0; w->pipes != NULL && i < FAULT_FILL_PIPES; i++) {
		if (w->pipes[i].fd[0] != -1) {
			close(w->pipes[i].fd[0]);
			close(w->pipes[i].fd[1]);
		}
	}
	free(w->pipes);
}

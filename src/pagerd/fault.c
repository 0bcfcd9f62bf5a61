/*
 * The fault path: read fault messages from a session's userfaultfd, find
 * the region, get the bytes (an io_uring read of the backing file, or
 * zeros) and install a window of pages around the fault with one ioctl.
 * A page that cannot be served is poisoned: the faulting thread gets
 * SIGBUS, never zeros where data was promised.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"

/* Fault messages taken off a userfaultfd per read(2). */
#define FAULT_BATCH 32

/* Source of zero-filled pages for write faults on zero regions. */
static char *fault_zeros;

void
fault_init(void)
{
	fault_zeros = mmap(NULL, (size_t)opts.readahead * page_size, PROT_READ,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fault_zeros == MAP_FAILED)
		fatal("mmap of the zero buffer");
}

void
fault_wake(struct session *s, uint64_t start, uint64_t len)
{
	struct uffdio_range range = { .start = start, .len = len };

	if (ioctl(s->uffd, UFFDIO_WAKE, &range) == -1 && errno != ESRCH &&
	    errno != ENOENT)
		log_warn("session %u: pid %d: UFFDIO_WAKE 0x%" PRIx64 "+0x%"
		    PRIx64, s->id, (int)s->pid, start, len);
}

/*
 * Install len bytes at dst: a copy of src, or zero pages when src is NULL.
 * Pages already present (EEXIST: another thread's fault got there first)
 * are skipped; a partial install is continued. Waiters on the whole range
 * are woken once at the end. Returns the pages installed, or -errno when
 * the target is gone (ESRCH) or the range unmapped (ENOENT).
 */
static int64_t
fault_install(struct session *s, uint64_t dst, const char *src, uint64_t len)
{
	struct uffdio_copy copy;
	struct uffdio_zeropage zero;
	uint64_t off = 0, installed = 0;
	int64_t done;
	int ret;

	while (off < len) {
		if (src != NULL) {
			copy = (struct uffdio_copy){ .dst = dst + off,
			    .src = (uint64_t)(uintptr_t)(src + off),
			    .len = len - off, .mode = UFFDIO_COPY_MODE_DONTWAKE };
			ret = ioctl(s->uffd, UFFDIO_COPY, &copy);
			done = copy.copy;
		} else {
			zero = (struct uffdio_zeropage){ .range = { .start =
			    dst + off, .len = len - off },
			    .mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE };
			ret = ioctl(s->uffd, UFFDIO_ZEROPAGE, &zero);
			done = zero.zeropage;
		}
		if (ret == 0) {
			installed += len - off;
			break;
		}
		if (done > 0) {
			off += (uint64_t)done;
			installed += (uint64_t)done;
			continue;
		}
		if (errno == EEXIST) {
			STAT_ADD(s->counters.eexist, 1);
			STAT_ADD(s->worker->totals.eexist, 1);
			off += page_size;
			continue;
		}
		if (errno == ESRCH || errno == ENOENT)
			return -errno;
		/*
		 * EAGAIN without progress: the address space is changing
		 * under us. Waking lets the thread fault again and send a
		 * fresh message; anything else is logged the same way.
		 */
		if (errno != EAGAIN)
			log_warn("session %u: pid %d: %s at 0x%" PRIx64, s->id,
			    (int)s->pid, src ? "UFFDIO_COPY" : "UFFDIO_ZEROPAGE",
			    dst + off);
		break;
	}
	fault_wake(s, dst, len);
	return (int64_t)(installed / page_size);
}

/*
 * Answer a fault that cannot be served with a signal: UFFDIO_POISON makes
 * the access raise SIGBUS; on a kernel without it, signal the thread.
 */
static void
fault_fail(struct session *s, struct region *r, uint64_t addr, uint32_t tid,
    const char *why)
{
	struct uffdio_poison poison = { .range = { .start = addr,
	    .len = page_size } };
	const char *how = "poisoned";

	STAT_ADD(s->counters.errors, 1);
	STAT_ADD(s->worker->totals.errors, 1);
	if (ioctl(s->uffd, UFFDIO_POISON, &poison) == 0) {
		STAT_ADD(s->counters.pages_poisoned, 1);
		STAT_ADD(s->worker->totals.pages_poisoned, 1);
	} else if (errno == ESRCH || errno == ENOENT) {
		return;
	} else if (errno == EEXIST) {
		/* The page arrived meanwhile: nothing was lost. */
		fault_wake(s, addr, page_size);
		return;
	} else {
		how = "signalled";
		if (tid != 0)
			syscall(SYS_tgkill, s->pid, tid, SIGBUS);
		else
			kill(s->pid, SIGBUS);
		fault_wake(s, addr, page_size);
	}
	if (r != NULL)
		log_warnx("session %u: pid %d (%s) tid %u: 0x%" PRIx64 " in "
		    "region %u (%s offset 0x%" PRIx64 "): %s; %s with SIGBUS",
		    s->id, (int)s->pid, s->comm, tid, addr, r->id,
		    r->backing == PD_BACKING_FILE ? "file" : "zero",
		    r->offset + (addr - r->start), why, how);
	else
		log_warnx("session %u: pid %d (%s) tid %u: 0x%" PRIx64 ": %s; "
		    "%s with SIGBUS", s->id, (int)s->pid, s->comm, tid, addr,
		    why, how);
}

static void
fault_count(struct session *s, int64_t pages, int from_file)
{
	if (pages <= 0)
		return;
	if (from_file) {
		STAT_ADD(s->counters.pages_file, (uint64_t)pages);
		STAT_ADD(s->worker->totals.pages_file, (uint64_t)pages);
	} else {
		STAT_ADD(s->counters.pages_zero, (uint64_t)pages);
		STAT_ADD(s->worker->totals.pages_zero, (uint64_t)pages);
	}
}

/* A backing-file read came back: install what it brought. */
void
fault_read_done(struct fault_io *io, int res)
{
	struct session *s = io->s;
	struct region *r = io->r;
	uint64_t woff, promised, good;
	char why[128];

	if (s->closing || r->dead)
		goto out;
	woff = r->offset + (io->addr - r->start);
	if (res < 0) {
		snprintf(why, sizeof why, "read of the backing file at offset "
		    "0x%" PRIx64 ": %s", woff, strerror(-res));
		fault_fail(s, r, io->fault_addr, io->tid, why);
		goto out;
	}
	STAT_ADD(s->counters.bytes_read, (uint64_t)res);
	STAT_ADD(s->worker->totals.bytes_read, (uint64_t)res);

	/* Bytes below the size the file had at map time were promised. */
	promised = r->file_size - woff < io->len ? r->file_size - woff :
	    io->len;
	if ((uint64_t)res >= promised) {
		memset(io->buf + res, 0, io->len - (uint64_t)res);
		fault_count(s, fault_install(s, io->addr, io->buf, io->len), 1);
		goto out;
	}
	/* Short: the file shrank. Install the whole pages that came. */
	good = (uint64_t)res & ~(page_size - 1);
	if (good > 0)
		fault_count(s, fault_install(s, io->addr, io->buf, good), 1);
	if (io->fault_addr >= io->addr + good) {
		snprintf(why, sizeof why, "the backing file ends at 0x%" PRIx64
		    ", it had 0x%" PRIx64 " bytes when mapped", woff +
		    (uint64_t)res, r->file_size);
		fault_fail(s, r, io->fault_addr, io->tid, why);
	}
out:
	region_unref(r);
	worker_io_put(s->worker, io);
	session_unref(s);
}

static void
fault_page(struct session *s, const struct uffd_msg *msg)
{
	struct worker *w = s->worker;
	uint64_t addr, win, wstart, wlen, woff, idx;
	struct io_uring_sqe *sqe;
	struct fault_io *io;
	struct region *r;
	uint32_t tid = 0;
	int write;

	addr = msg->arg.pagefault.address & ~(uint64_t)(page_size - 1);
	write = (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
	if (s->features & UFFD_FEATURE_THREAD_ID)
		tid = msg->arg.pagefault.feat.ptid;
	STAT_ADD(s->counters.faults, 1);
	STAT_ADD(w->totals.faults, 1);

	if ((r = region_find(s, addr)) == NULL) {
		fault_fail(s, NULL, addr, tid, "fault outside every region");
		return;
	}
	r->faults++;

	/* The window: the aligned block of read-ahead pages around addr. */
	win = (uint64_t)opts.readahead * page_size;
	idx = (addr - r->start) / win;
	wstart = r->start + idx * win;
	wlen = r->end - wstart < win ? r->end - wstart : win;
	woff = r->offset + (wstart - r->start);

	if (r->backing == PD_BACKING_ZERO || woff >= r->file_size) {
		fault_count(s, fault_install(s, wstart, write ? fault_zeros :
		    NULL, wlen), 0);
		return;
	}

	/* fault_uffd_ready() takes no more messages than there are ios. */
	io = worker_io_get(w);
	io->s = s;
	io->r = r;
	io->addr = wstart;
	io->len = wlen;
	io->fault_addr = addr;
	io->tid = tid;
	r->refs++;
	s->inflight++;
	sqe = worker_sqe(w);
	io_uring_prep_read_fixed(sqe, r->fd, io->buf, (unsigned int)wlen, woff,
	    (int)io->buf_index);
	io_uring_sqe_set_data(sqe, &io->op);
	STAT_ADD(s->counters.reads, 1);
	STAT_ADD(w->totals.reads, 1);
}

static void
fault_msg(struct session *s, const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT:
		fault_page(s, msg);
		break;
	default:
		log_warnx("session %u: pid %d: unexpected userfaultfd event %u",
		    s->id, (int)s->pid, msg->event);
		break;
	}
}

/*
 * Take fault messages while there are read buffers for them; a session
 * left with messages queues on the worker's starved list until a read
 * completes.
 */
void
fault_uffd_ready(struct session *s)
{
	struct worker *w = s->worker;
	struct uffd_msg msgs[FAULT_BATCH];
	size_t want, got, i;
	ssize_t n;

	while (!s->closing) {
		want = w->nfree < FAULT_BATCH ? w->nfree : FAULT_BATCH;
		if (want == 0) {
			if (!s->starved) {
				TAILQ_INSERT_TAIL(&w->starved, s,
				    starved_entry);
				s->starved = 1;
			}
			return;
		}
		n = read(s->uffd, msgs, want * sizeof msgs[0]);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				session_close(s, "read of the userfaultfd: %s",
				    strerror(errno));
			return;
		}
		got = (size_t)n / sizeof msgs[0];
		for (i = 0; i < got && !s->closing; i++)
			fault_msg(s, &msgs[i]);
		if (got < want)
			return;
	}
}

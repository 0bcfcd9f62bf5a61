/*
 * Write-protected regions: copy-on-write with dirty tracking, and the
 * I/O that write-back (wp-writeback.c) and live snapshots (wp-snapshot.c)
 * share. Read-only regions' writes are violations (wp-violation.c).
 *
 * The region's memory is a memfd the client maps shared and hands over;
 * the daemon maps it too. Every page is installed write-protected, so the
 * first write to a page is a fault the daemon sees (or, for a region of
 * the session's WP_ASYNC userfaultfd, a mark the kernel keeps for
 * wp-async.c to read) (to mark it dirty, to
 * report a violation, to save it for a snapshot before it changes), and
 * the daemon reads what the client wrote from its own mapping, never from
 * the client's address space.
 *
 * The memfd is the client's, which may shrink it (ftruncate) under the
 * daemon: a page past its end faults with SIGBUS, which would kill the
 * daemon and every client of every user. So the daemon never touches its
 * mapping itself: it copies pages out with pread(2), and write-back writes
 * from the mapping through io_uring, both of which fail with an error
 * where a page is gone. (The library seals its memfds against shrinking;
 * a client need not run that library.) Write-back reads the mapping only
 * at pages that were installed: reading a hole would fill it behind the
 * client's back (pread reads a hole as zeros and leaves it).
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"
#include "wp.h"

/* The bitmaps of a wp_region not (or no longer) mapped. */
static void
wp_free(struct wp_region *wp)
{
	free(wp->present);
	free(wp->dirty);
	free(wp->referenced);
	free(wp->writing);
	free(wp);
}

static int wp_region_init(struct session *, struct region *,
    const struct region *, int, char *, size_t);
static void wp_region_free(struct region *);
static void wp_region_closing(struct session *, struct region *);

/* Write protection's part of each region (region.c). */
static const struct region_part wp_part = {
	.attach = wp_region_init,
	.detach = wp_region_free,
	.closing = wp_region_closing,
};

/* At start, once the workers are made. */
void
wp_init(void)
{
	region_add_part(&wp_part);
	wp_pageout_init();
}

/*
 * Take over a write-protected region's memfd (none: -1, not one): check
 * it, map it, and learn which pages it holds already (after a daemon
 * restart: all of them may be written, so they count as dirty until
 * written back). Such a region is never cut (from). A region of the
 * session's WP_ASYNC userfaultfd is checked first (wp-async.c).
 */
static int
wp_region_init(struct session *s, struct region *r, const struct region *from,
    int memfd, char *why, size_t whylen)
{
	uint64_t len = r->end - r->start, p;
	struct wp_region *wp;
	struct stat st;
	off_t data, hole;
	int flags, error;

	if (from != NULL)
		return 0;
	if ((r->flags & PD_REGION_ASYNC) && (error = wp_async_check(s, r, why,
	    whylen)) != 0)
		return error;
	if (memfd == -1)
		return 0;
	/* Seals first: a file a server serves (FUSE) is asked nothing. */
	if (fcntl(memfd, F_GET_SEALS) == -1 || fstat(memfd, &st) == -1) {
		snprintf(why, whylen, "region: the write-protected region's "
		    "memory is not a memfd");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size < len) {
		snprintf(why, whylen, "region: its memfd has 0x%jx bytes, the "
		    "region 0x%" PRIx64, (uintmax_t)st.st_size, len);
		return -EINVAL;
	}
	flags = fcntl(memfd, F_GETFL);
	if (flags == -1 || (flags & O_ACCMODE) != O_RDWR) {
		snprintf(why, whylen, "region: its memfd is not open for "
		    "reading and writing");
		return -EBADF;
	}
	/* (A store that refuses writes fails the write-back: store.c.) */
	if ((r->flags & PD_REGION_WRITEBACK) && r->store == NULL) {
		flags = fcntl(r->fd, F_GETFL);
		if (flags == -1 || (flags & O_ACCMODE) != O_RDWR) {
			snprintf(why, whylen, "region: write-back needs the "
			    "backing file open for reading and writing");
			return -EBADF;
		}
	}
	if ((wp = calloc(1, sizeof *wp)) == NULL)
		goto nomem;
	wp->npages = len / page_size;
	wp->nwindows = (wp->npages + evict_window_pages() - 1) /
	    evict_window_pages();
	wp->present = calloc(BITMAP_WORDS(wp->npages), sizeof(unsigned long));
	wp->dirty = calloc(BITMAP_WORDS(wp->npages), sizeof(unsigned long));
	wp->referenced = calloc(wp->nwindows, sizeof *wp->referenced);
	wp->writing = calloc(wp->nwindows, sizeof *wp->writing);
	if (wp->present == NULL || wp->dirty == NULL ||
	    wp->referenced == NULL || wp->writing == NULL)
		goto nomem;
	wp->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (wp->mem == MAP_FAILED) {
		error = -errno;
		snprintf(why, whylen, "region: mmap of its memfd: %s",
		    strerror(errno));
		wp_free(wp);
		return error;
	}
	for (data = 0;; data = hole) {
		data = lseek(memfd, data, SEEK_DATA);
		if (data == -1 || (uint64_t)data >= len)
			break;
		if ((hole = lseek(memfd, data, SEEK_HOLE)) == -1)
			hole = (off_t)len;
		for (p = (uint64_t)data / page_size; p < wp->npages &&
		    (off_t)(p * page_size) < hole; p++) {
			bit_set(wp->present, p);
			bit_set(wp->dirty, p);
			wp->ndirty++;
		}
	}
	wp->memfd = memfd;
	r->wp = wp;
	wp_pageout_present(r, wp->ndirty, 1);
	return 0;

nomem:
	if (wp != NULL)
		wp_free(wp);
	snprintf(why, whylen, "region: out of memory");
	return -ENOMEM;
}

static void
wp_region_free(struct region *r)
{
	if (r->wp == NULL)
		return;
	wp_pageout_present(r, r->wp->npresent, 0);
	munmap(r->wp->mem, r->wp->npages * page_size);
	close(r->wp->memfd);
	wp_free(r->wp);
	r->wp = NULL;
}

/*
 * What a control session lists of a write-protected region: its pages
 * installed and dirty (read from another thread, under the table lock),
 * those of an async region written since its last scan included.
 */
void
wp_region_counts(const struct session *s, const struct region *r,
    uint64_t *present, uint64_t *dirty)
{
	uint64_t p;

	*present = 0;
	for (p = 0; p < r->wp->npages; p++)
		*present += (uint64_t)bit_test(r->wp->present, p);
	*dirty = r->wp->ndirty + wp_async_unseen(s, r);
}

/*
 * Of pages [first, first + n) of a write-protected region, set bit i of
 * installed and of dirty where page first + i is so (pagerctl map; read
 * from another thread, under the table lock, as above), an async region's
 * pages written since its last scan included.
 */
void
wp_region_pages(const struct session *s, const struct region *r,
    uint64_t first, uint64_t n, uint8_t *installed, uint8_t *dirty)
{
	uint64_t i;

	for (i = 0; i < n && first + i < r->wp->npages; i++) {
		if (bit_test(r->wp->present, first + i))
			installed[i / 8] |= (uint8_t)(1u << (i % 8));
		if (bit_test(r->wp->dirty, first + i))
			dirty[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	wp_async_unseen_pages(s, r, first, n, dirty);
}

/* Pages at addr were installed (or found present) in a WP region. */
void
wp_installed(struct region *r, uint64_t addr, uint64_t len)
{
	uint64_t p, n = 0;

	if (r->wp == NULL)
		return;
	for (p = (addr - r->start) / page_size; p < (addr + len - r->start) /
	    page_size; p++) {
		if (!bit_test(r->wp->present, p)) {
			bit_set(r->wp->present, p);
			n++;
		}
		wp_pageout_used(r, p);
	}
	wp_pageout_present(r, n, 1);
}

/*
 * MADV_REMOVE may have punched [start, end) out of the memfd (MADV_DONTNEED
 * leaves its pages): learn again which pages it holds.
 */
void
wp_removed(struct region *r, uint64_t start, uint64_t end)
{
	uint64_t p, first, last, gone = 0;
	off_t data = -1;	/* the next byte of data at or after page p */

	if (r->wp == NULL)
		return;
	first = (start > r->start ? start - r->start : 0) / page_size;
	last = ((end < r->end ? end : r->end) - r->start) / page_size;
	for (p = first; p < last; p++) {
		if (data < (off_t)(p * page_size) &&
		    (data = lseek(r->wp->memfd, (off_t)(p * page_size),
		    SEEK_DATA)) == -1)
			data = INT64_MAX;	/* none: holes to the end */
		if (data < (off_t)((p + 1) * page_size))
			continue;
		/* A hole: the page faults in from the backing again. */
		if (bit_test(r->wp->present, p)) {
			bit_clear(r->wp->present, p);
			gone++;
		}
		if (bit_test(r->wp->dirty, p)) {
			bit_clear(r->wp->dirty, p);
			r->wp->ndirty--;
		}
	}
	wp_pageout_present(r, gone, 0);
}

int
wp_protect(struct session *s, struct region *r, uint64_t addr, uint64_t len,
    int protect)
{
	struct uffdio_writeprotect wp = { .range = { .start = addr,
	    .len = len }, .mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };

	if (s->closing)
		return 0;
	if (ioctl(region_uffd(s, r), UFFDIO_WRITEPROTECT, &wp) == -1) {
		if (errno == ESRCH || errno == ENOENT)
			return -errno;
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warn("session %u: pid %d: UFFDIO_WRITEPROTECT %s "
			    "0x%" PRIx64 "+0x%" PRIx64, s->id, (int)s->pid,
			    protect ? "on" : "off", addr, len);
		return -errno;
	}
	return 0;
}

struct wp_io *
wp_io_new(struct session *s, struct region *r,
    void (*done)(struct op *, const struct io_uring_cqe *))
{
	struct wp_io *io;

	if ((io = calloc(1, sizeof *io)) == NULL)
		return NULL;
	io->op.done = done;
	io->s = s;
	io->r = r;
	io->store = r->store;
	r->refs++;
	s->inflight++;
	return io;
}

void
wp_io_free(struct wp_io *io)
{
	struct session *s = io->s;

	region_unref(io->r);
	free(io->buf);
	free(io);
	session_unref(s);
}

static void
wp_io_queue(struct wp_io *io, struct io_uring_sqe *sqe)
{
	io_uring_sqe_set_data(sqe, &io->op);
	/* The file may be on a file system that blocks: never inline. */
	io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
}

/* Submit io's read or write (the rest of it, after a short one) on fd. */
void
wp_io_rw(struct wp_io *io, int fd)
{
	struct io_uring_sqe *sqe;

	io->fd = fd;
	/* A store region's backing is its store (fd -1), by its connection. */
	if (fd == -1 && io->store != NULL) {
		store_io(io->s, io->store, io->src == NULL ?
		    STORE_READ : STORE_WRITE, &io->op, io->src == NULL ?
		    io->buf + io->done : (char *)(uintptr_t)(io->src +
		    io->done), io->off + io->done, io->len - io->done);
		return;
	}
	sqe = worker_sqe(io->s->worker);
	if (io->src == NULL)
		io_uring_prep_read(sqe, fd, io->buf + io->done, io->len -
		    io->done, io->off + io->done);
	else
		io_uring_prep_write(sqe, fd, io->src + io->done, io->len -
		    io->done, io->off + io->done);
	wp_io_queue(io, sqe);
}

void
wp_io_fsync(struct wp_io *io, int fd)
{
	struct io_uring_sqe *sqe;

	io->fd = fd;
	if (fd == -1 && io->store != NULL) {
		store_io(io->s, io->store, STORE_FLUSH, &io->op,
		    NULL, 0, 0);
		return;
	}
	sqe = worker_sqe(io->s->worker);
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	wp_io_queue(io, sqe);
}

/*
 * A short read or write goes on from where it stopped: 1 if it does. A
 * short read, too: a disk may have failed on the next page, and only the
 * file's end (a read of nothing) leaves the rest zeros.
 */
int
wp_io_more(struct wp_io *io, int res)
{
	if (res <= 0 || io->done + (uint32_t)res >= io->len)
		return 0;
	io->done += (uint32_t)res;
	wp_io_rw(io, io->fd);
	return 1;
}

/*
 * Copy n pages of r's memory from page p into buf, by pread(2) of the
 * memfd: where the client shrank it, this fails with the cause, where a
 * read of the mapping would kill the daemon. 0 or -errno.
 */
int
wp_mem_read(struct session *s, struct region *r, char *buf, uint64_t p,
    uint64_t n)
{
	size_t len = n * page_size, done = 0;
	ssize_t got;

	while (done < len) {
		got = pread(r->wp->memfd, buf + done, len - done, (off_t)(p *
		    page_size + done));
		if (got > 0) {
			done += (size_t)got;
			continue;
		}
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			if (session_log_allow(s->uid, LOG_WARNING))
				log_warn("session %u: pid %d (%s): region %u: "
				    "read of its memfd at page %" PRIu64, s->id,
				    (int)s->pid, s->comm, r->id, p);
			return -errno;
		}
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): region %u: its "
			    "memfd ends before page %" PRIu64 ": the client "
			    "shrank it", s->id, (int)s->pid, s->comm, r->id, p +
			    done / page_size);
		return -EFAULT;
	}
	return 0;
}

/*
 * The first failure is the one kept: an error, or a write (write) that
 * wrote nothing. (A read of nothing is the file's end.)
 */
void
wp_io_failed(int *error, int res, int write)
{
	if (*error == 0 && (res < 0 || (write && res == 0)))
		*error = res < 0 ? res : -EIO;
}


/*
 * A region leaves its session: a snapshot of it ends, and what the client
 * wrote to a write-back region must not be lost.
 */
static void
wp_region_closing(struct session *s, struct region *r)
{
	if (r->wp == NULL)
		return;
	wp_snapshot_cancel(r);
	wp_async_closing(s, r);
	if ((r->flags & PD_REGION_WRITEBACK) && r->wp->ndirty > 0)
		wp_writeback(s, r, 0, 0);
}

/* --- Faults and queries ---------------------------------------------- */

/* A write to a write-protected page. */
void
wp_fault(struct session *s, struct region *r, uint64_t addr, uint32_t tid)
{
	uint64_t p = (addr - r->start) / page_size;

	if (r->wp == NULL) {
		/* Only WP regions are registered for it: wake and retry. */
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d: write-protect fault at "
			    "0x%" PRIx64 " outside a write-protected region",
			    s->id, (int)s->pid, addr);
		wp_protect(s, r, addr, page_size, 0);
		return;
	}
	/*
	 * Paged out (wp-pageout.c) while the write waited: marked dirty, a
	 * hole would be written back. Let the write fault again, as a page
	 * to read in first.
	 */
	if ((r->flags & PD_REGION_WRITEBACK) && !bit_test(r->wp->present, p)) {
		if (wp_protect(s, r, addr, page_size, 0) != 0)
			fault_wake(s, addr, page_size);
		return;
	}
	wp_snapshot_write(r, p);
	if (r->flags & PD_REGION_READONLY) {
		wp_violation(s, r, addr, tid);
		if (!(r->flags & PD_REGION_REPORT))
			return;
	}
	if (!bit_test(r->wp->dirty, p)) {
		bit_set(r->wp->dirty, p);
		r->wp->ndirty++;
		STAT_COUNT(s, pages_dirtied, 1);
	}
	wp_pageout_used(r, p);
	wp_protect(s, r, addr, page_size, 0);
}

void
wp_dirty(struct session *s, const struct pd_dirty *d)
{
	char why[PD_REASON_MAX];
	struct region *r = NULL;
	union pd_msg msg;
	uint64_t i;
	size_t k;

	for (k = 0; k < s->nregions; k++)
		if (s->regions[k]->id == d->region_id)
			r = s->regions[k];
	if (d->reserved != 0 || d->first % PD_DIRTY_BITS != 0) {
		session_reply(s, d->hdr.seq, -EINVAL, 0, 0, "dirty: reserved "
		    "field not zero, or first page not aligned");
		return;
	}
	if (r == NULL || r->wp == NULL || d->first >= r->wp->npages) {
		snprintf(why, sizeof why, r == NULL ? "dirty: no region %u" :
		    r->wp == NULL ? "dirty: region %u is not write-protected" :
		    "dirty: page past the end of region %u", d->region_id);
		session_reply(s, d->hdr.seq, r == NULL ? -ENOENT : -EINVAL, 0,
		    0, why);
		return;
	}
	/* The kernel's record of writes, for an async region. */
	if (d->first == 0)
		wp_async_scan(s, r);
	proto_init(&msg, PD_MSG_DIRTY_REPLY, d->hdr.seq);
	msg.dirty_reply.first = d->first;
	msg.dirty_reply.npages = r->wp->npages;
	msg.dirty_reply.ndirty = r->wp->ndirty;
	for (i = 0; i < PD_DIRTY_BITS && d->first + i < r->wp->npages; i++)
		if (bit_test(r->wp->dirty, d->first + i))
			msg.dirty_reply.bits[i / 8] |= (uint8_t)(1u << (i % 8));
	session_send(s, &msg);
}


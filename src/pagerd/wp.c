/*
 * Write-protected regions: copy-on-write with dirty tracking, write-back
 * to the backing file, live snapshots, and read-only regions whose writes
 * are protection violations.
 *
 * The region's memory is a memfd the client maps shared and hands over;
 * the daemon maps it too. Every page is installed write-protected, so the
 * first write to a page is a fault the daemon sees (to mark it dirty, to
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
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"

/* Pages a snapshot's background copy takes per step, and steps at once. */
#define SNAP_CHUNK_PAGES 64
#define SNAP_INFLIGHT 4

/* The largest single write-back write. */
#define WP_WRITE_MAX (1u << 20)

/*
 * A write-protected region's state (struct region's wp): the memory is
 * the client's memfd, mapped by the daemon too.
 */
struct wp_region {
	int memfd;
	char *mem;		/* the daemon's shared mapping of it */
	uint64_t npages;
	unsigned long *present;	/* pages installed */
	unsigned long *dirty;	/* pages written and not yet written back */
	uint64_t ndirty;
	struct snapshot *snap;	/* the snapshot being taken, or NULL */
	unsigned int wb_retries; /* write-backs retried after its client */
	uint64_t wb_waiting;	/* its pages counted in wp_retry_pages */
};

/* The bitmaps of a wp_region not (or no longer) mapped. */
static void
wp_free(struct wp_region *wp)
{
	free(wp->present);
	free(wp->dirty);
	free(wp);
}

/* A snapshot in progress: the image file and the pages already in it. */
struct snapshot {
	struct session *s;
	struct region *r;
	int fd;
	uint32_t id;
	unsigned long *saved;	/* pages whose instant content is taken */
	uint64_t cursor;	/* where the background copy goes on */
	unsigned int pending;	/* its I/Os in flight */
	int error;		/* the first failure, a negative errno */
	int finishing;		/* the image's fsync is in flight */
	struct snapshot_tell *tell; /* who asked, if not the owner */
};

/* A write-back of a region's dirty pages, for a request or a closing. */
struct wp_sync {
	struct session *s;
	struct region *r;
	uint32_t seq;
	int reply;		/* answer the client when done */
	unsigned int pending;
	int error;
	uint64_t pages;
	int finishing;
	unsigned long *taken;	/* pages it took off the dirty set */
};

/*
 * One write-back or snapshot I/O; its op's done says what for: dirty
 * pages to the backing file and then to the disk (wp_writeback_done,
 * wp_sync_fsync_done), or, for a snapshot, backing bytes of pages never
 * installed, saved pages to the image and then to the disk.
 */
struct wp_io {
	struct op op;
	int fd;			/* the file read, written or synced */
	struct session *s;
	struct region *r;
	struct wp_sync *sync;
	struct snapshot *snap;
	char *buf;		/* owned: snapshot pages; NULL: write-back */
	const char *src;	/* what a write writes; NULL: a read */
	uint64_t page;		/* first region page of a snapshot chunk */
	uint64_t npages;
	uint64_t off;		/* in the file written or read */
	uint32_t len;
	uint32_t done;		/* bytes already written (short writes) */
};

/*
 * A write-back nobody waits for (its region or its client went away)
 * failed: the daemon holds the only copy of the dirty pages, so it tries
 * again 1 s later, then 2, 4, ... up to a minute apart, until they land
 * or the daemon stops (a last try). A timer of the session's worker;
 * holds the session and the region.
 */
struct wp_retry {
	struct timer timer;
	struct session *s;
	struct region *r;
};

#define WP_RETRY_MAX_S 60u

/* Pages of gone clients waiting for a retried write-back, all workers. */
static uint64_t wp_retry_waiting;

/* r has pages waiting for a retried write-back. */
static void
wp_retry_count(struct region *r, uint64_t pages)
{
	__atomic_add_fetch(&wp_retry_waiting, pages - r->wp->wb_waiting,
	    __ATOMIC_RELAXED);
	r->wp->wb_waiting = pages;
}

static uint32_t wp_next_snapshot_id;

static void wp_snapshot_step(struct snapshot *);
static void wp_sync_finish(struct wp_sync *);
static void wp_writeback(struct session *, struct region *, uint32_t, int);
static void wp_retry_give_up(struct session *, struct region *,
    const char *, const char *);
static void wp_writeback_done(struct op *, const struct io_uring_cqe *);
static void wp_sync_fsync_done(struct op *, const struct io_uring_cqe *);
static void wp_snap_read_done(struct op *, const struct io_uring_cqe *);
static void wp_snap_write_done(struct op *, const struct io_uring_cqe *);
static void wp_snap_fsync_done(struct op *, const struct io_uring_cqe *);

static void
wp_count(struct session *s, size_t field, uint64_t n)
{
	uint64_t *mine = (uint64_t *)(void *)((char *)&s->counters + field);
	uint64_t *all = (uint64_t *)(void *)((char *)&s->worker->totals +
	    field);

	STAT_ADD(*mine, n);
	STAT_ADD(*all, n);
}

#define WP_COUNT(s, name, n) \
	wp_count((s), offsetof(struct pd_counters, name), (n))

/*
 * Take over the region's memfd: check it, map it, and learn which pages
 * it holds already (after a daemon restart: all of them may be written,
 * so they count as dirty until written back).
 */
int
wp_region_init(struct region *r, int memfd, char *why, size_t whylen)
{
	uint64_t len = r->end - r->start, p;
	struct wp_region *wp;
	struct stat st;
	off_t data, hole;
	int flags, error;

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
	if (r->flags & PD_REGION_WRITEBACK) {
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
	wp->present = calloc(BITMAP_WORDS(wp->npages), sizeof(unsigned long));
	wp->dirty = calloc(BITMAP_WORDS(wp->npages), sizeof(unsigned long));
	if (wp->present == NULL || wp->dirty == NULL)
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
	return 0;

nomem:
	if (wp != NULL)
		wp_free(wp);
	snprintf(why, whylen, "region: out of memory");
	return -ENOMEM;
}

void
wp_region_free(struct region *r)
{
	if (r->wp == NULL)
		return;
	munmap(r->wp->mem, r->wp->npages * page_size);
	close(r->wp->memfd);
	wp_free(r->wp);
	r->wp = NULL;
}

/*
 * What a control session lists of a write-protected region: its pages
 * installed and dirty (read from another thread, under the table lock).
 */
void
wp_region_counts(const struct region *r, uint64_t *present, uint64_t *dirty)
{
	uint64_t p;

	*present = 0;
	for (p = 0; p < r->wp->npages; p++)
		*present += (uint64_t)bit_test(r->wp->present, p);
	*dirty = r->wp->ndirty;
}

/* Pages at addr were installed (or found present) in a WP region. */
void
wp_installed(struct region *r, uint64_t addr, uint64_t len)
{
	uint64_t p;

	if (r->wp == NULL)
		return;
	for (p = (addr - r->start) / page_size; p < (addr + len - r->start) /
	    page_size; p++)
		bit_set(r->wp->present, p);
}

/*
 * MADV_REMOVE may have punched [start, end) out of the memfd (MADV_DONTNEED
 * leaves its pages): learn again which pages it holds.
 */
void
wp_removed(struct region *r, uint64_t start, uint64_t end)
{
	uint64_t p, first, last;
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
		bit_clear(r->wp->present, p);
		if (bit_test(r->wp->dirty, p)) {
			bit_clear(r->wp->dirty, p);
			r->wp->ndirty--;
		}
	}
}

static int
wp_protect(struct session *s, uint64_t addr, uint64_t len, int protect)
{
	struct uffdio_writeprotect wp = { .range = { .start = addr,
	    .len = len }, .mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };

	if (s->closing)
		return 0;
	if (ioctl(s->uffd, UFFDIO_WRITEPROTECT, &wp) == -1) {
		if (errno == ESRCH || errno == ENOENT)
			return -errno;
		log_warn("session %u: pid %d: UFFDIO_WRITEPROTECT %s 0x%"
		    PRIx64 "+0x%" PRIx64, s->id, (int)s->pid, protect ?
		    "on" : "off", addr, len);
		return -errno;
	}
	return 0;
}

static struct wp_io *
wp_io_new(struct session *s, struct region *r,
    void (*done)(struct op *, const struct io_uring_cqe *))
{
	struct wp_io *io;

	if ((io = calloc(1, sizeof *io)) == NULL)
		return NULL;
	io->op.done = done;
	io->s = s;
	io->r = r;
	r->refs++;
	s->inflight++;
	return io;
}

static void
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
static void
wp_io_rw(struct wp_io *io, int fd)
{
	struct io_uring_sqe *sqe = worker_sqe(io->s->worker);

	io->fd = fd;
	if (io->src == NULL)
		io_uring_prep_read(sqe, fd, io->buf + io->done, io->len -
		    io->done, io->off + io->done);
	else
		io_uring_prep_write(sqe, fd, io->src + io->done, io->len -
		    io->done, io->off + io->done);
	wp_io_queue(io, sqe);
}

static void
wp_io_fsync(struct wp_io *io, int fd)
{
	struct io_uring_sqe *sqe = worker_sqe(io->s->worker);

	io->fd = fd;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	wp_io_queue(io, sqe);
}

/*
 * A short read or write goes on from where it stopped: 1 if it does. A
 * short read, too: a disk may have failed on the next page, and only the
 * file's end (a read of nothing) leaves the rest zeros.
 */
static int
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
static int
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
			log_warn("session %u: pid %d (%s): region %u: read of "
			    "its memfd at page %" PRIu64, s->id, (int)s->pid,
			    s->comm, r->id, p);
			return -errno;
		}
		log_warnx("session %u: pid %d (%s): region %u: its memfd "
		    "ends before page %" PRIu64 ": the client shrank it", s->id,
		    (int)s->pid, s->comm, r->id, p + done / page_size);
		return -EFAULT;
	}
	return 0;
}

/* --- Snapshots ------------------------------------------------------- */

/* Save one page the client is about to write: its bytes at the instant. */
static void
wp_snapshot_save_page(struct snapshot *sn, uint64_t p)
{
	struct wp_io *io;

	bit_set(sn->saved, p);
	if (sn->error != 0)
		return;
	if ((io = wp_io_new(sn->s, sn->r, wp_snap_write_done)) == NULL ||
	    (io->buf = malloc(page_size)) == NULL) {
		if (io != NULL)
			wp_io_free(io);
		sn->error = -ENOMEM;
		return;
	}
	if ((sn->error = wp_mem_read(sn->s, sn->r, io->buf, p, 1)) != 0) {
		wp_io_free(io);
		return;
	}
	io->snap = sn;
	io->src = io->buf;
	io->off = p * page_size;
	io->len = (uint32_t)page_size;
	sn->pending++;
	wp_io_rw(io, sn->fd);
}

static void
wp_snapshot_free(struct snapshot *sn)
{
	close(sn->fd);
	free(sn->saved);
	free(sn);
}

/* Every page is in the image, or the snapshot failed: tell the client. */
static void
wp_snapshot_done(struct snapshot *sn)
{
	struct session *s = sn->s;
	struct region *r = sn->r;
	struct pd_notice notice;

	if (r->wp->snap == sn)
		r->wp->snap = NULL;
	if (sn->error == 0)
		WP_COUNT(s, snapshots, 1);
	if (sn->tell != NULL) {
		/* A control session asked: its worker tells it. */
		sn->tell->status = sn->error;
		sn->tell->pages = r->wp->npages;
		sn->tell->done(sn->tell);
	} else if (!s->closing) {
		memset(&notice, 0, sizeof notice);
		notice.kind = PD_NOTICE_SNAPSHOT_DONE;
		notice.status = sn->error;
		notice.region_id = r->id;
		notice.value = sn->id;
		if (sn->error == 0) {
			snprintf(notice.reason, sizeof notice.reason,
			    "snapshot %u of region %u: %" PRIu64 " pages",
			    sn->id, r->id, r->wp->npages);
			log_info("session %u: pid %d (%s): %s", s->id,
			    (int)s->pid, s->comm, notice.reason);
		} else {
			snprintf(notice.reason, sizeof notice.reason,
			    "snapshot %u of region %u failed: %s", sn->id,
			    r->id, strerror(-sn->error));
			log_warnx("session %u: pid %d (%s): %s", s->id,
			    (int)s->pid, s->comm, notice.reason);
		}
		session_notice(s, &notice);
	}
	wp_snapshot_free(sn);
}

/*
 * The pages [first, first + n) are in the image. Those already dirty
 * need no write-protection any more: the snapshot has their bytes, dirty
 * tracking has them, and the client's writes to them cost no fault.
 */
static void
wp_snapshot_release(struct snapshot *sn, uint64_t first, uint64_t n)
{
	struct region *r = sn->r;
	uint64_t p, q;

	for (p = first; p < first + n; p = q + 1) {
		for (q = p; q < first + n && bit_test(sn->saved, q) &&
		    bit_test(r->wp->dirty, q) && bit_test(r->wp->present, q);
		    q++)
			;
		if (q > p)
			wp_protect(sn->s, r->start + p * page_size, (q - p) *
			    page_size, 0);
	}
}

/*
 * Copy the next chunk with pages not yet saved into a buffer and write
 * them out. Pages installed are copied from the daemon's mapping (they
 * are still write-protected, so they hold their bytes of the instant);
 * pages never installed hold their backing's bytes, read first.
 */
static void
wp_snapshot_chunk(struct snapshot *sn, struct wp_io *io)
{
	struct region *r = sn->r;
	uint64_t p, q, a, b, n = io->npages;
	struct wp_io *w;

	/* io->buf holds the backing's bytes of the chunk, or zeros. */
	for (p = 0; p < n; p = q) {
		/* A run of pages to write: unsaved, and not a zero hole. */
		for (q = p; q < n && !bit_test(sn->saved, io->page + q) &&
		    (bit_test(r->wp->present, io->page + q) || r->backing !=
		    PD_BACKING_ZERO); q++)
			bit_set(sn->saved, io->page + q);
		/* Its installed pages, in runs, over the backing's bytes. */
		for (a = p; a < q; a = b) {
			for (b = a; b < q && bit_test(r->wp->present, io->page +
			    b) == bit_test(r->wp->present, io->page + a); b++)
				;
			if (bit_test(r->wp->present, io->page + a) &&
			    (sn->error = wp_mem_read(sn->s, r, io->buf + a *
			    page_size, io->page + a, b - a)) != 0)
				return;
		}
		if (q == p) {
			/* Saved already, or a hole the image has as zeros. */
			bit_set(sn->saved, io->page + p);
			q = p + 1;
			continue;
		}
		if ((w = wp_io_new(sn->s, r, wp_snap_write_done)) == NULL ||
		    (w->buf = malloc((q - p) * page_size)) == NULL) {
			if (w != NULL)
				wp_io_free(w);
			sn->error = -ENOMEM;
			return;
		}
		memcpy(w->buf, io->buf + p * page_size, (q - p) * page_size);
		w->snap = sn;
		w->src = w->buf;
		w->off = (io->page + p) * page_size;
		w->len = (uint32_t)((q - p) * page_size);
		sn->pending++;
		wp_io_rw(w, sn->fd);
	}
	wp_snapshot_release(sn, io->page, n);
}

/* Start the background copy's next chunk, if there is one. */
static void
wp_snapshot_step(struct snapshot *sn)
{
	struct region *r = sn->r;
	uint64_t p, n, need_read, fpages;
	struct wp_io *io;

	if (sn->s->closing || r->dead) {
		if (sn->error == 0)
			sn->error = -ECANCELED;
	}
	while (sn->error == 0 && sn->cursor < r->wp->npages &&
	    sn->pending < SNAP_INFLIGHT) {
		n = r->wp->npages - sn->cursor < SNAP_CHUNK_PAGES ?
		    r->wp->npages - sn->cursor : SNAP_CHUNK_PAGES;
		for (p = sn->cursor; p < sn->cursor + n; p++)
			if (!bit_test(sn->saved, p))
				break;
		if (p == sn->cursor + n) {
			sn->cursor += n;
			continue;
		}
		io = wp_io_new(sn->s, r, wp_snap_read_done);
		if (io == NULL || (io->buf = calloc(n, page_size)) == NULL) {
			if (io != NULL)
				wp_io_free(io);
			sn->error = -ENOMEM;
			break;
		}
		io->snap = sn;
		io->page = sn->cursor;
		io->npages = n;
		sn->cursor += n;
		/* Pages never installed of a file region: read them first. */
		need_read = 0;
		for (p = io->page; p < io->page + n; p++)
			if (!bit_test(sn->saved, p) &&
			    !bit_test(r->wp->present, p))
				need_read = 1;
		fpages = r->file_size > r->offset + io->page * page_size ?
		    (r->file_size - r->offset - io->page * page_size +
		    page_size - 1) / page_size : 0;
		if (r->backing == PD_BACKING_FILE && need_read && fpages > 0) {
			io->off = r->offset + io->page * page_size;
			io->len = (uint32_t)((fpages < n ? fpages : n) *
			    page_size);
			sn->pending++;
			wp_io_rw(io, r->fd);
			continue;
		}
		wp_snapshot_chunk(sn, io);
		wp_io_free(io);
	}
	if (sn->pending > 0 || sn->finishing)
		return;
	if (sn->error != 0) {
		wp_snapshot_done(sn);
		return;
	}
	if ((io = wp_io_new(sn->s, r, wp_snap_fsync_done)) == NULL) {
		sn->error = -ENOMEM;
		wp_snapshot_done(sn);
		return;
	}
	io->snap = sn;
	sn->finishing = 1;
	sn->pending++;
	wp_io_fsync(io, sn->fd);
}

/*
 * Take a snapshot of region r into the file open on *fdp (taken over on
 * success): write-protect every page at once (the instant), then copy in
 * the background while the client runs; a page about to be written is
 * saved first. When it ends, the owner session is told, or, for a
 * snapshot a control session asked for (tell), tell->done runs.
 */
int
wp_snapshot_start(struct session *s, struct region *r, int *fdp,
    struct snapshot_tell *tell, uint32_t *idp, char *why, size_t whylen)
{
	struct snapshot *sn = NULL;
	struct stat st;
	int flags, error, i;

	error = 0;
	if (r->wp == NULL) {
		error = -EINVAL;
		snprintf(why, whylen, "snapshot: region %u is not "
		    "write-protected", r->id);
	} else if (r->wp->snap != NULL) {
		error = -EBUSY;
		snprintf(why, whylen, "snapshot: region %u has one in "
		    "progress", r->id);
	} else if (region_stat(*fdp, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (flags = fcntl(*fdp, F_GETFL)) == -1 || (flags & O_ACCMODE) ==
	    O_RDONLY) {
		error = -EBADF;
		snprintf(why, whylen, "snapshot: the image must be a regular "
		    "file open for writing");
	} else if (ftruncate(*fdp, (off_t)(r->end - r->start)) == -1) {
		error = -errno;
		snprintf(why, whylen, "snapshot: ftruncate of the image: %s",
		    strerror(errno));
	}
	if (error == 0 && ((sn = calloc(1, sizeof *sn)) == NULL ||
	    (sn->saved = calloc(BITMAP_WORDS(r->wp->npages),
	    sizeof(unsigned long))) == NULL)) {
		free(sn);
		sn = NULL;
		error = -ENOMEM;
		snprintf(why, whylen, "snapshot: out of memory");
	}
	if (error == 0 && (error = wp_protect(s, r->start, r->end - r->start,
	    1)) != 0) {
		snprintf(why, whylen, "snapshot: write-protecting region %u: "
		    "%s", r->id, strerror(-error));
		free(sn->saved);
		free(sn);
	}
	if (error != 0) {
		log_warnx("session %u: pid %d (%s): refused: %s", s->id,
		    (int)s->pid, s->comm, why);
		return error;
	}
	sn->s = s;
	sn->r = r;
	sn->fd = *fdp;
	*fdp = -1;
	sn->tell = tell;
	sn->id = __atomic_add_fetch(&wp_next_snapshot_id, 1, __ATOMIC_RELAXED);
	r->wp->snap = sn;
	*idp = sn->id;
	log_debug("session %u: snapshot %u of region %u: started", s->id,
	    sn->id, r->id);
	/*
	 * The first steps may copy without I/O and fail (no memory, a memfd
	 * cut short): then the snapshot fails here, in the reply, not in a
	 * notice sent before the reply that says it began.
	 */
	sn->pending++;
	for (i = 0; i < SNAP_INFLIGHT; i++)
		wp_snapshot_step(sn);
	sn->pending--;
	if (sn->error != 0 && sn->pending == 0) {
		error = sn->error;
		snprintf(why, whylen, "snapshot of region %u: %s", r->id,
		    strerror(-error));
		log_warnx("session %u: pid %d (%s): %s", s->id, (int)s->pid,
		    s->comm, why);
		r->wp->snap = NULL;
		wp_snapshot_free(sn);
		return error;
	}
	if (sn->pending == 0)
		wp_snapshot_step(sn);
	return 0;
}

/* A client's own snapshot request: the reply comes at the instant. */
void
wp_snapshot(struct session *s, const struct pd_region_req *req, int *fds)
{
	char why[PD_REASON_MAX];
	struct region *r = NULL;
	uint32_t id = 0;
	size_t i;
	int error;

	for (i = 0; i < s->nregions; i++)
		if (s->regions[i]->id == req->region_id)
			r = s->regions[i];
	if (r == NULL) {
		snprintf(why, sizeof why, "snapshot: no region %u",
		    req->region_id);
		session_reply(s, req->hdr.seq, -ENOENT, 0, 0, why);
		return;
	}
	error = wp_snapshot_start(s, r, &fds[0], NULL, &id, why, sizeof why);
	session_reply(s, req->hdr.seq, error, id, 0, error != 0 ? why : NULL);
}

/* --- Write-back ------------------------------------------------------ */

/*
 * Write a region's dirty pages to its backing file. Each run is write-
 * protected again before it is written, so a write that comes during the
 * write-back makes the page dirty again rather than being lost. The
 * pages stay the sync's until its fsync succeeds: a sync that fails in
 * any way, a write or the fsync, leaves every page it took dirty. The
 * writes take their bytes from the daemon's mapping of the memfd, read
 * by the kernel: a page the client cut off fails the write with EFAULT.
 */
static void
wp_writeback(struct session *s, struct region *r, uint32_t seq, int reply)
{
	uint64_t p, first, end, off, len, fend;
	struct wp_sync *sync;
	struct wp_io *io;
	char what[64];

	if ((sync = calloc(1, sizeof *sync)) == NULL || (sync->taken =
	    calloc(BITMAP_WORDS(r->wp->npages), sizeof *sync->taken)) == NULL) {
		free(sync);
		if (reply) {
			session_reply(s, seq, -ENOMEM, 0, 0, "sync: out of "
			    "memory");
		} else {
			snprintf(what, sizeof what, "write-back of region %u",
			    r->id);
			wp_retry_give_up(s, r, what, "out of memory");
		}
		return;
	}
	sync->s = s;
	sync->r = r;
	sync->seq = seq;
	sync->reply = reply;
	/* The file keeps the size it had: no bytes past it are written. */
	fend = r->file_size > r->offset ? r->file_size - r->offset : 0;
	for (p = 0; p < r->wp->npages && r->wp->ndirty > 0; p = end) {
		if (!bit_test(r->wp->dirty, p)) {
			end = p + 1;
			continue;
		}
		for (end = p; end < r->wp->npages &&
		    bit_test(r->wp->dirty, end) &&
		    (end - p) * page_size < WP_WRITE_MAX; end++) {
			bit_clear(r->wp->dirty, end);
			bit_set(sync->taken, end);
			r->wp->ndirty--;
		}
		first = p;
		wp_protect(s, r->start + first * page_size, (end - first) *
		    page_size, 1);
		off = first * page_size;
		if (off >= fend)
			continue;
		len = (end - first) * page_size;
		if (len > fend - off)
			len = fend - off;
		if ((io = wp_io_new(s, r, wp_writeback_done)) == NULL) {
			sync->error = -ENOMEM;
			break;
		}
		io->sync = sync;
		io->src = r->wp->mem + off;
		io->off = r->offset + off;
		io->len = (uint32_t)len;
		sync->pending++;
		sync->pages += end - first;
		wp_io_rw(io, r->fd);
	}
	if (sync->pending == 0)
		wp_sync_finish(sync);
}

/*
 * Why r's failed write-back will not be tried again, or NULL: the daemon
 * is stopping, no retry can mend the error (a descriptor or a write that
 * is wrong; a memfd the client shrank, EFAULT; a file gone on its
 * server), or the pages held for retries
 * would pass writeback-hold-mib. A disk that fails, fills, goes read-only
 * after errors or away (a network file system) may come back.
 */
static const char *
wp_retry_refused(const struct session *s, const struct region *r,
    int error)
{
	uint64_t hold = (uint64_t)__atomic_load_n(&opts.writeback_hold_mib,
	    __ATOMIC_RELAXED) << 20;

	if (s->worker->stop)
		return "the daemon is stopping";
	if (error == -EBADF || error == -EINVAL || error == -EFBIG ||
	    error == -ESTALE || error == -EFAULT)
		return "no retry can mend that";
	if ((wp_retry_pages() - r->wp->wb_waiting + r->wp->ndirty) *
	    page_size > hold)
		return "more would wait to be written back than "
		    "writeback-hold-mib allows";
	return NULL;
}

/*
 * r's write-back, which nobody waits for, failed (what) and will not be
 * tried again (why): its dirty pages are gone with the region.
 */
static void
wp_retry_give_up(struct session *s, struct region *r, const char *what,
    const char *why)
{
	log_warnx("session %u: pid %d (%s): %s; %" PRIu64 " written pages of "
	    "its gone client are lost (%s)", s->id, (int)s->pid, s->comm, what,
	    r->wp->ndirty, why);
	wp_retry_count(r, 0);
}

/* The retry is due, or the daemon stops: a last try. */
static void
wp_retry_run(struct worker *w, struct timer *t)
{
	struct wp_retry *rt = container_of(t, struct wp_retry, timer);

	(void)w;
	if (rt->r->wp->ndirty > 0)
		wp_writeback(rt->s, rt->r, 0, 0);
	else
		wp_retry_count(rt->r, 0);
	region_unref(rt->r);
	session_unref(rt->s);
	free(rt);
}

/* Try r's write-back again later: in how many seconds, or 0 (no memory). */
static unsigned int
wp_retry_add(struct session *s, struct region *r)
{
	unsigned int delay = r->wp->wb_retries < 6 ? 1u << r->wp->wb_retries :
	    WP_RETRY_MAX_S;
	struct wp_retry *rt;

	if ((rt = calloc(1, sizeof *rt)) == NULL)
		return 0;
	rt->s = s;
	rt->r = r;
	rt->timer.run = wp_retry_run;
	rt->timer.at_stop = 1;
	r->refs++;
	s->inflight++;
	r->wp->wb_retries++;
	worker_timer_add(s->worker, &rt->timer, monotonic_ns() +
	    (uint64_t)delay * 1000000000u);
	wp_retry_count(r, r->wp->ndirty);
	return delay;
}

/* Pages of gone clients whose write-back waits to be tried again. */
uint64_t
wp_retry_pages(void)
{
	return __atomic_load_n(&wp_retry_waiting, __ATOMIC_RELAXED);
}

static void
wp_sync_finish(struct wp_sync *sync)
{
	struct session *s = sync->s;
	struct wp_io *io;
	char why[PD_REASON_MAX];
	const char *refused = NULL;
	unsigned int delay;
	uint64_t p;

	if (sync->error == 0 && sync->pages > 0 && !sync->finishing) {
		if ((io = wp_io_new(s, sync->r, wp_sync_fsync_done)) != NULL) {
			io->sync = sync;
			sync->finishing = 1;
			sync->pending++;
			wp_io_fsync(io, sync->r->fd);
			return;
		}
		sync->error = -ENOMEM;
	}
	WP_COUNT(s, pages_written, sync->error == 0 ? sync->pages : 0);
	if (sync->error != 0) {
		/* Written or not, none is known to be on the disk. */
		for (p = 0; p < sync->r->wp->npages; p++)
			if (bit_test(sync->taken, p) &&
			    !bit_test(sync->r->wp->dirty, p)) {
				bit_set(sync->r->wp->dirty, p);
				sync->r->wp->ndirty++;
			}
		snprintf(why, sizeof why, "write-back of region %u: %s",
		    sync->r->id, strerror(-sync->error));
		if (sync->reply)
			log_warnx("session %u: pid %d (%s): %s", s->id,
			    (int)s->pid, s->comm, why);
		else if ((refused = wp_retry_refused(s, sync->r,
		    sync->error)) == NULL && (delay = wp_retry_add(s,
		    sync->r)) > 0)
			log_warnx("session %u: pid %d (%s): %s; its %" PRIu64
			    " dirty pages exist only in the daemon now: trying "
			    "again in %u s", s->id, (int)s->pid, s->comm, why,
			    sync->r->wp->ndirty, delay);
		else
			wp_retry_give_up(s, sync->r, why, refused != NULL ?
			    refused : "out of memory");
	} else if (sync->r->wp->wb_retries > 0) {
		log_info("session %u: pid %d (%s): region %u: %" PRIu64
		    " pages written back at try %u", s->id, (int)s->pid,
		    s->comm, sync->r->id, sync->pages,
		    sync->r->wp->wb_retries + 1);
		wp_retry_count(sync->r, 0);
	} else
		log_debug("session %u: region %u: %" PRIu64 " pages written "
		    "back", s->id, sync->r->id, sync->pages);
	if (sync->reply && !s->closing)
		session_reply(s, sync->seq, sync->error, (uint32_t)(sync->pages
		    > UINT32_MAX ? UINT32_MAX : sync->pages), 0,
		    sync->error ? why : NULL);
	free(sync->taken);
	free(sync);
}

void
wp_sync(struct session *s, const struct pd_region_req *req)
{
	char why[PD_REASON_MAX];
	struct region *r = NULL;
	size_t i;

	for (i = 0; i < s->nregions; i++)
		if (s->regions[i]->id == req->region_id)
			r = s->regions[i];
	if (r == NULL || !(r->flags & PD_REGION_WRITEBACK)) {
		snprintf(why, sizeof why, r == NULL ? "sync: no region %u" :
		    "sync: region %u is not a write-back region",
		    req->region_id);
		session_reply(s, req->hdr.seq, r == NULL ? -ENOENT : -EINVAL,
		    0, 0, why);
		return;
	}
	wp_writeback(s, r, req->hdr.seq, 1);
}

/*
 * A region leaves its session: a snapshot of it ends, and what the client
 * wrote to a write-back region must not be lost.
 */
void
wp_region_closing(struct session *s, struct region *r)
{
	struct snapshot *sn;

	if (r->wp == NULL)
		return;
	if ((sn = r->wp->snap) != NULL) {
		if (sn->error == 0)
			sn->error = -ECANCELED;
		if (sn->pending == 0)
			wp_snapshot_done(sn);
	}
	if ((r->flags & PD_REGION_WRITEBACK) && r->wp->ndirty > 0)
		wp_writeback(s, r, 0, 0);
}

/* --- Faults and queries ---------------------------------------------- */

static void
wp_violation(struct session *s, struct region *r, uint64_t addr,
    uint32_t tid)
{
	char backing[160];
	struct pd_notice notice;
	int allow = (r->flags & PD_REGION_REPORT) != 0;

	WP_COUNT(s, violations, 1);
	region_backing_name(r, backing, sizeof backing);
	memset(&notice, 0, sizeof notice);
	notice.kind = PD_NOTICE_VIOLATION;
	notice.region_id = r->id;
	notice.value = allow ? PD_VIOLATION_ALLOWED : PD_VIOLATION_KILL;
	notice.addr = addr;
	notice.tid = tid;
	snprintf(notice.reason, sizeof notice.reason, "write to read-only "
	    "region %u (0x%" PRIx64 "-0x%" PRIx64 " r--, %.80s offset 0x%" PRIx64
	    ")", r->id, r->start, r->end, backing, r->offset + (addr -
	    r->start));
	violation_record(s, tid, "protection violation at 0x%" PRIx64 ": %s; "
	    "%s", addr, notice.reason, allow ? "reported and allowed (policy "
	    "report)" : "the thread gets SIGSEGV (policy kill)");
	session_notice(s, &notice);
}

/* A write to a write-protected page. */
void
wp_fault(struct session *s, struct region *r, uint64_t addr, uint32_t tid)
{
	uint64_t p = (addr - r->start) / page_size;

	if (r->wp == NULL) {
		/* Only WP regions are registered for it: wake and retry. */
		log_warnx("session %u: pid %d: write-protect fault at 0x%"
		    PRIx64 " outside a write-protected region", s->id,
		    (int)s->pid, addr);
		wp_protect(s, addr, page_size, 0);
		return;
	}
	if (r->wp->snap != NULL && !bit_test(r->wp->snap->saved, p))
		wp_snapshot_save_page(r->wp->snap, p);
	if (r->flags & PD_REGION_READONLY) {
		wp_violation(s, r, addr, tid);
		if (!(r->flags & PD_REGION_REPORT))
			return;
	}
	if (!bit_test(r->wp->dirty, p)) {
		bit_set(r->wp->dirty, p);
		r->wp->ndirty++;
		WP_COUNT(s, pages_dirtied, 1);
	}
	wp_protect(s, addr, page_size, 0);
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
	proto_init(&msg, PD_MSG_DIRTY_REPLY, d->hdr.seq);
	msg.dirty_reply.first = d->first;
	msg.dirty_reply.npages = r->wp->npages;
	msg.dirty_reply.ndirty = r->wp->ndirty;
	for (i = 0; i < PD_DIRTY_BITS && d->first + i < r->wp->npages; i++)
		if (bit_test(r->wp->dirty, d->first + i))
			msg.dirty_reply.bits[i / 8] |= (uint8_t)(1u << (i % 8));
	session_send(s, &msg);
}

/* --- Completions ----------------------------------------------------- */

/*
 * The first failure is the one kept: an error, or a write (write) that
 * wrote nothing. (A read of nothing is the file's end.)
 */
static void
wp_io_failed(int *error, int res, int write)
{
	if (*error == 0 && (res < 0 || (write && res == 0)))
		*error = res < 0 ? res : -EIO;
}

/* One of a sync's I/Os ended: the sync ends with its last. */
static void
wp_sync_io_end(struct wp_io *io)
{
	if (--io->sync->pending == 0)
		wp_sync_finish(io->sync);
	wp_io_free(io);
}

static void
wp_writeback_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct wp_io *io = container_of(op, struct wp_io, op);

	if (wp_io_more(io, cqe->res))
		return;
	wp_io_failed(&io->sync->error, cqe->res, 1);
	wp_sync_io_end(io);
}

static void
wp_sync_fsync_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct wp_io *io = container_of(op, struct wp_io, op);

	wp_io_failed(&io->sync->error, cqe->res, 0);
	wp_sync_io_end(io);
}

/* Backing bytes of a snapshot chunk came: its pages go to the image. */
static void
wp_snap_read_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct wp_io *io = container_of(op, struct wp_io, op);
	struct snapshot *sn = io->snap;

	if (wp_io_more(io, cqe->res))
		return;
	sn->pending--;
	wp_io_failed(&sn->error, cqe->res, 0);
	if (sn->error == 0 && !sn->s->closing && !io->r->dead)
		wp_snapshot_chunk(sn, io);
	wp_snapshot_step(sn);
	wp_io_free(io);
}

static void
wp_snap_write_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct wp_io *io = container_of(op, struct wp_io, op);
	struct snapshot *sn = io->snap;

	if (wp_io_more(io, cqe->res))
		return;
	wp_io_failed(&sn->error, cqe->res, 1);
	sn->pending--;
	wp_snapshot_step(sn);
	wp_io_free(io);
}

static void
wp_snap_fsync_done(struct op *op, const struct io_uring_cqe *cqe)
{
	struct wp_io *io = container_of(op, struct wp_io, op);
	struct snapshot *sn = io->snap;

	wp_io_failed(&sn->error, cqe->res, 0);
	sn->pending--;
	wp_snapshot_done(sn);
	wp_io_free(io);
}

/*
 * Live snapshots of write-protected regions: every page is write-protected
 * at an instant, then copied to the image in the background while the
 * client runs; a page about to be written is saved first. Pages are read
 * from the region's memfd with pread(2), never from the mapping (wp.c).
 */
#include "config.h"

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
#include "wp.h"

/* Pages a snapshot's background copy takes per step, and steps at once. */
#define SNAP_CHUNK_PAGES 64
#define SNAP_INFLIGHT 4

/*
 * A snapshot in progress: the image (a file, or a store's export from an
 * offset) and the pages already in it.
 */
struct snapshot {
	struct session *s;
	struct region *r;
	int fd;			/* -1: the image goes to store */
	struct store *store;
	uint64_t store_off;
	uint32_t id;
	unsigned long *saved;	/* pages whose instant content is taken */
	uint64_t cursor;	/* where the background copy goes on */
	unsigned int pending;	/* its I/Os in flight */
	int error;		/* the first failure, a negative errno */
	int finishing;		/* the image's fsync is in flight */
	struct snapshot_tell *tell; /* who asked, if not the owner */
};

static uint32_t wp_next_snapshot_id;

static void wp_snapshot_step(struct snapshot *);
static void wp_snap_read_done(struct op *, const struct io_uring_cqe *);
static void wp_snap_write_done(struct op *, const struct io_uring_cqe *);
static void wp_snap_fsync_done(struct op *, const struct io_uring_cqe *);

/* Write io's bytes (io->off in the image) to the image. */
static void
wp_snapshot_out(struct snapshot *sn, struct wp_io *io)
{
	io->snap = sn;
	if (sn->store != NULL) {
		io->store = sn->store;
		io->off += sn->store_off;
	}
	sn->pending++;
	wp_io_rw(io, sn->fd);
}

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
	io->src = io->buf;
	io->off = p * page_size;
	io->len = (uint32_t)page_size;
	wp_snapshot_out(sn, io);
}

static void
wp_snapshot_free(struct snapshot *sn)
{
	if (sn->fd != -1)
		close(sn->fd);
	if (sn->store != NULL)
		store_unref(sn->store);
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
		STAT_COUNT(s, snapshots, 1);
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
			if (session_log_allow(s->uid, LOG_INFO))
				log_info("session %u: pid %d (%s): %s", s->id,
				    (int)s->pid, s->comm, notice.reason);
		} else {
			snprintf(notice.reason, sizeof notice.reason,
			    "snapshot %u of region %u failed: %s", sn->id,
			    r->id, strerror(-sn->error));
			if (session_log_allow(s->uid, LOG_WARNING))
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
			wp_protect(sn->s, r, r->start + p * page_size, (q - p) *
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
		/*
		 * A run of pages to write: unsaved, and not a zero hole (a
		 * store's export has its own bytes there: zeros go too).
		 */
		for (q = p; q < n && !bit_test(sn->saved, io->page + q) &&
		    (bit_test(r->wp->present, io->page + q) || r->backing !=
		    PD_BACKING_ZERO || sn->store != NULL); q++)
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
		w->src = w->buf;
		w->off = (io->page + p) * page_size;
		w->len = (uint32_t)((q - p) * page_size);
		wp_snapshot_out(sn, w);
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
		/* Pages never installed of a file or store region: read them. */
		need_read = 0;
		for (p = io->page; p < io->page + n; p++)
			if (!bit_test(sn->saved, p) &&
			    !bit_test(r->wp->present, p))
				need_read = 1;
		fpages = r->file_size > r->offset + io->page * page_size ?
		    (r->file_size - r->offset - io->page * page_size +
		    page_size - 1) / page_size : 0;
		if ((r->backing == PD_BACKING_FILE || r->backing ==
		    PD_BACKING_STORE) && need_read && fpages > 0) {
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
	if (sn->store != NULL)
		io->store = sn->store;
	sn->finishing = 1;
	sn->pending++;
	wp_io_fsync(io, sn->fd);
}

/*
 * Start a snapshot of region r into the image: the file open on fd (taken
 * on success), or, fd -1, store's export from off. Every page is write-
 * protected at once (the instant), then copied in the background while
 * the client runs; a page about to be written is saved first. When it
 * ends, the owner session is told, or, for a snapshot a control session
 * asked for (tell), tell->done runs.
 */
static int
wp_snapshot_begin(struct session *s, struct region *r, int fd,
    struct store *store, uint64_t off, struct snapshot_tell *tell,
    uint32_t *idp, char *why, size_t whylen)
{
	struct snapshot *sn;
	int error, i;

	if ((sn = calloc(1, sizeof *sn)) == NULL || (sn->saved =
	    calloc(BITMAP_WORDS(r->wp->npages), sizeof(unsigned long))) ==
	    NULL) {
		free(sn);
		snprintf(why, whylen, "snapshot: out of memory");
		error = -ENOMEM;
		goto fail;
	}
	/* An async region's writes must be seen from the instant on. */
	if ((error = wp_async_to_sync(s, r, why, whylen)) != 0)
		goto fail_free;
	if ((error = wp_protect(s, r, r->start, r->end - r->start, 1)) != 0) {
		snprintf(why, whylen, "snapshot: write-protecting region %u: "
		    "%s", r->id, strerror(-error));
		goto fail_free;
	}
	sn->s = s;
	sn->r = r;
	sn->fd = fd;
	sn->store = store;
	if (store != NULL)
		store_ref(store);
	sn->store_off = off;
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
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): %s", s->id,
			    (int)s->pid, s->comm, why);
		r->wp->snap = NULL;
		/* The caller keeps its descriptor on failure. */
		sn->fd = -1;
		wp_snapshot_free(sn);
		return error;
	}
	if (sn->pending == 0)
		wp_snapshot_step(sn);
	return 0;

fail_free:
	free(sn->saved);
	free(sn);
fail:
	if (session_log_allow(s->uid, LOG_WARNING))
		log_warnx("session %u: pid %d (%s): refused: %s", s->id,
		    (int)s->pid, s->comm, why);
	return error;
}

/* Is r a region a snapshot can be taken of now? 0, or -errno and why. */
static int
wp_snapshot_check(struct region *r, char *why, size_t whylen)
{
	if (r->wp == NULL) {
		snprintf(why, whylen, "snapshot: region %u is not "
		    "write-protected", r->id);
		return -EINVAL;
	}
	if (r->wp->snap != NULL) {
		snprintf(why, whylen, "snapshot: region %u has one in "
		    "progress", r->id);
		return -EBUSY;
	}
	return 0;
}

/*
 * A snapshot of region r into the file open on *fdp (taken over on
 * success), as wp_snapshot_begin.
 */
int
wp_snapshot_start(struct session *s, struct region *r, int *fdp,
    struct snapshot_tell *tell, uint32_t *idp, char *why, size_t whylen)
{
	struct stat st;
	int flags, error;

	if ((error = wp_snapshot_check(r, why, whylen)) != 0) {
		/* Refused below. */
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
	if (error != 0) {
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): refused: %s",
			    s->id, (int)s->pid, s->comm, why);
		return error;
	}
	if ((error = wp_snapshot_begin(s, r, *fdp, NULL, 0, tell, idp, why,
	    whylen)) == 0)
		*fdp = -1;
	return error;
}

/*
 * A snapshot of region r into store's export from off, written and
 * flushed before its end is told; store.c has checked that the session
 * may write it there.
 */
int
wp_snapshot_start_store(struct session *s, struct region *r,
    struct store *store, uint64_t off, uint32_t *idp, char *why,
    size_t whylen)
{
	int error;

	if ((error = wp_snapshot_check(r, why, whylen)) != 0) {
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): refused: %s",
			    s->id, (int)s->pid, s->comm, why);
		return error;
	}
	return wp_snapshot_begin(s, r, -1, store, off, NULL, idp, why, whylen);
}

/* The session's region id a snapshot names, or NULL with seq refused. */
struct region *
wp_snapshot_region(struct session *s, uint32_t id, uint32_t seq)
{
	char why[PD_REASON_MAX];
	size_t i;

	for (i = 0; i < s->nregions; i++)
		if (s->regions[i]->id == id)
			return s->regions[i];
	snprintf(why, sizeof why, "snapshot: no region %u", id);
	session_reply(s, seq, -ENOENT, 0, 0, why);
	return NULL;
}

/* A client's own snapshot request: the reply comes at the instant. */
void
wp_snapshot(struct session *s, const struct pd_region_req *req, int *fds)
{
	char why[PD_REASON_MAX];
	struct region *r;
	uint32_t id = 0;
	int error;

	if ((r = wp_snapshot_region(s, req->region_id, req->hdr.seq)) == NULL)
		return;
	error = wp_snapshot_start(s, r, &fds[0], NULL, &id, why, sizeof why);
	session_reply(s, req->hdr.seq, error, id, 0, error != 0 ? why : NULL);
}

/* The client is about to write page p of r: a snapshot saves it first. */
void
wp_snapshot_write(struct region *r, uint64_t p)
{
	struct snapshot *sn = r->wp->snap;

	if (sn != NULL && !bit_test(sn->saved, p))
		wp_snapshot_save_page(sn, p);
}

/* r leaves its session: a snapshot of it ends, cancelled. */
void
wp_snapshot_cancel(struct region *r)
{
	struct snapshot *sn = r->wp->snap;

	if (sn == NULL)
		return;
	if (sn->error == 0)
		sn->error = -ECANCELED;
	if (sn->pending == 0)
		wp_snapshot_done(sn);
}

/* --- Completions ----------------------------------------------------- */

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

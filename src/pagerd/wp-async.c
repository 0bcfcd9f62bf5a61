/*
 * Write tracking by the kernel (UFFD_FEATURE_WP_ASYNC) for copy-on-write
 * and write-back regions: they are registered with a second userfaultfd
 * of the session, whose write faults the kernel resolves itself, without
 * a round trip to the daemon. Which pages were written the daemon reads
 * from the client's pagemap (PAGEMAP_SCAN), write-protecting them again
 * in the same walk, when it is asked (dirty, sync) and when the region
 * goes. A snapshot must see every write: it moves the region to the
 * session's own userfaultfd first, for good.
 *
 * WP_ASYNC is chosen per userfaultfd, at UFFDIO_API: regions that need
 * their writes seen (read-only regions, snapshots) cannot share one with
 * these, hence the second. The daemon scans, not the library: it alone
 * knows when a region goes or a snapshot starts; the client opens its own
 * pagemap (no ptrace rights needed) and hands over the descriptor.
 */
#include "config.h"

#include <sys/ioctl.h>

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

/* The kernel marks a context that has been through UFFDIO_API. */
#define UFFD_FEATURE_INITIALIZED ((uint64_t)1 << 31)

/* What a WP_ASYNC userfaultfd has beyond the session's own. */
#define WP_ASYNC_FEATURES (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)

/* The file pages a hole fill reads at once, and at most in all. */
#define WP_ASYNC_FILL_MAX (1u << 20)
#define WP_ASYNC_FILL_CAP (256u << 20)

static int wp_async_move(struct session *, struct region *, char *, size_t);

/* Is fd the pagemap of process pid (as this daemon's /proc names it)? */
static int
wp_async_is_pagemap(int fd, pid_t pid)
{
	char path[64], link[64], want[64];
	ssize_t n;
	int flags;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	snprintf(want, sizeof want, "/proc/%d/pagemap", (int)pid);
	if ((n = readlink(path, link, sizeof link - 1)) <= 0)
		return 0;
	link[n] = '\0';
	flags = fcntl(fd, F_GETFL);
	return strcmp(link, want) == 0 && flags != -1 &&
	    (flags & O_ACCMODE) != O_WRONLY;
}

/*
 * The client's second userfaultfd, with WP_ASYNC, and its pagemap. Both
 * are checked with the kernel, not taken on the client's word.
 */
void
wp_async_attach(struct session *s, const struct pd_wp_async *m, int *fds)
{
	char why[PD_REASON_MAX];
	uint64_t features, want;
	int error, flags;

	error = -EINVAL;
	want = s->features | WP_ASYNC_FEATURES;
	if (!(s->caps & PD_CAP_WP_ASYNC)) {
		snprintf(why, sizeof why, "wp-async: the hello did not agree "
		    "on it");
	} else if (s->auffd != -1) {
		error = -EBUSY;
		snprintf(why, sizeof why, "wp-async: the session has one");
	} else if (uffd_fdinfo(fds[0], &features) != 0) {
		error = -EBADF;
		snprintf(why, sizeof why, "wp-async: the first descriptor is "
		    "not a userfaultfd");
	} else if ((features & ~UFFD_FEATURE_INITIALIZED) != want ||
	    m->uffd_features != want) {
		snprintf(why, sizeof why, "wp-async: the userfaultfd has "
		    "features 0x%" PRIx64 ", claimed 0x%" PRIx64 ", the "
		    "session's with wp-async 0x%" PRIx64, features &
		    ~UFFD_FEATURE_INITIALIZED, m->uffd_features, want);
	} else if (!wp_async_is_pagemap(fds[1], s->pid)) {
		error = -EBADF;
		snprintf(why, sizeof why, "wp-async: the second descriptor is "
		    "not /proc/%d/pagemap open for reading", (int)s->pid);
	} else if ((error = uffd_scan_written(fds[1], 0, 0, 0, NULL,
	    NULL)) != 0) {
		snprintf(why, sizeof why, "wp-async: PAGEMAP_SCAN: %s%s",
		    strerror(-error), error == -ENOTTY ? " (Linux 6.7 has it)" :
		    "");
	} else if ((flags = fcntl(fds[0], F_GETFL)) == -1 ||
	    fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) == -1) {
		error = -errno;
		snprintf(why, sizeof why, "wp-async: userfaultfd: %s",
		    strerror(errno));
	} else
		error = quota_charge(&s->quota, QUOTA_FDS, 2, "wp-async", why,
		    sizeof why);
	if (error != 0) {
		session_refuse(s, m->hdr.seq, error, 0, why);
		return;
	}
	s->auffd = fds[0];
	s->pagemap = fds[1];
	fds[0] = fds[1] = -1;
	/* A re-attaching session polls it with the other, at the end. */
	if (!s->reattaching) {
		s->inflight++;
		worker_arm_poll(s->worker, &s->auffd_op, s->auffd);
	}
	log_debug("session %u: writes to copy-on-write and write-back regions "
	    "tracked by the kernel (wp-async)", s->id);
	session_reply(s, m->hdr.seq, 0, 0, 0, NULL);
}

/*
 * A region the client registered with the second userfaultfd, it says:
 * the session must have one, and the kernel must agree. After a daemon
 * restart the library re-sends a region a snapshot had moved to the
 * session's own userfaultfd as it first sent it: it is tracked
 * synchronously again, as it is registered.
 */
int
wp_async_check(struct session *s, struct region *r, char *why,
    size_t whylen)
{
	int error;

	if (s->auffd == -1) {
		snprintf(why, whylen, "region: asynchronous write tracking "
		    "without a wp-async userfaultfd");
		return -EINVAL;
	}
	error = uffd_scan_written(s->pagemap, r->start, r->end, 0, NULL, NULL);
	if (error == -EPERM) {
		log_debug("session %u: 0x%" PRIx64 "-0x%" PRIx64 " is not "
		    "registered for wp-async: its writes are tracked by faults",
		    s->id, r->start, r->end);
		r->flags &= ~PD_REGION_ASYNC;
		return 0;
	}
	if (error != 0) {
		snprintf(why, whylen, "region: PAGEMAP_SCAN of 0x%" PRIx64
		    "-0x%" PRIx64 ": %s", r->start, r->end, strerror(-error));
		return error;
	}
	/*
	 * A snapshot must fill its holes before it moves it, and a file
	 * system whose reads may block (FUSE, NFS) must not hold the worker:
	 * such a region is tracked by faults from the start, while nothing
	 * of it is installed and no thread of the client can touch it yet.
	 */
	if (r->backing == PD_BACKING_FILE && !r->read_inline &&
	    !s->reattaching) {
		if ((error = wp_async_move(s, r, why, whylen)) != 0)
			return error;
		log_debug("session %u: 0x%" PRIx64 "-0x%" PRIx64 ": its file "
		    "system may block: writes tracked by faults", s->id,
		    r->start, r->end);
	}
	/*
	 * Page-out captures an async write-back region's windows and writes
	 * them back on the worker (wp-pageout.c): where it cannot (a store's
	 * writes go through its connection; no capture pipes), the region is
	 * tracked by faults, which page-out sees, rather than never go.
	 */
	if ((r->flags & PD_REGION_ASYNC) && (r->flags & PD_REGION_WRITEBACK) &&
	    !wp_pageout_capturable(r) && !s->reattaching) {
		if ((error = wp_async_move(s, r, why, whylen)) != 0)
			return error;
		log_debug("session %u: 0x%" PRIx64 "-0x%" PRIx64 ": page-out "
		    "cannot capture it: writes tracked by faults", s->id,
		    r->start, r->end);
	}
	return 0;
}

struct wp_async_found {
	struct session *s;
	struct region *r;
};

/* The pages of r that [start, end) covers: [*first, *last). */
static void
wp_async_pages(const struct region *r, uint64_t start, uint64_t end,
    uint64_t *first, uint64_t *last)
{
	if (start < r->start)
		start = r->start;
	if (end > r->end)
		end = r->end;
	*first = (start - r->start) / page_size;
	*last = end > start ? (end - r->start) / page_size : *first;
}

/*
 * Pages [start, end) were written: they are dirty. The kernel also lists
 * pages with no entry at all (never protected, or unmapped after a write:
 * it cannot tell); of those only the ones installed count. A page never
 * installed was not written (its first touch is a missing fault), and
 * taking it for dirty would write its hole back as zeros.
 */
static void
wp_async_written(void *arg, uint64_t start, uint64_t end)
{
	struct wp_async_found *f = arg;
	struct region *r = f->r;
	uint64_t p, last;

	wp_async_pages(r, start, end, &p, &last);
	for (; p < last; p++) {
		if (bit_test(r->wp->dirty, p) || !bit_test(r->wp->present, p))
			continue;
		bit_set(r->wp->dirty, p);
		r->wp->ndirty++;
		STAT_COUNT(f->s, pages_dirtied, 1);
	}
}

/*
 * Learn which pages of [start, end) of an async region were written since
 * their last scan (none for other regions), and write-protect them again.
 * 0 or -errno.
 */
int
wp_async_scan_range(struct session *s, struct region *r, uint64_t start,
    uint64_t end)
{
	struct wp_async_found f = { s, r };
	int error;

	if (!(r->flags & PD_REGION_ASYNC) || s->closing)
		return 0;
	error = uffd_scan_written(s->pagemap, start, end, 1, wp_async_written,
	    &f);
	if (error != 0 && error != -ESRCH && session_log_allow(s->uid,
	    LOG_WARNING))
		log_warnx("session %u: pid %d (%s): region %u: PAGEMAP_SCAN: "
		    "%s", s->id, (int)s->pid, s->comm, r->id, strerror(-error));
	return error;
}

/* The same for the whole region. */
int
wp_async_scan(struct session *s, struct region *r)
{
	return wp_async_scan_range(s, r, r->start, r->end);
}

/* What a listing's read-only scan gathers. */
struct wp_async_count {
	const struct region *r;
	uint64_t n;		/* pages written since the last scan */
	uint64_t first;		/* with bits: bit i, page first + i */
	uint64_t npages;
	uint8_t *bits;
};

static void
wp_async_counted(void *arg, uint64_t start, uint64_t end)
{
	struct wp_async_count *c = arg;
	uint64_t p, last;

	wp_async_pages(c->r, start, end, &p, &last);
	for (; p < last; p++) {
		if (bit_test(c->r->wp->dirty, p) ||
		    !bit_test(c->r->wp->present, p))
			continue;
		c->n++;
		if (c->bits != NULL && p >= c->first && p < c->first +
		    c->npages)
			c->bits[(p - c->first) / 8] |= (uint8_t)(1u <<
			    ((p - c->first) % 8));
	}
}

/*
 * An async region's pages written since its last scan, for a listing:
 * counted, not taken (another thread's region: the scan does not
 * protect them again, and its bitmaps are only read).
 */
static uint64_t
wp_async_count(const struct session *s, struct wp_async_count *c)
{
	const struct region *r = c->r;
	uint64_t start = r->start, end = r->end;

	if (!(r->flags & PD_REGION_ASYNC) || s->pagemap == -1)
		return 0;
	if (c->bits != NULL) {
		start = r->start + c->first * page_size;
		end = start + c->npages * page_size;
		if (end > r->end)
			end = r->end;
		if (start >= end)
			return 0;
	}
	if (uffd_scan_written(s->pagemap, start, end, 0, wp_async_counted,
	    c) != 0)
		return 0;
	return c->n;
}

uint64_t
wp_async_unseen(const struct session *s, const struct region *r)
{
	struct wp_async_count c = { .r = r };

	return wp_async_count(s, &c);
}

/* The same for pages [first, first + n): bit i of bits for page first + i. */
void
wp_async_unseen_pages(const struct session *s, const struct region *r,
    uint64_t first, uint64_t n, uint8_t *bits)
{
	struct wp_async_count c = { .r = r, .first = first, .npages = n,
	    .bits = bits };

	wp_async_count(s, &c);
}

/*
 * Every page the region's memfd holds counts as written: where the
 * daemon cannot know which were. Holes stay holes.
 */
static void
wp_async_all_dirty(struct session *s, struct region *r)
{
	off_t data, hole, len = (off_t)(r->end - r->start);
	uint64_t p, added = 0;

	for (data = 0;; data = hole) {
		data = lseek(r->wp->memfd, data, SEEK_DATA);
		if (data == -1 || data >= len)
			break;
		if ((hole = lseek(r->wp->memfd, data, SEEK_HOLE)) == -1)
			hole = len;
		for (p = (uint64_t)data / page_size; p < r->wp->npages &&
		    (off_t)(p * page_size) < hole; p++) {
			if (!bit_test(r->wp->present, p)) {
				bit_set(r->wp->present, p);
				added++;
			}
			if (bit_test(r->wp->dirty, p))
				continue;
			bit_set(r->wp->dirty, p);
			r->wp->ndirty++;
			STAT_COUNT(s, pages_dirtied, 1);
		}
	}
	/* Holes a snapshot filled, or paged out, hold pages again. */
	wp_pageout_present(r, added, 1);
}

/*
 * The region goes (unmapped, or its process gone): its mapping cannot be
 * scanned any more, and a scan of a range no longer mapped finds nothing.
 * Unless the client's last sync said it was the last (PD_SYNC_FINAL),
 * every page the region holds is taken for written: a write-back region
 * writes them all back rather than lose a write made after the last scan.
 */
void
wp_async_closing(struct session *s, struct region *r)
{
	if (!(r->flags & PD_REGION_ASYNC) || !(r->flags & PD_REGION_WRITEBACK))
		return;
	if (r->wp->settled)
		return;
	wp_async_all_dirty(s, r);
	if (session_log_allow(s->uid, LOG_INFO))
		log_info("session %u: pid %d (%s): region %u goes without a "
		    "last sync: its %" PRIu64 " pages are written back, as any "
		    "may have been written since the last scan", s->id,
		    (int)s->pid, s->comm, r->id, r->wp->ndirty);
}

/*
 * The next hole of r's memfd at or after off and below fend: [*hole,
 * *data). 0 when there is none.
 */
static int
wp_async_hole(const struct region *r, off_t off, off_t fend, off_t *hole,
    off_t *data)
{
	if ((*hole = lseek(r->wp->memfd, off, SEEK_HOLE)) == -1 ||
	    *hole >= fend)
		return 0;
	if ((*data = lseek(r->wp->memfd, *hole, SEEK_DATA)) == -1 ||
	    *data > fend)
		*data = fend;
	return 1;
}

/*
 * Fill the holes of a file region's memfd below the file's end with the
 * file's bytes, so that no fault in them can miss while the region is
 * registered with neither userfaultfd (the kernel would fill them with
 * zeros). The worker reads them itself: only on file systems whose reads
 * do not hang (read_inline), and at most WP_ASYNC_FILL_CAP bytes, so
 * that other sessions of the worker wait a bounded time.
 */
static int
wp_async_fill_holes(struct session *s, struct region *r, char *why,
    size_t whylen)
{
	off_t len = (off_t)(r->end - r->start), fend, off, hole, data;
	uint64_t unread = 0;
	size_t n, done;
	ssize_t got = 0, put;
	char *buf = NULL;
	int error = 0;

	(void)s;
	if (r->backing != PD_BACKING_FILE || r->file_size <= r->offset)
		return 0;
	fend = (off_t)(r->file_size - r->offset);
	if (fend > len)
		fend = len;
	for (off = 0; wp_async_hole(r, off, fend, &hole, &data); off = data)
		unread += (uint64_t)(data - hole);
	if (unread == 0)
		return 0;
	if (!r->read_inline) {
		snprintf(why, whylen, "snapshot: region %u tracks writes "
		    "asynchronously and its file is on a file system whose "
		    "reads may block", r->id);
		return -EOPNOTSUPP;
	}
	if (unread > WP_ASYNC_FILL_CAP) {
		snprintf(why, whylen, "snapshot: region %u tracks writes "
		    "asynchronously and has %" PRIu64 " MiB never read, more "
		    "than the %u MiB a snapshot reads first (PAGERD_NO_WP_ASYNC "
		    "lifts that)", r->id, unread >> 20, WP_ASYNC_FILL_CAP >> 20);
		return -EBUSY;
	}
	if ((buf = malloc(WP_ASYNC_FILL_MAX)) == NULL) {
		snprintf(why, whylen, "snapshot: out of memory");
		return -ENOMEM;
	}
	for (off = 0; error == 0 && wp_async_hole(r, off, fend, &hole,
	    &data); off = data) {
		/* The hole, in chunks: read the file, write the memfd. */
		for (; hole < data && error == 0; hole += (off_t)n) {
			n = (size_t)(data - hole) < WP_ASYNC_FILL_MAX ?
			    (size_t)(data - hole) : WP_ASYNC_FILL_MAX;
			for (done = 0; done < n; done += (size_t)got) {
				got = pread(r->fd, buf + done, n - done,
				    (off_t)r->offset + hole + (off_t)done);
				if (got == -1 && errno == EINTR)
					got = 0;
				else if (got <= 0)
					break;
			}
			/* Past the file's end (it shrank): zeros. */
			if (got == 0)
				memset(buf + done, 0, n - done);
			put = got == -1 ? -1 : pwrite(r->wp->memfd, buf, n,
			    hole);
			if (put != (ssize_t)n) {
				error = put == -1 ? -errno : -EIO;
				snprintf(why, whylen, "snapshot: filling region "
				    "%u at 0x%jx: %s", r->id, (uintmax_t)hole,
				    strerror(-error));
			}
		}
	}
	free(buf);
	return error;
}

/*
 * Register r with the session's own userfaultfd instead of its WP_ASYNC
 * one. A userfaultfd cannot change its features, nor a range belong to
 * two: the range is unregistered from one and registered with the other.
 */
static int
wp_async_move(struct session *s, struct region *r, char *why, size_t whylen)
{
	struct uffdio_range range = { .start = r->start,
	    .len = r->end - r->start };
	struct uffdio_register reg = { .range = range,
	    .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP };
	int error;

	if (ioctl(s->auffd, UFFDIO_UNREGISTER, &range) == -1) {
		error = -errno;
		snprintf(why, whylen, "region %u: unregistering it from the "
		    "wp-async userfaultfd: %s", r->id, strerror(errno));
		return error;
	}
	if (ioctl(s->uffd, UFFDIO_REGISTER, &reg) == -1) {
		error = -errno;
		snprintf(why, whylen, "region %u: registering it with the "
		    "session's userfaultfd: %s", r->id, strerror(errno));
		/* Back where it was, or its faults would go unanswered. */
		if (ioctl(s->auffd, UFFDIO_REGISTER, &reg) == -1 &&
		    session_log_allow(s->uid, LOG_WARNING))
			log_warn("session %u: pid %d (%s): region %u is "
			    "registered with no userfaultfd now", s->id,
			    (int)s->pid, s->comm, r->id);
		return error;
	}
	r->flags &= ~PD_REGION_ASYNC;
	if (r->wp != NULL)
		r->wp->settled = 0;
	/* Threads that faulted on the old one fault again on this one. */
	ioctl(s->auffd, UFFDIO_WAKE, &range);
	return 0;
}

/*
 * Move an async region to the session's own userfaultfd, whose write
 * faults the daemon sees, before a snapshot. Writes made while the range
 * changes userfaultfds leave no trace, so every page the region holds
 * counts as written from then on (a write-back region writes them all
 * back at its next sync), and the holes a fault could fill with zeros
 * meanwhile are filled first.
 */
int
wp_async_to_sync(struct session *s, struct region *r, char *why,
    size_t whylen)
{
	int error;

	if (!(r->flags & PD_REGION_ASYNC))
		return 0;
	if ((error = wp_async_fill_holes(s, r, why, whylen)) != 0)
		return error;
	wp_async_scan(s, r);
	if ((error = wp_async_move(s, r, why, whylen)) != 0)
		return error;
	wp_async_all_dirty(s, r);
	log_debug("session %u: region %u: write tracking by faults from now "
	    "on, for a snapshot; %" PRIu64 " pages count as written", s->id,
	    r->id, r->wp->ndirty);
	return 0;
}

/*
 * The userfaultfd a region is registered with; a fault message without
 * its region (r NULL) is looked up by address.
 */
int
wp_async_uffd(struct session *s, struct region *r, uint64_t addr)
{
	if (s->auffd == -1)
		return s->uffd;
	if (r == NULL)
		r = region_find(s, addr);
	return r != NULL && (r->flags & PD_REGION_ASYNC) ? s->auffd : s->uffd;
}

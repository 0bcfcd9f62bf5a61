/*
 * A session's region table: a sorted array of non-overlapping ranges,
 * searched by address in O(log n) on every fault. Only the session's
 * worker touches it.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

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

/* Changes of a table, which control sessions read from other threads. */
#define TABLE_LOCK(s) pthread_mutex_lock(&(s)->worker->table_lock)
#define TABLE_UNLOCK(s) pthread_mutex_unlock(&(s)->worker->table_lock)

/*
 * The parts other modules keep of each region (the fault path's stream,
 * write protection's tracking), registered at start: region.c calls them
 * only through these hooks, in the order registered (freed in reverse).
 */
#define REGION_PARTS 4
static const struct region_part *region_parts[REGION_PARTS];
static int region_nparts;

void
region_add_part(const struct region_part *part)
{
	if (region_nparts == REGION_PARTS)
		fatalx("region: more than %d parts", REGION_PARTS);
	region_parts[region_nparts++] = part;
}

/* Free every part of r, last first; a part r lacks is left alone. */
static void
region_detach(struct region *r)
{
	int i;

	for (i = region_nparts - 1; i >= 0; i--)
		if (region_parts[i]->detach != NULL)
			region_parts[i]->detach(r);
}

/*
 * Make every part of r, new or cut from from, with a write-protected
 * region's memfd (or -1): 0, or -errno with why and no part made.
 */
static int
region_attach(struct session *s, struct region *r, const struct region *from,
    int memfd, char *why, size_t whylen)
{
	int i, error;

	for (i = 0; i < region_nparts; i++) {
		if (region_parts[i]->attach == NULL || (error =
		    region_parts[i]->attach(s, r, from, memfd, why, whylen)) ==
		    0)
			continue;
		while (--i >= 0)
			if (region_parts[i]->detach != NULL)
				region_parts[i]->detach(r);
		return error;
	}
	return 0;
}

/* Room for one more region in the table. */
static int
region_grow(struct session *s)
{
	struct region **regions;
	size_t cap;

	if (s->nregions < s->regions_cap)
		return 0;
	cap = s->regions_cap ? s->regions_cap * 2 : 8;
	TABLE_LOCK(s);
	regions = reallocarray(s->regions, cap, sizeof *regions);
	if (regions != NULL) {
		s->regions = regions;
		s->regions_cap = cap;
	}
	TABLE_UNLOCK(s);
	return regions != NULL ? 0 : -ENOMEM;
}

/* Index of the first region that ends above addr. */
static size_t
region_search(const struct session *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nregions, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->regions[mid]->end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct region *
region_find(struct session *s, uint64_t addr)
{
	size_t i = region_search(s, addr);

	if (i < s->nregions && s->regions[i]->start <= addr)
		return s->regions[i];
	return NULL;
}

/*
 * fstat from what the kernel knows already: a file system that would ask
 * its server first (FUSE, NFS) does not, for the server may never answer
 * and the caller serves other clients.
 */
int
region_stat(int fd, struct stat *st)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
	    STATX_BASIC_STATS, &sx) == -1)
		return -1;
	memset(st, 0, sizeof *st);
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st->st_ino = sx.stx_ino;
	st->st_mode = sx.stx_mode;
	st->st_nlink = sx.stx_nlink;
	st->st_uid = sx.stx_uid;
	st->st_gid = sx.stx_gid;
	st->st_size = (off_t)sx.stx_size;
	st->st_blocks = (blkcnt_t)sx.stx_blocks;
	st->st_ctim.tv_sec = sx.stx_ctime.tv_sec;
	st->st_ctim.tv_nsec = sx.stx_ctime.tv_nsec;
	st->st_mtim.tv_sec = sx.stx_mtime.tv_sec;
	st->st_mtim.tv_nsec = sx.stx_mtime.tv_nsec;
	return 0;
}

/*
 * A backing descriptor must be a regular file open for reading. An O_PATH
 * descriptor reads as O_RDONLY but proves no right to read: a process
 * that may not open the file (a sandbox with fewer groups) gets one all
 * the same, and must not read the file, nor its page cache another
 * process of its user filled.
 */
int
region_check_backing(int fd, struct stat *st, char *why, size_t whylen)
{
	int flags;

	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || (flags & O_PATH) || (flags & O_ACCMODE) ==
	    O_WRONLY) {
		snprintf(why, whylen, "the backing file is not open for "
		    "reading%s", flags != -1 && (flags & O_PATH) ? " (an "
		    "O_PATH descriptor)" : "");
		return -EBADF;
	}
	if (region_stat(fd, st) == -1) {
		snprintf(why, whylen, "backing file: %s", strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "the backing descriptor is not a regular "
		    "file");
		return -EINVAL;
	}
	return 0;
}

/*
 * Charge a new region to its user: its backing file's descriptor, and a
 * write-protected region's bytes, its memfd and the image of a snapshot
 * it may take. On failure the caller releases r->quota.
 */
static int
region_charge(struct session *s, struct region *r, int wp, char *why,
    size_t whylen)
{
	int error;

	quota_hold_init(&r->quota, s->uid);
	if ((error = quota_charge(&r->quota, QUOTA_FDS, (r->fd != -1) +
	    (wp ? 2u : 0u), "region", why, whylen)) == 0 && wp)
		error = quota_charge(&r->quota, QUOTA_WP, r->end - r->start,
		    "region", why, whylen);
	return error;
}

/*
 * Add a region described by a client. fds are the message's descriptors:
 * the backing file (or a page cache's memfd) unless it is a zero region,
 * the file's own two descriptions (PD_REGION_OWN_FDS), then a
 * write-protected region's memfd. On success the region owns those
 * (their slots are set to -1; the own descriptions go to the cache or
 * stay, to be closed) and *rp points at it.
 */
int
region_add(struct session *s, const struct pd_region_add *ra, int *fds,
    char *why, size_t whylen, struct region **rp)
{
	int fd = ra->backing != PD_BACKING_ZERO ? fds[0] : -1;
	int *own = (ra->flags & PD_REGION_OWN_FDS) ? &fds[fd != -1] : NULL;
	int wpi = (fd != -1) + (own != NULL ? 2 : 0);
	int memfd = (ra->flags & PD_REGION_WP) ? fds[wpi] : -1;
	struct region *r = NULL;
	struct cache *c = NULL;
	struct store *store = NULL;
	struct stat st;
	uint64_t file_size = 0;
	size_t i;
	int error;

	error = proto_check_region_add(ra, (uint32_t)page_size, why, whylen);
	if (error != 0)
		return error;
	if ((ra->mode & PD_MODE_WP) && !(s->features &
	    UFFD_FEATURE_WP_HUGETLBFS_SHMEM)) {
		snprintf(why, whylen, "region: write protection of shared "
		    "memory needs UFFD_FEATURE_WP_HUGETLBFS_SHMEM (Linux 5.19), "
		    "which the session's userfaultfd lacks");
		return -EOPNOTSUPP;
	}
	if (s->nregions >= PAGERD_MAX_REGIONS) {
		snprintf(why, whylen, "region: the session already has %d "
		    "regions, the limit", PAGERD_MAX_REGIONS);
		return -ENOSPC;
	}
	i = region_search(s, ra->start);
	if (i < s->nregions && s->regions[i]->start < ra->start + ra->length) {
		snprintf(why, whylen, "region: 0x%" PRIx64 "+0x%" PRIx64
		    " overlaps region %u at 0x%" PRIx64 "-0x%" PRIx64,
		    ra->start, ra->length, s->regions[i]->id,
		    s->regions[i]->start, s->regions[i]->end);
		return -EEXIST;
	}
	if (ra->backing == PD_BACKING_FILE) {
		if ((error = region_check_backing(fd, &st, why, whylen)) != 0)
			return error;
		file_size = (uint64_t)st.st_size;
	}
	if (ra->backing == PD_BACKING_CACHE || ra->backing ==
	    PD_BACKING_STORE) {
		if ((c = cache_find_memfd(fd, s->uid)) == NULL) {
			snprintf(why, whylen, "region: the descriptor is not a "
			    "page cache this daemon gave the client's user");
			return -ESTALE;
		}
		/* A store's cache is filled from the store, a file's from it. */
		if ((c->store != NULL) != (ra->backing == PD_BACKING_STORE)) {
			snprintf(why, whylen, "region: the page cache is %s's, "
			    "the region says %s", c->store != NULL ? "a store" :
			    "a file", ra->backing == PD_BACKING_STORE ?
			    "a store" : "a file");
			cache_unref(c);
			return -EINVAL;
		}
		if (ra->offset > c->size || ra->length > c->size - ra->offset) {
			snprintf(why, whylen, "region: 0x%" PRIx64 "+0x%" PRIx64
			    " goes past the end of the page cache (0x%" PRIx64
			    " bytes)", ra->offset, ra->length, c->size);
			cache_unref(c);
			return -EINVAL;
		}
		file_size = c->file_size;
	}
	/* Never trusted: the client says they are its file's. */
	if (own != NULL && (error = cache_direct_check(c, own, why,
	    whylen)) != 0) {
		cache_unref(c);
		return error;
	}
	/*
	 * A write-protected store region is its own memory, filled by copies
	 * from the store and written back to it: the cache only named it.
	 */
	if (c != NULL && c->store != NULL && memfd != -1) {
		store = c->store;
		store_ref(store);	/* the region's own, for its life */
		cache_unref(c);
		c = NULL;
	}

	if (region_grow(s) != 0)
		goto nomem;
	if ((r = calloc(1, sizeof *r)) == NULL)
		goto nomem;
	r->id = ++s->next_region_id;
	r->backing = ra->backing;
	r->start = ra->start;
	r->end = ra->start + ra->length;
	r->prot = ra->prot;
	r->mode = ra->mode;
	r->fd = fd;
	r->cache = c;
	/*
	 * A file system on a block device (ext4, xfs) honours io_uring's
	 * "do not block" and answers a read of hot pages at once, inline.
	 * The others (FUSE, NFS, overlay, tmpfs: no device) may block the
	 * worker however asked: their reads go to io_uring's threads.
	 */
	if (ra->backing != PD_BACKING_ZERO)
		r->read_inline = major(c != NULL ? c->dev : st.st_dev) != 0;
	r->store = store;
	if (c != NULL || store != NULL) {
		/*
		 * The cache has its own descriptor of the memfd. Its slot goes
		 * with it: closed again on a failure below, the number might
		 * be another thread's by then (a new client's socket).
		 */
		close(fd);
		r->fd = fds[0] = -1;
	}
	r->offset = ra->offset;
	r->flags = ra->flags;
	if (memfd != -1 && s->wp_pages + ra->length / page_size >
	    PAGERD_MAX_WP_PAGES) {
		snprintf(why, whylen, "region: the session's write-protected "
		    "regions would exceed %llu pages, the limit",
		    PAGERD_MAX_WP_PAGES);
		error = -ENOSPC;
		goto fail;
	}
	if ((error = region_charge(s, r, memfd != -1, why, whylen)) == 0)
		error = region_attach(s, r, NULL, memfd, why, whylen);
	if (error != 0)
		goto fail;
	r->file_size = file_size;

	TABLE_LOCK(s);
	memmove(&s->regions[i + 1], &s->regions[i],
	    (s->nregions - i) * sizeof *s->regions);
	s->regions[i] = r;
	s->nregions++;
	TABLE_UNLOCK(s);
	STAT_ADD(s->worker->nregions, 1);
	fds[0] = -1;
	if (memfd != -1) {
		fds[wpi] = -1;
		s->wp_pages += ra->length / page_size;
	}
	/*
	 * Only a stream of a file on a disk reads through them; the first
	 * region of a cache brings them, the others' are closed (with the
	 * message), so that regions of one file cost no more descriptors.
	 */
	if (own != NULL && r->read_inline)
		cache_direct_give(c, own);
	*rp = r;
	return 0;

nomem:
	snprintf(why, whylen, "region: out of memory");
	error = -ENOMEM;
fail:
	if (r != NULL) {
		quota_release(&r->quota);
		free(r);
	}
	if (c != NULL)
		cache_unref(c);
	if (store != NULL)
		store_unref(store);
	return error;
}

/* Drop a read's hold on a region; a deleted region goes with the last. */
void
region_unref(struct region *r)
{
	if (--r->refs > 0 || !r->dead)
		return;
	if (r->fd != -1)
		close(r->fd);
	if (r->cache != NULL)
		cache_unref(r->cache);
	region_detach(r);
	quota_release(&r->quota);
	if (r->store != NULL)
		store_unref(r->store);
	free(r);
}

static void
region_remove(struct session *s, size_t i)
{
	struct region *r = s->regions[i];
	int k;

	r->gen++;
	if (r->wp != NULL)
		s->wp_pages -= (r->end - r->start) / page_size;
	TABLE_LOCK(s);
	memmove(&s->regions[i], &s->regions[i + 1],
	    (s->nregions - i - 1) * sizeof *s->regions);
	s->nregions--;
	TABLE_UNLOCK(s);
	STAT_ADD(s->worker->nregions, -1u);
	for (k = 0; k < region_nparts; k++)
		if (region_parts[k]->closing != NULL)
			region_parts[k]->closing(s, r);
	r->dead = 1;
	r->refs++;
	region_unref(r);
}

int
region_del(struct session *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->nregions; i++) {
		if (s->regions[i]->id == id) {
			region_remove(s, i);
			return 0;
		}
	}
	return -ENOENT;
}

/* Remove every region of a closing session. */
void
region_clear(struct session *s)
{
	while (s->nregions > 0)
		region_remove(s, s->nregions - 1);
}

/*
 * Make addr a boundary between regions: a region that straddles it is cut
 * in two, each with its own hold on the backing. A write-protected region
 * is one memfd mapping with page bitmaps and is not cut (-EOPNOTSUPP).
 */
static int
region_split(struct session *s, uint64_t addr)
{
	char why[PD_REASON_MAX];
	struct region *r, *n;
	size_t i = region_search(s, addr);
	int error;

	if (i == s->nregions || (r = s->regions[i])->start >= addr)
		return 0;
	if (r->wp != NULL)
		return -EOPNOTSUPP;
	if (region_grow(s) != 0)
		return -ENOMEM;
	if ((n = malloc(sizeof *n)) == NULL)
		return -ENOMEM;
	*n = *r;
	n->start = addr;
	if ((error = region_attach(s, n, r, -1, why, sizeof why)) != 0) {
		free(n);
		return error;
	}
	quota_hold_init(&n->quota, r->quota.uid);
	if (r->fd != -1 && (error = quota_charge(&n->quota, QUOTA_FDS, 1,
	    "region split", why, sizeof why)) != 0) {
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): %s", s->id,
			    (int)s->pid, s->comm, why);
		region_detach(n);
		free(n);
		return error;
	}
	if (r->fd != -1 && (n->fd = fcntl(r->fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		error = -errno;
		region_detach(n);
		quota_release(&n->quota);
		free(n);
		return error;
	}
	if (n->cache != NULL)
		cache_ref(n->cache);
	n->id = ++s->next_region_id;
	n->offset = r->offset + (addr - r->start);
	n->faults = 0;
	n->refs = 0;
	TABLE_LOCK(s);
	r->end = addr;
	memmove(&s->regions[i + 2], &s->regions[i + 1],
	    (s->nregions - i - 1) * sizeof *s->regions);
	s->regions[i + 1] = n;
	s->nregions++;
	TABLE_UNLOCK(s);
	STAT_ADD(s->worker->nregions, 1);
	return 0;
}

/* Cut regions at start and end: 0, or -errno when one could not be cut. */
static int
region_cut(struct session *s, uint64_t start, uint64_t end, const char *what)
{
	int error;

	if ((error = region_split(s, start)) == 0)
		error = region_split(s, end);
	if (error != 0 && session_log_allow(s->uid, LOG_WARNING))
		log_warnx("session %u: pid %d (%s): %s of 0x%" PRIx64 "-0x%"
		    PRIx64 " cuts a region: %s; the region is kept whole",
		    s->id, (int)s->pid, s->comm, what, start, end,
		    error == -EOPNOTSUPP ? "write-protected regions are not "
		    "cut" : strerror(-error));
	return error;
}

/* The client unmapped [start, end): its regions there go. */
void
region_unmapped(struct session *s, uint64_t start, uint64_t end)
{
	(void)region_del_range(s, start, end, "munmap");
}

/*
 * The client gives [start, end) back to the kernel (the shim on
 * MADV_HUGEPAGE, a piece of a region whose number it does not know): its
 * regions there go, cut as on munmap. Only this session's regions. 0, or
 * -errno from a region that could not be cut (none goes then).
 */
int
region_del_range(struct session *s, uint64_t start, uint64_t end,
    const char *what)
{
	size_t i;
	int error;

	if ((error = region_cut(s, start, end, what)) != 0)
		return error;
	for (i = region_search(s, start); i < s->nregions &&
	    s->regions[i]->start < end;)
		region_remove(s, i);
	return 0;
}

static int
region_cmp(const void *a, const void *b)
{
	const struct region *ra = *(struct region *const *)a;
	const struct region *rb = *(struct region *const *)b;

	return ra->start < rb->start ? -1 : ra->start > rb->start;
}

/* mremap moved [from, from + len) to to: so do its regions. */
void
region_moved(struct session *s, uint64_t from, uint64_t to, uint64_t len)
{
	struct region *r;
	size_t i;
	int k;

	if (region_cut(s, from, from + len, "mremap") != 0)
		return;
	/* The kernel unmapped whatever was at the destination first. */
	TABLE_LOCK(s);
	for (i = region_search(s, from); i < s->nregions &&
	    (r = s->regions[i])->start < from + len; i++) {
		r->start = r->start - from + to;
		r->end = r->end - from + to;
		for (k = 0; k < region_nparts; k++)
			if (region_parts[k]->moved != NULL)
				region_parts[k]->moved(r);
		r->gen++;
	}
	qsort(s->regions, s->nregions, sizeof *s->regions, region_cmp);
	TABLE_UNLOCK(s);
}

/* The name of a region's backing, for reports. */
void
region_backing_name(const struct region *r, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	if (r->backing == PD_BACKING_ZERO) {
		strlcpy(buf, "zero-fill", len);
		return;
	}
	if (r->store != NULL || (r->cache != NULL && r->cache->store !=
	    NULL)) {
		snprintf(buf, len, "store %s", store_name(r->store != NULL ?
		    r->store : r->cache->store));
		return;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", r->cache != NULL ?
	    r->cache->file_fd : r->fd);
	if ((n = readlink(path, buf, len - 1)) <= 0) {
		strlcpy(buf, "a file", len);
		return;
	}
	buf[n] = '\0';
}

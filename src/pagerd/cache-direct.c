/*
 * A stream's reads of its file. The cache's own descriptor is the
 * client's open file, with the client's flags and the kernel's read-ahead
 * on it: a window read through it that finds one page missing makes the
 * kernel read the next megabytes into its page cache, ahead of the
 * stream's own reads (fault-read.c, prefetch), which then copy them. A
 * cache whose stream reads a file on a block device (region.c,
 * read_inline: its reads do not hang) opens the file again twice, charged
 * to its user's descriptors: once without read-ahead, which reads
 * the windows the kernel holds and asks whether it holds a page (a read
 * with RWF_NOWAIT, which fails where it would wait for the disk and, with
 * no read-ahead, reads only that page); once with O_DIRECT, which reads a
 * window the kernel does not hold straight into the cache's pages: the
 * disk writes them, and no page of the kernel's is allocated, filled,
 * copied from and kept as a second copy of the file. Where the kernel
 * holds the file, copying it is faster than any disk. A file the daemon
 * may not open (another user's, mode 0600) is opened the two times by its
 * client instead, which sends them with its region (PD_REGION_OWN_FDS).
 * A cache nobody maps (lingering) holds neither.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "cache.h"

enum {
	CACHE_DIRECT_UNTRIED,
	CACHE_DIRECT_OPEN,	/* both descriptors */
	CACHE_DIRECT_BUFFERED,	/* stream_fd only: O_DIRECT was refused */
	CACHE_DIRECT_NONE,	/* neither: the cache's own descriptor */
};

/*
 * The file of c opened again, a description of the daemon's own (its
 * flags and read-ahead are not the client's), or -1; the same file only.
 */
int
cache_reopen(const struct cache *c)
{
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "/proc/self/fd/%d", c->file_fd);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || st.st_dev != c->dev || st.st_ino !=
	    c->ino) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Charge c's user for c's two descriptors for its streams: 0, or -1 (said
 * in a debug line). Under the cache lock.
 */
static int
cache_direct_charge(struct cache *c)
{
	char why[PD_REASON_MAX];

	if (quota_charge(&c->quota, QUOTA_FDS, 2, "stream reads", why,
	    sizeof why) == 0)
		return 0;
	log_debug("cache: file %ju:%ju: %s", (uintmax_t)c->dev,
	    (uintmax_t)c->ino, why);
	return -1;
}

/*
 * Make c->stream_fd and c->direct_fd (-1 where opening failed, errno
 * set), charged already, c's descriptions for its streams: direct with
 * O_DIRECT, stream without read-ahead; where that fails both go, and the
 * charge. whose says where they came from. Under the cache lock; returns
 * c's new state.
 */
static int
cache_direct_setup(struct cache *c, const char *whose)
{
	int flags;

	if (c->stream_fd == -1 || c->direct_fd == -1 ||
	    (flags = fcntl(c->direct_fd, F_GETFL)) == -1 ||
	    fcntl(c->direct_fd, F_SETFL, flags | O_DIRECT) == -1) {
		log_debug("cache: file %ju:%ju: no reads of its own (%s): %m",
		    (uintmax_t)c->dev, (uintmax_t)c->ino, whose);
		cache_direct_close(c);
		quota_uncharge(&c->quota, QUOTA_FDS, 2);
		return CACHE_DIRECT_NONE;
	}
	(void)posix_fadvise(c->stream_fd, 0, 0, POSIX_FADV_RANDOM);
	log_debug("cache: file %ju:%ju: its cold windows are read with "
	    "O_DIRECT (%s)", (uintmax_t)c->dev, (uintmax_t)c->ino, whose);
	return CACHE_DIRECT_OPEN;
}

/* Open c's two descriptors for its streams. Under the cache lock. */
static int
cache_direct_open(struct cache *c)
{
	if (cache_direct_charge(c) != 0)
		return CACHE_DIRECT_NONE;
	if ((c->stream_fd = cache_reopen(c)) != -1)
		c->direct_fd = cache_reopen(c);
	return cache_direct_setup(c, "the daemon's own descriptions");
}

/*
 * Are fds[0] and fds[1], a client's own descriptions of c's file
 * (PD_REGION_OWN_FDS), what they say? Each a regular file open for
 * reading (not O_PATH), c's file: 0, or -EINVAL with why. The client
 * may keep copies and change their flags or advice: that slows only the
 * reads of its own user's cache.
 */
int
cache_direct_check(const struct cache *c, const int *fds, char *why,
    size_t whylen)
{
	char reason[PD_REASON_MAX];
	struct stat st;
	int i;

	for (i = 0; i < 2; i++) {
		if (region_check_backing(fds[i], &st, reason, sizeof reason) !=
		    0)
			goto refuse;
		if (st.st_dev != c->dev || st.st_ino != c->ino) {
			snprintf(reason, sizeof reason, "another file (%ju:%ju, "
			    "the cache's is %ju:%ju)", (uintmax_t)st.st_dev,
			    (uintmax_t)st.st_ino, (uintmax_t)c->dev,
			    (uintmax_t)c->ino);
			goto refuse;
		}
	}
	return 0;

refuse:
	snprintf(why, whylen, "region: the file's own description %d of 2: "
	    "%s", i + 1, reason);
	return -EINVAL;
}

/*
 * A client's own descriptions of c's file (checked: cache_direct_check)
 * become c's for its streams where it has none yet (untried, or the
 * daemon's own opening failed): taken from fds (set -1); else they stay
 * there, for the caller to close. A file the daemon may not open
 * (another user's, mode 0600) is read so as one it may.
 */
void
cache_direct_give(struct cache *c, int *fds)
{
	int state;

	pthread_mutex_lock(&cache_lock);
	state = c->direct;
	if ((state == CACHE_DIRECT_UNTRIED || state == CACHE_DIRECT_NONE) &&
	    cache_direct_charge(c) == 0) {
		c->stream_fd = fds[0];
		c->direct_fd = fds[1];
		fds[0] = fds[1] = -1;
		state = cache_direct_setup(c, "descriptions the client "
		    "opened");
		/* Its descriptors set before: cache_stream_fd reads them. */
		__atomic_store_n(&c->direct, state, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&cache_lock);
}

/* c's descriptors for its streams go (its quota hold goes with it). */
void
cache_direct_close(struct cache *c)
{
	if (c->stream_fd != -1)
		close(c->stream_fd);
	if (c->direct_fd != -1)
		close(c->direct_fd);
	c->stream_fd = c->direct_fd = -1;
}

/*
 * Nobody maps c (it lingers): its own descriptors go, and their charge;
 * the next stream opens them again. No read is out on them: a read holds
 * its region, which holds c. Under the cache lock.
 */
void
cache_direct_idle(struct cache *c)
{
	if (c->direct == CACHE_DIRECT_OPEN || c->direct ==
	    CACHE_DIRECT_BUFFERED) {
		cache_direct_close(c);
		quota_uncharge(&c->quota, QUOTA_FDS, 2);
	}
	__atomic_store_n(&c->direct, CACHE_DIRECT_UNTRIED, __ATOMIC_RELEASE);
}

/*
 * Is the page at file offset off of fd's file not in the page cache?
 * mincore(2) of a mapping of it tells without reading, where the kernel
 * lets the daemon ask (a file it owns; of others it says "cached"). Else
 * a read of a byte with RWF_NOWAIT, which fails where it would wait for
 * the disk; fd has no read-ahead, so a page that is not cached is read
 * alone. That answer is not sure: on a fast disk, or a VM whose vCPU
 * the host paused, the read it starts may complete before the kernel
 * looks again, and a cold page is found cached (CI saw most of a cold
 * file so).
 */
int
cache_page_cold(int fd, uint64_t off)
{
	unsigned char vec;
	struct iovec iov;
	struct stat st;
	char byte;
	void *p;
	int r;

	if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && (p = mmap(NULL,
	    page_size, PROT_READ, MAP_SHARED, fd, (off_t)(off &
	    ~(uint64_t)(page_size - 1)))) != MAP_FAILED) {
		r = mincore(p, page_size, &vec);
		munmap(p, page_size);
		if (r == 0)
			return !(vec & 1);
	}
	iov.iov_base = &byte;
	iov.iov_len = 1;
	return preadv2(fd, &iov, 1, (off_t)off, RWF_NOWAIT) == -1 &&
	    errno == EAGAIN;
}

/*
 * The descriptor a stream's window [off, off + len) of c's file is read
 * from: c's own with O_DIRECT where the window's first or last page is
 * not cached (*direct set), else c's own without read-ahead; the
 * client's where c could not open its own. A window the kernel holds
 * only in part is read from the disk whole: read through the page cache,
 * its marks of where to read ahead next (a reader's of the file with
 * read-ahead left them) would start the kernel's read-ahead of the
 * windows after it, even on a descriptor without, and every one after
 * would be read twice and copied.
 */
int
cache_stream_fd(struct cache *c, uint64_t off, uint64_t len, int *direct)
{
	int state = __atomic_load_n(&c->direct, __ATOMIC_ACQUIRE);

	if (state == CACHE_DIRECT_UNTRIED) {
		pthread_mutex_lock(&cache_lock);
		if ((state = c->direct) == CACHE_DIRECT_UNTRIED)
			state = cache_direct_open(c);
		__atomic_store_n(&c->direct, state, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&cache_lock);
	}
	*direct = 0;
	if (state == CACHE_DIRECT_NONE)
		return c->file_fd;
	if (state == CACHE_DIRECT_OPEN && (cache_page_cold(c->stream_fd, off) ||
	    (len > page_size && cache_page_cold(c->stream_fd, off + len -
	    page_size)))) {
		*direct = 1;
		return c->direct_fd;
	}
	return c->stream_fd;
}

/*
 * A read with O_DIRECT failed as only such a read fails (EINVAL: the file
 * system's alignment): c's windows are read through the page cache from
 * now on, by the descriptor returned. Both stay until c goes: reads may
 * be out on them.
 */
int
cache_direct_refused(struct cache *c, int error)
{
	int open = CACHE_DIRECT_OPEN;

	/* Once a cache, but a user decides how many files it caches. */
	if (__atomic_compare_exchange_n(&c->direct, &open,
	    CACHE_DIRECT_BUFFERED, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED) &&
	    session_log_allow(c->uid, LOG_INFO))
		log_info("cache: file %ju:%ju: O_DIRECT read refused (%s): "
		    "read through the page cache", (uintmax_t)c->dev,
		    (uintmax_t)c->ino, strerror(-error));
	return c->stream_fd;
}

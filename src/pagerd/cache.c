/*
 * The shared page caches' lifetime: one memfd per backing file, filled
 * from the file by the fault path and mapped privately by every client of
 * the file, so that a page read once is mapped into each client with
 * UFFDIO_CONTINUE instead of copied. The table is shared by the workers;
 * it is locked on open and close only. What a cache holds resident, its
 * fill bitmap and its windows, is cache-resident.c's.
 *
 * A client holds a writable descriptor of the memfd it maps, so a cache is
 * shared only by clients of one uid: a client can then disturb only
 * processes it could already ptrace.
 *
 * A cache lives in an unnamed file of shared memory, a tmpfs file or a
 * memfd (cache-shmem.c, which also says which a restarted daemon adopts
 * from its clients).
 *
 * A cache nobody maps lingers (cache-linger seconds, cache-linger-mib in
 * all), so that a program run again, like git, finds its files warm. A
 * cache serves only the file as it was: one whose ctime or size changed
 * is never matched again.
 *
 * A cache is charged to its user, two descriptors, lingering or not
 * (uid-max-fds), and two more while a stream reads it (cache-direct.c);
 * a user at its limit loses its own lingering caches first.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <time.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "cache.h"


LIST_HEAD(cache_head, cache);

/* The cache list, the users' table and the caches' refs. */
pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_head cache_list = LIST_HEAD_INITIALIZER(cache_list);
static uint64_t cache_idle_bytes;	/* of the lingering caches */

/* A cache's size for a file's: whole pages. */
static uint64_t
cache_round(uint64_t file_size)
{
	return (file_size + page_size - 1) & ~(uint64_t)(page_size - 1);
}

static void
cache_free(struct cache *c)
{
	if (c->map_small != NULL && c->map_small != c->map)
		munmap(c->map_small, c->size);
	if (c->map != NULL)
		munmap(c->map, c->size);
	if (c->memfd != -1)
		close(c->memfd);
	if (c->file_fd != -1) {
		watch_forget(c->file_fd, c->dev, c->ino);
		close(c->file_fd);
	}
	cache_direct_close(c);
	cache_forget_resident(c);
	free(c->filled);
	free(c->busy);
	free(c->referenced);
	free(c->evicted);
	free(c->stale);
	if (c->store != NULL)
		store_unref(c->store);
	free(c);
}
/*
 * A second mapping of a huge cache's memfd, for scattered fills: a read
 * of 4 KiB into an empty 2 MiB of a huge tmpfs takes (and zeroes) a whole
 * huge page, 52 us against 5.6 for a small one, and holds 512 times the
 * memory; a mapping that may not be huge (MADV_NOHUGEPAGE, which the
 * tmpfs's huge= gives way to) fills with small pages. Writes (splice)
 * into the file take huge pages whatever the mapping. The cache's own
 * mapping where it is not huge; NULL with errno.
 */
static char *
cache_map_small(const struct cache *c)
{
	char *m;

	if (!c->huge)
		return c->map;
	m = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_NORESERVE, c->memfd, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (madvise(m, c->size, MADV_NOHUGEPAGE) == -1)
		log_warn("cache: file %ju:%ju: MADV_NOHUGEPAGE: scattered "
		    "fills take huge pages", (uintmax_t)c->dev,
		    (uintmax_t)c->ino);
	return m;
}

/*
 * Where a fill reads into c: huge pages where the cache has them for a
 * stream's windows, filled whole 2 MiB at a time, and for a file that
 * fits its user's share, whose scattered reads fill a huge page each in
 * turn at 0.1 us a 4 KiB page against 5.6 for small pages; small pages
 * for a scattered read of a bigger file, which eviction would punch out
 * long before the rest of its huge page was read. A fill by splice
 * (a write) takes huge pages: only where this says c->map.
 */
char *
cache_fill_map(const struct cache *c, int sequential)
{
	return sequential || evict_fits(c->size) ? c->map : c->map_small;
}

/*
 * A new cache in *cp, around memfd (adopted from a client) or a new one.
 * Returns 0, or -errno with why: -EINVAL for a memfd it will not adopt.
 */
static int
cache_create(int file_fd, const struct stat *st, int memfd, uid_t uid,
    struct cache **cp, char *why, size_t whylen)
{
	struct stat mst;
	struct cache *c;
	size_t words;
	int error;

	if ((c = calloc(1, sizeof *c)) == NULL)
		goto nomem;
	c->memfd = c->file_fd = c->direct_fd = c->stream_fd = -1;
	c->uid = uid;
	if ((c->user = cache_user(uid)) == NULL)
		goto nomem;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->file_size = (uint64_t)st->st_size;
	c->ctime = st->st_ctim;
	c->size = cache_round(c->file_size);

	/*
	 * A restarted client's, if cache-shmem.c may adopt it, or new; a
	 * store's (no file_fd), which the daemon fills itself, sealed.
	 */
	if (memfd != -1) {
		if (!cache_shmem_adoptable(memfd, c->size, file_fd == -1,
		    &c->huge))
			goto adopt_refused;
		c->memfd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
	} else if (file_fd == -1)
		c->memfd = cache_shmem_sealed(c->size, &c->huge);
	else
		c->memfd = cache_shmem_new(c->size, &c->huge);
	if (c->memfd == -1)
		goto syserr;
	if (fstat(c->memfd, &mst) == -1)
		goto syserr;
	c->memfd_dev = mst.st_dev;
	c->memfd_ino = mst.st_ino;
	/* A store's cache is filled by store.c, not from a descriptor. */
	if (file_fd != -1 && (c->file_fd = fcntl(file_fd, F_DUPFD_CLOEXEC,
	    0)) == -1)
		goto syserr;
	/* Writers outside the shim are seen (watch.c); a store has none. */
	if (c->file_fd != -1)
		watch_add(c->file_fd, c->dev, c->ino, uid);
	c->map = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_NORESERVE, c->memfd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		goto syserr;
	}
	/*
	 * Where the administrator allows huge pages in shmem for those who
	 * ask (shmem_enabled "advise", or a cache-dir mounted huge=advise),
	 * filling the cache takes a page fault and a page per 2 MiB instead
	 * of per 4 KiB.
	 */
	(void)madvise(c->map, c->size, MADV_HUGEPAGE);
	if ((c->map_small = cache_map_small(c)) == NULL)
		goto syserr;
	words = BITMAP_WORDS(c->size / page_size);
	c->nwindows = (c->size / page_size + evict_window_pages() - 1) /
	    evict_window_pages();
	if ((c->filled = calloc(words, sizeof *c->filled)) == NULL ||
	    (c->busy = calloc(c->nwindows, sizeof *c->busy)) == NULL ||
	    (c->referenced = calloc(c->nwindows, 1)) == NULL ||
	    (c->evicted = calloc(c->nwindows, sizeof *c->evicted)) == NULL ||
	    (c->stale = calloc(c->nwindows, sizeof *c->stale)) == NULL)
		goto nomem;
	if (memfd != -1)
		cache_adopted_pages(c);
	*cp = c;
	return 0;

adopt_refused:
	snprintf(why, whylen, "cache: the cache to adopt is not an unnamed "
	    "file of shared memory (a memfd sealed at its size, seals "
	    "closed, or a file's cache-dir file) of the size (%" PRIu64
	    " bytes), open for reading and writing", c->size);
	cache_free(c);
	return -EINVAL;
syserr:
	error = -errno;
	snprintf(why, whylen, "cache: %s%s%s", opts.cache_dir != NULL ?
	    opts.cache_dir : "", opts.cache_dir != NULL ? ": " : "",
	    strerror(-error));
	cache_free(c);
	return error;
nomem:
	snprintf(why, whylen, "cache: out of memory");
	if (c != NULL)
		cache_free(c);
	return -ENOMEM;
}

/*
 * Take a cache nobody maps off the list, onto gone, to be freed outside
 * the lock. Under the cache lock.
 */
static void
cache_retire(struct cache *c, struct cache_head *gone)
{
	LIST_REMOVE(c, entry);
	if (c->idle_since != 0)		/* it was lingering */
		cache_idle_bytes -= c->size;
	quota_release(&c->quota);
	LIST_INSERT_HEAD(gone, c, entry);
}

/*
 * Charge a new cache to its user: its two descriptors. A user at its
 * limit loses its own lingering caches (onto gone) before it is refused.
 * Under the cache lock.
 */
static int
cache_charge(struct quota_hold *h, uid_t uid, struct cache_head *gone,
    char *why, size_t whylen)
{
	struct cache *c, *next;
	int error, retired;

	for (;;) {
		quota_hold_init(h, uid);
		if ((error = quota_charge(h, QUOTA_FDS, 2, "cache", why,
		    whylen)) == 0)
			return 0;
		quota_release(h);
		retired = 0;
		LIST_FOREACH_SAFE(c, &cache_list, entry, next)
			if (c->uid == uid && c->refs == 0) {
				cache_retire(c, gone);
				retired = 1;
			}
		if (!retired)
			return error;
	}
}

/* A lingering cache is mapped again. Under the cache lock. */
static void
cache_wake(struct cache *c)
{
	c->idle_since = 0;
	cache_idle_bytes -= c->size;
}

/* Free caches taken off the list, outside the lock: munmap takes time. */
static void
cache_free_all(struct cache_head *gone)
{
	struct cache *c;

	while ((c = LIST_FIRST(gone)) != NULL) {
		LIST_REMOVE(c, entry);
		log_debug("cache: file %ju:%ju released", (uintmax_t)c->dev,
		    (uintmax_t)c->ino);
		cache_free(c);
	}
}

/*
 * A new cache on the list for uid: charged, created (cache_create's
 * arguments), unreferenced yet. Under the cache lock.
 */
static int
cache_add(int file_fd, const struct stat *st, int memfd, uid_t uid,
    struct cache_head *gone, struct cache **cp, char *why, size_t whylen)
{
	struct quota_hold hold;
	struct cache *c = NULL;
	int error;

	if ((error = cache_charge(&hold, uid, gone, why, whylen)) != 0 ||
	    (error = cache_create(file_fd, st, memfd, uid, &c, why,
	    whylen)) != 0) {
		quota_release(&hold);
		return error;
	}
	c->quota = hold;
	LIST_INSERT_HEAD(&cache_list, c, entry);
	log_debug("cache: %s %ju:%ju, %" PRIu64 " bytes%s", file_fd != -1 ?
	    "file" : "store export", (uintmax_t)c->dev, (uintmax_t)c->ino,
	    c->file_size, memfd != -1 ? ", adopted after a restart" : "");
	*cp = c;
	return 0;
}

/*
 * The cache of the file open on file_fd, created on first use; with
 * memfd, the cache a restarted client still maps. Takes a reference.
 */
int
cache_open(int file_fd, int memfd, uid_t uid, struct cache **cp, char *why,
    size_t whylen)
{
	struct cache_head gone = LIST_HEAD_INITIALIZER(gone);
	struct stat st, mst;
	struct cache *c, *next;
	int error;

	if ((error = region_check_backing(file_fd, &st, why, whylen)) != 0)
		return error;
	if (st.st_size == 0) {
		snprintf(why, whylen, "cache: the backing file is empty");
		return -EINVAL;
	}
	if (memfd != -1 && region_stat(memfd, &mst) == -1) {
		snprintf(why, whylen, "cache: memfd: %s", strerror(errno));
		return -errno;
	}
	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH_SAFE(c, &cache_list, entry, next) {
		if (c->uid != uid)
			continue;
		if (memfd != -1 ? (c->memfd_dev == mst.st_dev &&
		    c->memfd_ino == mst.st_ino) : (c->dev == st.st_dev &&
		    c->ino == st.st_ino && c->file_size == (uint64_t)st.st_size &&
		    c->ctime.tv_sec == st.st_ctim.tv_sec &&
		    c->ctime.tv_nsec == st.st_ctim.tv_nsec))
			break;
		/* A lingering cache of the file as it was: nobody can use it. */
		if (c->refs == 0 && memfd == -1 && c->dev == st.st_dev &&
		    c->ino == st.st_ino)
			cache_retire(c, &gone);
	}
	if (c != NULL && c->refs == 0)
		cache_wake(c);
	if (c == NULL && (error = cache_add(file_fd, &st, memfd, uid, &gone,
	    &c, why, whylen)) != 0) {
		pthread_mutex_unlock(&cache_lock);
		cache_free_all(&gone);
		return error;
	}
	c->refs++;
	pthread_mutex_unlock(&cache_lock);
	cache_free_all(&gone);
	*cp = c;
	return 0;
}

/*
 * The cache of an export of size bytes of store for uid's clients,
 * created on first use: keyed by the store (a store whose line changed
 * is another) and the export's size, charged and evicted as a file's;
 * with memfd, the cache a restarted client still maps. Takes a reference.
 */
int
cache_open_store(struct store *store, uint64_t size, int memfd, uid_t uid,
    struct cache **cp, char *why, size_t whylen)
{
	struct cache_head gone = LIST_HEAD_INITIALIZER(gone);
	struct stat st, mst;
	struct cache *c;
	int error;

	if (size == 0) {
		snprintf(why, whylen, "store %s: the export is empty",
		    store_name(store));
		return -EINVAL;
	}
	if (memfd != -1 && region_stat(memfd, &mst) == -1) {
		snprintf(why, whylen, "cache: memfd: %s", strerror(errno));
		return -errno;
	}
	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH(c, &cache_list, entry)
		if (c->store == store && c->uid == uid && c->file_size ==
		    size && (memfd == -1 || (c->memfd_dev == mst.st_dev &&
		    c->memfd_ino == mst.st_ino)))
			break;
	if (c != NULL && c->refs == 0)
		cache_wake(c);
	if (c == NULL) {
		memset(&st, 0, sizeof st);
		st.st_size = (off_t)size;
		if ((error = cache_add(-1, &st, memfd, uid, &gone, &c, why,
		    whylen)) != 0) {
			pthread_mutex_unlock(&cache_lock);
			cache_free_all(&gone);
			return error;
		}
		c->store = store;
		store_ref(store);
	}
	c->refs++;
	pthread_mutex_unlock(&cache_lock);
	cache_free_all(&gone);
	*cp = c;
	return 0;
}

unsigned int
cache_count(void)
{
	unsigned int n = 0;
	struct cache *c;

	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH(c, &cache_list, entry)
		n++;
	pthread_mutex_unlock(&cache_lock);
	return n;
}

/* The cache whose memfd a client sent back; takes a reference. */
struct cache *
cache_find_memfd(int memfd, uid_t uid)
{
	struct stat st;
	struct cache *c;

	if (region_stat(memfd, &st) == -1)
		return NULL;
	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH(c, &cache_list, entry)
		if (c->uid == uid && c->memfd_dev == st.st_dev &&
		    c->memfd_ino == st.st_ino)
			break;
	if (c != NULL && c->refs++ == 0)
		cache_wake(c);
	pthread_mutex_unlock(&cache_lock);
	return c;
}

/* Another holder of a cache the caller already holds. */
void
cache_ref(struct cache *c)
{
	pthread_mutex_lock(&cache_lock);
	c->refs++;
	pthread_mutex_unlock(&cache_lock);
}

/*
 * Move the lingering caches that must go to gone: those past their time
 * (a stale one, of a file changed since, can only wait for that), and the
 * oldest while they hold more than the limit. Under the cache lock.
 */
static void
cache_collect(uint64_t now, struct cache_head *gone)
{
	uint64_t linger = (uint64_t)config_get(CONFIG_CACHE_LINGER) *
	    1000000000u;
	uint64_t limit = (uint64_t)config_get(CONFIG_CACHE_LINGER_MIB) << 20;
	struct cache *c, *next, *oldest;

	LIST_FOREACH_SAFE(c, &cache_list, entry, next)
		if (c->refs == 0 && now - c->idle_since >= linger)
			cache_retire(c, gone);
	while (cache_idle_bytes > limit) {
		oldest = NULL;
		LIST_FOREACH(c, &cache_list, entry)
			if (c->refs == 0 && (oldest == NULL || c->idle_since <
			    oldest->idle_since))
				oldest = c;
		cache_retire(oldest, gone);
	}
}

/*
 * The last holder gone, the cache lingers, or goes if it may not. A
 * deleted file's cache goes at once: nobody can open the file again, and
 * its descriptor would keep the file's blocks allocated.
 */
void
cache_unref(struct cache *c)
{
	struct cache_head gone = LIST_HEAD_INITIALIZER(gone);
	uint64_t now = monotonic_ns();
	struct stat st;

	pthread_mutex_lock(&cache_lock);
	/* A file removed, or a store retired, is mapped no more. */
	if (--c->refs == 0 && ((region_stat(c->file_fd, &st) == 0 &&
	    st.st_nlink == 0) || (c->store != NULL &&
	    store_is_retired(c->store)))) {
		cache_retire(c, &gone);
	} else if (c->refs == 0) {
		cache_direct_idle(c);
		c->idle_since = now;
		cache_idle_bytes += c->size;
		cache_collect(now, &gone);
	}
	pthread_mutex_unlock(&cache_lock);
	cache_free_all(&gone);
}

/* A store is retired: its lingering caches go, nobody can map them. */
void
cache_store_retired(struct store *store)
{
	struct cache_head gone = LIST_HEAD_INITIALIZER(gone);
	struct cache *c, *next;

	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH_SAFE(c, &cache_list, entry, next)
		if (c->store == store && c->refs == 0)
			cache_retire(c, &gone);
	pthread_mutex_unlock(&cache_lock);
	cache_free_all(&gone);
}

/* On the daemon's tick: lingering caches past their time go. */
void
cache_expire(void)
{
	struct cache_head gone = LIST_HEAD_INITIALIZER(gone);

	pthread_mutex_lock(&cache_lock);
	cache_collect(monotonic_ns(), &gone);
	pthread_mutex_unlock(&cache_lock);
	cache_free_all(&gone);
}

/*
 * Call fn on every cache, under the cache lock: no cache is freed under
 * it, nor one mapped or let linger (refs changes under the lock).
 */
void
cache_walk(void (*fn)(struct cache *, void *), void *arg)
{
	struct cache *c;

	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH(c, &cache_list, entry)
		fn(c, arg);
	pthread_mutex_unlock(&cache_lock);
}

/*
 * What a control session is told of c (pagerctl caches): its user, users,
 * size, the bytes it holds (huge pages whole), idle time at now, and file. Under the cache lock
 * (cache_walk): refs and idle_since change under it.
 */
void
cache_describe(const struct cache *c, uint64_t now, struct pd_cache_info *ci)
{
	char path[64];
	ssize_t len;

	ci->uid = (uint32_t)c->uid;
	ci->refs = c->refs;
	ci->size = c->file_size;
	ci->resident = __atomic_load_n(&c->held, __ATOMIC_RELAXED) *
	    page_size;
	ci->dev = (uint64_t)c->dev;
	ci->ino = (uint64_t)c->ino;
	if (c->refs == 0 && c->idle_since != 0 && now > c->idle_since)
		ci->idle_ms = (now - c->idle_since) / 1000000;
	snprintf(path, sizeof path, "/proc/self/fd/%d", c->file_fd);
	if ((len = readlink(path, ci->path, sizeof ci->path - 1)) > 0)
		ci->path[len] = '\0';
}

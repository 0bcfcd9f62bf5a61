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
 * A cache is an unnamed file on a tmpfs: the daemon's private one by
 * default, the one cache-dir says, or, where the daemon may not mount, a
 * memfd. A mount may ask for huge pages (huge=within_size) where the
 * memfds' shared memory may not, which makes filling a cache cheaper by
 * a third. A memfd is sealed against changes
 * of its size; a tmpfs file cannot be, but the daemon touches the cache
 * only through the kernel (reads, splices, UFFDIO_CONTINUE), which fail
 * where a page is gone rather than kill it. So a restarted daemon adopts
 * either kind from its clients, whatever its own cache-dir (a memfd only
 * sealed, as a daemon made it).
 *
 * A cache nobody maps lingers (cache-linger seconds, cache-linger-mib in
 * all), so that a program run again, like git, finds its files warm. A
 * cache serves only the file as it was: one whose ctime or size changed
 * is never matched again.
 *
 * A cache is charged to its user, two descriptors, lingering or not
 * (uid-max-fds); a user at its limit loses its own lingering caches
 * first.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include <linux/magic.h>

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

/* cache-dir: where caches are made, and its file system; or -1. */
static int cache_dir_fd = -1;
static dev_t cache_dir_dev;
static int cache_dir_huge;	/* its tmpfs gives huge pages */
static int cache_memfd_huge;	/* shmem_enabled gives memfds huge pages */

/* A cache's size for a file's: whole pages. */
static uint64_t
cache_round(uint64_t file_size)
{
	return (file_size + page_size - 1) & ~(uint64_t)(page_size - 1);
}

/* A new unnamed file of size bytes in the cache directory, or -1. */
static int
cache_dir_file(uint64_t size)
{
	int fd;

	if ((fd = openat(cache_dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if (ftruncate(fd, (off_t)size) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A tmpfs of the daemon's own in huge pages, without cache-dir: mounted
 * nowhere (a detached mount, which no mount namespace shows), reached by
 * its descriptor alone and gone with the daemon. Memfds get huge pages
 * only where shmem_enabled allows them, which Debian's default does not.
 * No size limit, as memfds have none: the budget (evict.c) bounds the
 * caches. Needs CAP_SYS_ADMIN, kept until the capabilities are dropped;
 * returns the mount's descriptor, or -1 with why.
 */
static int
cache_private_tmpfs(char *why, size_t whylen)
{
	static const char *const opt[][2] = {
		{ "huge", "within_size" }, { "mode", "0700" },
		{ "size", "0" }, { "nr_inodes", "0" },
	};
	const char *step = "fsopen tmpfs";
	size_t i;
	int fsfd, mfd = -1;

	if ((fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC)) == -1)
		goto fail;
	for (i = 0; i < sizeof opt / sizeof opt[0]; i++) {
		step = opt[i][0];
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, opt[i][0], opt[i][1],
		    0) == -1)
			goto fail;
	}
	step = "creating the tmpfs";
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == -1)
		goto fail;
	step = "fsmount";
	if ((mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID |
	    MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)) == -1)
		goto fail;
	close(fsfd);
	return mfd;

fail:
	snprintf(why, whylen, "%s: %s%s", step, strerror(errno),
	    errno == EPERM ? " (mounting needs CAP_SYS_ADMIN)" : "");
	if (fsfd != -1)
		close(fsfd);
	return -1;
}

/*
 * Does the tmpfs of device dev give huge pages (its huge= option, which
 * mountinfo lists among the super block's options)?
 */
static int
cache_mount_huge(dev_t dev)
{
	char line[4096], want[32], *tail;
	int huge = 0;
	FILE *f;

	snprintf(want, sizeof want, " %u:%u ", major(dev), minor(dev));
	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return 0;
	while (!huge && fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, want) == NULL ||
		    (tail = strstr(line, " - tmpfs ")) == NULL)
			continue;
		huge = (strstr(tail, "huge=always") != NULL ||
		    strstr(tail, "huge=within_size") != NULL ||
		    strstr(tail, "huge=advise") != NULL);
	}
	fclose(f);
	return huge;
}

/*
 * Does shmem_enabled give the caches' memfds huge pages? They ask for
 * them (MADV_HUGEPAGE), so "advise" does too.
 */
static int
cache_shmem_huge(void)
{
	char line[256];
	FILE *f;
	int huge;

	if ((f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
	    "re")) == NULL)
		return 0;
	huge = fgets(line, sizeof line, f) != NULL && (strstr(line,
	    "[always]") != NULL || strstr(line, "[within_size]") != NULL ||
	    strstr(line, "[advise]") != NULL || strstr(line, "[force]") !=
	    NULL);
	fclose(f);
	return huge;
}

/*
 * At start: the cache directory, if configured, must be on a tmpfs (the
 * only file system besides memfds whose pages UFFDIO_CONTINUE maps) and
 * take unnamed files. Anything else stops the daemon with the cause.
 * Without one, a private huge tmpfs where the daemon may mount, else
 * memfds, logged with the reason.
 */
void
cache_init(void)
{
	struct statfs sfs;
	struct stat st;
	char why[256];
	int fd;

	cache_memfd_huge = cache_shmem_huge();
	if (opts.cache_dir == NULL) {
		if ((cache_dir_fd = cache_private_tmpfs(why, sizeof why)) ==
		    -1) {
			log_info("page caches are memfds, in huge pages only "
			    "where shmem_enabled allows: no private tmpfs "
			    "(%s)", why);
			return;
		}
		if ((fd = cache_dir_file((uint64_t)page_size)) == -1)
			fatal("an unnamed file (O_TMPFILE) on the private "
			    "tmpfs");
		close(fd);
		cache_dir_huge = 1;
		log_info("page caches are files on a private tmpfs "
		    "(huge=within_size), mounted nowhere");
		return;
	}
	if ((cache_dir_fd = open(opts.cache_dir, O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		fatal("cache-dir %s", opts.cache_dir);
	if (fstatfs(cache_dir_fd, &sfs) == -1 || fstat(cache_dir_fd, &st) ==
	    -1)
		fatal("cache-dir %s", opts.cache_dir);
	if (sfs.f_type != TMPFS_MAGIC)
		fatalx("cache-dir %s is not on a tmpfs: page caches must be "
		    "shared memory (mount -t tmpfs -o huge=within_size)",
		    opts.cache_dir);
	cache_dir_dev = st.st_dev;
	cache_dir_huge = cache_mount_huge(st.st_dev);
	if ((fd = cache_dir_file((uint64_t)page_size)) == -1)
		fatal("cache-dir %s: an unnamed file (O_TMPFILE)",
		    opts.cache_dir);
	close(fd);
	log_info("page caches are files on the tmpfs at %s", opts.cache_dir);
}

/*
 * Why caches must be filled by reads into their mappings, or NULL: where
 * shared memory is huge only for mappings that ask (shmem_enabled
 * "advise", and no cache-dir), a read faults the cache in huge pages and
 * a splice, which writes, would make small ones.
 */
const char *
cache_fill_by_reads(void)
{
	char line[256];
	FILE *f;
	int advise;

	if (cache_dir_fd != -1)
		return NULL;
	if ((f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
	    "re")) == NULL)
		return NULL;
	advise = fgets(line, sizeof line, f) != NULL &&
	    strstr(line, "[advise]") != NULL;
	fclose(f);
	return advise ? "shmem_enabled is advise: reads into the cache's "
	    "mapping get huge pages" : NULL;
}


static void
cache_free(struct cache *c)
{
	if (c->map != NULL)
		munmap(c->map, c->size);
	if (c->memfd != -1)
		close(c->memfd);
	if (c->file_fd != -1) {
		watch_forget(c->file_fd, c->dev, c->ino);
		close(c->file_fd);
	}
	cache_forget_resident(c);
	free(c->filled);
	free(c->busy);
	free(c->referenced);
	free(c->evicted);
	free(c->stale);
	free(c);
}

/* Is fd a memfd (not a file of a tmpfs mount)? */
static int
cache_is_memfd(int fd)
{
	char path[64], link[16];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if ((n = readlink(path, link, sizeof link)) == -1)
		return 1;	/* assume the stricter kind */
	return (size_t)n >= 7 && memcmp(link, "/memfd:", 7) == 0;
}

/*
 * A new cache in *cp, around memfd (adopted from a client) or a new one.
 * Returns 0, or -errno with why: -EINVAL for a memfd it will not adopt.
 */
static int
cache_create(int file_fd, const struct stat *st, int memfd, uid_t uid,
    struct cache **cp, char *why, size_t whylen)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW;
	struct statfs sfs;
	struct stat mst;
	struct cache *c;
	size_t words;
	int error, flags;

	if ((c = calloc(1, sizeof *c)) == NULL)
		goto nomem;
	c->memfd = c->file_fd = -1;
	c->uid = uid;
	if ((c->user = cache_user(uid)) == NULL)
		goto nomem;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->file_size = (uint64_t)st->st_size;
	c->ctime = st->st_ctim;
	c->size = cache_round(c->file_size);

	/*
	 * Adopted: an unnamed file of shared memory of the file's size, as
	 * a daemon makes them, a memfd or a cache-dir file, whatever this
	 * daemon's own cache-dir is (a restart may change it). The daemon
	 * touches a cache only through the kernel, which fails where a page
	 * is gone, so it cannot die of one cut short; but the other clients
	 * of the user would get SIGBUS, so a memfd, which a daemon always
	 * seals at its size, must be so sealed (a cache-dir file cannot be).
	 */
	if (memfd != -1) {
		/*
		 * Shared memory (seals) before a statfs that a file system's
		 * server would answer.
		 */
		flags = fcntl(memfd, F_GETFL);
		if (flags == -1 || (flags & O_PATH) || (flags & O_ACCMODE) !=
		    O_RDWR || region_stat(memfd, &mst) == -1 ||
		    !S_ISREG(mst.st_mode) || (uint64_t)mst.st_size != c->size ||
		    mst.st_nlink != 0 ||
		    (flags = fcntl(memfd, F_GET_SEALS)) == -1 ||
		    (cache_is_memfd(memfd) && (flags & seals) != seals) ||
		    fstatfs(memfd, &sfs) == -1 || sfs.f_type != TMPFS_MAGIC)
			goto adopt_refused;
		c->memfd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
		/* Huge as this daemon's own are, where it knows. */
		c->huge = cache_is_memfd(memfd) ? cache_memfd_huge :
		    mst.st_dev == cache_dir_dev && cache_dir_huge;
	} else if (cache_dir_fd != -1) {
		c->memfd = cache_dir_file(c->size);
		c->huge = cache_dir_huge;
	} else {
		c->huge = cache_memfd_huge;
		c->memfd = memfd_create("pagerd-cache", MFD_CLOEXEC |
		    MFD_ALLOW_SEALING);
		if (c->memfd != -1 && (ftruncate(c->memfd, (off_t)c->size) ==
		    -1 || fcntl(c->memfd, F_ADD_SEALS, seals | F_SEAL_SEAL) ==
		    -1))
			goto syserr;
	}
	if (c->memfd == -1)
		goto syserr;
	if (fstat(c->memfd, &mst) == -1)
		goto syserr;
	c->memfd_dev = mst.st_dev;
	c->memfd_ino = mst.st_ino;
	if ((c->file_fd = fcntl(file_fd, F_DUPFD_CLOEXEC, 0)) == -1)
		goto syserr;
	/* Writers outside the shim are seen (watch.c). */
	watch_add(c->file_fd, c->dev, c->ino);
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
	    "file of shared memory (a memfd sealed at its size, or a "
	    "cache-dir file) of the file's size (%" PRIu64 " bytes), open "
	    "for reading and writing", c->size);
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
 * The cache of the file open on file_fd, created on first use; with
 * memfd, the cache a restarted client still maps. Takes a reference.
 */
int
cache_open(int file_fd, int memfd, uid_t uid, struct cache **cp, char *why,
    size_t whylen)
{
	struct cache_head gone = LIST_HEAD_INITIALIZER(gone);
	struct quota_hold hold;
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
	if (c == NULL) {
		if ((error = cache_charge(&hold, uid, &gone, why, whylen)) !=
		    0 || (error = cache_create(file_fd, &st, memfd,
		    uid, &c, why, whylen)) != 0) {
			quota_release(&hold);
			pthread_mutex_unlock(&cache_lock);
			cache_free_all(&gone);
			return error;
		}
		c->quota = hold;
		LIST_INSERT_HEAD(&cache_list, c, entry);
		log_debug("cache: file %ju:%ju, %" PRIu64 " bytes%s",
		    (uintmax_t)c->dev, (uintmax_t)c->ino, c->file_size,
		    memfd != -1 ? ", adopted after a restart" : "");
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
	if (--c->refs == 0 && region_stat(c->file_fd, &st) == 0 &&
	    st.st_nlink == 0) {
		cache_retire(c, &gone);
	} else if (c->refs == 0) {
		c->idle_since = now;
		cache_idle_bytes += c->size;
		cache_collect(now, &gone);
	}
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
 * size, resident bytes, idle time at now, and file. Under the cache lock
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
	ci->resident = __atomic_load_n(&c->resident, __ATOMIC_RELAXED) *
	    page_size;
	ci->dev = (uint64_t)c->dev;
	ci->ino = (uint64_t)c->ino;
	if (c->refs == 0 && c->idle_since != 0 && now > c->idle_since)
		ci->idle_ms = (now - c->idle_since) / 1000000;
	snprintf(path, sizeof path, "/proc/self/fd/%d", c->file_fd);
	if ((len = readlink(path, ci->path, sizeof ci->path - 1)) > 0)
		ci->path[len] = '\0';
}

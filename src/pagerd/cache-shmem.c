/*
 * The shared memory the page caches (cache.c) live in: where new ones are
 * made, and which a restarted daemon adopts from its clients.
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
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "cache.h"

/* A memfd cache's seals: its size is fixed (and, made here, the seals). */
#define CACHE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

/* cache-dir: where caches are made, and its file system; or -1. */
static int cache_dir_fd = -1;
static dev_t cache_dir_dev;
static int cache_dir_huge;	/* its tmpfs gives huge pages */
static int cache_memfd_huge;	/* shmem_enabled gives memfds huge pages */

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
 * A new cache's shared memory of size bytes: a file on the cache tmpfs,
 * or a memfd sealed at its size. Returns its descriptor and whether it
 * gets huge pages in *hugep, or -1 with errno.
 */
int
cache_shmem_new(uint64_t size, int *hugep)
{
	if (cache_dir_fd != -1) {
		*hugep = cache_dir_huge;
		return cache_dir_file(size);
	}
	return cache_shmem_sealed(size, hugep);
}

/*
 * A memfd of size bytes sealed at its size, whatever cache-dir is: for a
 * store's cache, which the daemon fills in its own address space (libnbd
 * zeroes and copies into it), where a client that cut the file short
 * (it holds it open for writing) would fault the daemon's connection
 * away, for every user of the store, or kill it with SIGBUS.
 */
int
cache_shmem_sealed(uint64_t size, int *hugep)
{
	int error, fd;

	*hugep = cache_memfd_huge;
	fd = memfd_create("pagerd-cache", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd != -1 && (ftruncate(fd, (off_t)size) == -1 || fcntl(fd,
	    F_ADD_SEALS, CACHE_SEALS | F_SEAL_SEAL) == -1)) {
		error = errno;
		close(fd);
		errno = error;
		return -1;
	}
	return fd;
}

/*
 * Adopted: an unnamed file of shared memory of the file's size, as
 * a daemon makes them, a memfd or a cache-dir file, whatever this
 * daemon's own cache-dir is (a restart may change it). The daemon
 * touches a file's cache only through the kernel, which fails where a
 * page is gone, so it cannot die of one cut short; but the other
 * clients of the user would get SIGBUS, so a memfd, which a daemon
 * always seals at its size, must be so sealed (a cache-dir file cannot
 * be). A store's cache (sealed) must be a memfd so sealed: the daemon
 * fills it itself (cache_shmem_sealed). The seals must be closed
 * (F_SEAL_SEAL) and hold no write seal, which a client could add later
 * and so keep the daemon from punching pages out: the budget would not
 * hold. Returns 1 for a memfd the caller may take as a cache of size
 * bytes, with whether it gets huge pages in *hugep; 0 for one it may
 * not.
 */
int
cache_shmem_adoptable(int memfd, uint64_t size, int sealed, int *hugep)
{
	struct statfs sfs;
	struct stat mst;
	int flags;

	/*
	 * Shared memory (seals) before a statfs that a file system's
	 * server would answer.
	 */
	flags = fcntl(memfd, F_GETFL);
	if (flags == -1 || (flags & O_PATH) || (flags & O_ACCMODE) !=
	    O_RDWR || region_stat(memfd, &mst) == -1 ||
	    !S_ISREG(mst.st_mode) || (uint64_t)mst.st_size != size ||
	    mst.st_nlink != 0 ||
	    (flags = fcntl(memfd, F_GET_SEALS)) == -1 ||
	    ((sealed || cache_is_memfd(memfd)) && flags != (CACHE_SEALS |
	    F_SEAL_SEAL)) || (sealed && !cache_is_memfd(memfd)) ||
	    fstatfs(memfd, &sfs) == -1 || sfs.f_type != TMPFS_MAGIC)
		return 0;
	/* Huge as this daemon's own are, where it knows. */
	*hugep = cache_is_memfd(memfd) ? cache_memfd_huge :
	    mst.st_dev == cache_dir_dev && cache_dir_huge;
	return 1;
}

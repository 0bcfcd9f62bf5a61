/*
 * The shared page cache: one memfd per backing file, filled from the file
 * by the fault path and mapped privately by every client of the file, so
 * that a page read once is mapped into each client with UFFDIO_CONTINUE
 * instead of copied. The table is shared by the workers; it is locked on
 * open and close only, and the fault path touches just the fill bitmap,
 * with atomic operations.
 *
 * A client holds a writable descriptor of the memfd it maps, so a cache is
 * shared only by clients of one uid: a client can then disturb only
 * processes it could already ptrace.
 */
#include "config.h"

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


static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, cache) cache_list = LIST_HEAD_INITIALIZER(cache_list);


static void
cache_free(struct cache *c)
{
	if (c->map != NULL)
		munmap(c->map, c->size);
	if (c->memfd != -1)
		close(c->memfd);
	if (c->file_fd != -1)
		close(c->file_fd);
	free(c->filled);
	free(c);
}

/* A new cache around memfd (adopted from a client), or a new memfd. */
static struct cache *
cache_create(int file_fd, const struct stat *st, int memfd, uid_t uid,
    char *why, size_t whylen)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW;
	struct stat mst;
	struct cache *c;
	size_t words;
	int have;

	if ((c = calloc(1, sizeof *c)) == NULL)
		goto nomem;
	c->memfd = c->file_fd = -1;
	c->uid = uid;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->file_size = (uint64_t)st->st_size;
	c->size = (c->file_size + page_size - 1) & ~(uint64_t)(page_size - 1);

	/* Nobody may change the memfd's size under the daemon's mapping. */
	if (memfd != -1) {
		have = fcntl(memfd, F_GET_SEALS);
		if (fstat(memfd, &mst) == -1 || (uint64_t)mst.st_size !=
		    c->size || have == -1 || (!(have & F_SEAL_SEAL) &&
		    fcntl(memfd, F_ADD_SEALS, seals | F_SEAL_SEAL) == -1) ||
		    (fcntl(memfd, F_GET_SEALS) & seals) != seals) {
			snprintf(why, whylen, "cache: the memfd to adopt is not "
			    "a sealed memfd of the file's size (%" PRIu64
			    " bytes)", c->size);
			cache_free(c);
			return NULL;
		}
		c->memfd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
	} else {
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
	c->map = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_NORESERVE, c->memfd, 0);
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		goto syserr;
	}
	words = BITMAP_WORDS(c->size / page_size);
	if ((c->filled = calloc(words, sizeof *c->filled)) == NULL)
		goto nomem;
	return c;

syserr:
	snprintf(why, whylen, "cache: %s", strerror(errno));
	cache_free(c);
	return NULL;
nomem:
	snprintf(why, whylen, "cache: out of memory");
	if (c != NULL)
		cache_free(c);
	return NULL;
}

/*
 * The cache of the file open on file_fd, created on first use; with
 * memfd, the cache a restarted client still maps. Takes a reference.
 */
int
cache_open(int file_fd, int memfd, uid_t uid, struct cache **cp, char *why,
    size_t whylen)
{
	struct stat st, mst;
	struct cache *c;
	int error;

	if ((error = region_check_backing(file_fd, &st, why, whylen)) != 0)
		return error;
	if (st.st_size == 0) {
		snprintf(why, whylen, "cache: the backing file is empty");
		return -EINVAL;
	}
	if (memfd != -1 && fstat(memfd, &mst) == -1) {
		snprintf(why, whylen, "cache: memfd: %s", strerror(errno));
		return -errno;
	}
	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH(c, &cache_list, entry) {
		if (c->uid == uid && (memfd != -1 ? (c->memfd_dev ==
		    mst.st_dev && c->memfd_ino == mst.st_ino) : (c->dev ==
		    st.st_dev && c->ino == st.st_ino && c->file_size ==
		    (uint64_t)st.st_size)))
			break;
	}
	if (c == NULL) {
		if ((c = cache_create(file_fd, &st, memfd, uid, why, whylen)) ==
		    NULL) {
			pthread_mutex_unlock(&cache_lock);
			return -ENOMEM;
		}
		LIST_INSERT_HEAD(&cache_list, c, entry);
		log_debug("cache: file %ju:%ju, %" PRIu64 " bytes%s",
		    (uintmax_t)c->dev, (uintmax_t)c->ino, c->file_size,
		    memfd != -1 ? ", adopted after a restart" : "");
	}
	c->refs++;
	pthread_mutex_unlock(&cache_lock);
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

	if (fstat(memfd, &st) == -1)
		return NULL;
	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH(c, &cache_list, entry)
		if (c->uid == uid && c->memfd_dev == st.st_dev &&
		    c->memfd_ino == st.st_ino)
			break;
	if (c != NULL)
		c->refs++;
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

void
cache_unref(struct cache *c)
{
	pthread_mutex_lock(&cache_lock);
	if (--c->refs == 0)
		LIST_REMOVE(c, entry);
	else
		c = NULL;
	pthread_mutex_unlock(&cache_lock);
	if (c != NULL) {
		log_debug("cache: file %ju:%ju released", (uintmax_t)c->dev,
		    (uintmax_t)c->ino);
		cache_free(c);
	}
}

/* Are the pages [first, first + n) of the memfd filled from the file? */
int
cache_filled(const struct cache *c, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		if (!(__atomic_load_n(&c->filled[i / BITMAP_WORD_BITS],
		    __ATOMIC_ACQUIRE) & (1ul << (i % BITMAP_WORD_BITS))))
			return 0;
	return 1;
}

void
cache_mark_filled(struct cache *c, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		__atomic_fetch_or(&c->filled[i / BITMAP_WORD_BITS],
		    1ul << (i % BITMAP_WORD_BITS), __ATOMIC_RELEASE);
}

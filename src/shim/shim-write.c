/*
 * The program's writes to files that pagerd serves shared mappings of:
 * write, pwrite, writev, pwritev, ftruncate, fallocate, copy_file_range,
 * sendfile and splice into such a file, through any descriptor of it, are
 * made, then the daemon drops the written range from every page cache of
 * the file (PD_MSG_INVALIDATE) before the call returns, so that the next
 * touch of it, in this process or another, reads the new bytes.
 *
 * Which files: those this process maps shared through pagerd (a table of
 * their inodes), and with $PAGERD_SHARED set, every file its patterns
 * match, which other processes may map. A call to a descriptor of any
 * other file costs nothing while neither holds anything, else one
 * fstat(2).
 */
#include "config.h"

#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "shim.h"

/* Files mapped shared through pagerd that one process keeps track of. */
#define SHIM_WRITE_ROUTED 256
/* Files whose match with $PAGERD_SHARED is remembered. */
#define SHIM_WRITE_SEEN 64

struct shim_inode {
	dev_t dev;
	ino_t ino;
	int match;		/* SEEN: the file matches $PAGERD_SHARED */
};

static pthread_mutex_t shim_write_lock = PTHREAD_MUTEX_INITIALIZER;
/* Only added to: a writer reads the count, then that many entries. */
static struct shim_inode shim_write_routed_files[SHIM_WRITE_ROUTED];
static unsigned int shim_write_nrouted;
static struct shim_inode shim_write_seen[SHIM_WRITE_SEEN];
static unsigned int shim_write_nseen;

/* What a call is about to write to, to be dropped once it has. */
struct shim_write {
	int fd;
	struct stat st;		/* before the call */
};

int
shim_write_routed(int fd)
{
	struct stat st;
	unsigned int i, n;
	int error = 0;

	if (fstat(fd, &st) == -1)
		return -1;
	pthread_mutex_lock(&shim_write_lock);
	n = shim_write_nrouted;
	for (i = 0; i < n; i++)
		if (shim_write_routed_files[i].dev == st.st_dev &&
		    shim_write_routed_files[i].ino == st.st_ino)
			break;
	if (i == n) {
		if (n == SHIM_WRITE_ROUTED)
			error = -1;
		else {
			shim_write_routed_files[n].dev = st.st_dev;
			shim_write_routed_files[n].ino = st.st_ino;
			__atomic_store_n(&shim_write_nrouted, n + 1,
			    __ATOMIC_RELEASE);
		}
	}
	pthread_mutex_unlock(&shim_write_lock);
	return error;
}

/* Does the file match $PAGERD_SHARED? Remembered for the last few. */
static int
shim_write_shared(int fd, const struct stat *st)
{
	char path[4096];
	struct shim_inode *s;
	unsigned int i;
	int match;

	pthread_mutex_lock(&shim_write_lock);
	for (i = 0; i < SHIM_WRITE_SEEN && i < shim_write_nseen; i++) {
		s = &shim_write_seen[i];
		if (s->dev == st->st_dev && s->ino == st->st_ino) {
			match = s->match;
			pthread_mutex_unlock(&shim_write_lock);
			return match;
		}
	}
	pthread_mutex_unlock(&shim_write_lock);
	match = (shim_path_matches(fd, path, sizeof path) &
	    SHIM_MATCH_SHARED) != 0;
	pthread_mutex_lock(&shim_write_lock);
	s = &shim_write_seen[shim_write_nseen++ % SHIM_WRITE_SEEN];
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->match = match;
	pthread_mutex_unlock(&shim_write_lock);
	return match;
}

/*
 * Is fd a file whose writes the daemon must hear of? Fills w. Called
 * before the write: the size then tells where an append went.
 */
static int
shim_write_begin(int fd, struct shim_write *w)
{
	unsigned int i, n;

	if (shim_busy)
		return 0;
	shim_ready();
	n = __atomic_load_n(&shim_write_nrouted, __ATOMIC_ACQUIRE);
	if (n == 0 && !shim_shared_patterns())
		return 0;
	if (fstat(fd, &w->st) == -1 || !S_ISREG(w->st.st_mode))
		return 0;
	w->fd = fd;
	for (i = 0; i < n; i++)
		if (shim_write_routed_files[i].dev == w->st.st_dev &&
		    shim_write_routed_files[i].ino == w->st.st_ino)
			return 1;
	return shim_shared_patterns() && shim_write_shared(fd, &w->st);
}

/*
 * The call wrote [offset, offset + length) (length 0: to the end): have
 * it dropped. errno stays the call's.
 */
static void
shim_write_end(struct shim_write *w, uint64_t offset, uint64_t length)
{
	static int said;
	struct pagerd *pd;
	int saved = errno, error;

	shim_busy = 1;
	if ((pd = shim_pagerd()) != NULL &&
	    (error = pagerd_invalidate(pd, w->fd, offset, length)) != 0 &&
	    !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		shim_say("a write to a file mapped through pagerd: %s; its "
		    "clients see it once the daemon's watch does", pagerd_errmsg());
	shim_busy = 0;
	errno = saved;
}

/* Where a call writing at the file position put its n bytes. */
static void
shim_write_at_position(struct shim_write *w, ssize_t n)
{
	off_t pos;

	if (n <= 0)
		return;
	if ((pos = lseek(w->fd, 0, SEEK_CUR)) == -1 || pos < n)
		shim_write_end(w, 0, 0);
	else
		shim_write_end(w, (uint64_t)(pos - n), (uint64_t)n);
}

/* A call writing at off: O_APPEND puts it at the end all the same. */
static void
shim_write_at(struct shim_write *w, off_t off, ssize_t n)
{
	int fl;

	if (n <= 0)
		return;
	if ((fl = fcntl(w->fd, F_GETFL)) == -1 || (fl & O_APPEND))
		off = w->st.st_size;
	shim_write_end(w, (uint64_t)off, (uint64_t)n);
}

/* A call that writes at *offp (at, before it) or, without, the position. */
static void
shim_write_at_or_position(struct shim_write *w, const off_t *offp, off_t at,
    ssize_t n)
{
	if (offp != NULL)
		shim_write_at(w, at, n);
	else
		shim_write_at_position(w, n);
}

SHIM_PUBLIC ssize_t
write(int fd, const void *buf, size_t n)
{
	struct shim_write w;
	ssize_t ret;

	if (!shim_write_begin(fd, &w))
		return syscall(SYS_write, fd, buf, n);
	ret = syscall(SYS_write, fd, buf, n);
	shim_write_at_position(&w, ret);
	return ret;
}

SHIM_PUBLIC ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct shim_write w;
	ssize_t ret;

	if (!shim_write_begin(fd, &w))
		return syscall(SYS_writev, fd, iov, iovcnt);
	ret = syscall(SYS_writev, fd, iov, iovcnt);
	shim_write_at_position(&w, ret);
	return ret;
}

SHIM_PUBLIC ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct shim_write w;
	ssize_t ret;

	if (!shim_write_begin(fd, &w))
		return syscall(SYS_pwrite64, fd, buf, n, off);
	ret = syscall(SYS_pwrite64, fd, buf, n, off);
	shim_write_at(&w, off, ret);
	return ret;
}

SHIM_PUBLIC ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite(fd, buf, n, off);
}

/* The kernel takes the offset in two words, low first. */
#define SHIM_LOHI(off) (unsigned long)(off), \
	(unsigned long)((uint64_t)(off) >> 32 >> 32)

SHIM_PUBLIC ssize_t
pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
	struct shim_write w;
	ssize_t ret;

	if (!shim_write_begin(fd, &w))
		return syscall(SYS_pwritev2, fd, iov, iovcnt, SHIM_LOHI(off),
		    flags);
	ret = syscall(SYS_pwritev2, fd, iov, iovcnt, SHIM_LOHI(off), flags);
	if (off == -1)
		shim_write_at_position(&w, ret);
	else if (flags & RWF_APPEND)
		shim_write_at(&w, w.st.st_size, ret);
	else
		shim_write_at(&w, off, ret);
	return ret;
}

SHIM_PUBLIC ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return pwritev2(fd, iov, iovcnt, off, 0);
}

SHIM_PUBLIC ssize_t
pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return pwritev2(fd, iov, iovcnt, off, 0);
}

SHIM_PUBLIC ssize_t
pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off_t off, int flags)
{
	return pwritev2(fd, iov, iovcnt, off, flags);
}

SHIM_PUBLIC int
ftruncate(int fd, off_t len)
{
	struct shim_write w;
	int ret;

	if (!shim_write_begin(fd, &w))
		return (int)syscall(SYS_ftruncate, fd, len);
	ret = (int)syscall(SYS_ftruncate, fd, len);
	/* What was cut, and what a grown file reads as zeros. */
	if (ret == 0)
		shim_write_end(&w, (uint64_t)(len < w.st.st_size ? len :
		    w.st.st_size), 0);
	return ret;
}

SHIM_PUBLIC int
ftruncate64(int fd, off_t len)
{
	return ftruncate(fd, len);
}

SHIM_PUBLIC int
fallocate(int fd, int mode, off_t off, off_t len)
{
	struct shim_write w;
	int ret;

	if (!shim_write_begin(fd, &w))
		return (int)syscall(SYS_fallocate, fd, mode, off, len);
	ret = (int)syscall(SYS_fallocate, fd, mode, off, len);
	/* Collapsing or inserting a range moves everything after it. */
	if (ret == 0)
		shim_write_end(&w, (uint64_t)off, (mode &
		    (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) ? 0 :
		    (uint64_t)len);
	return ret;
}

SHIM_PUBLIC int
fallocate64(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}

/* copy_file_range(2) and splice(2), nr, take the same arguments. */
static ssize_t
shim_write_copy(long nr, int in, off_t *in_off, int out, off_t *out_off,
    size_t n, unsigned int flags)
{
	struct shim_write w;
	off_t at = out_off != NULL ? *out_off : 0;
	ssize_t ret;

	if (!shim_write_begin(out, &w))
		return syscall(nr, in, in_off, out, out_off, n, flags);
	ret = syscall(nr, in, in_off, out, out_off, n, flags);
	shim_write_at_or_position(&w, out_off, at, ret);
	return ret;
}

SHIM_PUBLIC ssize_t
copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t n,
    unsigned int flags)
{
	return shim_write_copy(SYS_copy_file_range, in, in_off, out, out_off,
	    n, flags);
}

SHIM_PUBLIC ssize_t
sendfile(int out, int in, off_t *off, size_t n)
{
	struct shim_write w;
	ssize_t ret;

	if (!shim_write_begin(out, &w))
		return syscall(SYS_sendfile, out, in, off, n);
	ret = syscall(SYS_sendfile, out, in, off, n);
	shim_write_at_position(&w, ret);
	return ret;
}

SHIM_PUBLIC ssize_t
sendfile64(int out, int in, off_t *off, size_t n)
{
	return sendfile(out, in, off, n);
}

SHIM_PUBLIC ssize_t
splice(int in, off_t *in_off, int out, off_t *out_off, size_t n,
    unsigned int flags)
{
	return shim_write_copy(SYS_splice, in, in_off, out, out_off, n, flags);
}

/*
 * libpagerd-preload.so: unmodified programs under pagerd. Interposes
 * mmap, mmap64, munmap, mremap, madvise and msync; routes the private file
 * mappings whose path matches $PAGERD_FILES, the read-only shared ones
 * whose path matches $PAGERD_SHARED, and with $PAGERD_ANON the large
 * anonymous private mappings, to the daemon through libpagerd (built into
 * this object); everything else, and anything that fails, goes to the
 * kernel, and a file mapping a pattern matched says why in $PAGERD_LOG.
 *
 * The real calls are made with syscall(2): resolving them with dlsym could
 * allocate, and allocating could mmap, before there is anything to call.
 * A thread inside the shim (or in libpagerd on its behalf) maps straight
 * through the kernel.
 *
 * In a set-user-ID or otherwise secure process (AT_SECURE, e.g. through
 * /etc/ld.so.preload) the shim reads no environment and routes nothing:
 * whoever started the program chose the environment, and would choose
 * the daemon that gets its memory and the file its log goes to.
 *
 * This file holds the mapping calls; large allocations are in
 * shim-malloc.c, writes to files routed shared in shim-write.c, fault
 * reports in shim-report.c.
 */
#include "config.h"

#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/libutil.h>

#include "internal.h"
#include "pagerd.h"
#include "shim.h"

/* The most patterns $PAGERD_FILES may hold. */
#define SHIM_MAX_PATTERNS 32

/* Errors above this are said every time. */
#define SHIM_MAX_ERRNO 256

static struct {
	pthread_once_t once;
	pthread_mutex_t lock;
	struct pagerd *pd;	/* connected on the first mapping routed */
	int failed;		/* could not connect: the kernel maps all */
	int quiet;
	int log_fd;
	size_t anon_min;	/* 0: anonymous mappings are not routed */
	int shared_write;	/* route MAP_SHARED file mappings */
	char *patterns[SHIM_MAX_PATTERNS];
	int npatterns;
	char *shared[SHIM_MAX_PATTERNS];	/* $PAGERD_SHARED */
	int nshared;
	int said_anon;
	int said_skip;		/* a file mapping went to the kernel */
	int said[SHIM_MAX_ERRNO];	/* a mapping failed with this errno */
	char failed_why[256];	/* why connecting failed */
} shim = {
	.once = PTHREAD_ONCE_INIT,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.log_fd = -1,
};

__thread int shim_busy __attribute__((tls_model("local-dynamic")));

static void *
real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int
real_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

static void *
real_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new)
{
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new);
}

void
shim_say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (shim.quiet)
		return;
	n = snprintf(buf, sizeof buf, "pagerd shim (pid %d): ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) == -1) {
		/* Nowhere else to say it. */
	}
}

/* The colon-separated patterns of the variable name, into patterns. */
static int
shim_patterns(const char *name, char **patterns)
{
	char *list, *tok, *save;
	const char *env;
	int n = 0;

	if ((env = getenv(name)) == NULL || *env == '\0' ||
	    (list = strdup(env)) == NULL)
		return 0;
	for (tok = strtok_r(list, ":", &save); tok != NULL &&
	    n < SHIM_MAX_PATTERNS; tok = strtok_r(NULL, ":", &save))
		patterns[n++] = tok;
	return n;
}

static void
shim_init(void)
{
	const char *env;
	uint64_t v;

	/* Nothing to route, no patterns, no anonymous size: the kernel maps. */
	if (getauxval(AT_SECURE) != 0)
		return;

	shim.quiet = (env = getenv("PAGERD_QUIET")) != NULL && *env != '\0' &&
	    strcmp(env, "0") != 0;
	shim.shared_write = (env = getenv("PAGERD_SHARED_WRITE")) != NULL &&
	    strcmp(env, "1") == 0;
	if ((env = getenv("PAGERD_LOG")) != NULL && *env != '\0' &&
	    (shim.log_fd = open(env, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0644)) == -1)
		shim_say("PAGERD_LOG %s: %s", env, strerror(errno));
	/* Out of the way of the program's own descriptors. */
	shim.log_fd = pagerd_fd_high(shim.log_fd);
	if ((env = getenv("PAGERD_ANON")) != NULL && *env != '\0') {
		/* Bytes, or with a suffix: 256k, 1M, 2G. */
		if (expand_number(env, &v) == 0 && v > 0)
			shim.anon_min = (size_t)v;
		else
			shim_say("PAGERD_ANON=%s is not a size: anonymous "
			    "mappings are left to the kernel", env);
	}
	shim.npatterns = shim_patterns("PAGERD_FILES", shim.patterns);
	shim.nshared = shim_patterns("PAGERD_SHARED", shim.shared);
}

/* Read the patterns once, before any thread uses them. */
void
shim_ready(void)
{
	pthread_once(&shim.once, shim_init);
}

/* $PAGERD_SHARED holds patterns. */
int
shim_shared_patterns(void)
{
	return shim.nshared > 0;
}

/* The connection, made on first use; NULL once it failed. */
struct pagerd *
shim_pagerd(void)
{
	struct pagerd_info info;
	struct pagerd *pd;

	pthread_mutex_lock(&shim.lock);
	if (shim.pd == NULL && !shim.failed) {
		if (pagerd_connect(NULL, &pd) != 0) {
			shim.failed = 1;
			snprintf(shim.failed_why, sizeof shim.failed_why,
			    "no daemon: %s", pagerd_errmsg());
			shim_say("%s; mappings are left to the kernel",
			    pagerd_errmsg());
		} else if (pagerd_info(pd, &info), !info.kernel_faults) {
			/*
			 * A system call reading or writing routed memory
			 * (write(2) from a mapped file, read(2) into a
			 * buffer) would fail with EFAULT: route nothing.
			 */
			pagerd_close(pd);
			shim.failed = 1;
			snprintf(shim.failed_why, sizeof shim.failed_why,
			    "the userfaultfd serves user-mode faults only");
			shim_say("this user's userfaultfd serves user-mode "
			    "faults only (root, CAP_SYS_PTRACE, access to "
			    "/dev/userfaultfd or vm.unprivileged_userfaultfd=1 "
			    "lift that): mappings are left to the kernel");
		} else
			shim.pd = pd;
	}
	pd = shim.pd;
	pthread_mutex_unlock(&shim.lock);
	return pd;
}

/* Does path match one of the patterns (a pattern without '/' the name)? */
static int
shim_match(char *const *patterns, int n, const char *path)
{
	const char *base;
	int i;

	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	for (i = 0; i < n; i++)
		if (fnmatch(patterns[i], strchr(patterns[i], '/') ? path : base,
		    0) == 0)
			return 1;
	return 0;
}

/*
 * Which patterns the file open on fd matches: SHIM_MATCH_FILES
 * ($PAGERD_FILES), SHIM_MATCH_SHARED ($PAGERD_SHARED), or 0; its path in
 * path.
 */
int
shim_path_matches(int fd, char *path, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, len - 1)) <= 0)
		return 0;
	path[n] = '\0';
	return (shim_match(shim.patterns, shim.npatterns, path) ?
	    SHIM_MATCH_FILES : 0) | (shim_match(shim.shared, shim.nshared,
	    path) ? SHIM_MATCH_SHARED : 0);
}

static void
shim_log(const char *what, const void *addr, size_t len, int prot,
    const char *backing)
{
	if (shim.log_fd == -1)
		return;
	dprintf(shim.log_fd, "pid %d: %s %p-%p %c%c %s\n", (int)getpid(), what,
	    addr, (const char *)addr + len, (prot & PROT_READ) ? 'r' : '-',
	    (prot & PROT_WRITE) ? 'w' : '-', backing);
}

/*
 * A mapping of path that a pattern matched goes to the kernel: why, in
 * PAGERD_LOG every time, and on standard error the first time (unless
 * said: the cause was said there already).
 */
static void
shim_skip(const char *path, size_t len, int prot, const char *why, int said)
{
	if (shim.log_fd != -1)
		dprintf(shim.log_fd, "pid %d: kernel %zu bytes %c%c %s: %s\n",
		    (int)getpid(), len, (prot & PROT_READ) ? 'r' : '-',
		    (prot & PROT_WRITE) ? 'w' : '-', path, why);
	if (!__atomic_exchange_n(&shim.said_skip, 1, __ATOMIC_RELAXED) &&
	    !said)
		shim_say("%s: mapped by the kernel: %s (said once; PAGERD_LOG "
		    "lists every such mapping)", path, why);
}

/*
 * Why a file mapping a pattern matched is not one to route, or NULL; the
 * libpagerd flags it takes in *pflags. buf holds a reason made up.
 */
static const char *
shim_refusal(size_t len, int prot, int flags, int match, unsigned int *pflags,
    char *buf, size_t buflen)
{
	const int kept = MAP_PRIVATE | MAP_SHARED | MAP_SHARED_VALIDATE |
	    MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_NORESERVE | MAP_POPULATE;

	*pflags = 0;
	if ((flags & ~kept) != 0) {
		snprintf(buf, buflen, "flags 0x%x, which pagerd does not serve",
		    flags & ~kept);
		return buf;
	}
	if (prot != PROT_READ && prot != (PROT_READ | PROT_WRITE)) {
		snprintf(buf, buflen, "prot 0x%x: pagerd serves read and "
		    "read-write mappings", prot);
		return buf;
	}
	if (len == 0)
		return "empty";
	if ((flags & MAP_TYPE) == MAP_PRIVATE) {
		if (!(match & SHIM_MATCH_FILES))
			return "private: PAGERD_SHARED routes shared mappings, "
			    "PAGERD_FILES private ones";
		return NULL;
	}
	/*
	 * A writable shared mapping is the file itself to the kernel, which
	 * a region pagerd serves is not; a write-back region comes close
	 * for a file the program alone uses: only on request.
	 */
	if (prot != PROT_READ) {
		if (!shim.shared_write)
			return "shared and writable: PAGERD_SHARED_WRITE=1 "
			    "routes it as a write-back region";
		*pflags = PAGERD_MAP_WRITEBACK;
		return NULL;
	}
	if (!(match & SHIM_MATCH_SHARED) && !shim.shared_write)
		return "shared: PAGERD_SHARED routes read-only shared mappings";
	/* Coherent with the file's writes: shim-write.c and the daemon. */
	*pflags = PAGERD_MAP_SHARED_RO;
	return NULL;
}

/*
 * Route the mapping to pagerd if it is one to route; MAP_FAILED with
 * errno 0 when it is not, or when routing failed (then the kernel maps).
 */
static void *
shim_route(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	const int anon_kept = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
	    MAP_FIXED_NOREPLACE | MAP_NORESERVE | MAP_POPULATE;
	int fixed, anon = flags & MAP_ANONYMOUS, match = 0;
	char path[4096], buf[128];
	unsigned int pflags = 0;
	struct pagerd *pd;
	const char *why;
	int error;
	void *p;

	errno = 0;
	pthread_once(&shim.once, shim_init);
	if (anon) {
		if (shim.anon_min == 0 || len < shim.anon_min || (flags &
		    ~anon_kept) != 0 || (prot != PROT_READ && prot !=
		    (PROT_READ | PROT_WRITE)))
			return MAP_FAILED;
	} else {
		if ((shim.npatterns == 0 && shim.nshared == 0) || fd < 0 ||
		    (match = shim_path_matches(fd, path, sizeof path)) == 0)
			return MAP_FAILED;
		if ((why = shim_refusal(len, prot, flags, match, &pflags, buf,
		    sizeof buf)) != NULL) {
			shim_skip(path, len, prot, why, 0);
			return MAP_FAILED;
		}
		/* Its writes must find it cheaply: before it is mapped. */
		if ((pflags & PAGERD_MAP_SHARED_RO) &&
		    shim_write_routed(fd) != 0) {
			shim_skip(path, len, prot, "more shared files than the "
			    "shim keeps track of", 0);
			return MAP_FAILED;
		}
	}
	if ((pd = shim_pagerd()) == NULL) {
		if (!anon)
			shim_skip(path, len, prot, shim.failed_why, 1);
		return MAP_FAILED;
	}
	fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	if ((error = pagerd_map_at(pd, addr, fixed, anon ? -1 : fd, off, len,
	    prot, pflags, &p)) != 0) {
		if (!anon)
			shim_skip(path, len, prot, pagerd_errmsg(), 1);
		/* Once for each cause: a limit hit is hit by every mapping. */
		if (-error < 0 || -error >= SHIM_MAX_ERRNO ||
		    !__atomic_exchange_n(&shim.said[-error], 1,
		    __ATOMIC_RELAXED))
			shim_say("%s%s: %s; mapped by the kernel (and so, "
			    "silently, others that fail the same way)", anon ?
			    "anonymous mapping" : "mapping of ", anon ? "" :
			    path, pagerd_errmsg());
		errno = 0;
		return MAP_FAILED;
	}
	shim_log("mmap", p, len, prot, anon ? "zero-fill" : path);
	return p;
}

SHIM_PUBLIC void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	if (shim_busy)
		return real_mmap(addr, len, prot, flags, fd, off);
	shim_busy = 1;
	p = shim_route(addr, len, prot, flags, fd, off);
	shim_busy = 0;
	if (p != MAP_FAILED)
		return p;
	return real_mmap(addr, len, prot, flags, fd, off);
}

SHIM_PUBLIC void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

/*
 * If addr is in a routed shared writable mapping (a write-back region),
 * write what the program wrote to the file: 1, with pagerd_sync()'s
 * result in *errorp; 0 if addr is in none. going: the bytes from addr a
 * munmap(2) is about to unmap, 0 for msync(2).
 */
static int
shim_writeback(void *addr, size_t going, int *errorp)
{
	struct pagerd *pd = shim.pd;
	void *start;

	if (pd == NULL || shim_busy ||
	    (start = pagerd_writeback_region(pd, addr)) == NULL)
		return 0;
	shim_busy = 1;
	*errorp = going > 0 ? pagerd_sync_unmap(pd, start, addr, going) :
	    pagerd_sync(pd, start);
	shim_busy = 0;
	return 1;
}

SHIM_PUBLIC int
munmap(void *addr, size_t len)
{
	struct pagerd *pd = shim.pd;
	int ret, error;

	/* What was written to a shared writable mapping reaches the file. */
	if (shim_writeback(addr, len, &error) && error != 0)
		shim_say("munmap of %p: %s", addr, pagerd_errmsg());
	ret = real_munmap(addr, len);
	if (ret == 0 && pd != NULL && !shim_busy) {
		shim_busy = 1;
		if (pagerd_overlaps(pd, addr, len)) {
			pagerd_unmapped(pd, addr, len);
			shim_log("munmap", addr, len, 0, "");
		}
		shim_busy = 0;
	}
	return ret;
}

SHIM_PUBLIC void *
mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	struct pagerd *pd = shim.pd;
	void *new = NULL, *p;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		new = va_arg(ap, void *);
		va_end(ap);
	}
	p = real_mremap(old, old_len, new_len, flags, new);
	if (p != MAP_FAILED && pd != NULL && !shim_busy) {
		shim_busy = 1;
		if (pagerd_overlaps(pd, old, old_len)) {
			if (pagerd_remapped(pd, old, old_len, p, new_len) != 0)
				shim_say("mremap of %p: %s", old,
				    pagerd_errmsg());
			shim_log("mremap", p, new_len, 0, "");
		}
		shim_busy = 0;
	}
	return p;
}

/*
 * A routed private file mapping is anonymous memory underneath where the
 * page cache is not used (PAGERD_NO_CACHE): the kernel would take advice
 * the program's file mapping refuses, and refuse other advice with
 * another error. Answer as for the mapping the program asked for.
 * MADV_HUGEPAGE gives routed zero-fill memory back to the kernel.
 */
SHIM_PUBLIC int
madvise(void *addr, size_t len, int advice)
{
	struct pagerd *pd = shim.pd;
	int error = 0, ret;
	size_t given;

	if (pd != NULL && !shim_busy) {
		shim_busy = 1;
		error = pagerd_advise(pd, addr, len, advice);
		shim_busy = 0;
	}
	if (error != 0) {
		errno = -error;
		return -1;
	}
	ret = (int)syscall(SYS_madvise, addr, len, advice);
	/*
	 * Huge pages are the kernel's to give: pagerd would fill the
	 * memory 4 KiB at a time. The advice stays set on the mapping.
	 */
	if (ret == 0 && advice == MADV_HUGEPAGE && pd != NULL && !shim_busy) {
		shim_busy = 1;
		if ((given = pagerd_unroute(pd, addr, len)) > 0 &&
		    shim.log_fd != -1)
			dprintf(shim.log_fd, "pid %d: madvise %p-%p "
			    "MADV_HUGEPAGE: %zu bytes of zero-fill to the "
			    "kernel\n", (int)getpid(), addr, (char *)addr + len,
			    given);
		shim_busy = 0;
	}
	return ret;
}

/* A shared writable mapping's msync: write the region back. */
SHIM_PUBLIC int
msync(void *addr, size_t len, int flags)
{
	int error;

	if (shim_writeback(addr, 0, &error)) {
		if (error != 0) {
			errno = -error;
			return -1;
		}
		return 0;
	}
	return (int)syscall(SYS_msync, addr, len, flags);
}

/*
 * libpagerd-preload.so: unmodified programs under pagerd. Interposes
 * mmap, mmap64, munmap, mremap, madvise and msync; routes the file mappings whose
 * path matches $PAGERD_FILES, and with $PAGERD_ANON the large anonymous
 * private mappings, to the daemon through libpagerd (built into this
 * object); everything else, and anything that fails, goes to the kernel.
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
 */
#include "config.h"

#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <sys/un.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/libutil.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd-compat.h"

#define SHIM_PUBLIC __attribute__((visibility("default")))

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
	int said_anon;
	int said[SHIM_MAX_ERRNO];	/* a mapping failed with this errno */
} shim = {
	.once = PTHREAD_ONCE_INIT,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.log_fd = -1,
};

static __thread int shim_busy;

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

static void __attribute__((format(printf, 1, 2)))
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

static void
shim_init(void)
{
	const char *env;
	char *list, *tok, *save;
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
	if ((env = getenv("PAGERD_FILES")) != NULL && *env != '\0' &&
	    (list = strdup(env)) != NULL) {
		for (tok = strtok_r(list, ":", &save); tok != NULL &&
		    shim.npatterns < SHIM_MAX_PATTERNS;
		    tok = strtok_r(NULL, ":", &save))
			shim.patterns[shim.npatterns++] = tok;
	}
}

/* The connection, made on first use; NULL once it failed. */
static struct pagerd *
shim_pagerd(void)
{
	struct pagerd_info info;
	struct pagerd *pd;

	pthread_mutex_lock(&shim.lock);
	if (shim.pd == NULL && !shim.failed) {
		if (pagerd_connect(NULL, &pd) != 0) {
			shim.failed = 1;
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

static int
shim_path_matches(int fd, char *path, size_t len)
{
	char link[64];
	const char *base;
	ssize_t n;
	int i;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, len - 1)) <= 0)
		return 0;
	path[n] = '\0';
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	for (i = 0; i < shim.npatterns; i++)
		if (fnmatch(shim.patterns[i], strchr(shim.patterns[i], '/') ?
		    path : base, 0) == 0)
			return 1;
	return 0;
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
 * Route the mapping to pagerd if it is one to route; MAP_FAILED with
 * errno 0 when it is not, or when routing failed (then the kernel maps).
 */
static void *
shim_route(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	const int kept = MAP_PRIVATE | MAP_SHARED | MAP_SHARED_VALIDATE |
	    MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_NORESERVE |
	    MAP_POPULATE;
	int type = flags & MAP_TYPE, fixed, anon = flags & MAP_ANONYMOUS;
	unsigned int pflags = 0;
	char path[4096];
	struct pagerd *pd;
	int error;
	void *p;

	errno = 0;
	pthread_once(&shim.once, shim_init);
	if ((flags & ~kept) != 0 || (prot != PROT_READ && prot != (PROT_READ |
	    PROT_WRITE)) || len == 0)
		return MAP_FAILED;
	if (anon) {
		if (shim.anon_min == 0 || len < shim.anon_min ||
		    type != MAP_PRIVATE)
			return MAP_FAILED;
	} else {
		if (shim.npatterns == 0 || fd < 0)
			return MAP_FAILED;
		/*
		 * A shared mapping sees the file's writes at once, also the
		 * program's own write(2)s (LMDB, SQLite write so and read
		 * through the mapping); a region pagerd serves cannot: only
		 * on request.
		 */
		if (type != MAP_PRIVATE) {
			if (!shim.shared_write)
				return MAP_FAILED;
			if (prot != PROT_READ)
				pflags = PAGERD_MAP_WRITEBACK;
		}
		if (!shim_path_matches(fd, path, sizeof path))
			return MAP_FAILED;
	}
	if ((pd = shim_pagerd()) == NULL)
		return MAP_FAILED;
	fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	if ((error = pagerd_map_at(pd, addr, fixed, anon ? -1 : fd, off, len,
	    prot, pflags, &p)) != 0) {
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
 * result in *errorp; 0 if addr is in none.
 */
static int
shim_writeback(void *addr, int *errorp)
{
	struct pagerd *pd = shim.pd;
	void *start;

	if (pd == NULL || shim_busy ||
	    (start = pagerd_writeback_region(pd, addr)) == NULL)
		return 0;
	shim_busy = 1;
	*errorp = pagerd_sync(pd, start);
	shim_busy = 0;
	return 1;
}

SHIM_PUBLIC int
munmap(void *addr, size_t len)
{
	struct pagerd *pd = shim.pd;
	int ret, error;

	/* What was written to a shared writable mapping reaches the file. */
	if (shim_writeback(addr, &error) && error != 0)
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
 */
SHIM_PUBLIC int
madvise(void *addr, size_t len, int advice)
{
	struct pagerd *pd = shim.pd;
	int error = 0;

	if (pd != NULL && !shim_busy) {
		shim_busy = 1;
		error = pagerd_advise(pd, addr, len, advice);
		shim_busy = 0;
	}
	if (error != 0) {
		errno = -error;
		return -1;
	}
	return (int)syscall(SYS_madvise, addr, len, advice);
}

/* A shared writable mapping's msync: write the region back. */
SHIM_PUBLIC int
msync(void *addr, size_t len, int flags)
{
	int error;

	if (shim_writeback(addr, &error)) {
		if (error != 0) {
			errno = -error;
			return -1;
		}
		return 0;
	}
	return (int)syscall(SYS_msync, addr, len, flags);
}

/*
 * Large allocations. glibc's malloc maps big blocks with its internal
 * __mmap, which no preload sees; so with PAGERD_ANON the shim serves
 * malloc, calloc and realloc of at least that many bytes itself, from
 * anonymous mappings made through the interposed mmap (routed to pagerd
 * like any other), and free of those blocks; everything else goes to
 * glibc's own functions (__libc_malloc and friends). Its blocks are page
 * aligned, glibc's mapped chunks never are, so free looks a pointer up
 * only when it is page aligned and blocks exist.
 */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

struct big {
	uintptr_t addr;
	size_t len;
};

static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static struct big *bigs;
static size_t nbigs, capbigs;
static size_t big_min;		/* PAGERD_ANON, read without allocating */
static int big_state;		/* 0 not read, 1 read */

static size_t
big_threshold(void)
{
	const char *env;
	uint64_t v;

	if (__atomic_load_n(&big_state, __ATOMIC_ACQUIRE))
		return big_min;
	if (getauxval(AT_SECURE) == 0 &&
	    (env = getenv("PAGERD_ANON")) != NULL && *env != '\0' &&
	    expand_number(env, &v) == 0 && v > 0)
		big_min = (size_t)v;
	__atomic_store_n(&big_state, 1, __ATOMIC_RELEASE);
	return big_min;
}

/* The block at p, removed from the table when take; its length or 0. */
static size_t
big_find(const void *p, int take)
{
	size_t i, len = 0;

	if (((uintptr_t)p & 4095) != 0 ||
	    __atomic_load_n(&nbigs, __ATOMIC_ACQUIRE) == 0)
		return 0;
	pthread_mutex_lock(&big_lock);
	for (i = 0; i < nbigs; i++)
		if (bigs[i].addr == (uintptr_t)p) {
			len = bigs[i].len;
			if (take)
				bigs[i] = bigs[--nbigs];
			break;
		}
	pthread_mutex_unlock(&big_lock);
	return len;
}

static int
big_record(void *p, size_t len)
{
	struct big *n;
	int ok = 1;

	pthread_mutex_lock(&big_lock);
	if (nbigs == capbigs) {
		n = __libc_realloc(bigs, (capbigs ? capbigs * 2 : 64) *
		    sizeof *n);
		if (n == NULL)
			ok = 0;
		else {
			bigs = n;
			capbigs = capbigs ? capbigs * 2 : 64;
		}
	}
	if (ok) {
		bigs[nbigs].addr = (uintptr_t)p;
		bigs[nbigs].len = len;
		__atomic_store_n(&nbigs, nbigs + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&big_lock);
	return ok;
}

static void *
big_alloc(size_t n)
{
	size_t len = (n + 4095) & ~(size_t)4095;
	void *p;

	if (len < n)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!big_record(p, len)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

SHIM_PUBLIC void *
malloc(size_t n)
{
	void *p;

	if (shim_busy || n < big_threshold() || big_min == 0)
		return __libc_malloc(n);
	if ((p = big_alloc(n)) == NULL)
		errno = ENOMEM;
	return p;
}

SHIM_PUBLIC void *
calloc(size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &n) || shim_busy ||
	    n < big_threshold() || big_min == 0)
		return __libc_calloc(nmemb, size);
	/* A fresh mapping reads as zeros. */
	if ((p = big_alloc(n)) == NULL)
		errno = ENOMEM;
	return p;
}

SHIM_PUBLIC void
free(void *p)
{
	size_t len;

	if (p != NULL && (len = big_find(p, 1)) != 0) {
		munmap(p, len);
		return;
	}
	__libc_free(p);
}

SHIM_PUBLIC void *
realloc(void *p, size_t n)
{
	size_t len, newlen = (n + 4095) & ~(size_t)4095;
	void *q;

	if (p == NULL || (len = big_find(p, 0)) == 0)
		return __libc_realloc(p, n);
	if (n >= big_threshold() && big_min != 0 && newlen >= n) {
		/* Ours stays ours: the mapping moves or grows. */
		q = mremap(p, len, newlen, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			errno = ENOMEM;
			return NULL;
		}
		big_find(p, 1);
		if (!big_record(q, newlen)) {
			munmap(q, newlen);
			errno = ENOMEM;
			return NULL;
		}
		return q;
	}
	if ((q = __libc_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, n < len ? n : len);
	free(p);
	return q;
}

SHIM_PUBLIC size_t
malloc_usable_size(void *p)
{
	static size_t (*real)(void *);
	size_t len;

	if (p != NULL && (len = big_find(p, 0)) != 0)
		return len;
	if (real == NULL)
		real = (size_t (*)(void *))dlsym(RTLD_NEXT,
		    "malloc_usable_size");
	return real != NULL ? real(p) : 0;
}

/*
 * Reports of the faults the kernel catches. A SIGSEGV or SIGBUS handler,
 * installed where the program has none, tells the daemon what happened
 * (address, cause, access, the mapping from /proc/self/maps) on a
 * connection of its own, then lets the signal take its course: the
 * process dies of the same signal, with the same status. Everything here
 * is async-signal-safe: no allocation, no stdio, no locks.
 */
static struct sockaddr_un report_addr;
static uint32_t report_page_size;
static uid_t report_daemon_uid;	/* PAGERD_DAEMON_UID, read at start */

/* The /proc/self/maps line of the mapping holding addr, or "". */
static void
report_mapping(uint64_t addr, char *out, size_t outlen)
{
	char buf[4096], line[512];
	size_t ln = 0, i;
	uint64_t start, end;
	ssize_t n;
	int fd, d;

	out[0] = '\0';
	if ((fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) == -1)
		return;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != '\n') {
				/* Runs of blanks (before the path) as one. */
				if (ln < sizeof line - 1 && (buf[i] != ' ' ||
				    ln == 0 || line[ln - 1] != ' '))
					line[ln++] = buf[i];
				continue;
			}
			line[ln] = '\0';
			ln = 0;
			/* "start-end perms ...": two hex numbers. */
			start = end = 0;
			for (d = 0; line[d] != '-' && line[d] != '\0'; d++)
				start = start * 16 + (uint64_t)(line[d] <= '9' ?
				    line[d] - '0' : line[d] - 'a' + 10);
			for (d += line[d] == '-'; line[d] != ' ' &&
			    line[d] != '\0'; d++)
				end = end * 16 + (uint64_t)(line[d] <= '9' ?
				    line[d] - '0' : line[d] - 'a' + 10);
			if (start <= addr && addr < end) {
				strlcpy(out, line, outlen);
				close(fd);
				return;
			}
		}
	}
	close(fd);
}

static void
report_fault(int signo, siginfo_t *si, void *ucv)
{
	const ucontext_t *uc = ucv;
	union pd_msg msg, reply;
	struct timeval tv = { .tv_sec = 1 };
	struct uffdio_api api = { .api = UFFD_API };
	struct ucred cred;
	socklen_t len = sizeof cred;
	int saved = errno, fd, uffd = -1;
	uint64_t err;

	if (report_addr.sun_path[0] == '\0' ||
	    (fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&report_addr,
	    sizeof report_addr) == -1 || getsockopt(fd, SOL_SOCKET,
	    SO_PEERCRED, &cred, &len) == -1 ||
	    !pagerd_daemon_trusted(cred.uid, report_daemon_uid))
		goto close;
	/*
	 * Only a client session may report, about its own process: a
	 * userfaultfd with no features and no regions makes one.
	 */
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd == -1)		/* a kernel before 5.11 */
		uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd == -1 || ioctl(uffd, UFFDIO_API, &api) == -1)
		goto close;
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.page_size = report_page_size;
	msg.hello.caps = 0;
	/*
	 * The hello's answer first: a report is only read after it. No
	 * caps: a report needs none, and any daemon reads the first
	 * release's messages.
	 */
	if (proto_send(fd, &msg, &uffd, 1, 0, MSG_NOSIGNAL) != 0 ||
	    recv(fd, &reply, sizeof reply, 0) <= 0 ||
	    reply.hdr.type != PD_MSG_REPLY || reply.reply.status != 0)
		goto close;
	proto_init(&msg, PD_MSG_REPORT, 2);
	msg.report.signo = (uint32_t)signo;
	msg.report.code = si->si_code;
	msg.report.addr = (uintptr_t)si->si_addr;
	msg.report.tid = (uint32_t)syscall(SYS_gettid);
#if defined(__x86_64__)
	msg.report.ip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	/* The page fault's error code: bit 1 a write, bit 4 a fetch. */
	if (signo == SIGSEGV && si->si_code > 0) {
		err = (uint64_t)uc->uc_mcontext.gregs[REG_ERR];
		msg.report.access = (err & 0x10) ? PD_ACCESS_EXEC :
		    (err & 0x2) ? PD_ACCESS_WRITE : PD_ACCESS_READ;
	}
#else
	(void)uc;
	(void)err;
#endif
	report_mapping(msg.report.addr, msg.report.mapping,
	    sizeof msg.report.mapping);
	(void)proto_send(fd, &msg, NULL, 0, 0, MSG_NOSIGNAL);
close:
	if (uffd != -1)
		close(uffd);
	close(fd);
out:
	errno = saved;
	/*
	 * The handler is gone (SA_RESETHAND): a fault happens again when
	 * the instruction is retried, now with the default action; a signal
	 * someone sent is sent again.
	 */
	if (si->si_code <= 0)
		raise(signo);
}

__attribute__((constructor)) static void
report_install(void)
{
	struct sigaction sa, old;
	const char *env, *path;
	int sigs[] = { SIGSEGV, SIGBUS };
	size_t i;

	if (getauxval(AT_SECURE) != 0 || ((env = getenv("PAGERD_REPORT")) !=
	    NULL && strcmp(env, "0") == 0))
		return;
	path = (env = getenv("PAGERD_SOCKET")) != NULL && *env != '\0' ? env :
	    PAGERD_DEFAULT_SOCKET;
	report_addr.sun_family = AF_UNIX;
	if (strlcpy(report_addr.sun_path, path, sizeof report_addr.sun_path)
	    >= sizeof report_addr.sun_path)
		return;
	report_page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	report_daemon_uid = pagerd_daemon_uid();
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = report_fault;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
}

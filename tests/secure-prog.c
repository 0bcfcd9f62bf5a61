/*
 * A set-user-ID root program for tests/secure-test: it loads the shim
 * as /etc/ld.so.preload would (dlopen: the loader ignores LD_PRELOAD
 * paths in such a program), then calls the shim's entry points with the
 * environment its unprivileged caller chose. Everything must go to the
 * kernel: a file and an anonymous mapping, a large malloc, and no fault
 * handler installed; pagerd_connect() with no path must not take
 * $PAGERD_SOCKET, and with the caller's daemon's path must refuse it
 * (its uid is neither root nor the effective one, whatever
 * $PAGERD_DAEMON_UID says). Exit 0 when all holds, 2 when the program is
 * not running set-user-ID (a nosuid mount), 1 with the reason otherwise.
 * Never sanitized: the shim is not either.
 * Usage: secure-prog SHIM FILE SOCKET
 */
#include "config.h"

#include <sys/auxv.h>
#include <sys/mman.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pagerd;

static void __attribute__((noreturn))
fail(const char *what)
{
	printf("secure-prog: %s\n", what);
	exit(1);
}

int
main(int argc, char **argv)
{
	void *(*shim_mmap)(void *, size_t, int, int, int, off_t);
	int (*shim_munmap)(void *, size_t);
	void *(*shim_malloc)(size_t);
	void (*shim_free)(void *);
	int (*shim_connect)(const char *, struct pagerd **);
	void (*shim_close)(struct pagerd *);
	const char *(*shim_errmsg)(void);
	struct pagerd *pd;
	struct sigaction sa;
	unsigned char *p, want[4096];
	void *h;
	int fd, error;

	if (argc != 4) {
		fprintf(stderr, "usage: secure-prog SHIM FILE SOCKET\n");
		return 1;
	}
	if (getauxval(AT_SECURE) == 0 || geteuid() != 0 || getuid() == 0) {
		printf("secure-prog: not running set-user-ID root\n");
		return 2;
	}
	if ((h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL)
		fail(dlerror());
	shim_mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(h,
	    "mmap");
	shim_munmap = (int (*)(void *, size_t))dlsym(h, "munmap");
	shim_malloc = (void *(*)(size_t))dlsym(h, "malloc");
	shim_free = (void (*)(void *))dlsym(h, "free");
	shim_connect = (int (*)(const char *, struct pagerd **))dlsym(h,
	    "pagerd_connect");
	shim_close = (void (*)(struct pagerd *))dlsym(h, "pagerd_close");
	shim_errmsg = (const char *(*)(void))dlsym(h, "pagerd_errmsg");
	if (shim_mmap == NULL || shim_munmap == NULL || shim_malloc == NULL ||
	    shim_free == NULL || shim_connect == NULL || shim_close == NULL ||
	    shim_errmsg == NULL)
		fail("the shim lacks an entry point");

	if (sigaction(SIGSEGV, NULL, &sa) != 0 || (sa.sa_flags & SA_SIGINFO))
		fail("the shim installed its fault handler");

	if ((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) == -1 ||
	    pread(fd, want, sizeof want, 0) != (ssize_t)sizeof want)
		fail("cannot read the file");
	p = shim_mmap(NULL, 1 << 20, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED || memcmp(p, want, sizeof want) != 0)
		fail("the file mapping is wrong");
	if (shim_munmap(p, 1 << 20) != 0)
		fail("munmap of the file mapping");
	close(fd);
	p = shim_mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail("the anonymous mapping failed");
	memset(p, 0x5a, 1 << 20);
	if (p[12345] != 0x5a || shim_munmap(p, 1 << 20) != 0)
		fail("the anonymous mapping is wrong");
	if ((p = shim_malloc(4 << 20)) == NULL)
		fail("malloc failed");
	memset(p, 0xa5, 4 << 20);
	shim_free(p);
	printf("secure-prog: the kernel mapped everything\n");

	/* $PAGERD_SOCKET is not read: the default path, or nothing. */
	if ((error = shim_connect(NULL, &pd)) == 0)
		shim_close(pd);
	printf("secure-prog: default socket: %s\n", error == 0 ? "connected" :
	    shim_errmsg());
	error = shim_connect(argv[3], &pd);
	printf("secure-prog: the caller's daemon: %s\n", error == 0 ?
	    "connected" : shim_errmsg());
	if (error != -EPERM)
		fail("the caller's daemon was not refused with EPERM");
	return 0;
}

/*
 * Start and stop nbdkit for the NBD store tests (nbdkit.h).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

/* Skip the test where nbdkit is missing: the one reason it may. */
void
nbdkit_need(void)
{
	if (system("nbdkit --version >/dev/null 2>&1") != 0)
		harness_skip("nbdkit is not installed (Debian: apt-get install "
		    "nbdkit)");
}

/* A file (a configuration) that says text. */
void
nbdkit_write_file(const char *path, const char *text)
{
	int fd;

	CHECK((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) != -1);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

/* And nbdcopy, which reads an export back for a test. */
void
nbdkit_need_nbdcopy(void)
{
	nbdkit_need();
	if (system("nbdcopy --version >/dev/null 2>&1") != 0)
		harness_skip("nbdcopy is not installed (Debian: libnbd-bin)");
}

/*
 * nbdkit serving on a unix socket dir/name.sock: the arguments after it
 * are nbdkit's (filters, plugin, its parameters), NULL-terminated.
 */
void
nbdkit_start(struct nbdkit *k, const char *dir, ...)
{
	const char *argv[32];
	struct stat st;
	va_list ap;
	int n = 0, i;

	nbdkit_need();
	snprintf(k->sock, sizeof k->sock, "%s/nbd.sock", dir);
	snprintf(k->uri, sizeof k->uri, "nbd+unix:///?socket=%s", k->sock);
	unlink(k->sock);
	argv[n++] = "nbdkit";
	argv[n++] = "-f";
	argv[n++] = "-U";
	argv[n++] = k->sock;
	va_start(ap, dir);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	fflush(NULL);
	CHECK((k->pid = fork()) != -1);
	if (k->pid == 0) {
		execvp("nbdkit", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (i = 0; i < 1000 && stat(k->sock, &st) != 0; i++)
		harness_sleep_ms(10);
	CHECKF(i < 1000, "nbdkit did not make its socket %s", k->sock);
	/* Reachable by the unprivileged test users' daemons too. */
	chmod(k->sock, 0777);
}

void
nbdkit_stop(struct nbdkit *k)
{
	if (k->pid <= 0)
		return;
	kill(k->pid, SIGTERM);
	harness_wait(k->pid);
	k->pid = 0;
	unlink(k->sock);
}

/* kill -9, as a crash of the server or its machine would. */
void
nbdkit_kill(struct nbdkit *k)
{
	kill(k->pid, SIGKILL);
	harness_wait(k->pid);
	k->pid = 0;
	unlink(k->sock);
}

/*
 * A client process that maps size bytes of store and checks the page at
 * off against the pattern of seed in an export of export bytes: it exits
 * 0 when the bytes are right, dies of SIGBUS where the page cannot be
 * had. Returns its pid.
 */
pid_t
nbdkit_touch_start(const char *sock, const char *store, uint64_t size,
    uint64_t off, uint64_t seed, uint64_t export)
{
	struct pagerd *pd;
	void *addr;
	pid_t pid;

	fflush(NULL);
	CHECK((pid = fork()) != -1);
	if (pid != 0)
		return pid;
	signal(SIGBUS, SIG_DFL);
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, store, 0, size, PROT_READ, 0, &addr) ==
	    0, "map: %s", pagerd_errmsg());
	harness_check_range((char *)addr + off, off, 4096, seed, export);
	pagerd_close(pd);
	_exit(0);
}

/* nbdkit_touch_start, waited for: its exit status (128 + SIGBUS...). */
int
nbdkit_touch(const char *sock, const char *store, uint64_t size,
    uint64_t off, uint64_t seed, uint64_t export)
{
	return harness_wait(nbdkit_touch_start(sock, store, size, off, seed,
	    export));
}

/*
 * Daemon d (started here) with a store "img": nbdkit's file plugin, its
 * reads held delay_read seconds (delay filter), serving a pattern image
 * of size bytes of seed, made at path (pathlen). The image and the
 * server's socket are in kdir (kdirlen, nbdkit_files'), which the test
 * removes.
 */
void
nbdkit_delayed_store(struct harness_daemon *d, struct nbdkit *k, char *kdir,
    size_t kdirlen, char *path, size_t pathlen, uint64_t size, uint64_t seed,
    const char *delay_read)
{
	char conf[1024];

	struct harness_daemon f;

	nbdkit_need();
	nbdkit_files(&f);
	harness_make_file(&f, "image", size, seed, path, pathlen);
	snprintf(kdir, kdirlen, "%s", f.dir);
	nbdkit_start(k, kdir, "--filter=delay", "file", path, delay_read,
	    NULL);
	snprintf(conf, sizeof conf, "store img %s\n", k->uri);
	harness_start_conf(d, conf);
}

/*
 * nbdkit_touch_start of store img, returned once its first read is at
 * the server (its region added, and half a second).
 */
pid_t
nbdkit_touch_held(struct harness_daemon *d, uint64_t size, uint64_t off,
    uint64_t seed)
{
	pid_t pid;
	int i;

	pid = nbdkit_touch_start(d->sock, "img", size, off, seed, size);
	for (i = 0; i < 500 && !harness_log_has(d, "region 1:"); i++)
		harness_sleep_ms(10);
	harness_sleep_ms(500);
	return pid;
}

/*
 * A directory for a test's images and the servers' sockets, which
 * outlives its daemons (harness_stop removes theirs): as the dir of f,
 * for harness_make_file.
 */
void
nbdkit_files(struct harness_daemon *f)
{
	memset(f, 0, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "%s/pagerd-nbd.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CHECKF(mkdtemp(f->dir) != NULL, "mkdtemp: %s", strerror(errno));
	/* The unprivileged test users' clients reach nothing here. */
	chmod(f->dir, 0755);
}

static int
nbdkit_remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* nbdkit_files' directory, and whatever the test left in it. */
void
nbdkit_files_remove(const char *dir)
{
	nftw(dir, nbdkit_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

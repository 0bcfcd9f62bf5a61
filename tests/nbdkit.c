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

/*
 * Daemon d's configuration file path says text now; d is sent SIGHUP and
 * waited for until its log says "reloaded" count times in all.
 */
void
nbdkit_reload(struct harness_daemon *d, const char *path, const char *text,
    int count)
{
	int i;

	nbdkit_write_file(path, text);
	kill(d->pid, SIGHUP);
	for (i = 0; i < 500 && harness_log_count(d, "reloaded") < count; i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_count(d, "reloaded") >= count, "no reload in 5 s");
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
 * nbdkit serving on a unix socket dir/nbd.sock: the arguments after it
 * are nbdkit's (filters, plugin, its parameters), NULL-terminated. With
 * -v among them, its debug messages go to dir/nbdkit.log (k->log), where
 * nbdkit_touch_held sees a read reach the server.
 */
void
nbdkit_start(struct nbdkit *k, const char *dir, ...)
{
	const char *argv[32];
	struct stat st;
	va_list ap;
	int n = 4, i, fd, verbose = 0;

	va_start(ap, dir);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		verbose |= strcmp(argv[n++], "-v") == 0;
	va_end(ap);
	argv[n] = NULL;
	nbdkit_need();
	snprintf(k->sock, sizeof k->sock, "%s/nbd.sock", dir);
	snprintf(k->uri, sizeof k->uri, "nbd+unix:///?socket=%s", k->sock);
	k->log[0] = '\0';
	if (verbose)
		snprintf(k->log, sizeof k->log, "%s/nbdkit.log", dir);
	unlink(k->sock);
	argv[0] = "nbdkit";
	argv[1] = "-f";
	argv[2] = "-U";
	argv[3] = k->sock;
	fflush(NULL);
	CHECK((k->pid = fork()) != -1);
	if (k->pid == 0) {
		if (verbose && (fd = open(k->log, O_WRONLY | O_CREAT |
		    O_TRUNC | O_CLOEXEC, 0644)) != -1)
			dup2(fd, STDERR_FILENO);
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
 * of size bytes of seed, made at path (pathlen). The image, the
 * server's socket and its debug messages (k->log) are in kdir (kdirlen,
 * nbdkit_files'), which the test removes.
 */
void
nbdkit_delayed_store(struct harness_daemon *d, struct nbdkit *k, char *kdir,
    size_t kdirlen, char *path, size_t pathlen, uint64_t size, uint64_t seed,
    const char *delay_read)
{
	struct harness_daemon f;
	char conf[1024];

	nbdkit_image(&f, size, seed, path, pathlen);
	snprintf(kdir, kdirlen, "%s", f.dir);
	/* Its debug messages say when a read reaches the delay filter. */
	nbdkit_start(k, kdir, "-v", "--filter=delay", "file", path,
	    delay_read, NULL);
	snprintf(conf, sizeof conf, "store img %s\n", k->uri);
	harness_start_conf(d, conf);
}

/*
 * nbdkit_touch_start of store img of server k (nbdkit_delayed_store's,
 * or one started with -v and the delay filter), returned once the
 * touch's read is at the server (in its delay filter).
 */
pid_t
nbdkit_touch_held(struct harness_daemon *d, struct nbdkit *k, uint64_t size,
    uint64_t off, uint64_t seed)
{
	pid_t pid;
	int i;

	CHECKF(k->log[0] != '\0', "nbdkit_touch_held: the server was not "
	    "started with -v");
	pid = nbdkit_touch_start(d->sock, "img", size, off, seed, size);
	for (i = 0; i < 1000 && harness_file_count(k->log,
	    "delay: pread") == 0; i++)
		harness_sleep_ms(10);
	CHECKF(i < 1000, "no read reached the server in 10 s (%s)", k->log);
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

/*
 * nbdkit_need, and a files directory f (nbdkit_files) with a pattern
 * image of size bytes of seed in it, at img (len).
 */
void
nbdkit_image(struct harness_daemon *f, size_t size, uint64_t seed,
    char *img, size_t len)
{
	nbdkit_need();
	nbdkit_files(f);
	harness_make_file(f, "image", size, seed, img, len);
}

/*
 * The end of a store test: daemon d must be alive; it and server k are
 * stopped, and the test's files directory dir (nbdkit_files'), with all
 * it holds, removed.
 */
void
nbdkit_end(struct harness_daemon *d, struct nbdkit *k, const char *dir)
{
	CHECKF(harness_alive(d), "the daemon died");
	harness_stop(d);
	nbdkit_stop(k);
	nbdkit_files_remove(dir);
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

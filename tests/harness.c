/*
 * Shared helpers of the tests: see harness.h.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "uffd.h"

static int harness_connect(const char *, int);

/*
 * The daemons this test started (some tests run two at once), so that a
 * failure can show their logs and a failure or skip leaves none behind:
 * only the process that started one reports and stops it, and one
 * already reaped (killed, or exited) is not signalled again.
 */
#define HARNESS_DAEMONS 8
static struct harness_running {
	struct harness_daemon *d;
	pid_t owner;
	int reaped;
} harness_daemons[HARNESS_DAEMONS];
/* The eio-fs mounted by harness_eio_fs(), to go with a failing test. */
#define HARNESS_FS 4
static struct harness_fs {
	pid_t pid, owner;
	char mnt[512];
} harness_fs[HARNESS_FS];

/* d's entry in harness_daemons, made with make; NULL if none. */
static struct harness_running *
harness_running_of(const struct harness_daemon *d, int make)
{
	struct harness_running *free_slot = NULL;
	size_t i;

	for (i = 0; i < HARNESS_DAEMONS; i++) {
		if (harness_daemons[i].d == d)
			return &harness_daemons[i];
		if (harness_daemons[i].d == NULL && free_slot == NULL)
			free_slot = &harness_daemons[i];
	}
	if (!make)
		return NULL;
	if (free_slot == NULL)
		harness_fail(__FILE__, __LINE__, "more than %d daemons at once",
		    HARNESS_DAEMONS);
	free_slot->d = (struct harness_daemon *)(uintptr_t)d;
	return free_slot;
}

/* d was reaped (stopped 0: a failure still shows its log), or stopped. */
static void
harness_forget(const struct harness_daemon *d, int stopped)
{
	struct harness_running *h;

	if ((h = harness_running_of(d, 0)) == NULL)
		return;
	if (stopped)
		memset(h, 0, sizeof *h);
	else
		h->reaped = 1;
}

static void
harness_print_log(const struct harness_daemon *d)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if ((fd = open(d->log, O_RDONLY)) == -1)
		return;
	fprintf(stderr, "---- pagerd log (%s) ----\n", d->log);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)n, stderr);
	fprintf(stderr, "---- end of pagerd log ----\n");
	close(fd);
}

/*
 * If a system call the unit does not allow killed the daemon (it runs
 * under the unit's filter: tests/unit-filter.sh), say which, from the
 * kernel's audit line.
 */
static void
harness_print_sigsys(const struct harness_daemon *d)
{
	const char *builddir = getenv("PAGERD_BUILDDIR");
	char cmd[1200], call[128];
	FILE *f;

	snprintf(cmd, sizeof cmd, "'%s/tests/seccomp-exec' --killed %d "
	    "2>/dev/null", builddir != NULL ? builddir : ".", (int)d->pid);
	if ((f = popen(cmd, "r")) == NULL)
		return;
	if (fgets(call, sizeof call, f) != NULL)
		fprintf(stderr, "pagerd (pid %d) was killed by SIGSYS: the "
		    "unit does not allow %s", (int)d->pid, call);
	pclose(f);
}

/* Nor does an eio-fs outlive a test that fails or skips. */
static void
harness_fs_kill(void)
{
	int i;

	for (i = 0; i < HARNESS_FS; i++)
		if (harness_fs[i].pid > 0 && getpid() == harness_fs[i].owner) {
			kill(harness_fs[i].pid, SIGKILL);
			(void)umount2(harness_fs[i].mnt, MNT_DETACH);
		}
}

void
harness_fail(const char *file, int line, const char *fmt, ...)
{
	struct harness_running *h;
	va_list ap;

	fprintf(stderr, "FAIL %s:%d (pid %d): ", file, line, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	for (h = harness_daemons; h < harness_daemons + HARNESS_DAEMONS; h++) {
		if (h->d == NULL || h->owner != getpid())
			continue;
		harness_print_log(h->d);
		harness_print_sigsys(h->d);
		if (!h->reaped)
			kill(h->d->pid, SIGKILL);
	}
	harness_fs_kill();
	exit(1);
}

void
harness_skip(const char *fmt, ...)
{
	struct harness_running *h;
	va_list ap;

	fprintf(stderr, "SKIP: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	harness_fs_kill();
	/* A test that skips leaves no daemon behind, nor its directory. */
	for (h = harness_daemons; h < harness_daemons + HARNESS_DAEMONS; h++) {
		if (h->d == NULL || h->owner != getpid() || h->reaped)
			continue;
		kill(h->d->pid, SIGKILL);
		(void)harness_wait(h->d->pid);
		harness_remove_tree(h->d->dir);
	}
	exit(77);
}

/*
 * Skip the test, saying why, unless pd's daemon serves files through
 * shared page caches (the kernel has the userfaultfd features for them).
 */
void
harness_need_shared_cache(struct pagerd *pd)
{
	struct pagerd_info info;

	CHECKF(pagerd_info(pd, &info) == 0, "info: %s", pagerd_errmsg());
	if (!info.shared_cache)
		harness_skip("no shared page cache for uid %d (its "
		    "userfaultfd lacks the missing-shmem or minor-shmem "
		    "features)", (int)getuid());
}

/*
 * A client of the daemon on sock, into *pdp, with len bytes of the file
 * at path mapped through the shared page cache (skipping the test where
 * there is none). Returns the mapping.
 */
void *
harness_map_cached(struct pagerd **pdp, const char *sock, const char *path,
    size_t len, int prot)
{
	void *p;
	int fd;

	CHECKF(pagerd_connect(sock, pdp) == 0, "connect: %s", pagerd_errmsg());
	harness_need_shared_cache(*pdp);
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pagerd_map_file(*pdp, fd, 0, len, prot, 0, &p) == 0, "map %s: "
	    "%s", path, pagerd_errmsg());
	close(fd);
	return p;
}

/* The process's userfaultfd (libpagerd's), found by its link. */
static int
harness_find_uffd(void)
{
	char link[300], target[64];
	struct dirent *e;
	int fd = -1;
	ssize_t n;
	DIR *dir;

	CHECK((dir = opendir("/proc/self/fd")) != NULL);
	while (fd == -1 && (e = readdir(dir)) != NULL) {
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		if ((n = readlink(link, target, sizeof target - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[userfaultfd]") == 0)
			fd = atoi(e->d_name);
	}
	closedir(dir);
	CHECKF(fd != -1, "no userfaultfd among the client's descriptors");
	return fd;
}

/*
 * A client that lies about its memory: behind the daemon's back
 * (unregistered first, so no unmap event), anonymous memory registered
 * for missing faults goes where the page cache's mapping of len bytes at
 * p was. Every install there fails (UFFDIO_CONTINUE: EINVAL).
 */
void
harness_swap_anon(volatile void *p, size_t len)
{
	struct uffdio_register reg;
	struct uffdio_range range;
	int uffd = harness_find_uffd();

	range.start = (uint64_t)(uintptr_t)p;
	range.len = len;
	CHECKF(ioctl(uffd, UFFDIO_UNREGISTER, &range) == 0,
	    "UFFDIO_UNREGISTER");
	CHECK(mmap((void *)(uintptr_t)p, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p);
	memset(&reg, 0, sizeof reg);
	reg.range = range;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	CHECKF(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0, "UFFDIO_REGISTER");
}

/* The CPU time (s) process pid has used, from /proc/pid/stat. */
double
harness_cpu_s(pid_t pid)
{
	unsigned long long utime, stime;
	char file[64], buf[1024], *q;
	FILE *f;

	snprintf(file, sizeof file, "/proc/%d/stat", (int)pid);
	CHECKF((f = fopen(file, "re")) != NULL, "%s", file);
	CHECK(fgets(buf, sizeof buf, f) != NULL);
	fclose(f);
	/* Past the command's closing parenthesis: state is field 3. */
	CHECK((q = strrchr(buf, ')')) != NULL);
	CHECK(sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu", &utime, &stime) == 2);
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * A daemon that fails what it cannot serve does not spin on it: from t0
 * (harness_now_s) and c0 (its harness_cpu_s) to a second from now, it
 * used under half a CPU (a loop would take a whole one). after says
 * since what.
 */
void
harness_expect_calm(const struct harness_daemon *d, double t0, double c0,
    const char *after)
{
	double cpu, wall;

	harness_sleep_ms(1000);
	cpu = harness_cpu_s(d->pid) - c0;
	wall = harness_now_s() - t0;
	printf("the daemon used %.2f s of CPU in %.2f s %s\n", cpu, wall,
	    after);
	CHECKF(cpu < wall / 2, "the daemon used %.2f s of CPU in %.2f s %s: "
	    "it spins on the failure", cpu, wall, after);
}

void
harness_need_root(void)
{
	if (geteuid() != 0)
		harness_skip("needs root");
}

void
harness_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Seconds on the monotonic clock, for timing what the daemon does. */
double
harness_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
harness_raw_connect(const char *path)
{
	return harness_connect(path, 0);
}

/* A connection to the socket at path (flags: SOCK_NONBLOCK), or -1, errno. */
static int
harness_connect(const char *path, int flags)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, error;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags,
	    0)) == -1)
		harness_fail(__FILE__, __LINE__, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		error = errno;
		close(fd);
		errno = error;
		return -1;
	}
	return fd;
}

/*
 * In a sanitizer build, ASan keeps freed memory in a quarantine of up to
 * 256 MiB, which the tests that bound the daemon's growth (soak-test)
 * would count: a small one keeps their figure about the daemon (soak-test
 * allows for what is left). Other builds ignore the variable.
 */
static void
harness_asan_quarantine(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char opts[1024];

	snprintf(opts, sizeof opts, "%s%squarantine_size_mb=16",
	    old != NULL ? old : "", old != NULL && *old != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

/* Run pagerd on d's socket, appending to its log; wait until it listens. */
static void
harness_spawn(struct harness_daemon *d)
{
	const char *argv[32], *bin, *cache_dir;
	char workers[] = "2";
	char state[sizeof d->dir + 8];
	struct harness_running *h;
	int argc = 0, fd, i, status;

	if ((bin = getenv("PAGERD_BIN")) == NULL)
		bin = "./pagerd";
	argv[argc++] = bin;
	argv[argc++] = "-d";
	argv[argc++] = "--socket";
	argv[argc++] = d->sock;
	argv[argc++] = "--workers";
	argv[argc++] = workers;
	argv[argc++] = "-v";
	/* Working-set recordings of this daemon only. */
	snprintf(state, sizeof state, "%s/state", d->dir);
	argv[argc++] = "--state-dir";
	argv[argc++] = state;
	/*
	 * tests/cache-dir-test.sh runs tests with caches on a tmpfs, and
	 * may restart the daemon with another cache-dir, or none ("").
	 */
	cache_dir = getenv("PAGERD_TEST_CACHE_DIR");
	if (d->restarts > 0 && getenv("PAGERD_TEST_RESTART_CACHE_DIR") != NULL)
		cache_dir = getenv("PAGERD_TEST_RESTART_CACHE_DIR");
	if (cache_dir != NULL && *cache_dir != '\0') {
		argv[argc++] = "--cache-dir";
		argv[argc++] = cache_dir;
	}
	for (i = 0; i < 8 && d->extra[i] != NULL; i++)
		argv[argc++] = d->extra[i];
	argv[argc] = NULL;

	fflush(NULL);
	if ((d->pid = fork()) == -1)
		harness_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (d->pid == 0) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd != -1)
			dup2(fd, STDERR_FILENO);
		harness_asan_quarantine();
		/* The daemon chooses its pressure file, whatever runs make check. */
		unsetenv("MEMORY_PRESSURE_WATCH");
		unsetenv("MEMORY_PRESSURE_WRITE");
		execv(bin, (char **)argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	h = harness_running_of(d, 1);
	h->owner = getpid();
	h->reaped = 0;
	for (i = 0; i < 1000; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			harness_forget(d, 0);
			harness_fail(__FILE__, __LINE__, "pagerd exited during "
			    "start-up (status 0x%x)", status);
		}
		/* Up when a hello is answered: workers and all. */
		if ((fd = harness_raw_connect(d->sock)) != -1) {
			status = harness_raw_hello_control(fd);
			close(fd);
			if (status == 0)
				return;
		}
		harness_sleep_ms(10);
	}
	harness_fail(__FILE__, __LINE__, "pagerd did not listen on %s in 10 s",
	    d->sock);
}

/*
 * Let SIGSEGV kill the process as it would without sanitizers: ASan keeps
 * its own handler and ignores signal(2), so ask the kernel directly.
 */
void
harness_default_segv(void)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} act = { .handler = SIG_DFL };

	CHECK(syscall(SYS_rt_sigaction, SIGSEGV, &act, NULL,
	    sizeof act.mask) == 0);
}

/* Drop root for good: run on as nobody (uid and gid 65534). */
void
harness_become_nobody(void)
{
	CHECK(setgroups(0, NULL) == 0);
	CHECK(setgid(65534) == 0);
	CHECK(setuid(65534) == 0);
	CHECK(geteuid() == 65534);
}

/*
 * The two unprivileged users of the isolation tests: "pagerd-ta" is the
 * attacker, "pagerd-tb" a victim (root is the other). Created once with
 * useradd; the test skips, saying why, where they cannot be.
 */
uid_t
harness_test_user(const char *name)
{
	char cmd[256];
	struct passwd *pw;

	harness_need_root();
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(cmd, sizeof cmd, "useradd --system --no-create-home "
		    "--shell /usr/sbin/nologin %s >/dev/null 2>&1", name);
		if (system(cmd) != 0 || (pw = getpwnam(name)) == NULL)
			harness_skip("cannot create the test user %s with "
			    "useradd", name);
	}
	return pw->pw_uid;
}

/* Become a test user as setpriv --reuid/--regid --clear-groups would. */
void
harness_become_user(const char *name)
{
	struct passwd *pw;

	harness_test_user(name);
	CHECK((pw = getpwnam(name)) != NULL);
	CHECK(setgroups(0, NULL) == 0);
	CHECK(setgid(pw->pw_gid) == 0);
	CHECK(setuid(pw->pw_uid) == 0);
	CHECK(geteuid() == pw->pw_uid);
}

/*
 * Start pagerd on a socket in a fresh directory; extra arguments follow,
 * NULL-terminated. Returns once the daemon accepts connections.
 */
void
harness_start(struct harness_daemon *d, ...)
{
	va_list ap;
	int i;

	memset(d, 0, sizeof *d);
	snprintf(d->dir, sizeof d->dir, "%s/pagerd-test.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(d->dir) == NULL)
		harness_fail(__FILE__, __LINE__, "mkdtemp: %s",
		    strerror(errno));
	/* Unprivileged clients must reach the socket and the files. */
	chmod(d->dir, 0755);
	snprintf(d->sock, sizeof d->sock, "%s/pagerd.sock", d->dir);
	snprintf(d->log, sizeof d->log, "%s/pagerd.log", d->dir);
	va_start(ap, d);
	for (i = 0; i < 7 && (d->extra[i] = va_arg(ap, const char *)) != NULL;
	    i++)
		;
	va_end(ap);
	harness_spawn(d);
}

/*
 * kill -9 the daemon, as a crash would; back once its socket refuses
 * connections. The dead daemon's io_uring, torn down by the kernel after
 * the process is reaped, holds the listening socket (an accept was out)
 * a while: a daemon started in between takes it for another one
 * listening and exits.
 */
void
harness_kill(struct harness_daemon *d)
{
	int fd, i, gone = 0;

	CHECKF(harness_alive(d), "pagerd died before it was killed");
	kill(d->pid, SIGKILL);
	CHECK(harness_wait(d->pid) == 128 + SIGKILL);
	harness_forget(d, 0);
	for (i = 0; i < 1000 && !gone; i++) {
		/* Not blocking: a full backlog says it still listens. */
		if ((fd = harness_connect(d->sock, SOCK_NONBLOCK)) != -1)
			close(fd);
		else if (errno == ECONNREFUSED || errno == ENOENT)
			gone = 1;
		if (!gone)
			harness_sleep_ms(10);
	}
	CHECKF(gone, "the killed daemon's socket %s still listens after 10 s",
	    d->sock);
}

/* A new daemon on the same socket path, as after a restart. */
void
harness_restart(struct harness_daemon *d)
{
	d->restarts++;
	harness_spawn(d);
}

int
harness_alive(const struct harness_daemon *d)
{
	return waitpid(d->pid, NULL, WNOHANG) == 0;
}

static int
harness_remove_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The daemon's directory and whatever the test left in it (files, sockets). */
void
harness_remove_tree(const char *dir)
{
	nftw(dir, harness_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The daemon must have survived the test, and must stop cleanly (exit 0)
 * on SIGTERM within 10 s.
 */
void
harness_stop(struct harness_daemon *d)
{
	int i, status;

	CHECKF(harness_alive(d), "pagerd died during the test");
	kill(d->pid, SIGTERM);
	for (i = 0; i < 1000; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			harness_forget(d, 0);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				harness_fail(__FILE__, __LINE__, "pagerd did "
				    "not exit cleanly on SIGTERM (status 0x%x)",
				    status);
			harness_forget(d, 1);
			if (getenv("PAGERD_TEST_KEEP_LOG") == NULL)
				harness_remove_tree(d->dir);
			return;
		}
		harness_sleep_ms(10);
	}
	harness_fail(__FILE__, __LINE__, "pagerd did not exit within 10 s of "
	    "SIGTERM");
}

/* A file of size bytes of the pattern in the daemon's directory. */
void
harness_make_file(const struct harness_daemon *d, const char *name,
    size_t size, uint64_t seed, char *path, size_t pathlen)
{
	uint64_t buf[8192], off = 0, w;
	size_t n, i;
	int fd;

	snprintf(path, pathlen, "%s/%s", d->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECKF(fd != -1, "create %s: %s", path, strerror(errno));
	while (off < size) {
		for (i = 0; i < sizeof buf / 8; i++) {
			w = harness_word(off + i * 8, seed);
			buf[i] = w;
		}
		n = size - off < sizeof buf ? size - off : sizeof buf;
		CHECKF(write(fd, buf, n) == (ssize_t)n, "write %s: %s", path,
		    strerror(errno));
		off += n;
	}
	close(fd);
}

/* Pages of the len bytes mapped at map the kernel holds (mincore). */
static size_t
harness_mincore(void *map, size_t len)
{
	unsigned char *vec;
	size_t i, n = 0, npages = (len + 4095) / 4096;

	CHECK((vec = malloc(npages)) != NULL);
	CHECK(mincore(map, len, vec) == 0);
	for (i = 0; i < npages; i++)
		n += vec[i] & 1;
	free(vec);
	return n;
}

/*
 * path opened, every page of it dropped from the kernel's page cache (as
 * mincore(2) sees it: it asks without reading), and the descriptor
 * returned; skips where the file system keeps the file in memory (tmpfs):
 * it cannot be made cold.
 */
int
harness_open_cold(const struct harness_daemon *d, const char *path)
{
	size_t npages, cached = 0;
	struct stat st;
	void *map;
	int fd, tries;

	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "%s: %s", path,
	    strerror(errno));
	CHECK(fstat(fd, &st) == 0 && st.st_size > 0);
	npages = ((size_t)st.st_size + 4095) / 4096;
	CHECK((map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd,
	    0)) != MAP_FAILED);
	/*
	 * A page the kernel still has locked (a read-ahead out) or under
	 * write-back is not dropped (seen in CI on ext4): try again for a
	 * second.
	 */
	for (tries = 0; tries < 20; tries++) {
		CHECK(fdatasync(fd) == 0 || errno == EINVAL);
		CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
		if ((cached = harness_mincore(map, (size_t)st.st_size)) == 0)
			break;
		harness_sleep_ms(50);
	}
	munmap(map, (size_t)st.st_size);
	if (cached == 0)
		return fd;
	close(fd);
	harness_stop((struct harness_daemon *)d);
	harness_skip("the file system of %s keeps its files in memory (%zu of "
	    "%zu pages stay cached): no cold file", path, cached, npages);
}

/*
 * Compare len bytes of memory with the file pattern from file offset off;
 * bytes at or past file_size must be zero. Returns the offset into mem of
 * the first wrong byte, or -1.
 */
int64_t
harness_verify(const void *mem, uint64_t off, size_t len, uint64_t seed,
    uint64_t file_size)
{
	const unsigned char *p = mem;
	uint64_t w, o;
	size_t i;

	for (i = 0; i < len; i++) {
		o = off + i;
		if (o >= file_size) {
			if (p[i] != 0)
				return (int64_t)i;
			continue;
		}
		w = harness_word(o & ~7ull, seed);
		if (p[i] != (unsigned char)(w >> ((o & 7) * 8)))
			return (int64_t)i;
	}
	return -1;
}

void
harness_check_range(const void *mem, uint64_t off, size_t len, uint64_t seed,
    uint64_t file_size)
{
	int64_t bad = harness_verify(mem, off, len, seed, file_size);
	const unsigned char *p = mem;
	uint64_t o, w;

	if (bad < 0)
		return;
	o = off + (uint64_t)bad;
	w = o < file_size ? (harness_word(o & ~7ull, seed) >>
	    ((o & 7) * 8)) & 0xff : 0;
	harness_fail(__FILE__, __LINE__, "byte at %p (file offset %" PRIu64
	    ", page %" PRIu64 ") is 0x%02x, expected 0x%02x",
	    (const void *)(p + bad), o, o / 4096, p[bad], (unsigned)w);
}

/* The first len bytes of the file at path must be want's (what names it). */
void
harness_file_equals(const char *path, const void *want, size_t len,
    const char *what)
{
	const unsigned char *w = want;
	unsigned char *got;
	size_t i;
	int fd;

	CHECK((got = malloc(len)) != NULL);
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pread(fd, got, len, 0) == (ssize_t)len, "%s: short read of %s",
	    what, path);
	close(fd);
	if (memcmp(got, w, len) != 0) {
		for (i = 0; got[i] == w[i]; i++)
			;
		harness_fail(__FILE__, __LINE__, "%s: the file differs at "
		    "offset %zu (page %zu)", what, i, i / 4096);
	}
	free(got);
}

/*
 * Run fn(sock, path, ready) in a child that must read what it checks,
 * write a byte to ready, then touch a page that must kill it with SIGBUS.
 */
void
harness_expect_sigbus(void (*fn)(const char *, const char *, int),
    const char *sock, const char *path)
{
	int pfd[2], status;
	pid_t pid;
	char c;

	CHECK(pipe(pfd) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		signal(SIGBUS, SIG_DFL);
		fn(sock, path, pfd[1]);
	}
	close(pfd[1]);
	status = harness_wait(pid);
	CHECKF(read(pfd[0], &c, 1) == 1, "the client failed before the "
	    "touch (status %d)", status);
	close(pfd[0]);
	CHECKF(status == 128 + SIGBUS, "the client ended with status %d, "
	    "expected death by SIGBUS (%d)", status, 128 + SIGBUS);
}

static void *
harness_reader_main(void *arg)
{
	struct harness_readers *r = arg;
	uint64_t i, t = (uint64_t)__atomic_fetch_add(&r->next, 1,
	    __ATOMIC_RELAXED);

	for (i = t; i < r->size / 4096; i += (uint64_t)r->n) {
		while (i * 4096 >= r->gate &&
		    !__atomic_load_n(&r->open, __ATOMIC_ACQUIRE))
			usleep(100);
		harness_check_range(r->region + i * 4096, i * 4096, 4096,
		    r->seed, r->export);
		__atomic_add_fetch(&r->done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * n readers of size bytes at region, the pattern of seed in an export of
 * export bytes (harness_check_range), the pages from offset gate on held
 * until harness_readers_open (gate size: none held).
 */
void
harness_readers_start(struct harness_readers *r, const void *region,
    uint64_t size, uint64_t seed, uint64_t export, int n, uint64_t gate)
{
	int t;

	CHECK(n > 0 && n <= HARNESS_READERS);
	memset(r, 0, sizeof *r);
	r->region = region;
	r->size = size;
	r->seed = seed;
	r->export = export;
	r->gate = gate;
	r->n = n;
	for (t = 0; t < n; t++)
		CHECK(pthread_create(&r->th[t], NULL, harness_reader_main,
		    r) == 0);
}

/* Until the readers have read pages pages. */
void
harness_readers_wait(struct harness_readers *r, unsigned long pages)
{
	while (__atomic_load_n(&r->done, __ATOMIC_RELAXED) < pages)
		usleep(100);
}

void
harness_readers_open(struct harness_readers *r)
{
	__atomic_store_n(&r->open, 1, __ATOMIC_RELEASE);
}

/* The readers opened and joined: every page must have been read right. */
void
harness_readers_end(struct harness_readers *r)
{
	int t;

	harness_readers_open(r);
	for (t = 0; t < r->n; t++)
		CHECK(pthread_join(r->th[t], NULL) == 0);
	CHECKF(r->done == r->size / 4096, "%lu pages of %" PRIu64 " read",
	    r->done, r->size / 4096);
}

/*
 * fn(arg, up) in a child process, which writes a byte to up once under
 * way and carries on; returns its pid once it has. A child that ends
 * before fails the test: what failed.
 */
pid_t
harness_started(void (*fn)(void *, int), void *arg, const char *what)
{
	int pfd[2];
	pid_t pid;
	char c;

	CHECK(pipe(pfd) == 0);
	fflush(NULL);
	CHECKF((pid = fork()) != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(pfd[0]);
		fn(arg, pfd[1]);
		fflush(NULL);
		_exit(0);
	}
	close(pfd[1]);
	CHECKF(read(pfd[0], &c, 1) == 1, "%s (status %d)", what,
	    harness_wait(pid));
	close(pfd[0]);
	return pid;
}

/*
 * Mount tests/eio-fs on mnt (made here): its file "data" of size bytes,
 * the pattern of seed, on a failing disk whose bad range is bad_len bytes
 * at bad_off (eio-fs.c). Skips the test where eio-fs was not built or
 * FUSE is missing. Returns the file system's pid.
 */
static pid_t
harness_eio_fs_mode(const char *mnt, uint64_t size, uint64_t seed,
    uint64_t bad_off, uint64_t bad_len, const char *mode)
{
	const char *builddir = getenv("PAGERD_BUILDDIR");
	char fs[512], path[512], arg[4][32];
	struct stat st;
	pid_t pid;
	int i;

	snprintf(fs, sizeof fs, "%s/tests/eio-fs", builddir != NULL ?
	    builddir : ".");
	if (access(fs, X_OK) != 0)
		harness_skip("%s not built: configure found no fuse3 (Debian: "
		    "libfuse3-dev)", fs);
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		harness_skip("no /dev/fuse: %s", strerror(errno));
	CHECKF(mkdir(mnt, 0755) == 0, "mkdir %s: %s", mnt, strerror(errno));
	snprintf(path, sizeof path, "%s/data", mnt);
	snprintf(arg[0], sizeof arg[0], "%" PRIu64, size);
	snprintf(arg[1], sizeof arg[1], "%" PRIu64, seed);
	snprintf(arg[2], sizeof arg[2], "%" PRIu64, bad_off);
	snprintf(arg[3], sizeof arg[3], "%" PRIu64, bad_len);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		execl(fs, fs, mnt, arg[0], arg[1], arg[2], arg[3], mode,
		    (char *)NULL);
		_exit(127);
	}
	CHECKF(pid != -1, "fork: %s", strerror(errno));
	for (i = 0; i < HARNESS_FS && harness_fs[i].pid > 0; i++)
		;
	CHECKF(i < HARNESS_FS, "more than %d eio-fs mounted", HARNESS_FS);
	harness_fs[i].pid = pid;
	harness_fs[i].owner = getpid();
	snprintf(harness_fs[i].mnt, sizeof harness_fs[i].mnt, "%s", mnt);
	for (i = 0; i < 500; i++) {
		if (stat(path, &st) == 0 && (uint64_t)st.st_size == size)
			return pid;
		harness_sleep_ms(10);
	}
	harness_fail(__FILE__, __LINE__, "eio-fs did not mount %s", mnt);
}

pid_t
harness_eio_fs(const char *mnt, uint64_t size, uint64_t seed,
    uint64_t bad_off, uint64_t bad_len)
{
	return harness_eio_fs_mode(mnt, size, seed, bad_off, bad_len, "eio");
}

/* The same, but reads of the bad range hang until mended (SIGUSR1). */
pid_t
harness_hung_fs(const char *mnt, uint64_t size, uint64_t seed,
    uint64_t bad_off, uint64_t bad_len)
{
	return harness_eio_fs_mode(mnt, size, seed, bad_off, bad_len, "hang");
}

/*
 * The same, but only those reads hang: the file system serves the other
 * requests meanwhile (writes of the good ranges).
 */
pid_t
harness_hung_read_fs(const char *mnt, uint64_t size, uint64_t seed,
    uint64_t bad_off, uint64_t bad_len)
{
	return harness_eio_fs_mode(mnt, size, seed, bad_off, bad_len,
	    "hang-read");
}

/*
 * The same, but sound until "data" is written: then its opens hang until
 * mended (SIGUSR1), and nothing else does.
 */
pid_t
harness_hung_open_fs(const char *mnt, uint64_t size, uint64_t seed)
{
	return harness_eio_fs_mode(mnt, size, seed, 0, 0, "hang-open");
}

void
harness_eio_fs_unmount(const char *mnt, pid_t pid)
{
	int i;

	kill(pid, SIGTERM);
	harness_wait(pid);
	(void)umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	for (i = 0; i < HARNESS_FS; i++)
		if (harness_fs[i].pid == pid)
			harness_fs[i].pid = 0;
}

/* Exit status of a child, or 128 + the signal that killed it. */
int
harness_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * Run fn in n processes at once, each its own client of d's daemon, and
 * wait for them: any that failed fails the test (saying whether the
 * daemon lives); any that skipped (exit 77) skips it, with why.
 */
void
harness_clients(const struct harness_daemon *d, int n, void (*fn)(void),
    const char *why)
{
	int i, status, skipped = 0;
	pid_t pids[16];

	CHECK(n > 0 && n <= 16);
	for (i = 0; i < n; i++) {
		CHECK((pids[i] = fork()) != -1);
		if (pids[i] == 0) {
			fn();
			_exit(0);
		}
	}
	for (i = 0; i < n; i++) {
		status = harness_wait(pids[i]);
		if (status == 77)
			skipped++;
		else
			CHECKF(status == 0, "client %d failed (%d); the daemon "
			    "%s", i, status, harness_alive(d) ? "lives" : "died");
	}
	if (skipped)
		harness_skip("%s", why);
}

int
harness_raw_send(int fd, const void *buf, size_t len, const int *fds,
    int nfds)
{
	int error;

	if ((error = proto_send_raw(fd, buf, len, fds, nfds,
	    MSG_NOSIGNAL)) != 0)
		errno = -error;
	return error != 0 ? -1 : 0;
}

/* One datagram: its length, 0 at end of file; fails after timeout_ms. */
ssize_t
harness_raw_recv(int fd, union pd_msg *msg, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	CHECKF(poll(&pfd, 1, timeout_ms) == 1, "no answer from pagerd in %d "
	    "ms", timeout_ms);
	n = recv(fd, msg, sizeof *msg, 0);
	if (n == -1 && errno == ECONNRESET)
		return 0;
	CHECKF(n >= 0, "recv: %s", strerror(errno));
	return n;
}

/*
 * The refusal the daemon sends a connection it will not serve (a reply
 * numbered 0), into *msg: its status, or 0 if the daemon hung up without
 * one. Reads past the reset that a hang-up with unread data reports
 * first. Fails after timeout_ms.
 */
int
harness_raw_refusal(int fd, union pd_msg *msg, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	CHECKF(poll(&pfd, 1, timeout_ms) == 1, "no word from pagerd in %d ms",
	    timeout_ms);
	n = recv(fd, msg, sizeof *msg, MSG_DONTWAIT);
	if (n == -1 && errno == ECONNRESET)
		n = recv(fd, msg, sizeof *msg, MSG_DONTWAIT);
	if (n <= 0)
		return 0;
	/* The hello unread, it comes at the first release's size. */
	CHECKF(n >= (ssize_t)proto_min(PD_MSG_REPLY) && n <=
	    (ssize_t)sizeof msg->reply && msg->hdr.type == PD_MSG_REPLY &&
	    msg->hdr.seq == 0, "pagerd sent a %zd-byte message of type %u, "
	    "seq %u, not a refusal", n, msg->hdr.type, msg->hdr.seq);
	msg->reply.reason[sizeof msg->reply.reason - 1] = '\0';
	return msg->reply.status;
}

/*
 * A child that holds something (an attacker at its limit) until the test
 * has tried the others: harness_hold_start forks it (0 in the child),
 * the child says harness_hold_ready once it holds it and goes on when
 * the parent says harness_hold_end, which returns its exit status.
 */
pid_t
harness_hold_start(struct harness_hold *h)
{
	CHECK(pipe(h->up) == 0 && pipe(h->down) == 0);
	fflush(NULL);
	CHECKF((h->pid = fork()) != -1, "fork: %s", strerror(errno));
	if (h->pid == 0) {
		close(h->up[0]);
		close(h->down[1]);
	} else {
		close(h->up[1]);
		close(h->down[0]);
	}
	return h->pid;
}

void
harness_hold_ready(struct harness_hold *h)
{
	char c = 0;

	fflush(NULL);
	CHECK(write(h->up[1], &c, 1) == 1);
	CHECK(read(h->down[0], &c, 1) == 1);
}

/* In the parent: 0 once the child holds it, else its exit status. */
int
harness_hold_wait(struct harness_hold *h)
{
	char c;

	if (read(h->up[0], &c, 1) == 1)
		return 0;
	return harness_wait(h->pid);
}

int
harness_hold_end(struct harness_hold *h)
{
	char c = 0;

	CHECK(write(h->down[1], &c, 1) == 1);
	close(h->up[0]);
	close(h->down[1]);
	return harness_wait(h->pid);
}

/* Run fn(arg) in a child as the test user name; its exit status. */
int
harness_as_user(const char *name, void (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	CHECKF((pid = fork()) != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		harness_become_user(name);
		fn(arg);
		fflush(NULL);
		_exit(0);
	}
	return harness_wait(pid);
}

/*
 * Start pagerd (as harness_start) with a configuration file that says
 * text; the file is gone once the daemon has read it.
 */
void
harness_start_conf(struct harness_daemon *d, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/pagerd-conf.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CHECKF((fd = mkstemp(path)) != -1, "mkstemp: %s", strerror(errno));
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	harness_start(d, "-f", path, NULL);
	unlink(path);
	d->linger0 = strncmp(text, "cache-linger 0\n", 15) == 0 ||
	    strstr(text, "\ncache-linger 0\n") != NULL;
}

/* Make fd a control session; returns 0 on success. */
int
harness_raw_hello_control(int fd)
{
	union pd_msg msg;

	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CONTROL;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	if (harness_raw_send(fd, &msg, msg.hdr.size, NULL, 0) == -1)
		return -1;
	if (harness_raw_recv(fd, &msg, 5000) != sizeof msg.reply ||
	    msg.hdr.type != PD_MSG_REPLY || msg.reply.status != 0)
		return -1;
	return 0;
}

/* The daemon's totals, through a control session. */
void
harness_control_stats(const char *sock, struct pd_stats_reply *sr)
{
	union pd_msg msg;
	int fd;

	CHECKF((fd = harness_raw_connect(sock)) != -1, "connect %s: %s", sock,
	    strerror(errno));
	CHECK(harness_raw_hello_control(fd) == 0);
	proto_init(&msg, PD_MSG_STATS, 2);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, NULL, 0) == 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.stats_reply);
	CHECK(msg.hdr.type == PD_MSG_STATS_REPLY);
	*sr = msg.stats_reply;
	close(fd);
}

/*
 * The daemon's numbers once its page caches hold at most most bytes, or
 * after 5 s (eviction of windows busy as clients ended waits for a tick).
 */
void
harness_wait_held(const char *sock, uint64_t most, struct pd_stats_reply *sr)
{
	int i;

	for (i = 0; i < 50; i++) {
		harness_control_stats(sock, sr);
		if (sr->cache_held <= most)
			return;
		harness_sleep_ms(100);
	}
}

/* Wait (up to 5 s) until the daemon has n page caches; when says why. */
void
harness_wait_caches(const char *sock, unsigned int n, const char *when)
{
	struct pd_stats_reply sr;
	int i;

	for (i = 0; i < 500; i++) {
		harness_control_stats(sock, &sr);
		if (sr.caches == n)
			return;
		harness_sleep_ms(10);
	}
	harness_fail(__FILE__, __LINE__, "%s: %u page caches, expected %u",
	    when, sr.caches, n);
}

/* Wait (up to 10 s) until the daemon on sock has taken n faults. */
void
harness_wait_faults(const char *sock, uint64_t n, struct pd_stats_reply *sr)
{
	int i;

	for (i = 0; i < 1000; i++) {
		harness_control_stats(sock, sr);
		if (sr->counters.faults >= n)
			return;
		harness_sleep_ms(10);
	}
	harness_fail(__FILE__, __LINE__, "%" PRIu64 " faults came, expected %"
	    PRIu64, sr->counters.faults, n);
}

/*
 * Whether the daemon on sock was started with cache-linger 0
 * (harness_start_conf).
 */
static int
harness_linger0(const char *sock)
{
	struct harness_running *h;

	for (h = harness_daemons; h < harness_daemons + HARNESS_DAEMONS; h++)
		if (h->d != NULL && strcmp(h->d->sock, sock) == 0)
			return h->d->linger0;
	return 0;
}

/*
 * Wait (up to 10 s) until the daemon has no client session or region,
 * and, with cache-linger 0, no page cache: a read still out holds its
 * cache past the region, and the next client would find its pages.
 */
void
harness_wait_idle(const char *sock)
{
	struct pd_stats_reply sr;
	int i, caches = harness_linger0(sock);

	for (i = 0; i < 1000; i++) {
		harness_control_stats(sock, &sr);
		if (sr.sessions == 0 && sr.regions == 0 &&
		    (!caches || sr.caches == 0))
			return;
		harness_sleep_ms(10);
	}
	harness_fail(__FILE__, __LINE__, "pagerd still has %u sessions, %u "
	    "regions and %u page caches 10 s after every client left%s",
	    sr.sessions, sr.regions, sr.caches, caches ? " (cache-linger 0)" :
	    "");
}

/* How many descriptors the daemon holds. */
int
harness_daemon_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		harness_fail(__FILE__, __LINE__, "%s: %s", path,
		    strerror(errno));
	while ((de = readdir(dir)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/*
 * The daemon's descriptor count once it stops moving: a control session
 * that just ended may still be open on its worker for a moment.
 */
int
harness_settled_fds(pid_t pid)
{
	int i, n, prev = -1, same = 0;

	for (i = 0; i < 500 && same < 5; i++) {
		harness_sleep_ms(20);
		n = harness_daemon_fds(pid);
		same = n == prev ? same + 1 : 0;
		prev = n;
	}
	return prev;
}

/*
 * Fails, listing what the daemon holds, unless it is back to baseline
 * (taken with no page cache open) but for the two descriptors of each
 * page cache that lingers after its last client.
 */
void
harness_expect_fds(pid_t pid, const char *sock, int baseline,
    const char *when)
{
	char path[300], target[256];
	struct pd_stats_reply sr;
	struct dirent *de;
	ssize_t len;
	DIR *dir;
	int i, n;

	/*
	 * Counted once the count stops moving: the stats' own control
	 * session is still open on its worker for a moment after it ends,
	 * longer on a loaded machine.
	 */
	for (i = 0; i < 50; i++) {
		harness_control_stats(sock, &sr);
		n = harness_settled_fds(pid);
		if (n == baseline + 2 * (int)sr.caches)
			return;
	}
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "/proc/%d/fd/%s",
			    (int)pid, de->d_name);
			if ((len = readlink(path, target, sizeof target - 1)) < 0)
				len = 0;
			target[len] = '\0';
			fprintf(stderr, "pagerd fd %s: %s\n", de->d_name,
			    target);
		}
		closedir(dir);
	}
	harness_fail(__FILE__, __LINE__, "pagerd holds %d descriptors, %d %s "
	    "and %u page caches", n, baseline, when, sr.caches);
}

/*
 * A figure of the daemon's memory in /proc/PID/status, KiB: field is
 * "VmRSS" (all it has resident), "RssAnon" (its heap and stacks),
 * "RssShmem" (the page caches it maps), ...
 */
long
harness_status_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	CHECK((f = fopen(path, "re")) != NULL);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, field, len) == 0 && line[len] == ':' &&
		    sscanf(line + len + 1, "%ld kB", &kib) == 1)
			break;
	fclose(f);
	CHECKF(kib >= 0, "no %s in %s", field, path);
	return kib;
}

/* The daemon's resident memory, KiB. */
long
harness_rss_kib(pid_t pid)
{
	return harness_status_kib(pid, "VmRSS");
}

/*
 * Run pagerctl -s sock args (as the test user named user, or NULL), its
 * output into out (len bytes with the NUL) and the test's log; fails
 * unless pagerctl exits 0.
 */
void
harness_pagerctl(const char *user, const char *sock, const char *args,
    char *out, size_t len)
{
	const char *bin = getenv("PAGERCTL_BIN");
	char cmd[1024];
	size_t n;
	FILE *f;

	if (user != NULL)
		snprintf(cmd, sizeof cmd, "setpriv --reuid=%s --regid=%s "
		    "--clear-groups -- ", user, user);
	else
		cmd[0] = '\0';
	snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "%s -s %s %s",
	    bin != NULL ? bin : "./pagerctl", sock, args);
	CHECKF((f = popen(cmd, "r")) != NULL, "popen %s: %s", cmd,
	    strerror(errno));
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	CHECKF(pclose(f) == 0, "%s failed: %s", cmd, out);
	printf("$ %s\n%s", cmd, out);
}

/* Has the daemon logged a line containing text? */
int
harness_log_has(const struct harness_daemon *d, const char *text)
{
	return harness_log_count(d, text) > 0;
}

/* How many lines of the daemon's log have text. */
int
harness_log_count(const struct harness_daemon *d, const char *text)
{
	return harness_file_count(d->log, text);
}

/*
 * The lines with text that d's log kept of a flood by uid, which lasted
 * secs: at least one, at most a burst of five seconds' worth of
 * uid-log-rate rate and rate a second after it (one more for a second's
 * edge), and a line saying that uid's lines are dropped. Returns them.
 */
int
harness_log_within_rate(const struct harness_daemon *d, const char *text,
    uid_t uid, int rate, double secs)
{
	int n = harness_log_count(d, text), bound;
	char dropped[64];

	bound = 5 * rate + (int)(rate * secs) + 1;
	printf("%.1f s of flood: %d lines with \"%s\" kept (at most %d)\n",
	    secs, n, text, bound);
	CHECKF(n >= 1, "no line with \"%s\"", text);
	CHECKF(n <= bound, "%d lines with \"%s\" kept, more than %d", n,
	    text, bound);
	snprintf(dropped, sizeof dropped, "uid %u: more than %d ",
	    (unsigned int)uid, rate);
	CHECKF(harness_log_has(d, dropped), "no line says that uid %u's lines "
	    "are dropped", (unsigned int)uid);
	return n;
}

/* How many lines of the file at path (a log) have text. */
int
harness_file_count(const char *path, const char *text)
{
	char line[1024];
	int n = 0;
	FILE *f;

	CHECKF((f = fopen(path, "re")) != NULL, "%s: %s", path,
	    strerror(errno));
	while (fgets(line, sizeof line, f) != NULL)
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/* Write text to the cgroup file dir/name; -1 with errno on failure. */
int
harness_cgroup_put(const char *dir, const char *name, const char *text)
{
	char p[700];
	ssize_t n;
	int fd;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	if ((fd = open(p, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Move this process into the cgroup at dir. */
void
harness_cgroup_enter(const char *dir)
{
	char pid[32];

	snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	CHECKF(harness_cgroup_put(dir, "cgroup.procs", pid) == 0, "moving "
	    "into %s: %s", dir, strerror(errno));
}

/* Send msg on fd; its reply's status, the reason kept in why. */
int
harness_raw_request(int fd, union pd_msg *msg, char *why, size_t whylen)
{
	union pd_msg reply;

	CHECKF(harness_raw_send(fd, msg, msg->hdr.size, NULL, 0) == 0,
	    "send: %s", strerror(errno));
	CHECKF(harness_raw_recv(fd, &reply, 5000) == sizeof reply.reply &&
	    reply.hdr.type == PD_MSG_REPLY && reply.hdr.seq == msg->hdr.seq,
	    "no reply to request %u", msg->hdr.seq);
	snprintf(why, whylen, "%s", reply.reply.reason);
	return reply.reply.status;
}

/*
 * A client session on a new connection to sock, speaking the protocol
 * itself, with a new userfaultfd of no features (*uffdp); the socket.
 */
int
harness_raw_hello_client(const char *sock, int *uffdp)
{
	return harness_raw_hello_flags(sock, 0, uffdp);
}

/* The same, with the hello's flags (PD_HELLO_REATTACH, ...). */
int
harness_raw_hello_flags(const char *sock, uint32_t flags, int *uffdp)
{
	char why[512];
	uint64_t features;
	union pd_msg msg;
	int fd, umo;

	CHECKF((*uffdp = uffd_open(O_CLOEXEC | O_NONBLOCK, &umo, why,
	    sizeof why)) >= 0, "%s", why);
	CHECKF(uffd_api(*uffdp, 0, &features, why, sizeof why) == 0, "%s",
	    why);
	CHECK((fd = harness_raw_connect(sock)) != -1);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.flags = flags;
	msg.hello.uffd_features = features;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, uffdp, 1) == 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == 0,
	    "hello refused: %s", msg.reply.reason);
	return fd;
}

/*
 * This process's group under root into g->home: v1's memory hierarchy
 * (a line "N:memory:/path", memory maybe among others), or v2's
 * ("0::/path").
 */
static void
harness_memgroup_home(struct harness_memgroup *g, const char *root)
{
	char line[512], *ctl, *p;
	FILE *f;

	CHECK((f = fopen("/proc/self/cgroup", "re")) != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((ctl = strchr(line, ':')) == NULL || (p = strchr(ctl + 1,
		    ':')) == NULL)
			continue;
		*p++ = '\0';
		ctl++;
		if (g->version == 1 ? strstr(ctl, "memory") != NULL :
		    *ctl == '\0')
			snprintf(g->home, sizeof g->home, "%s%s", root, p);
	}
	fclose(f);
	CHECKF(g->home[0] != '\0', "no cgroup v%d line in /proc/self/cgroup",
	    g->version);
}

/*
 * A new memory cgroup into g, limited to limit bytes (none if 0): v1
 * where the machine has it, else v2; the test is skipped, with why,
 * where neither can be made. harness_memgroup_remove() takes it away.
 */
void
harness_memgroup_make(struct harness_memgroup *g, uint64_t limit)
{
	char text[32];

	memset(g, 0, sizeof *g);
	harness_need_root();
	if (access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0) {
		g->version = 1;
		harness_memgroup_home(g, "/sys/fs/cgroup/memory");
		snprintf(g->dir, sizeof g->dir,
		    "/sys/fs/cgroup/memory/pagerd-test.%d", (int)getpid());
	} else if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK) ==
	    0) {
		g->version = 2;
		harness_memgroup_home(g, "/sys/fs/cgroup");
		(void)harness_cgroup_put("/sys/fs/cgroup",
		    "cgroup.subtree_control", "+memory");
		snprintf(g->dir, sizeof g->dir, "/sys/fs/cgroup/pagerd-test.%d",
		    (int)getpid());
	} else
		harness_skip("no memory cgroup to make: neither "
		    "/sys/fs/cgroup/memory (v1) nor a writable v2 hierarchy");
	if (mkdir(g->dir, 0755) == -1) {
		g->dir[0] = '\0';
		harness_skip("cannot make a memory cgroup: %s",
		    strerror(errno));
	}
	if (harness_memgroup_usage(g, 0) == UINT64_MAX) {
		harness_memgroup_remove(g, 0);
		harness_skip("a v%d group without the memory controller",
		    g->version);
	}
	if (limit == 0)
		return;
	snprintf(text, sizeof text, "%llu\n", (unsigned long long)limit);
	CHECKF(harness_cgroup_put(g->dir, g->version == 1 ?
	    "memory.limit_in_bytes" : "memory.max", text) == 0, "%s: %s",
	    g->version == 1 ? "memory.limit_in_bytes" : "memory.max",
	    strerror(errno));
}

/* A number file of the group; UINT64_MAX where it has none. */
uint64_t
harness_memgroup_get(const struct harness_memgroup *g, const char *name)
{
	char p[700], line[64];
	uint64_t v = UINT64_MAX;
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", g->dir, name);
	if ((f = fopen(p, "re")) == NULL)
		return UINT64_MAX;
	if (fgets(line, sizeof line, f) != NULL)
		v = strtoull(line, NULL, 10);
	fclose(f);
	return v;
}

/* The group's memory now, and its peak (v2 without memory.peak: now). */
uint64_t
harness_memgroup_usage(const struct harness_memgroup *g, int peak)
{
	uint64_t v = UINT64_MAX;

	if (peak)
		v = harness_memgroup_get(g, g->version == 1 ?
		    "memory.max_usage_in_bytes" : "memory.peak");
	if (v == UINT64_MAX)
		v = harness_memgroup_get(g, g->version == 1 ?
		    "memory.usage_in_bytes" : "memory.current");
	return v;
}

/*
 * The group gone: pid (its last process, 0 for none) killed first, for a
 * group with a process cannot go. Safe to call twice, and from atexit.
 */
void
harness_memgroup_remove(struct harness_memgroup *g, pid_t pid)
{
	int i;

	if (g->dir[0] == '\0')
		return;
	if (pid > 0)
		kill(pid, SIGKILL);
	for (i = 0; i < 100 && rmdir(g->dir) == -1 && errno == EBUSY; i++)
		harness_sleep_ms(50);
	g->dir[0] = '\0';
}

/* A key's number in the group's memory.stat; UINT64_MAX where it has none. */
uint64_t
harness_memgroup_stat(const struct harness_memgroup *g, const char *key)
{
	return harness_memgroup_key(g, "memory.stat", key);
}

/*
 * A key's number in the group's file name of "key number" lines
 * (memory.stat, memory.events, memory.oom_control); UINT64_MAX where it
 * has none.
 */
uint64_t
harness_memgroup_key(const struct harness_memgroup *g, const char *name,
    const char *key)
{
	char p[700], line[256];
	uint64_t v = UINT64_MAX;
	size_t len = strlen(key);
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", g->dir, name);
	if ((f = fopen(p, "re")) == NULL)
		return UINT64_MAX;
	while (v == UINT64_MAX && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, len) == 0 && line[len] == ' ')
			v = strtoull(line + len + 1, NULL, 10);
	fclose(f);
	return v;
}

/*
 * A server that takes connections and never says a word: a stream
 * socket listening at path that nobody accepts on (a store's server
 * hung after accepting). Returns it, for the test to close.
 */
int
harness_silent_server(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int l;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	CHECK((l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	CHECKF(bind(l, (struct sockaddr *)&sun, sizeof sun) == 0, "bind %s: %s",
	    sun.sun_path, strerror(errno));
	CHECK(listen(l, 16) == 0);
	return l;
}

/*
 * Daemon d (harness_start_conf) with a store "hang" whose server takes the
 * connection and never says a word, in a directory of its own; conf, the
 * configuration lines before the store's.
 */
void
harness_hang_start(struct harness_daemon *d, struct harness_hang *h,
    const char *conf)
{
	char text[1024];

	snprintf(h->dir, sizeof h->dir, "%s/pagerd-hang.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CHECKF(mkdtemp(h->dir) != NULL, "mkdtemp: %s", strerror(errno));
	snprintf(h->sock, sizeof h->sock, "%s/hang.sock", h->dir);
	h->l = harness_silent_server(h->sock);
	CHECKF(snprintf(text, sizeof text, "%sstore hang nbd+unix:///?socket="
	    "%s\n", conf, h->sock) < (int)sizeof text, "%s: too long a "
	    "configuration", h->sock);
	harness_start_conf(d, text);
}

/* Daemon d must be alive; it and h's server are stopped, h's files gone. */
void
harness_hang_end(struct harness_daemon *d, struct harness_hang *h)
{
	CHECKF(harness_alive(d), "the daemon died");
	harness_stop(d);
	close(h->l);
	unlink(h->sock);
	rmdir(h->dir);
}

/*
 * The shim's word that it wrote [offset, offset + length) of the file
 * open on wfd, on a client session of its own; the reply's status.
 */
int
harness_raw_invalidate(const char *sock_path, int wfd, uint64_t offset,
    uint64_t length)
{
	union pd_msg msg;
	int sock, uffd;

	sock = harness_raw_hello_client(sock_path, &uffd);
	proto_init(&msg, PD_MSG_INVALIDATE, 2);
	msg.invalidate.offset = offset;
	msg.invalidate.length = length;
	CHECK(harness_raw_send(sock, &msg, msg.hdr.size, &wfd, 1) == 0);
	CHECK(harness_raw_recv(sock, &msg, 10000) == sizeof msg.reply);
	CHECK(msg.hdr.type == PD_MSG_REPLY);
	close(sock);
	close(uffd);
	return msg.reply.status;
}

/* Pages of the file at path the kernel's page cache holds (mincore). */
size_t
harness_kernel_cached(const char *path)
{
	struct stat st;
	size_t n;
	void *p;
	int fd;

	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "%s: %s", path,
	    strerror(errno));
	CHECK(fstat(fd, &st) == 0 && st.st_size > 0);
	CHECK((p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd,
	    0)) != MAP_FAILED);
	n = harness_mincore(p, (size_t)st.st_size);
	munmap(p, (size_t)st.st_size);
	close(fd);
	return n;
}

/*
 * A raw client session of the daemon at sock with the shared page cache of
 * the file at path (request seq): its socket, its userfaultfd in *uffdp,
 * the cache's memfd in *memfdp, its size in *sizep.
 */
int
harness_raw_cache_client(const char *sock, const char *path, uint32_t seq,
    int *uffdp, int *memfdp, uint64_t *sizep)
{
	int fd, s;

	s = harness_raw_hello_client(sock, uffdp);
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "%s: %s", path,
	    strerror(errno));
	*memfdp = harness_raw_cache_open(s, fd, seq, sizep);
	close(fd);
	return s;
}

/*
 * The shared page cache of the file open on fd, asked for on a raw client
 * session (request seq): its memfd, its size in *sizep.
 */
int
harness_raw_cache_open(int sock, int fd, uint32_t seq, uint64_t *sizep)
{
	char why[PD_REASON_MAX];
	struct proto_in in;
	union pd_msg msg;
	int memfd;

	proto_init(&msg, PD_MSG_CACHE_OPEN, seq);
	CHECKF(harness_raw_send(sock, &msg, msg.hdr.size, &fd, 1) == 0,
	    "send: %s", strerror(errno));
	CHECKF(proto_recv(sock, &in, PD_TO_PEER, 0, 0, why, sizeof why) == 1,
	    "cache-open: %s", why);
	CHECKF(in.msg.hdr.type == PD_MSG_CACHE_REPLY && in.nfds == 1 &&
	    in.msg.hdr.seq == seq, "cache-open refused: %s",
	    in.msg.hdr.type == PD_MSG_REPLY ? in.msg.reply.reason : "?");
	memfd = in.fds[0];
	*sizep = in.msg.cache_reply.size;
	return memfd;
}

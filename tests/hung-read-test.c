/*
 * Description: a backing file whose reads never return freezes only the
 * faults that wait for it. The file lives on a FUSE file system
 * (tests/eio-fs in hang mode) whose reads of a bad range hang until the
 * disk is mended. A client faults on hung pages from 16 threads; while
 * they wait, clients of another user (pagerd-tb) map a good file and are
 * served, pagerctl status answers, and SIGUSR1 logs the totals. The hung
 * client holds no more than its share of the worker's reads (a quarter);
 * its other faults wait for them. After read-timeout seconds the hung
 * faults end in SIGBUS, never zeros, with a log line naming the pid,
 * region, file and offset, and, its share being stuck, so do the faults
 * that waited. Once the disk is mended, a new client is served the pages
 * that hung.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x4a4e6700ull
#define GOOD_SEED 0x600d0000ull
#define PAGE 4096u
#define SIZE (16u << 20)
#define BAD_OFF (4u << 20)
#define BAD_LEN (2u << 20)
#define THREADS 16
#define TIMEOUT_S 4		/* read-timeout in the test's pagerd.conf */
#define QUEUE_DEPTH "32"	/* reads in flight per worker */
#define SHARE 8			/* of them, one session's: a quarter */

static volatile const unsigned char *hung_map;
static __thread sigjmp_buf hung_jmp;
static int hung_bus;		/* threads that got SIGBUS */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static volatile const unsigned char *
map_file(const char *sock, const char *path, uint64_t size)
{
	void *p;
	struct pagerd *pd;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pagerd_map_file(pd, fd, 0, size, PROT_READ, 0, &p) == 0,
	    "map %s: %s", path, pagerd_errmsg());
	return p;
}

static void
hung_sigbus(int sig)
{
	(void)sig;
	siglongjmp(hung_jmp, 1);
}

/* Each thread touches a page of its own read window in the bad range. */
static void *
hung_thread(void *arg)
{
	uint64_t off = BAD_OFF + (uintptr_t)arg * (BAD_LEN / THREADS);
	unsigned char v;

	if (sigsetjmp(hung_jmp, 1) != 0) {
		__atomic_add_fetch(&hung_bus, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	v = hung_map[off];
	fprintf(stderr, "FAIL: a page whose read hung read 0x%02x instead of "
	    "raising SIGBUS\n", v);
	exit(3);
}

/* The client whose faults hang: exits 0 when all 16 got SIGBUS. */
static void
hung_client(const char *sock, const char *path, int ready)
{
	struct sigaction sa = { .sa_handler = hung_sigbus };
	pthread_t t[THREADS];
	uintptr_t i;

	sigaction(SIGBUS, &sa, NULL);
	hung_map = map_file(sock, path, SIZE);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, hung_thread, (void *)i) == 0);
	CHECK(write(ready, "r", 1) == 1);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECKF(hung_bus == THREADS, "%d of %d hung faults got SIGBUS",
	    hung_bus, THREADS);
	exit(0);
}

/* Another user's client maps a good file and reads every page of it. */
static void
good_client(const char *sock, const char *path)
{
	volatile const unsigned char *p;
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		harness_become_user("pagerd-tb");
		alarm(10);
		p = map_file(sock, path, 1u << 20);
		harness_check_range((const void *)p, 0, 1u << 20, GOOD_SEED,
		    1u << 20);
		exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "a client of another user was not "
	    "served while another client's reads hung");
}

/* pagerctl status must answer within 5 seconds. */
static void
ctl_status(const char *sock)
{
	const char *ctl = getenv("PAGERCTL_BIN");
	int status, fd;
	pid_t pid;

	if (ctl == NULL)
		ctl = "./pagerctl";
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1)
			dup2(fd, STDOUT_FILENO);
		alarm(5);
		execl(ctl, ctl, "-s", sock, "status", (char *)NULL);
		_exit(127);
	}
	status = harness_wait(pid);
	CHECKF(status == 0, "pagerctl status ended with status %d while a "
	    "client's reads hung", status);
}

int
main(void)
{
	struct harness_daemon d;
	char conf[] = "/tmp/hung-read-test.XXXXXX", mnt[512], path[600],
	    good[512];
	int pfd[2], status, i, logged, fd;
	pid_t fs, hung;
	uint64_t t0;
	char c;

	harness_need_root();
	harness_test_user("pagerd-tb");
	CHECK((fd = mkstemp(conf)) != -1);
	CHECK(dprintf(fd, "read-timeout %d\n", TIMEOUT_S) > 0);
	close(fd);
	harness_start(&d, "-f", conf, "-q", QUEUE_DEPTH, NULL);
	unlink(conf);
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_fs(mnt, SIZE, SEED, BAD_OFF, BAD_LEN);
	snprintf(path, sizeof path, "%s/data", mnt);
	harness_make_file(&d, "good", 1u << 20, GOOD_SEED, good, sizeof good);

	CHECK(pipe(pfd) == 0);
	fflush(NULL);
	if ((hung = fork()) == 0) {
		close(pfd[0]);
		hung_client(d.sock, path, pfd[1]);
	}
	close(pfd[1]);
	CHECKF(read(pfd[0], &c, 1) == 1, "the hung client failed to start");
	close(pfd[0]);
	t0 = now_ms();
	harness_sleep_ms(300);

	/* Sessions go to the workers in turn: one of two shares its worker. */
	good_client(d.sock, good);
	good_client(d.sock, good);
	ctl_status(d.sock);
	ctl_status(d.sock);
	logged = harness_log_count(&d, "pages of gone clients waiting");
	kill(d.pid, SIGUSR1);
	for (i = 0; i < 300 && harness_log_count(&d,
	    "pages of gone clients waiting") == logged; i++)
		harness_sleep_ms(10);
	CHECKF(i < 300, "SIGUSR1 logged no totals while a client's reads hung");
	CHECKF(now_ms() - t0 < TIMEOUT_S * 1000, "serving the others took "
	    "%llu ms, past the read timeout", (unsigned long long)(now_ms() -
	    t0));
	CHECKF(waitpid(hung, &status, WNOHANG) == 0, "the hung client ended "
	    "before its reads timed out");

	status = harness_wait(hung);
	CHECKF(status == 0, "the hung client ended with status %d", status);
	CHECKF(now_ms() - t0 >= (TIMEOUT_S - 1) * 1000, "the hung faults "
	    "failed after %llu ms, before the read timeout",
	    (unsigned long long)(now_ms() - t0));
	CHECKF(harness_log_count(&d, "did not complete in") >= SHARE,
	    "%d log lines for the reads that timed out, expected %d or more",
	    harness_log_count(&d, "did not complete in"), SHARE);
	CHECKF(harness_log_has(&d, "none is started until they complete"),
	    "the faults past the client's share of reads did not fail once "
	    "its share was stuck");

	/* Mended: the pages that hung are served to a new client. */
	kill(fs, SIGUSR1);
	fflush(NULL);
	if ((hung = fork()) == 0) {
		alarm(20);
		hung_map = map_file(d.sock, path, SIZE);
		harness_check_range((const void *)(hung_map + BAD_OFF), BAD_OFF,
		    BAD_LEN, SEED, SIZE);
		exit(0);
	}
	CHECKF(harness_wait(hung) == 0, "the mended disk's pages were not "
	    "served");
	harness_eio_fs_unmount(mnt, fs);
	harness_stop(&d);
	printf("PASS: a hung backing file froze only its own faults\n");
	return 0;
}

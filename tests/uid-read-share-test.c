/*
 * Description: one user's hung reads take no more than half of a worker's
 * reads, however many sessions it opens. pagerd-ta runs
 * SESSIONS clients on the one worker, each faulting from 16 threads on
 * its own windows of a file on tests/eio-fs whose reads hang; each
 * session may hold a quarter of the worker's 32 reads, and all of one
 * user's sessions half of them, out until the file system answers (past
 * read-timeout their faults end in SIGBUS, but the reads stay out). While
 * they hang, a client of root maps a file on a sound disk and reads it:
 * it must be served. (The sessions used to hold all 32 reads, and root's
 * client waited, with every other fault of the worker, for a free read
 * that no hung read would give back.)
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5ea70000ull
#define GOOD_SEED 0x5ea80000ull
#define SIZE (16u << 20)
#define BAD_OFF (4u << 20)
#define BAD_LEN (10u << 20)
#define SESSIONS 5
#define THREADS 16
#define SHARE 8			/* a session's reads: a quarter of 32 */
#define SPACING (128u << 10)	/* windows apart: none joins another */
#define TIMEOUT_S 60		/* read-timeout: none expires */

struct hung_arg {
	const char *sock;
	const char *path;
	int k;			/* the session's number */
	int go[2];		/* EOF on go[0] once every session mapped */
};

static volatile const unsigned char *hung_map;
static int hung_k;

/* Thread i of session k faults on its own window: its read hangs. */
static void *
hung_thread(void *arg)
{
	uint64_t off = BAD_OFF + (uint64_t)(hung_k * THREADS +
	    (int)(uintptr_t)arg) * SPACING;

	return (void *)(uintptr_t)hung_map[off];
}

/* pagerd-ta's session k: its faults' reads hang, then stay out. */
static void
hung_client(void *arg, int up)
{
	const struct hung_arg *a = arg;
	pthread_t t[THREADS];
	struct pagerd *pd;
	uintptr_t i;
	char c;
	void *p;
	int fd;

	harness_become_user("pagerd-ta");
	alarm(120);
	hung_k = a->k;
	CHECKF(pagerd_connect(a->sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	CHECKF((fd = open(a->path, O_RDONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    a->path, strerror(errno));
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	hung_map = p;
	/* Mapped before any read hangs: then its opens would hang too. */
	CHECK(write(up, "u", 1) == 1);
	close(a->go[1]);
	CHECK(read(a->go[0], &c, 1) == 0);
	for (i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, hung_thread, (void *)i) == 0);
	/* It holds its session (and the reads) until killed. */
	for (;;)
		pause();
}

int
main(void)
{
	struct harness_daemon d;
	struct hung_arg a[SESSIONS];
	struct pagerd *pd;
	const void *p;
	char mnt[512], hung[600], good[512];
	char conf[] = "/tmp/uid-read-share-test.XXXXXX";
	pid_t fs, ta[SESSIONS], root;
	struct pd_stats_reply sr;
	int i, status, fd, go[2];

	harness_need_root();
	harness_test_user("pagerd-ta");
	CHECK((fd = mkstemp(conf)) != -1);
	CHECK(dprintf(fd, "read-timeout %d\n", TIMEOUT_S) > 0);
	close(fd);
	/* One worker of 32 reads. */
	harness_start(&d, "-f", conf, "--workers", "1", "-q", "32", NULL);
	unlink(conf);
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_fs(mnt, SIZE, SEED, BAD_OFF, BAD_LEN);
	snprintf(hung, sizeof hung, "%s/data", mnt);
	harness_make_file(&d, "good.dat", 1u << 20, GOOD_SEED, good,
	    sizeof good);

	CHECK(pipe(go) == 0);
	for (i = 0; i < SESSIONS; i++) {
		a[i].sock = d.sock;
		a[i].path = hung;
		a[i].k = i;
		memcpy(a[i].go, go, sizeof go);
		ta[i] = harness_started(hung_client, &a[i], "a hung client of "
		    "pagerd-ta failed to map its file");
	}
	/* A session's share of reads out, hanging, and the others' after. */
	close(go[0]);
	close(go[1]);
	for (i = 0; i < 1000; i++) {
		harness_control_stats(d.sock, &sr);
		if (sr.counters.reads >= SHARE)
			break;
		harness_sleep_ms(10);
	}
	CHECKF(sr.counters.reads >= SHARE, "pagerd-ta's sessions have %llu "
	    "reads out, not %d", (unsigned long long)sr.counters.reads, SHARE);
	harness_sleep_ms(500);
	harness_control_stats(d.sock, &sr);
	printf("pagerd-ta's %d sessions have %llu of the worker's 32 reads "
	    "out\n", SESSIONS, (unsigned long long)sr.counters.reads);

	/* Root's client, bounded: a hang fails it. */
	fflush(NULL);
	CHECKF((root = fork()) != -1, "fork: %s", strerror(errno));
	if (root == 0) {
		alarm(20);
		p = harness_map_cached(&pd, d.sock, good, 1u << 20, PROT_READ);
		harness_check_range(p, 0, 1u << 20, GOOD_SEED, 1u << 20);
		pagerd_close(pd);
		_exit(0);
	}
	status = harness_wait(root);
	CHECKF(status == 0, "root's client ended with status %d while %d "
	    "sessions of another user held hung reads: it was not served",
	    status, SESSIONS);

	kill(fs, SIGUSR1);
	for (i = 0; i < SESSIONS; i++) {
		kill(ta[i], SIGKILL);
		harness_wait(ta[i]);
	}
	harness_eio_fs_unmount(mnt, fs);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("PASS: %d sessions of one user with hung reads starved no "
	    "other user\n", SESSIONS);
	return 0;
}

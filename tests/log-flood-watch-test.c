/*
 * Description: a user cannot flood the log by caching many files that
 * are written outside the shim. pagerd-ta maps 60 files through the
 * shared page cache; the test (root, another writer) then writes every
 * one of them. The daemon's line naming an outside writer comes once per
 * file, and counts against the uid whose cache made the file watched
 * (pagerd-ta's, uid-log-rate 2: a burst of 10, then 2 a second), whose
 * dropped lines are said to be dropped.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define FILES 60
#define RATE 2

static struct harness_daemon d;
static char paths[FILES][512];

/*
 * As pagerd-ta: every file mapped through the page cache and its page
 * read; a word on fd[1], and the mappings held until fd[0] says.
 */
static void
cacher(void *arg)
{
	int *fd = arg;
	struct pagerd *pd;
	unsigned char *p;
	char c;
	int i, f;

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	for (i = 0; i < FILES; i++) {
		CHECKF((f = open(paths[i], O_RDONLY | O_CLOEXEC)) != -1,
		    "open %s", paths[i]);
		CHECKF(pagerd_map_file(pd, f, 0, 4096, PROT_READ, 0,
		    (void **)&p) == 0, "map %s: %s", paths[i],
		    pagerd_errmsg());
		close(f);
		CHECK(p[0] == (unsigned char)harness_word(0, (uint64_t)i + 1));
	}
	CHECK(write(fd[1], "m", 1) == 1);
	CHECK(read(fd[0], &c, 1) == 1);
	pagerd_close(pd);
}

int
main(void)
{
	char name[32], text[128];
	int up[2], down[2], fds[2], i, fd;
	double t0, secs;
	pid_t pid;
	uid_t ta;
	char c;

	ta = harness_test_user("pagerd-ta");
	snprintf(text, sizeof text, "uid-log-rate %d\nuid-max-fds 4096\n",
	    RATE);
	harness_start_conf(&d, text);
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof name, "f%d", i);
		harness_make_file(&d, name, 4096, (uint64_t)i + 1, paths[i],
		    sizeof paths[i]);
	}
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	fds[0] = down[0];
	fds[1] = up[1];
	fflush(NULL);
	if ((pid = fork()) == 0) {
		harness_become_user("pagerd-ta");
		cacher(fds);
		_exit(0);
	}
	CHECK(pid > 0);
	if (read(up[0], &c, 1) != 1)
		_exit(harness_wait(pid) == 77 ? 77 : 1);

	/* Root writes them all, outside the shim. */
	t0 = harness_now_s();
	for (i = 0; i < FILES; i++) {
		CHECK((fd = open(paths[i], O_WRONLY | O_CLOEXEC)) != -1);
		CHECK(pwrite(fd, "w", 1, 8) == 1);
		close(fd);
	}
	/* A writer is named a second after its write: wait for the last. */
	snprintf(text, sizeof text, "uid %u: more than %d ", (unsigned int)ta,
	    RATE);
	for (i = 0; i < 500 && !harness_log_has(&d, text); i++)
		harness_sleep_ms(10);
	harness_sleep_ms(1500);
	secs = harness_now_s() - t0;
	harness_log_within_rate(&d, "which clients map through pagerd, was "
	    "written by", ta, RATE, secs);
	CHECK(write(down[1], "x", 1) == 1);
	CHECKF(harness_wait(pid) == 0, "pagerd-ta's client failed");
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("writers of many cached files: within the cacher's log rate\n");
	return 0;
}

/*
 * Description: no libpagerd thread outlives pagerd_close(). 200 times a
 * connection is made and closed: after pagerd_close() returns the
 * process has the threads it had before pagerd_connect() (a watchdog
 * never joined would be one more; a joined one may stay listed in
 * /proc/self/task for a moment, as pthread_join() returns when the
 * kernel clears its tid, before the task is released: it must be gone
 * within a second), and a child forked right after pagerd_close()
 * allocates memory and exits within 10 s (a child forked while a
 * watchdog's teardown held the sanitizer allocator's lock hung at its
 * first malloc under ASan).
 */
#include "config.h"

#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define ROUNDS 200
#define CHILD_MS 10000

/* The threads of this process now. */
static int
threads(void)
{
	struct dirent *de;
	DIR *dir;
	int n = 0;

	CHECK((dir = opendir("/proc/self/task")) != NULL);
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* A forked child's work: memory from the allocator, a few times. */
static void
child(void)
{
	char *p;
	int i;

	for (i = 0; i < 64; i++) {
		if ((p = malloc(64 + (size_t)i * 512)) == NULL)
			_exit(2);
		memset(p, i, 64);
		free(p);
	}
	_exit(0);
}

/* Did pid exit 0 within CHILD_MS? Killed if it did not. */
static int
child_done(pid_t pid, int round)
{
	int status, waited;

	for (waited = 0; waited < CHILD_MS; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		harness_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fprintf(stderr, "round %d: the child forked after pagerd_close() "
	    "hung\n", round);
	return 0;
}

int
main(void)
{
	struct harness_daemon d;
	struct pagerd *pd;
	int i, before, after, waited, extra = 0;
	pid_t pid;

	harness_start(&d, NULL);
	before = threads();
	for (i = 0; i < ROUNDS; i++) {
		CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
		    pagerd_errmsg());
		pagerd_close(pd);
		if ((pid = fork()) == 0)
			child();
		CHECKF(pid != -1, "fork: %s", strerror(errno));
		for (waited = 0; (after = threads()) != before &&
		    waited < 1000; waited++)
			harness_sleep_ms(1);
		if (after != before) {
			fprintf(stderr, "round %d: %d threads after "
			    "pagerd_close(), %d before pagerd_connect()\n", i,
			    after, before);
			extra++;
		}
		CHECKF(child_done(pid, i), "round %d: the child forked right "
		    "after pagerd_close() did not exit 0", i);
	}
	CHECKF(extra == 0, "%d of %d rounds had a thread left after "
	    "pagerd_close()", extra, ROUNDS);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("%d rounds: no thread outlived pagerd_close(), every child "
	    "forked after it exited\n", ROUNDS);
	return 0;
}

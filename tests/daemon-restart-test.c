/*
 * Description: a daemon crash loses nothing. pagerd is killed with
 * SIGKILL while eight client threads fault a file region, some of them
 * with fault messages the dead daemon had read and never answered; a new
 * daemon starts on the same socket, the client's watchdog re-attaches,
 * and every thread completes with every byte equal to the file's. Without
 * a restart the client ends by SIGBUS within its re-attach bound, saying
 * why, instead of hanging or reading zeros.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed0009ull
#define SIZE (128u << 20)
#define PAGE 4096u
#define THREADS 8

/* What a client is given (start_client). */
struct client_args {
	const char *sock, *path, *timeout, *errlog;
	int go;
};

/*
 * Read the whole region from eight threads; report once under way. With
 * a go descriptor, the second half waits for a byte from it: pages the
 * test's kill is sure to come before, however late the test runs.
 */
static void
client(void *arg, int started)
{
	struct client_args *a = arg;
	struct harness_readers r;
	struct pagerd_stats st;
	struct pagerd *pd;
	void *p;
	int fd;
	char c;

	if (a->errlog != NULL &&
	    (fd = open(a->errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644)) != -1)
		dup2(fd, STDERR_FILENO);
	setenv("PAGERD_REATTACH_TIMEOUT", a->timeout, 1);
	CHECKF(pagerd_connect(a->sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK((fd = open(a->path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	close(fd);
	harness_readers_start(&r, p, SIZE, SEED, UINT64_MAX, THREADS,
	    SIZE / 2);
	harness_readers_wait(&r, 256);
	CHECK(write(started, "s", 1) == 1);
	if (a->go != -1)
		CHECK(read(a->go, &c, 1) == 1);
	harness_readers_end(&r);
	/* The new daemon serves this connection now. */
	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	CHECK(st.errors == 0 && st.pages_poisoned == 0);
	CHECK(st.regions == 1);
	pagerd_close(pd);
	printf("client: %lu pages right across the restart\n", r.done);
}

static pid_t
start_client(struct harness_daemon *d, const char *path, int go,
    const char *timeout, const char *errlog)
{
	struct client_args a = { d->sock, path, timeout, errlog, go };

	return harness_started(client, &a, "the client failed before "
	    "faulting");
}

int
main(void)
{
	struct harness_daemon d;
	static char log[1 << 16];
	char path[512], errlog[512], text[2048];
	ssize_t n;
	pid_t pid;
	int fd, status, go[2];

	/* One page per fault: many faults are in flight at the kill. */
	harness_start(&d, "--readahead", "1", NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);

	/* Killed and restarted. */
	pid = start_client(&d, path, -1, "20000", NULL);
	harness_kill(&d);
	usleep(200000);
	harness_restart(&d);
	CHECKF((status = harness_wait(pid)) == 0, "the client failed across "
	    "the restart (status %d)", status);
	harness_wait_idle(d.sock);
	CHECK((fd = open(d.log, O_RDONLY)) != -1);
	n = read(fd, log, sizeof log - 1);
	close(fd);
	log[n > 0 ? n : 0] = '\0';
	CHECKF(strstr(log, "re-attached with 1 regions") != NULL, "the daemon "
	    "did not log the re-attach");

	/* Killed for good: the client ends by SIGBUS and says why. */
	snprintf(errlog, sizeof errlog, "%s/client.err", d.dir);
	CHECK(pipe(go) == 0);
	pid = start_client(&d, path, go[0], "500", errlog);
	harness_kill(&d);
	CHECK(write(go[1], "g", 1) == 1);
	status = harness_wait(pid);
	CHECK((fd = open(errlog, O_RDONLY)) != -1);
	n = read(fd, text, sizeof text - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	CHECKF(status == 128 + SIGBUS, "without a daemon the client ended "
	    "with status %d, expected SIGBUS; it said: %s", status, text);
	CHECKF(strstr(text, "could not re-attach") != NULL, "the client did "
	    "not say why it ended: %s", text);
	unlink(errlog);

	/* The socket path serves again for the cleanup. */
	harness_restart(&d);
	harness_stop(&d);
	unlink(path);
	printf("restart: every byte right; no daemon: SIGBUS with a reason\n");
	return 0;
}

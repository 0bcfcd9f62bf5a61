/*
 * Description: a session lives as long as its process, not its socket.
 * A libpagerd client maps a file, touches one page and forks; the child
 * closes every descriptor above 2 (close_range, as daemons and
 * subprocess's close_fds do), waits until the daemon has seen its
 * connection go (the session detached, still serving), then reads every
 * page it never touched: all right, no zeros. It then maps the file and a
 * zero region anew through the same connection object (the library
 * reconnects and resumes its session) and reads them. A detached
 * session ends when its process exits, and when it runs another program
 * (exec), the daemon's log says. A connection with no region ends with
 * its socket, and the library starts a new session for its next region.
 * No session is left once the parent has closed too.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed0c1dull
#define SIZE (8u << 20)

static struct harness_daemon d;

/* Wait up to 5 s for a log line with text and the pid. */
static int
wait_log(const char *text, pid_t pid)
{
	char line[128];
	int i;

	snprintf(line, sizeof line, "pid %d (closed-fds-test): %s", (int)pid,
	    text);
	for (i = 0; i < 500 && !harness_log_has(&d, line); i++)
		harness_sleep_ms(10);
	return harness_log_has(&d, line);
}

static void
child(struct pagerd *pd, const unsigned char *p, const char *path)
{
	void *q, *z;
	int fd;

	CHECK(syscall(SYS_close_range, 3u, ~0u, 0) == 0);
	/*
	 * The library's watchdog lets go of the socket within a second;
	 * the checks below hold whether the daemon saw it yet or not.
	 */
	wait_log("peer hung up", getpid());
	harness_check_range(p, 0, SIZE, SEED, SIZE);

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &q) == 0,
	    "map after close_range: %s", pagerd_errmsg());
	close(fd);
	harness_check_range(q, 0, SIZE, SEED, SIZE);
	CHECKF(pagerd_map_zero(pd, 1 << 20, PROT_READ | PROT_WRITE, 0, &z) ==
	    0, "zero region after close_range: %s", pagerd_errmsg());
	CHECK(((unsigned char *)z)[12345] == 0);
	memset(z, 0xa5, 1 << 20);
	CHECK(((unsigned char *)z)[(1 << 20) - 1] == 0xa5);
	CHECKF(wait_log("peer hung up, the process lives", getpid()),
	    "the daemon did not keep the child's session detached");
	CHECKF(wait_log("resumed on a new connection", getpid()),
	    "the child's session was not resumed");
	_exit(0);
}

/* Fork a child that closes its descriptors and waits to be detached. */
static pid_t
detached_child(void)
{
	pid_t pid;

	CHECK((pid = fork()) != -1);
	if (pid != 0)
		return pid;
	CHECK(syscall(SYS_close_range, 3u, ~0u, 0) == 0);
	CHECK(wait_log("peer hung up, the process lives", getpid()));
	return 0;
}

int
main(void)
{
	char path[512], line[128];
	struct pagerd *pd;
	unsigned char *p;
	void *m;
	pid_t pid;
	int fd;

	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &m) == 0,
	    "map: %s", pagerd_errmsg());
	close(fd);
	p = m;
	harness_check_range(p, 0, 4096, SEED, SIZE);

	CHECK((pid = fork()) != -1);
	if (pid == 0)
		child(pd, p, path);
	CHECKF(harness_wait(pid) == 0, "the child failed");
	CHECKF(wait_log("closed:", pid), "the child's session did not end "
	    "with it");

	/* Detached, then the process exits. */
	if ((pid = detached_child()) == 0)
		_exit(0);
	CHECKF(harness_wait(pid) == 0, "the exiting child failed");
	CHECKF(wait_log("closed: its process exited", pid), "a detached "
	    "session did not end with its process");

	/* Detached, then the process runs another program. */
	if ((pid = detached_child()) == 0) {
		execl("/bin/sleep", "sleep", "10", (char *)NULL);
		_exit(1);
	}
	snprintf(line, sizeof line, "pid %d (closed-fds-test): closed: its process "
	    "exited or ran another program", (int)pid);
	for (fd = 0; fd < 500 && !harness_log_has(&d, line); fd++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, line), "a detached session outlived its "
	    "process's exec");
	kill(pid, SIGKILL);
	harness_wait(pid);

	/*
	 * A connection without regions ends with its socket: the library
	 * finds no session to resume and starts a new one.
	 */
	if ((pid = fork()) == 0) {
		CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
		    pagerd_errmsg());
		CHECK(syscall(SYS_close_range, 3u, ~0u, 0) == 0);
		CHECK(wait_log("closed: peer hung up", getpid()));
		CHECKF(pagerd_map_zero(pd, 1 << 20, PROT_READ | PROT_WRITE, 0,
		    &m) == 0, "map in a new session: %s", pagerd_errmsg());
		memset(m, 0x5a, 1 << 20);
		CHECK(wait_log("refused: hello: no session to resume",
		    getpid()));
		pagerd_close(pd);
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "the child without regions failed");

	harness_check_range(p, 0, SIZE, SEED, SIZE);
	pagerd_close(pd);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	return 0;
}

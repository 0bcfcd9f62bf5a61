/*
 * Description: a daemon the process may not trust gets none of its
 * memory, and a set-user-ID program trusts no PAGERD_* variable. A
 * daemon-like listener of pagerd-ta: root's pagerd_connect() refuses it
 * with EPERM before saying a word, unless PAGERD_DAEMON_UID names
 * pagerd-ta; pagerd-ta's own client talks to it. A set-user-ID root copy
 * of tests/secure-prog run by pagerd-ta, with PAGERD_SOCKET at that
 * listener, PAGERD_FILES, PAGERD_ANON, PAGERD_DAEMON_UID and PAGERD_LOG
 * (in a directory only root may write) set: the shim routes nothing and
 * installs no handler, the listener hears no hello, and no log file is
 * made.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

static char dir[256], fake[320], prog[320], file[320], logpath[320];
static uid_t ta;
static pid_t main_pid;
static int heard[2];	/* the listener writes what it heard, a byte each */

/* The directory goes with the test, pass or fail, not with a child. */
static void
cleanup(void)
{
	char cmd[300];

	if (getpid() != main_pid)
		return;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s failed\n", cmd);
}

/* What the test sends the listener to know it has heard all before. */
#define MARK "mark"

/*
 * As pagerd-ta: listen at fake; for each connection, in the order they
 * came, 'H' when a message came, 'E' when the peer left without one, 'M'
 * for the test's mark. Until stop closes.
 */
static void
listener(int ready, int stop)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	struct pollfd pfd[2];
	char buf[4096], what;
	ssize_t n;
	int lfd, fd;

	harness_become_user("pagerd-ta");
	/* A path cut short would bind a socket the daemon never tries. */
	CHECKF(snprintf(sun.sun_path, sizeof sun.sun_path, "%s", fake) <
	    (int)sizeof sun.sun_path, "%s: too long for a socket", fake);
	CHECK((lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0)) != -1);
	CHECK(bind(lfd, (struct sockaddr *)&sun, sizeof sun) == 0);
	CHECK(chmod(fake, 0666) == 0 && listen(lfd, 8) == 0);
	CHECK(write(ready, "r", 1) == 1);
	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = stop, .events = POLLIN };
	while (poll(pfd, 2, -1) > 0 && !(pfd[1].revents & (POLLIN |
	    POLLHUP))) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		n = recv(fd, buf, sizeof buf, 0);
		if (n == sizeof MARK - 1 && memcmp(buf, MARK, sizeof MARK - 1) ==
		    0)
			what = 'M';
		else
			what = n > 0 ? 'H' : 'E';
		CHECK(write(heard[1], &what, 1) == 1);
		close(fd);
	}
	_exit(0);
}

/*
 * What the listener heard since the last call, as a string of 'H' and
 * 'E'. The client whose connections it was has returned or exited, so
 * they wait in the listener's queue before a mark sent now: what came
 * before the mark is all they said.
 */
static void
heard_since(char *out, size_t len)
{
	struct pollfd pfd = { .fd = heard[0], .events = POLLIN };
	size_t n = 0;
	int fd;
	char c;

	CHECKF((fd = harness_raw_connect(fake)) != -1, "connect %s: %s",
	    fake, strerror(errno));
	CHECK(send(fd, MARK, sizeof MARK - 1, 0) == sizeof MARK - 1);
	for (;;) {
		CHECKF(poll(&pfd, 1, 10000) == 1, "the listener did not hear "
		    "the mark in 10 s");
		CHECK(read(heard[0], &c, 1) == 1);
		if (c == 'M')
			break;
		if (n < len - 1)
			out[n++] = c;
	}
	out[n] = '\0';
	close(fd);
}

/* Root refuses pagerd-ta's daemon, unless told its uid. */
static void
root_client(void)
{
	struct pagerd *pd;
	char got[16], uid[16];
	int error;

	error = pagerd_connect(fake, &pd);
	printf("root: %s\n", pagerd_errmsg());
	CHECKF(error == -EPERM && strstr(pagerd_errmsg(), "runs as uid") !=
	    NULL, "root connected to pagerd-ta's daemon (%d)", error);
	heard_since(got, sizeof got);
	CHECKF(strcmp(got, "E") == 0, "the listener heard \"%s\"", got);

	snprintf(uid, sizeof uid, "%u", (unsigned int)ta);
	setenv("PAGERD_DAEMON_UID", uid, 1);
	error = pagerd_connect(fake, &pd);
	unsetenv("PAGERD_DAEMON_UID");
	CHECKF(error != 0 && error != -EPERM, "PAGERD_DAEMON_UID=%s: %s", uid,
	    pagerd_errmsg());
	heard_since(got, sizeof got);
	CHECKF(strcmp(got, "H") == 0, "PAGERD_DAEMON_UID: the listener heard "
	    "\"%s\"", got);
}

/* pagerd-ta's own client trusts pagerd-ta's daemon. */
static void
own_client(void)
{
	struct pagerd *pd;
	char got[16];
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		harness_become_user("pagerd-ta");
		_exit(pagerd_connect(fake, &pd) == -EPERM ? 1 : 0);
	}
	CHECK(pid > 0);
	CHECKF(harness_wait(pid) == 0, "pagerd-ta refused its own daemon");
	heard_since(got, sizeof got);
	CHECKF(strcmp(got, "H") == 0, "pagerd-ta's client: the listener heard "
	    "\"%s\"", got);
}

/* The set-user-ID program, run by pagerd-ta with its environment. */
static void
setuid_program(void)
{
	char uid[32], *env[8], got[16];
	struct stat st;
	pid_t pid;
	int status;

	snprintf(uid, sizeof uid, "PAGERD_DAEMON_UID=%u", (unsigned int)ta);
	env[0] = uid;
	env[1] = NULL;
	CHECK(asprintf(&env[1], "PAGERD_SOCKET=%s", fake) > 0);
	CHECK(asprintf(&env[2], "PAGERD_LOG=%s", logpath) > 0);
	env[3] = (char *)"PAGERD_FILES=*";
	env[4] = (char *)"PAGERD_ANON=4096";
	env[5] = (char *)"PAGERD_QUIET=0";
	env[6] = NULL;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		harness_become_user("pagerd-ta");
		execle(prog, "secure-prog", ".libs/libpagerd-preload.so", file,
		    fake, (char *)NULL, env);
		_exit(127);
	}
	CHECK(pid > 0);
	status = harness_wait(pid);
	if (status == 2)
		harness_skip("%s did not run set-user-ID root", prog);
	CHECKF(status == 0, "secure-prog exited %d", status);
	heard_since(got, sizeof got);
	CHECKF(strchr(got, 'H') == NULL, "the set-user-ID program talked to "
	    "pagerd-ta's daemon (\"%s\")", got);
	CHECKF(stat(logpath, &st) == -1 && errno == ENOENT, "PAGERD_LOG made "
	    "%s", logpath);
	free(env[1]);
	free(env[2]);
}

int
main(void)
{
	char cmd[1024], ready;
	struct statvfs sv;
	int r[2], stop[2];
	pid_t pid;

	ta = harness_test_user("pagerd-ta");
	snprintf(dir, sizeof dir, "%s/pagerd-secure.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(dir) != NULL && chmod(dir, 0755) == 0);
	main_pid = getpid();
	atexit(cleanup);
	CHECK(statvfs(dir, &sv) == 0);
	if (sv.f_flag & ST_NOSUID)
		harness_skip("%s is on a nosuid file system", dir);
	snprintf(prog, sizeof prog, "%s/secure-prog", dir);
	snprintf(file, sizeof file, "%s/data", dir);
	snprintf(logpath, sizeof logpath, "%s/root-only/shim.log", dir);
	snprintf(fake, sizeof fake, "%s/ta/fake.sock", dir);
	CHECKF(snprintf(cmd, sizeof cmd, "cp tests/secure-prog %s && "
	    "chmod 4755 %s && head -c 1048576 /dev/urandom >%s && "
	    "mkdir -m 755 %s/root-only %s/ta && chown %u %s/ta", prog, prog,
	    file, dir, dir, (unsigned int)ta, dir) < (int)sizeof cmd,
	    "%s: too long a path for the set-up command", dir);
	CHECKF(system(cmd) == 0, "%s failed", cmd);

	CHECK(pipe(heard) == 0 && pipe(r) == 0 && pipe(stop) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(stop[1]);
		listener(r[1], stop[0]);
	}
	CHECK(pid > 0);
	close(stop[0]);
	CHECK(read(r[0], &ready, 1) == 1);

	root_client();
	own_client();
	setuid_program();

	close(stop[1]);
	CHECK(harness_wait(pid) == 0);
	printf("no memory for an untrusted daemon; a set-user-ID program "
	    "reads no PAGERD_*\n");
	return 0;
}

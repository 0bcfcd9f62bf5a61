/*
 * Description: only a session's own process may resume it. A client of
 * user pagerd-tb maps a region and closes its descriptors, leaving its
 * session detached; then hellos that name that session to resume it (raw
 * protocol) are refused: from user pagerd-ta (the attacker), from another
 * process of pagerd-tb, from root; a resume hello that carries a
 * descriptor is a protocol error. The victim's session lives on through
 * all of it, and its process still reads its region right.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eedbeefull
#define SIZE (4u << 20)

static struct harness_daemon d;

/* Wait up to 5 s for a log line with text. */
static int
wait_log(const char *text)
{
	int i;

	for (i = 0; i < 500 && !harness_log_has(&d, text); i++)
		harness_sleep_ms(10);
	return harness_log_has(&d, text);
}

/*
 * The victim: maps the file, says its session on the pipe, closes every
 * descriptor and waits for SIGUSR1, then reads its region and exits 0 if
 * every byte is right.
 */
static void
victim(const char *path, int out)
{
	struct pagerd_info info;
	struct pagerd *pd;
	sigset_t set;
	void *p;
	int fd, sig;

	harness_become_user("pagerd-tb");
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	CHECK(pagerd_info(pd, &info) == 0);
	CHECK(write(out, &info.session_id, sizeof info.session_id) ==
	    sizeof info.session_id);
	CHECK(syscall(SYS_close_range, 3u, ~0u, 0) == 0);
	CHECK(sigwait(&set, &sig) == 0);
	harness_check_range(p, 0, SIZE, SEED, SIZE);
	_exit(0);
}

/* A raw resume hello for session id; the reply's status. */
static int
try_resume(uint32_t id, int with_fd)
{
	union pd_msg msg, reply;
	int sock, fd = -1, status;

	CHECK((sock = harness_raw_connect(d.sock)) != -1);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.flags = PD_HELLO_RESUME;
	msg.hello.resume = id;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	if (with_fd)
		CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(harness_raw_send(sock, &msg, msg.hdr.size, &fd, with_fd) == 0);
	if (harness_raw_recv(sock, &reply, 5000) <= 0)
		status = -ECONNRESET;
	else {
		CHECK(reply.hdr.type == PD_MSG_REPLY);
		status = reply.reply.status;
	}
	if (fd != -1)
		close(fd);
	close(sock);
	return status;
}

/* Run try_resume as another user; its status comes back as exit code. */
static void
resume_as(const char *user, uint32_t id, const char *who)
{
	pid_t pid;
	int st;

	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		if (user != NULL)
			harness_become_user(user);
		_exit(try_resume(id, 0) == 0 ? 0 : 3);
	}
	st = harness_wait(pid);
	CHECKF(st == 3, "%s: the resume of another process's session was not "
	    "refused (exit %d)", who, st);
}

int
main(void)
{
	char path[512], line[128];
	uint32_t id;
	int pfd[2];
	pid_t pid;

	harness_need_root();
	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	CHECK(pipe2(pfd, O_CLOEXEC) == 0);
	CHECK((pid = fork()) != -1);
	if (pid == 0)
		victim(path, pfd[1]);
	close(pfd[1]);
	CHECK(read(pfd[0], &id, sizeof id) == sizeof id);
	close(pfd[0]);
	snprintf(line, sizeof line, "session %u: pid %d (resume-test): peer "
	    "hung up, the process lives", id, (int)pid);
	CHECKF(wait_log(line), "the victim's session was not kept detached");

	resume_as("pagerd-ta", id, "another user");
	resume_as("pagerd-tb", id, "another process of the same user");
	resume_as(NULL, id, "root");
	CHECK(try_resume(id, 1) != 0);
	CHECK(harness_log_has(&d, "refused to resume session"));

	snprintf(line, sizeof line, "session %u: pid %d (resume-test): closed",
	    id, (int)pid);
	CHECKF(!harness_log_has(&d, line), "the victim's session was closed");
	CHECK(kill(pid, SIGUSR1) == 0);
	CHECKF(harness_wait(pid) == 0, "the victim read its region wrong");
	CHECKF(wait_log(line), "the victim's session did not end with it");
	harness_stop(&d);
	return 0;
}

/*
 * Description: a local user cannot flood the daemon's log. pagerd-ta,
 * one process, connects and hangs up 2000 times (half of them after a
 * client hello) and sends 2000 requests the daemon refuses (REGION_ADD of
 * an unaligned address); while it does, pagerd-tb's programs connect, map
 * a zero region, fault every page of it in and close. The log holds a
 * bounded number of pagerd-ta's lines (a burst of 50, then 10 a second;
 * its debug lines, shown under the harness's -v, are not limited),
 * says that lines of pagerd-ta's uid are dropped and, once one is let
 * through again, how many were; every session line of pagerd-tb's
 * programs (connected and client, debug lines, and closed) is there,
 * and their faults were served. After a second, short flood and silence, the count of that one
 * is logged once pagerd-ta's burst is whole again.
 */
#include "config.h"

#include <sys/mman.h>
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
#include "uffd.h"

#define FLOOD 2000
#define PAGES 16
/* The daemon's rate of session lines per uid: a burst, then a second. */
#define BURST 50
#define RATE 10
/* pagerd-tb's programs: their 4 session lines each stay in its burst. */
#define VICTIMS_MAX 8

static struct harness_daemon d;

/* A client hello on a new connection; the socket, refused or not. */
static int
hello_client(void)
{
	char why[512];
	uint64_t features;
	union pd_msg msg;
	int fd, uffd, umo;

	CHECKF((uffd = uffd_open(O_CLOEXEC | O_NONBLOCK, &umo, why,
	    sizeof why)) >= 0, "%s", why);
	CHECKF(uffd_api(uffd, 0, &features, why, sizeof why) == 0, "%s", why);
	CHECK((fd = harness_raw_connect(d.sock)) != -1);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.uffd_features = features;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, &uffd, 1) == 0);
	/* At its uid's session limit it may be turned away: still a line. */
	(void)harness_raw_recv(fd, &msg, 5000);
	close(uffd);
	return fd;
}

/* A request the daemon refuses and the session survives. */
static void
refused_request(int fd, uint32_t seq)
{
	char why[512];
	union pd_msg msg;

	proto_init(&msg, PD_MSG_REGION_ADD, seq);
	msg.region_add.start = 0x10001;
	msg.region_add.length = (uint64_t)sysconf(_SC_PAGESIZE);
	msg.region_add.backing = PD_BACKING_ZERO;
	msg.region_add.prot = PD_PROT_READ;
	CHECKF(harness_raw_request(fd, &msg, why, sizeof why) < 0,
	    "an unaligned region was not refused");
}

/*
 * As pagerd-ta: half the flood, a word on pipe fd, the other half. Each
 * round connects and hangs up (with a hello every other time) and sends
 * a refused request on a client session it keeps.
 */
static void
flood(int fd)
{
	int s, i, c;

	harness_become_user("pagerd-ta");
	s = hello_client();
	for (i = 0; i < FLOOD; i++) {
		if (i == FLOOD / 2)
			CHECK(write(fd, "h", 1) == 1);
		if (i % 2)
			c = hello_client();
		else
			CHECK((c = harness_raw_connect(d.sock)) != -1);
		close(c);
		refused_request(s, (uint32_t)i + 2);
	}
	close(s);
}

/* As pagerd-ta, later: one session, its lines let through again. */
static void
flood_one(int arg)
{
	(void)arg;
	harness_become_user("pagerd-ta");
	close(hello_client());
}

/* As pagerd-ta, later still: refused requests, and silence. */
static void
flood_refused(int arg)
{
	int s, i;

	(void)arg;
	harness_become_user("pagerd-ta");
	s = hello_client();
	for (i = 0; i < 4 * BURST; i++)
		refused_request(s, (uint32_t)i + 2);
	close(s);
}

/* As pagerd-tb: a zero region faulted in, page by page, and checked. */
static void
victim(void)
{
	struct pagerd *pd;
	unsigned char *p;
	long ps = sysconf(_SC_PAGESIZE);
	int i;

	harness_become_user("pagerd-tb");
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "pagerd-tb: connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, (size_t)(PAGES * ps), PROT_READ |
	    PROT_WRITE, 0, (void **)&p) == 0, "pagerd-tb: map: %s",
	    pagerd_errmsg());
	for (i = 0; i < PAGES; i++) {
		CHECKF(p[i * ps] == 0, "page %d not zero", i);
		p[i * ps + 1] = (unsigned char)(i + 1);
	}
	for (i = 0; i < PAGES; i++)
		CHECK(p[i * ps + 1] == (unsigned char)(i + 1));
	pagerd_close(pd);
}

static pid_t
start(void (*fn)(int), int arg)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		fn(arg);
		_exit(0);
	}
	CHECK(pid > 0);
	return pid;
}

static void
victim_run(int arg)
{
	(void)arg;
	victim();
}

/* How many of the log's lines have both a and b. */
static int
log_count2(const char *a, const char *b)
{
	char line[2048];
	int n = 0;
	FILE *f;

	CHECK((f = fopen(d.log, "re")) != NULL);
	while (fgets(line, sizeof line, f) != NULL)
		n += strstr(line, a) != NULL && strstr(line, b) != NULL;
	fclose(f);
	return n;
}

/* Every session line of pagerd-tb's program pid is in the log. */
static void
check_victim(pid_t pid, uid_t uid)
{
	char who[64], client[64];
	int i;

	snprintf(who, sizeof who, "pid %d (", (int)pid);
	snprintf(client, sizeof client, "uid %u: client, features",
	    (unsigned int)uid);
	/* Its close may be seen when the process has exited. */
	for (i = 0; i < 500 && log_count2(who, "): closed: ") == 0; i++)
		harness_sleep_ms(10);
	CHECKF(log_count2(who, "connected to worker") == 1, "pagerd-tb's "
	    "pid %d: no \"connected to worker\" line", (int)pid);
	CHECKF(log_count2(who, client) == 1, "pagerd-tb's pid %d: no "
	    "\"client, features\" line", (int)pid);
	CHECKF(log_count2(who, "): closed: ") == 1, "pagerd-tb's pid %d: no "
	    "\"closed:\" line", (int)pid);
}

int
main(void)
{
	pid_t attacker, victims[VICTIMS_MAX];
	char who[64], text[128];
	struct pollfd pfd;
	uid_t ta, tb;
	double t0, secs;
	int p[2], n = 0, i, lines, bound, status, counts;
	pid_t done = 0;

	ta = harness_test_user("pagerd-ta");
	tb = harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	CHECK(pipe(p) == 0);
	t0 = harness_now_s();
	attacker = start(flood, p[1]);
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	CHECKF(poll(&pfd, 1, 120000) == 1, "pagerd-ta's flood is not half "
	    "done in 120 s");
	/* pagerd-tb's programs, one at a time, while the flood goes on. */
	do {
		victims[n] = start(victim_run, 0);
		CHECKF(harness_wait(victims[n]) == 0, "pagerd-tb's program "
		    "failed");
		n++;
		harness_sleep_ms(20);
	} while (n < VICTIMS_MAX && (done = waitpid(attacker, &status,
	    WNOHANG)) == 0);
	if (done != attacker)
		CHECK(waitpid(attacker, &status, 0) == attacker);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pagerd-ta's "
	    "flood failed");
	close(p[0]);
	printf("%d of pagerd-tb's programs served during the flood\n", n);
	for (i = 0; i < n; i++)
		check_victim(victims[i], tb);

	snprintf(text, sizeof text, "uid %u: more than %d session log lines "
	    "a second: the next are not logged", (unsigned int)ta, RATE);
	CHECKF(harness_log_has(&d, text), "no word of pagerd-ta's lines "
	    "dropped");
	/* After a pause, one more line of pagerd-ta's says how many. */
	harness_sleep_ms(2 * 1000 / RATE);
	CHECK(harness_wait(start(flood_one, 0)) == 0);
	snprintf(text, sizeof text, "uid %u: ", (unsigned int)ta);
	for (i = 0; i < 500 && log_count2(text, " session log lines were not "
	    "logged") == 0; i++)
		harness_sleep_ms(10);
	CHECKF((counts = log_count2(text, " session log lines were not "
	    "logged")) >= 1, "no count of pagerd-ta's lines dropped");
	secs = harness_now_s() - t0;
	snprintf(who, sizeof who, "pid %d ", (int)attacker);
	/*
	 * Its lines above debug level: a closing after a hello (with the
	 * session's counts), the refusals. The debug lines the harness's
	 * -v shows (connected, the hello's, a closing before any hello)
	 * are not limited.
	 */
	lines = log_count2(who, "closed: peer hung up;") + log_count2(who,
	    "refused");
	/* The burst, the rate over the whole run, and some to spare. */
	bound = BURST + (int)(secs * RATE) + 10;
	/* A closing every other time; refused. */
	printf("%d of pagerd-ta's %d lines logged in %.1f s (at most %d)\n",
	    lines, FLOOD / 2 + FLOOD, secs, bound);
	CHECKF(lines > 0 && lines <= bound, "%d of pagerd-ta's lines logged, "
	    "not 1 to %d", lines, bound);
	/* A flood that ends is counted when the burst is whole again. */
	CHECK(harness_wait(start(flood_refused, 0)) == 0);
	for (i = 0; i < 1500 && log_count2(text, " session log lines were "
	    "not logged") == counts; i++)
		harness_sleep_ms(10);
	CHECKF(log_count2(text, " session log lines were not logged") >
	    counts, "no count of pagerd-ta's second flood in 15 s");

	harness_stop(&d);
	printf("one user's flood is dropped, another user's lines kept\n");
	return 0;
}

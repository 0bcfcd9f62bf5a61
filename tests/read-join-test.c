/*
 * Description: two clients of one file that fault the same window while
 * its read is out are served by that one read: the daemon reads the
 * window once, not once a client. The file lives on tests/eio-fs in hang
 * mode, so that the first client's read waits until the second client's
 * fault has come; then the disk is mended, and both clients get the
 * file's bytes. Again with the first client killed while its read is
 * out, its session closed: the second, which waits for that read, still
 * gets the file's bytes once the disk is mended. Again with the second
 * client lying about its memory (anonymous memory where the page cache's
 * mapping was, behind the daemon's back: harness_swap_anon): the install
 * for its joined fault can never succeed, and its thread must get SIGBUS
 * once the read is in (never hang, never read zeros, never fault again
 * for ever with the daemon spinning on it), while the first is served.
 */
#include "config.h"

#include <sys/mman.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x701e2eadull
#define PAGE 4096u
#define SIZE (1u << 20)
#define BAD_OFF (256u << 10)
#define BAD_LEN (64u << 10)

/* How the second client fares (join). */
enum join_case {
	JOIN_SERVED,		/* both served */
	JOIN_FIRST_KILLED,	/* the read's first client killed */
	JOIN_SECOND_LIES,	/* the second's mapping is not the region's */
};

/*
 * A client that maps the file (while the disk still answers), a liar
 * puts anonymous memory in its place, then, told by a byte on go,
 * touches one page of the hung range; exits 0 if right.
 */
static pid_t
client(const char *sock, const char *path, int liar, int *go)
{
	int ready[2], cmd[2];
	struct pagerd *pd;
	unsigned char *p;
	pid_t pid;
	char c;

	CHECK(pipe(ready) == 0 && pipe(cmd) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		alarm(30);
		p = harness_map_cached(&pd, sock, path, SIZE, PROT_READ);
		if (liar) {
			harness_swap_anon(p, SIZE);
			/* Death by SIGBUS, not ASan's report of it. */
			signal(SIGBUS, SIG_DFL);
		}
		if (write(ready[1], "r", 1) != 1 || read(cmd[0], &c, 1) != 1)
			_exit(1);
		harness_check_range(p + BAD_OFF + PAGE, BAD_OFF + PAGE, PAGE,
		    SEED, SIZE);
		_exit(0);
	}
	close(ready[1]);
	close(cmd[0]);
	CHECKF(read(ready[0], &c, 1) == 1, "a client could not map the file");
	close(ready[0]);
	*go = cmd[1];
	return pid;
}

/* Wait (up to 10 s) until the daemon has closed pid's session. */
static void
wait_closed(const struct harness_daemon *d, pid_t pid)
{
	char who[64];
	int i;

	snprintf(who, sizeof who, "pid %d (read-join-test): closed",
	    (int)pid);
	for (i = 0; i < 1000 && !harness_log_has(d, who); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(d, who), "the killed client's session was not "
	    "closed in 10 s");
}

/*
 * Two clients fault one window while its read hangs; the first, whose
 * fault started the read, may be killed before the disk is mended, the
 * second may lie (how).
 */
static void
join(enum join_case how)
{
	struct pd_stats_reply sr;
	struct harness_daemon d;
	char mnt[512], path[600];
	double c0, t0;
	pid_t fs, a, b;
	int go_a, go_b, status;

	/* One worker: both sessions on it. */
	harness_start(&d, "-w", "1", NULL);
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_fs(mnt, SIZE, SEED, BAD_OFF, BAD_LEN);
	snprintf(path, sizeof path, "%s/data", mnt);

	a = client(d.sock, path, 0, &go_a);
	b = client(d.sock, path, how == JOIN_SECOND_LIES, &go_b);
	CHECK(write(go_a, "g", 1) == 1);
	harness_wait_faults(d.sock, 1, &sr);
	CHECK(write(go_b, "g", 1) == 1);
	harness_wait_faults(d.sock, 2, &sr);
	printf("two faults of one window while its read hangs: %" PRIu64
	    " reads\n", sr.counters.reads);
	CHECKF(sr.counters.reads == 1, "%" PRIu64 " reads of the window, "
	    "expected one", sr.counters.reads);

	if (how == JOIN_FIRST_KILLED) {
		kill(a, SIGKILL);
		CHECK(harness_wait(a) != 0);
		wait_closed(&d, a);
	}
	t0 = harness_now_s();
	c0 = harness_cpu_s(d.pid);
	kill(fs, SIGUSR1);	/* mended */
	CHECKF(how == JOIN_FIRST_KILLED || harness_wait(a) == 0, "the first "
	    "client was not served");
	status = harness_wait(b);
	if (how == JOIN_SECOND_LIES) {
		/* (SIGALRM: never answered; 0 or 1: served.) */
		CHECKF(status == 128 + SIGBUS, "the lying client's joined "
		    "fault ended with status %d, not SIGBUS (%d)", status,
		    128 + SIGBUS);
		harness_expect_calm(&d, t0, c0, "since the disk was mended");
		CHECKF(harness_log_has(&d, "the client's mapping there is not "
		    "the region's; poisoned with SIGBUS"), "no line says why "
		    "the joined fault ended with SIGBUS");
	} else
		CHECKF(status == 0, "the second client was not served");
	harness_control_stats(d.sock, &sr);
	CHECKF(sr.counters.reads == 1, "%" PRIu64 " reads after the disk was "
	    "mended, expected one", sr.counters.reads);
	CHECKF(sr.counters.errors == (how == JOIN_SECOND_LIES), "%" PRIu64
	    " faults failed", sr.counters.errors);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_eio_fs_unmount(mnt, fs);
	harness_stop(&d);
}

int
main(void)
{
	harness_need_root();
	join(JOIN_SERVED);
	join(JOIN_FIRST_KILLED);
	printf("the read's first client killed: the second is served\n");
	join(JOIN_SECOND_LIES);
	printf("the second client's mapping not the region's: SIGBUS\n");
	return 0;
}

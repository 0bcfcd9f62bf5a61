/*
 * Description: two clients of one file that fault the same window while
 * its read is out are served by that one read: the daemon reads the
 * window once, not once a client. The file lives on tests/eio-fs in hang
 * mode, so that the first client's read waits until the second client's
 * fault has come; then the disk is mended, and both clients get the
 * file's bytes. Again with the first client killed while its read is
 * out, its session closed: the second, which waits for that read, still
 * gets the file's bytes once the disk is mended.
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

/*
 * A client that maps the file (while the disk still answers), then, told
 * by a byte on go, touches one page of the hung range; exits 0 if right.
 */
static pid_t
client(const char *sock, const char *path, int *go)
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

/* Wait (up to 10 s) until the daemon has taken n faults. */
static void
wait_faults(const char *sock, uint64_t n, struct pd_stats_reply *sr)
{
	int i;

	for (i = 0; i < 1000; i++) {
		harness_control_stats(sock, sr);
		if (sr->counters.faults >= n)
			return;
		harness_sleep_ms(10);
	}
	harness_fail(__FILE__, __LINE__, "%" PRIu64 " faults came, expected %"
	    PRIu64, sr->counters.faults, n);
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
 * Two clients fault one window while its read hangs; with kill_first,
 * the first, whose fault started the read, is killed before the disk is
 * mended.
 */
static void
join(int kill_first)
{
	struct pd_stats_reply sr;
	struct harness_daemon d;
	char mnt[512], path[600];
	pid_t fs, a, b;
	int go_a, go_b;

	/* One worker: both sessions on it. */
	harness_start(&d, "-w", "1", NULL);
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_fs(mnt, SIZE, SEED, BAD_OFF, BAD_LEN);
	snprintf(path, sizeof path, "%s/data", mnt);

	a = client(d.sock, path, &go_a);
	b = client(d.sock, path, &go_b);
	CHECK(write(go_a, "g", 1) == 1);
	wait_faults(d.sock, 1, &sr);
	CHECK(write(go_b, "g", 1) == 1);
	wait_faults(d.sock, 2, &sr);
	printf("two faults of one window while its read hangs: %" PRIu64
	    " reads\n", sr.counters.reads);
	CHECKF(sr.counters.reads == 1, "%" PRIu64 " reads of the window, "
	    "expected one", sr.counters.reads);

	if (kill_first) {
		kill(a, SIGKILL);
		CHECK(harness_wait(a) != 0);
		wait_closed(&d, a);
	}
	kill(fs, SIGUSR1);	/* mended */
	CHECKF(kill_first || harness_wait(a) == 0, "the first client was not "
	    "served");
	CHECKF(harness_wait(b) == 0, "the second client was not served");
	harness_control_stats(d.sock, &sr);
	CHECKF(sr.counters.reads == 1, "%" PRIu64 " reads after the disk was "
	    "mended, expected one", sr.counters.reads);
	CHECKF(sr.counters.errors == 0, "%" PRIu64 " faults failed",
	    sr.counters.errors);
	harness_eio_fs_unmount(mnt, fs);
	harness_stop(&d);
}

int
main(void)
{
	harness_need_root();
	join(0);
	join(1);
	printf("the read's first client killed: the second is served\n");
	return 0;
}

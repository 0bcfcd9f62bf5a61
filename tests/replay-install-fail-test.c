/*
 * Description: a working-set replay whose installs can never succeed
 * gives up, and the client's fault there ends with SIGBUS. A first run
 * records NRANGES pages of a file far apart (a replay read each). The
 * file lives on tests/eio-fs in hang mode: for the second run the disk
 * hangs, so that the replay's first reads (REPLAY_DEPTH of them) are
 * out when the client, behind the daemon's back, puts anonymous memory
 * where the page cache's mapping was (harness_swap_anon) and touches a
 * recorded page. Then the disk is mended: the replay's first install
 * fails (UFFDIO_CONTINUE: EINVAL), and the replay stops there, says so
 * once, and reads no more of its plan (before, it read all of it, each
 * install failing); the touch ends with SIGBUS, not a hang or zeros, and
 * the daemon does not spin (its CPU time from /proc).
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "replay-common.h"

#define SEED 0x5eed1a57ull
#define PAGE 4096u
/* Pages apart: more than a fault's window and a replay's gap. */
#define STRIDE 64u
/* Ranges recorded: well past the replay's reads out at once (64). */
#define NRANGES 160u
#define SIZE ((size_t)STRIDE * NRANGES * PAGE)
#define REPLAY_DEPTH 64u

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_once;

static void
on_bus(int sig)
{
	(void)sig;
	/* A second report of the same fault's failure changes nothing. */
	if (bus_once++ == 0)
		siglongjmp(bus_jmp, 1);
}

/* The first run: every STRIDE-th page touched, and right. */
static void
record(const struct harness_daemon *d, const char *path)
{
	struct pagerd *pd;
	const char *p;
	uint64_t i;
	pid_t pid;

	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		alarm(60);
		p = harness_map_cached(&pd, d->sock, path, SIZE, PROT_READ);
		for (i = 0; i < NRANGES; i++)
			harness_check_range(p + i * STRIDE * PAGE, i * STRIDE *
			    PAGE, PAGE, SEED, SIZE);
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "the recording run failed");
	harness_wait_idle(d->sock);
}

/*
 * The second run, as a liar: maps the file (its replay starts, and
 * hangs), swaps its memory, says 't' on up, touches a recorded page and
 * says 'b' when SIGBUS ends the touch ('z' if it was served), then waits
 * for a word on down before it exits.
 */
static pid_t
liar(const struct harness_daemon *d, const char *path, int *up, int *down)
{
	int u[2], w[2];
	struct sigaction sa;
	struct pagerd *pd;
	volatile char *p;
	pid_t pid;
	char c;

	CHECK(pipe(u) == 0 && pipe(w) == 0);
	fflush(NULL);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		close(u[0]);
		close(w[1]);
		alarm(60);
		p = harness_map_cached(&pd, d->sock, path, SIZE, PROT_READ);
		harness_swap_anon(p, SIZE);
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_bus;
		CHECK(sigaction(SIGBUS, &sa, NULL) == 0);
		CHECK(write(u[1], "t", 1) == 1);
		if (sigsetjmp(bus_jmp, 1) == 0) {
			c = p[(NRANGES / 2) * STRIDE * PAGE];
			CHECK(write(u[1], "z", 1) == 1);
			_exit(c == 0 ? 4 : 5);
		}
		CHECK(write(u[1], "b", 1) == 1);
		(void)read(w[0], &c, 1);
		_exit(0);
	}
	close(u[1]);
	close(w[0]);
	*up = u[0];
	*down = w[1];
	return pid;
}

int
main(void)
{
	struct pd_stats_reply before, after;
	struct replay_entry e[2];
	struct harness_daemon d;
	char mnt[512], path[600], c;
	double t0, c0;
	int up, down, fd, i, n;
	uint64_t reads;
	pid_t fs, pid;

	harness_need_root();
	harness_start_conf(&d, "cache-linger 0\n");
	replay_need_cache(&d);
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_fs(mnt, SIZE, SEED, 0, SIZE);
	snprintf(path, sizeof path, "%s/data", mnt);
	kill(fs, SIGUSR1);	/* mended, for the first run */

	record(&d, path);
	n = replay_ask(d.sock, NULL, 0, 0, NULL, e, 2);
	CHECKF(n == 1, "%d recordings after the first run, expected 1", n);
	printf("recorded %" PRIu64 " pages of %u touched\n", e[0].pages,
	    NRANGES);
	/* The kernel's copy of the file goes too: the replay must read. */
	fd = harness_open_cold(&d, path);
	close(fd);
	kill(fs, SIGUSR2);	/* hangs */

	harness_control_stats(d.sock, &before);
	pid = liar(&d, path, &up, &down);
	CHECKF(read(up, &c, 1) == 1 && c == 't', "the second run could not "
	    "map the file");
	t0 = harness_now_s();
	c0 = harness_cpu_s(d.pid);
	kill(fs, SIGUSR1);	/* mended */
	CHECKF(read(up, &c, 1) == 1, "the liar ended with status %d before "
	    "its touch was answered", harness_wait(pid));
	CHECKF(c == 'b', "the liar's touch was served: never, its memory is "
	    "not the region's");
	for (i = 0; i < 1000 && !harness_log_has(&d, "replay stopped"); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, "replay stopped"), "no line says that the "
	    "replay stopped");
	harness_expect_calm(&d, t0, c0, "since the disk was mended");
	harness_control_stats(d.sock, &after);
	reads = after.counters.reads - before.counters.reads;
	printf("the touch ended with SIGBUS; %" PRIu64 " reads of %u "
	    "ranges\n", reads, NRANGES);
	/* The replay's reads out, and the touch's own. */
	CHECKF(reads <= REPLAY_DEPTH + 2, "%" PRIu64 " reads for %u recorded "
	    "ranges: the replay did not stop at its first failed install",
	    reads, NRANGES);
	CHECKF(harness_log_count(&d, "replay stopped") == 1, "%d lines say "
	    "the replay stopped, expected one", harness_log_count(&d,
	    "replay stopped"));
	CHECK(write(down, "x", 1) == 1);
	CHECKF(harness_wait(pid) == 0, "the liar did not exit cleanly");
	harness_wait_idle(d.sock);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_eio_fs_unmount(mnt, fs);
	harness_stop(&d);
	printf("a replay whose installs cannot succeed stops\n");
	return 0;
}

/*
 * Description: a backing file truncated under a mapped region never turns
 * into zeros: touching a page that was inside the file when mapped but is
 * now past its end kills the toucher with SIGBUS; pages still in the file
 * read right, pages past the original end read zeros, and the daemon
 * counts the poisoned page.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed0007ull
#define PAGE 4096u

/* Maps 16 pages of file in a 32-page region, truncates, and touches. */
static void
client(const char *sock, const char *path, int ready)
{
	volatile unsigned char *p;
	struct pagerd_stats st;
	struct pagerd *pd;
	unsigned char v;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, 32 * PAGE, PROT_READ, 0,
	    (void **)&p) == 0, "map: %s", pagerd_errmsg());
	CHECK(ftruncate(fd, 4 * PAGE) == 0);

	/* Still in the file. */
	harness_check_range((const void *)(p + 2 * PAGE), 2 * PAGE, PAGE,
	    SEED, UINT64_MAX);
	/* Past the end the file had when mapped: zeros, no signal. */
	harness_check_range((const void *)(p + 20 * PAGE), 20 * PAGE, PAGE,
	    SEED, 16 * PAGE);
	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	CHECK(st.pages_poisoned == 0);

	/* Page 8 was promised and is gone: this must raise SIGBUS. */
	CHECK(write(ready, "r", 1) == 1);
	v = p[8 * PAGE];
	fprintf(stderr, "FAIL: page 8 read 0x%02x instead of raising "
	    "SIGBUS\n", v);
	exit(3);
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	char path[512], c;
	int pfd[2], status;
	pid_t pid;

	harness_start(&d, "--readahead", "1", NULL);
	harness_make_file(&d, "data", 16 * PAGE, SEED, path, sizeof path);
	CHECK(pipe(pfd) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(pfd[0]);
		signal(SIGBUS, SIG_DFL);
		client(d.sock, path, pfd[1]);
	}
	close(pfd[1]);
	status = harness_wait(pid);
	CHECKF(read(pfd[0], &c, 1) == 1, "the client failed before the "
	    "touch (status %d)", status);
	CHECKF(status == 128 + SIGBUS, "the client ended with status %d, "
	    "expected death by SIGBUS (%d)", status, 128 + SIGBUS);
	harness_wait_idle(d.sock);
	harness_control_stats(d.sock, &sr);
	CHECKF(sr.counters.pages_poisoned >= 1, "the daemon poisoned %llu "
	    "pages", (unsigned long long)sr.counters.pages_poisoned);
	harness_stop(&d);
	unlink(path);
	printf("truncated file: SIGBUS, not zeros\n");
	return 0;
}

/*
 * Description: an install that cannot succeed ends the fault with SIGBUS,
 * never a wake-up loop, and a client that lies about its memory cannot
 * flood the log with them. pagerd-ta maps a file through the shared page
 * cache, then, behind the daemon's back (unregistered first, so no unmap
 * event), puts anonymous memory registered for missing faults where the
 * page cache's mapping was, and touches it: every fault's UFFDIO_CONTINUE
 * fails with EINVAL. Each touch must end in SIGBUS (before, the daemon
 * woke the thread, which faulted again at once, for ever: the client
 * livelocked and the daemon's worker spun a whole CPU on it). For two
 * seconds the client catches the SIGBUS, drops the poisoned page and
 * touches again; the daemon's line for the failure ("UFFDIO_CONTINUE
 * at") counts against pagerd-ta's uid (uid-log-rate 2: a burst of 10,
 * then 2 a second), whose dropped lines are said to be dropped. Then it
 * touches once more without catching it, and dies of SIGBUS; the daemon
 * used little CPU over that last part (under half a CPU: a loop would
 * take a whole one).
 */
#include "config.h"

#include <sys/mman.h>

#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define PAGES 16
#define RATE 2
#define FLOOD_MS 2000

static struct harness_daemon d;
static char path[512];

static sigjmp_buf bus_jmp;

static void
on_bus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/*
 * As pagerd-ta: the swap described above, a word on fd, the flood (its
 * count of SIGBUS on fd), the last touch. A touch that is never answered
 * ends in SIGALRM.
 */
static void
liar(int fd)
{
	struct sigaction sa;
	struct pagerd *pd;
	size_t len = PAGES * 4096;
	volatile unsigned char *p;
	volatile unsigned int bus = 0, i = 0;
	double end;

	harness_become_user("pagerd-ta");
	p = harness_map_cached(&pd, d.sock, path, len, PROT_READ);
	harness_swap_anon(p, len);
	CHECK(write(fd, "t", 1) == 1);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_bus;
	CHECK(sigaction(SIGBUS, &sa, NULL) == 0);
	alarm(FLOOD_MS / 1000 + 10);
	end = harness_now_s() + FLOOD_MS / 1000.0;
	while (harness_now_s() < end) {
		if (sigsetjmp(bus_jmp, 1) == 0) {
			(void)p[(size_t)(i % PAGES) * 4096];
			/* Served: never, it is not the region's memory. */
			_exit(4);
		}
		bus++;
		/* The poison goes: the page's next touch faults again. */
		CHECK(madvise((void *)(uintptr_t)(p + (size_t)(i % PAGES) *
		    4096), 4096, MADV_DONTNEED) == 0);
		i++;
	}
	CHECK(write(fd, (const void *)&bus, sizeof bus) == sizeof bus);
	signal(SIGBUS, SIG_DFL);
	(void)p[0];
	_exit(3);
}

int
main(void)
{
	char text[128];
	int up[2], status;
	double t0, t1, secs, c0;
	unsigned int bus;
	ssize_t n;
	pid_t pid;
	uid_t ta;
	char c;

	ta = harness_test_user("pagerd-ta");
	snprintf(text, sizeof text, "uid-log-rate %d\n", RATE);
	harness_start_conf(&d, text);
	harness_make_file(&d, "data", PAGES * 4096, 0x5eed, path, sizeof path);
	CHECK(pipe(up) == 0);
	/* From before the first fault to the count: the rate's span. */
	t0 = harness_now_s();
	c0 = harness_cpu_s(d.pid);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(up[0]);
		liar(up[1]);
	}
	CHECK(pid > 0);
	close(up[1]);
	if (read(up[0], &c, 1) != 1)
		exit(harness_wait(pid) == 77 ? 77 : 1);
	/* The flood's count, when its SIGBUS came; nothing after SIGALRM. */
	n = read(up[0], &bus, sizeof bus);
	if (n != sizeof bus) {
		status = harness_wait(pid);
		CHECKF(0, "pagerd-ta's touch was never answered with SIGBUS "
		    "(its client ended with status %d); the daemon used "
		    "%.2f s of CPU in %.2f s", status,
		    harness_cpu_s(d.pid) - c0, harness_now_s() - t0);
	}
	printf("%u touches of the lying mapping, each ended by SIGBUS\n",
	    bus);
	CHECKF(bus > 20, "only %u SIGBUS in %d ms of touches", bus, FLOOD_MS);
	/* The last touch, and a second with the client dead. */
	t1 = harness_now_s();
	c0 = harness_cpu_s(d.pid);
	status = harness_wait(pid);
	CHECKF(status == 128 + SIGBUS, "pagerd-ta's client ended with "
	    "status %d, not killed by SIGBUS (%d) on its last touch", status,
	    128 + SIGBUS);
	harness_expect_calm(&d, t1, c0, "after the flood");
	secs = harness_now_s() - t0;
	harness_log_within_rate(&d, "UFFDIO_CONTINUE at", ta, RATE, secs);
	CHECKF(harness_log_has(&d, "Invalid argument: the client's mapping "
	    "there is not the region's; poisoned with SIGBUS"), "no line says "
	    "why the fault ended with SIGBUS");
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("failing installs: SIGBUS, within the uid's log rate\n");
	return 0;
}

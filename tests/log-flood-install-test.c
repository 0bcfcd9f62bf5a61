/*
 * Description: a client that lies about its memory cannot flood the log
 * with failed installs. pagerd-ta maps a file through the shared page
 * cache, then, behind the daemon's back (unregistered first, so no unmap
 * event), puts anonymous memory registered for missing faults where the
 * page cache's mapping was, and touches it: every fault's UFFDIO_CONTINUE
 * fails with EINVAL and the thread faults again. Over two seconds of
 * that, the daemon's line for the failure ("UFFDIO_CONTINUE at") counts
 * against pagerd-ta's uid (uid-log-rate 2: a burst of 10, then 2 a
 * second), whose dropped lines are said to be dropped.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "uffd.h"

#define PAGES 16
#define RATE 2
#define FLOOD_MS 2000

static struct harness_daemon d;
static char path[512];

/* The process's userfaultfd (libpagerd's), found by its link. */
static int
find_uffd(void)
{
	char link[300], target[64];
	struct dirent *e;
	int fd = -1;
	ssize_t n;
	DIR *dir;

	CHECK((dir = opendir("/proc/self/fd")) != NULL);
	while (fd == -1 && (e = readdir(dir)) != NULL) {
		snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
		if ((n = readlink(link, target, sizeof target - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:[userfaultfd]") == 0)
			fd = atoi(e->d_name);
	}
	closedir(dir);
	CHECKF(fd != -1, "no userfaultfd among the client's descriptors");
	return fd;
}

/* As pagerd-ta: the swap described above, a word on fd, the touch. */
static void
liar(int fd)
{
	struct uffdio_register reg;
	struct uffdio_range range;
	struct pagerd *pd;
	size_t len = PAGES * 4096;
	volatile unsigned char *p;
	int uffd;

	harness_become_user("pagerd-ta");
	p = harness_map_cached(&pd, d.sock, path, len, PROT_READ);
	uffd = find_uffd();
	range.start = (uint64_t)(uintptr_t)p;
	range.len = len;
	CHECKF(ioctl(uffd, UFFDIO_UNREGISTER, &range) == 0,
	    "UFFDIO_UNREGISTER");
	CHECK(mmap((void *)(uintptr_t)p, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p);
	memset(&reg, 0, sizeof reg);
	reg.range = range;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	CHECKF(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0, "UFFDIO_REGISTER");
	CHECK(write(fd, "t", 1) == 1);
	/* Never served: killed by the test. */
	(void)p[0];
	_exit(3);
}

int
main(void)
{
	char text[128];
	int up[2], status;
	double t0, secs;
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
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(up[0]);
		liar(up[1]);
	}
	CHECK(pid > 0);
	close(up[1]);
	if (read(up[0], &c, 1) != 1)
		exit(harness_wait(pid) == 77 ? 77 : 1);
	harness_sleep_ms(FLOOD_MS);
	CHECK(kill(pid, SIGKILL) == 0);
	status = harness_wait(pid);
	CHECKF(status == 128 + SIGKILL, "pagerd-ta's client ended with "
	    "status %d, not killed while faulting", status);
	/* The lines of faults still in the daemon when it was killed. */
	harness_sleep_ms(200);
	secs = harness_now_s() - t0;
	harness_log_within_rate(&d, "UFFDIO_CONTINUE at", ta, RATE, secs);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("failing installs: within the uid's log rate\n");
	return 0;
}

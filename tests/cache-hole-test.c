/*
 * Description: a client that punches a hole in the page cache it maps
 * (it holds a writable descriptor of the memfd) gets the file's bytes
 * again on its next touch of those pages, which the daemon reads in
 * anew: it does not map the missing pages again and again (before, every
 * fault failed UFFDIO_CONTINUE and came back, a busy loop of the worker
 * and the log).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eedc0deull
#define SIZE (1u << 20)
#define HOLE (64u << 10)

/* The descriptor of the file mapped at addr (its page cache), or -1. */
static int
mapped_fd(const void *addr)
{
	unsigned long long start, end, ino = 0;
	char line[512], path[300];
	struct dirent *e;
	struct stat st;
	FILE *f;
	DIR *d;
	int fd = -1;

	CHECK((f = fopen("/proc/self/maps", "re")) != NULL);
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%llx-%llx %*s %*s %*s %llu", &start, &end,
		    &ino) == 3 && start == (uintptr_t)addr)
			break;
	fclose(f);
	CHECK((d = opendir("/proc/self/fd")) != NULL);
	while (ino != 0 && fd == -1 && (e = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		if (e->d_name[0] != '.' && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode) && st.st_ino == ino)
			fd = atoi(e->d_name);
	}
	closedir(d);
	return fd;
}

static void
timeout(int sig)
{
	(void)sig;
	harness_fail(__FILE__, __LINE__, "the punched pages were not served "
	    "in 20 s");
}

int
main(void)
{
	struct harness_daemon d;
	struct pagerd_stats before, after;
	struct pagerd *pd;
	char path[512];
	void *p;
	int mfd;

	harness_need_root();
	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	CHECKF((mfd = mapped_fd(p)) != -1, "no descriptor of the page cache "
	    "mapped at %p", p);

	CHECKF(fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
	    HOLE) == 0, "punching the page cache: %s", strerror(errno));
	CHECK(pagerd_stats(pd, &before) == 0);
	signal(SIGALRM, timeout);
	alarm(20);	/* the old daemon never served these pages again */
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	alarm(0);
	CHECK(pagerd_stats(pd, &after) == 0);
	printf("%" PRIu64 " faults after the hole\n", after.faults -
	    before.faults);
	CHECKF(after.faults - before.faults <= 2 * HOLE / 4096, "%" PRIu64
	    " faults for %u pages", after.faults - before.faults, HOLE / 4096);
	CHECKF(harness_log_count(&d, "UFFDIO_CONTINUE") == 0, "the daemon "
	    "logged failed UFFDIO_CONTINUEs");
	pagerd_close(pd);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	return 0;
}

/*
 * Description: a page-out of a write-back region whose writes the kernel
 * tracks (WP_ASYNC) that cannot write a captured window back loses
 * nothing. Under cache-max-mib 8, every page of a 48 MiB region is
 * written while its file is immutable (chattr +i: the daemon's writes
 * fail with EPERM): the captured window goes back into the memfd, dirty,
 * the log says its pages are kept, and every page still reads what was
 * written; once the file is writable again, pagerd_sync() writes it all.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "writeback-harness.h"

#define SEED 0x1f2e3d4cull
#define SIZE (48ull << 20)

static struct harness_daemon d;
static size_t page;
static uint32_t last[SIZE / 4096];	/* 1: written */

static uint64_t
stamp(uint64_t pg, uint32_t k)
{
	return harness_word(pg * page, SEED) ^ ((uint64_t)k << 40) ^ 0xfa11;
}

/* chattr flag (+i, -i) on path: 0, or -1 where it cannot be set. */
static int
chattr(const char *flag, const char *path)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		execlp("chattr", "chattr", flag, path, (char *)NULL);
		_exit(127);
	}
	CHECK(pid != -1);
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The file, writable again at exit (a failed check included). */
static char file[512];

static void
writable(void)
{
	if (access(file, F_OK) == 0)
		chattr("-i", file);
}

/* Does the daemon's log hold s? */
static int
logged(const char *s)
{
	char line[1024];
	FILE *f;
	int found = 0;

	CHECK((f = fopen(d.log, "r")) != NULL);
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

int
main(void)
{
	struct pagerd *pd;
	unsigned char *region;
	char path[512];
	uint64_t pg, j, w;
	int64_t bad;
	int fd;
	char b;

	page = (size_t)sysconf(_SC_PAGESIZE);
	CHECK(page == 4096);
	harness_start_conf(&d, "cache-max-mib 8\n");
	region = harness_map_writeback_async(&d, SIZE, SEED, &pd, &fd, path,
	    sizeof path);
	harness_writeback_stamps(last, stamp, SEED, page);
	snprintf(file, sizeof file, "%s", path);
	if (chattr("+i", path) != 0)
		harness_skip("chattr +i %s failed (not root, or a file system "
		    "without the flag)", path);
	atexit(writable);
	CHECK(pread(fd, &b, 1, 0) == 1);
	if (pwrite(fd, &b, 1, 0) != -1)
		harness_skip("an immutable file is still writable here");

	for (pg = 0; pg < SIZE / page; pg++) {
		w = stamp(pg, 1);
		for (j = 0; j < page; j += 8)
			memcpy(region + pg * page + j, &w, 8);
		last[pg] = 1;
	}
	CHECK(chattr("-i", path) == 0);
	for (pg = 0; pg < SIZE / page; pg++) {
		bad = harness_writeback_stamped(region + pg * page, pg * page,
		    page);
		CHECKF(bad == -1, "the region reads wrong at 0x%" PRIx64
		    " after a failed page-out", (uint64_t)bad);
	}
	CHECKF(logged("writing its pages back: Operation not permitted; its "
	    "pages are kept"), "no page-out failed to write a window back "
	    "(%s)", d.log);
	harness_writeback_end(&d, pd, region, fd, path, SIZE,
	    harness_writeback_stamped);
	return 0;
}

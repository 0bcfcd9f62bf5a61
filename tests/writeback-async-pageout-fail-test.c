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

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "writeback-harness.h"

#define SEED 0x1f2e3d4cull
#define SIZE (48ull << 20)
#define PAGE 4096u

static struct harness_writeback w;
static uint32_t last[SIZE / PAGE];	/* 1: written */

static uint64_t
stamp(uint64_t pg, uint32_t k)
{
	return harness_word(pg * PAGE, SEED) ^ ((uint64_t)k << 40) ^ 0xfa11;
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

int
main(void)
{
	uint64_t pg;
	char b;

	harness_writeback_start(&w, "cache-max-mib 8\n", SIZE, SEED, 1);
	harness_writeback_stamps(last, stamp, SEED);
	snprintf(file, sizeof file, "%s", w.path);
	if (chattr("+i", w.path) != 0)
		harness_skip("chattr +i %s failed (not root, or a file system "
		    "without the flag)", w.path);
	atexit(writable);
	CHECK(pread(w.fd, &b, 1, 0) == 1);
	if (pwrite(w.fd, &b, 1, 0) != -1)
		harness_skip("an immutable file is still writable here");

	for (pg = 0; pg < SIZE / PAGE; pg++) {
		harness_writeback_fill(&w, pg, stamp(pg, 1));
		last[pg] = 1;
	}
	CHECK(chattr("-i", w.path) == 0);
	harness_writeback_check_stamps(&w, "after a failed page-out");
	CHECKF(harness_log_has(&w.d, "writing its pages back: Operation not "
	    "permitted; its pages are kept"), "no page-out failed to write a "
	    "window back (%s)", w.d.log);
	harness_writeback_end(&w, harness_writeback_stamped);
	return 0;
}

/*
 * Description: a fault in a piece of a region that a munmap cut off, away
 * from the piece's start, is served when the shared page cache holds the
 * block around it whole. That block is aligned on the piece's start, which
 * is not 2 MiB aligned, and may cross a 2 MiB boundary before the faulting
 * page; the window was cut at that boundary (huge-page caches), left the
 * page out, was mapped without it, and the fault slept for ever (events-test
 * hung so about once in 50 runs). Where the cache has no huge pages the
 * window is never cut there, and the test passes on old code too.
 */
#include "config.h"

#include <sys/mman.h>

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5b11d0c5ull
#define SIZE (8u << 20)
#define PAGE 4096u
/*
 * The hole cut out of the second mapping: the piece after it starts at
 * page 150, its 1 MiB blocks at 150, 406, 662, ...: page 520's block
 * crosses the 2 MiB boundary at page 512 before it.
 */
#define HOLE_FIRST 100u
#define HOLE_PAGES 50u
#define FAULT_PAGE 520u

/*
 * The fault sleeps in the kernel, the signal interrupts it: harness_fail
 * (which stops the daemon and shows its log) interrupts no stdio nor
 * malloc of this thread.
 */
static void
split_window_timeout(int sig)
{
	(void)sig;
	harness_fail(__FILE__, __LINE__, "a fault of page %u in the piece a "
	    "munmap cut off was not served in 20 s", FAULT_PAGE);
}

int
main(void)
{
	struct harness_daemon d;
	struct pagerd *pd, *pd2;
	unsigned char *warm, *p;
	char path[512];
	uint64_t w;

	harness_start(&d, NULL);
	harness_make_file(&d, "file", SIZE, SEED, path, sizeof path);
	/* The whole file in the shared cache, through a first mapping. */
	warm = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);
	harness_check_range(warm, 0, SIZE, SEED, UINT64_MAX);

	/*
	 * A second mapping of it, in a session of its own (no recording to
	 * replay yet: the first is open), never touched before the munmap.
	 */
	p = harness_map_cached(&pd2, d.sock, path, SIZE, PROT_READ);
	if ((uintptr_t)p % (2u << 20) != 0)
		harness_skip("the mapping at %p is not 2 MiB aligned: its "
		    "windows are not cut at 2 MiB boundaries", (void *)p);
	CHECK(munmap(p + HOLE_FIRST * PAGE, HOLE_PAGES * PAGE) == 0);

	signal(SIGALRM, split_window_timeout);
	alarm(20);
	memcpy(&w, p + FAULT_PAGE * PAGE + 8, sizeof w);
	alarm(0);
	CHECKF(w == harness_word(FAULT_PAGE * PAGE + 8, SEED), "page %u: "
	    "0x%" PRIx64 ", want 0x%" PRIx64, FAULT_PAGE, w,
	    harness_word(FAULT_PAGE * PAGE + 8, SEED));
	harness_check_range(p + (HOLE_FIRST + HOLE_PAGES) * PAGE,
	    (HOLE_FIRST + HOLE_PAGES) * PAGE, SIZE - (HOLE_FIRST + HOLE_PAGES) *
	    PAGE, SEED, UINT64_MAX);
	harness_check_range(p, 0, HOLE_FIRST * PAGE, SEED, UINT64_MAX);
	printf("ok: a fault past a 2 MiB boundary in a piece cut off by a "
	    "munmap is served\n");
	pagerd_close(pd2);
	pagerd_close(pd);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	return 0;
}

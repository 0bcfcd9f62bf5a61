/*
 * Description: one INVALIDATE does not hide a process's later writes
 * outside the shim. A client reads a file through the page cache; another
 * process says once that it wrote the file (INVALIDATE, with the file
 * open for writing), then, 7 s later (past the 5 s the daemon takes its
 * events for the shim's), writes the file directly: fanotify's event is
 * news again, so the reader sees the new bytes and the log names the
 * writer. (The old code took that pid for a shim writer of the file for
 * good: its direct writes were ignored and readers kept the old bytes.)
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed1a1eull
#define SIZE (1u << 20)
#define PAGE 4096

int
main(void)
{
	struct harness_daemon d;
	struct pagerd *pd;
	unsigned char page[PAGE];
	char path[512], who[64], c;
	volatile unsigned char *p;
	int up[2], down[2], wfd, i;
	pid_t pid;

	harness_start(&d, NULL);
	if (!harness_log_has(&d, "watched with fanotify"))
		harness_skip("the daemon watches files with inotify, which does "
		    "not name the writer");
	harness_make_file(&d, "file", SIZE, SEED, path, sizeof path);
	p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);
	harness_check_range((const void *)p, 0, SIZE, SEED, SIZE);

	CHECK(pipe(up) == 0 && pipe(down) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		CHECK((wfd = open(path, O_RDWR | O_CLOEXEC)) != -1);
		CHECK(harness_raw_invalidate(d.sock, wfd, 0, PAGE) == 0);
		CHECK(write(up[1], "i", 1) == 1);
		CHECK(read(down[0], &c, 1) == 1);
		harness_sleep_ms(7000);
		memset(page, 0xa5, sizeof page);
		CHECK(pwrite(wfd, page, sizeof page, 0) == PAGE);
		close(wfd);
		_exit(0);
	}
	CHECK(pid != -1);
	/* The page the INVALIDATE dropped, in the cache again: the old bytes. */
	CHECK(read(up[0], &c, 1) == 1);
	harness_check_range((const void *)p, 0, PAGE, SEED, SIZE);
	CHECK(write(down[1], "w", 1) == 1);
	CHECKF(harness_wait(pid) == 0, "the writer failed");

	for (i = 0; i < 1000 && p[0] != 0xa5; i++)
		harness_sleep_ms(10);
	CHECKF(p[0] == 0xa5 && p[PAGE - 1] == 0xa5, "the reader keeps the old "
	    "bytes of a page written outside the shim by a process that had "
	    "sent an INVALIDATE 7 s before");
	/* Named a second after its event, unless it proves a shim writer. */
	snprintf(who, sizeof who, "was written by pid %d (", (int)pid);
	for (i = 0; i < 500 && !harness_log_has(&d, who); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, who), "no log line says the file %s... "
	    "outside the shim", who);
	harness_check_range((const void *)(p + PAGE), PAGE, SIZE - PAGE, SEED,
	    SIZE);
	pagerd_close(pd);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("a write outside the shim, 7 s after the writer's INVALIDATE, "
	    "reaches the readers\n");
	return 0;
}

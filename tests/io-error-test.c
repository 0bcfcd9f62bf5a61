/*
 * Description: a backing file truncated under a mapped region never turns
 * into zeros: touching a page that was inside the file when mapped but is
 * now past its end kills the toucher with SIGBUS; pages still in the file
 * read right, pages past the original end read zeros, and the daemon
 * counts the poisoned page. The same for a sequential scan, whose windows
 * are read ahead into the page cache and come back short: the scan reads
 * the file to its new end, then dies of SIGBUS on the next page. Where the
 * daemon fills page caches by splice, a splice that comes back short is
 * read again the usual way (the daemon's log says so).
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

#define STREAM_SIZE (32u << 20)
#define STREAM_END ((5u << 20) + 100)	/* the file's size after truncation */

/* Scans a truncated file from the start; the page after its end kills. */
static void
streamer(const char *sock, const char *path, int ready)
{
	volatile unsigned char *p;
	struct pagerd *pd;
	unsigned char v;
	uint64_t off;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, STREAM_SIZE, PROT_READ, 0,
	    (void **)&p) == 0, "map: %s", pagerd_errmsg());
	CHECK(ftruncate(fd, STREAM_END) == 0);
	for (off = 0; off < STREAM_END; off += PAGE)
		harness_check_range((const void *)(p + off), off, PAGE, SEED,
		    STREAM_END);
	CHECK(write(ready, "r", 1) == 1);
	v = p[off];
	fprintf(stderr, "FAIL: the page after the end read 0x%02x instead "
	    "of raising SIGBUS\n", v);
	exit(3);
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	char path[512], path2[512];

	/* -v twice: debug lines say how the page cache was filled. */
	harness_start(&d, "--readahead", "1", "-v", NULL);
	harness_make_file(&d, "data", 16 * PAGE, SEED, path, sizeof path);
	harness_make_file(&d, "stream", STREAM_SIZE, SEED, path2,
	    sizeof path2);
	harness_expect_sigbus(client, d.sock, path);
	harness_expect_sigbus(streamer, d.sock, path2);
	harness_wait_idle(d.sock);
	harness_control_stats(d.sock, &sr);
	CHECKF(sr.counters.pages_poisoned >= 1, "the daemon poisoned %llu "
	    "pages", (unsigned long long)sr.counters.pages_poisoned);
	/*
	 * Where caches fill by splice, the scan's windows past the new end
	 * came up short and were read again, as a read reports the end;
	 * unless they were read with O_DIRECT (pages past the end are in no
	 * page cache: cold), whose short read the SIGBUS above shows.
	 */
	CHECKF(!harness_log_has(&d, "fill by splice") ||
	    harness_log_has(&d, "cold windows are read with O_DIRECT") ||
	    harness_log_has(&d, "reading it instead"), "no splice into the "
	    "page cache came up short at the file's new end");
	harness_stop(&d);
	unlink(path);
	unlink(path2);
	printf("truncated file: SIGBUS, not zeros, also for a scan read "
	    "ahead\n");
	return 0;
}

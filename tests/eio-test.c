/*
 * Description: a backing file on a failing disk never turns into zeros.
 * The file lives on a FUSE file system (tests/eio-fs) whose reads of two
 * pages in its middle fail with EIO. Through pagerd, in copy mode and
 * through the shared page cache, random touches and a sequential scan
 * read every good page right, including those sharing a read window with
 * the bad ones, and so does a copy-on-write region written beside them;
 * a touch of a bad page, read or write, kills the toucher with SIGBUS; the
 * daemon's log gives the cause (an I/O error, not an end of file it did
 * not see), counts the poisoned pages, and it serves on. Where caches
 * fill by splice, the scan's splice over the bad pages fails and the
 * window is read instead.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed000eull
#define PAGE 4096u
#define SIZE (16u << 20)
#define BAD_OFF ((9u << 20) + 5 * PAGE)	/* inside a read window */
#define BAD_LEN (2 * PAGE)

static volatile unsigned char *
map_data_as(const char *sock, const char *path, int prot, unsigned int flags)
{
	volatile unsigned char *p;
	struct pagerd *pd;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, prot, flags, (void **)&p) ==
	    0, "map: %s", pagerd_errmsg());
	return p;
}

static volatile const unsigned char *
map_data(const char *sock, const char *path)
{
	return map_data_as(sock, path, PROT_READ, 0);
}

static void
check_page(volatile const unsigned char *p, uint64_t off)
{
	harness_check_range((const void *)(p + off), off, PAGE, SEED, SIZE);
}

/* Say all was right so far, then touch a bad page: it must kill. */
static void __attribute__((noreturn))
touch_bad(volatile const unsigned char *p, uint64_t off, int ready)
{
	unsigned char v;

	CHECK(write(ready, "r", 1) == 1);
	v = p[off];
	fprintf(stderr, "FAIL: a page the disk could not read read 0x%02x "
	    "instead of raising SIGBUS\n", v);
	exit(3);
}

/* Random touches around the bad pages, copied in; then the first one. */
static void
copier(const char *sock, const char *path, int ready)
{
	volatile const unsigned char *p;

	setenv("PAGERD_NO_CACHE", "1", 1);
	p = map_data(sock, path);
	check_page(p, BAD_OFF + BAD_LEN + 3 * PAGE);
	check_page(p, BAD_OFF - PAGE);
	check_page(p, BAD_OFF + BAD_LEN);
	check_page(p, 0);
	touch_bad(p, BAD_OFF, ready);
}

/* A scan through the page cache, read ahead, up to the first bad page. */
static void
scanner(const char *sock, const char *path, int ready)
{
	volatile const unsigned char *p;
	uint64_t off;

	p = map_data(sock, path);
	for (off = 0; off < BAD_OFF; off += PAGE)
		check_page(p, off);
	touch_bad(p, off, ready);
}

/* Straight at the second bad page, through the page cache. */
static void
prober(const char *sock, const char *path, int ready)
{
	volatile const unsigned char *p;

	p = map_data(sock, path);
	touch_bad(p, BAD_OFF + PAGE, ready);
}

/*
 * Copy-on-write: a write to a good page beside the bad ones keeps the
 * page's other bytes; a write to a bad one, which must start from its
 * bytes, kills.
 */
static void
writer(const char *sock, const char *path, int ready)
{
	volatile unsigned char *p;
	uint64_t off = BAD_OFF + BAD_LEN;

	p = map_data_as(sock, path, PROT_READ | PROT_WRITE, PAGERD_MAP_COW);
	p[off] = (unsigned char)~harness_word(off, SEED);
	check_page(p, off + PAGE);
	harness_check_range((const void *)(p + off + 1), off + 1, PAGE - 1,
	    SEED, SIZE);
	CHECK(write(ready, "r", 1) == 1);
	p[BAD_OFF] = 1;
	fprintf(stderr, "FAIL: a write to a page the disk could not read "
	    "went through instead of raising SIGBUS\n");
	exit(3);
}

/* After all that, the rest of the file reads right. */
static void
reader(const char *sock, const char *path)
{
	volatile const unsigned char *p;
	uint64_t off;

	p = map_data(sock, path);
	for (off = BAD_OFF + BAD_LEN; off < SIZE; off += PAGE)
		check_page(p, off);
	exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	char mnt[300], path[320];
	pid_t fs, pid;

	harness_need_root();
	/* -v twice: debug lines say how the page cache was filled. */
	harness_start(&d, "-v", NULL);
	snprintf(mnt, sizeof mnt, "%s/eio", d.dir);
	snprintf(path, sizeof path, "%s/data", mnt);
	fs = harness_eio_fs(mnt, SIZE, SEED, BAD_OFF, BAD_LEN);

	harness_expect_sigbus(copier, d.sock, path);
	harness_expect_sigbus(scanner, d.sock, path);
	/*
	 * Windows fill by splice and by read in turn, and which of the two
	 * met the bad pages depends on how the first scan's read-ahead ran.
	 * A second scan finds the good pages cached: its first fill is the
	 * window with the bad pages, and a first fill is a splice.
	 */
	harness_expect_sigbus(scanner, d.sock, path);
	harness_expect_sigbus(prober, d.sock, path);
	harness_expect_sigbus(writer, d.sock, path);
	fflush(NULL);
	if ((pid = fork()) == 0)
		reader(d.sock, path);
	CHECKF(harness_wait(pid) == 0, "a client reading past the bad pages "
	    "failed");

	harness_wait_idle(d.sock);
	harness_control_stats(d.sock, &sr);
	CHECKF(sr.counters.pages_poisoned >= 4, "the daemon poisoned %llu "
	    "pages, expected one per touch of a bad page",
	    (unsigned long long)sr.counters.pages_poisoned);
	CHECKF(harness_log_has(&d, "Input/output error"), "the daemon's log "
	    "does not give the I/O error as the cause");
	CHECKF(!harness_log_has(&d, "the backing file ends at"), "the "
	    "daemon's log blames an end of file for an I/O error");
	/*
	 * Where caches fill by splice, the scan's splice over the bad pages
	 * came up short and was read again.
	 */
	CHECKF(!harness_log_has(&d, "fill by splice") ||
	    harness_log_has(&d, "reading it instead"), "no splice into the "
	    "page cache came up short at the bad pages");
	CHECK(harness_alive(&d));
	harness_eio_fs_unmount(mnt, fs);
	harness_stop(&d);
	printf("disk errors: SIGBUS and the cause, not zeros, in copy mode, "
	    "through the page cache, in a scan read ahead and under "
	    "copy-on-write\n");
	return 0;
}

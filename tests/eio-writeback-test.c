/*
 * Description: a write-back that fails loses nothing. A write-back region
 * lives on a FUSE file system (tests/eio-fs) whose disk fails: its fsync
 * fails, and so do writes to two bad pages, until the test mends it.
 * - pages written back whose fsync then fails: pagerd_sync() says EIO,
 *   and once the disk is mended the next pagerd_sync() writes them again
 *   (they are not known to be on the disk);
 * - a write-back where one write fails: the pages whose writes went
 *   through are written again too, with the one that failed, since no
 *   fsync ever covered them;
 * - afterwards the file holds every byte the client wrote;
 * - a snapshot of a copy-on-write region whose unread pages include the
 *   bad ones fails with EIO, never writing zeros for them into the image;
 *   once the disk mends, a snapshot has the file's every byte;
 * - a client that exits with written pages while the disk fails: the
 *   daemon holds the only copy, says so (and counts the pages in the
 *   totals SIGUSR1 logs), tries again, and once the disk mends the file
 *   has the pages;
 * - the same, and the daemon is stopped before the disk mends: it makes a
 *   last try, logs the pages as lost, and exits cleanly;
 * - the same with writeback-hold-mib 0: the pages are logged as lost at
 *   once, none held.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed000full
#define PAGE 4096u
#define SIZE (16u << 20)
#define BAD_OFF ((9u << 20) + 5 * PAGE)
#define BAD_LEN (2 * PAGE)
#define BAD_PAGE 70	/* the region's first bad page: mid-snapshot-chunk */
#define REGION_OFF (BAD_OFF - BAD_PAGE * PAGE)
#define REGION_SIZE (1u << 20)

static uint64_t
pages_written(struct pagerd *pd)
{
	struct pagerd_stats st;

	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	return st.pages_written;
}

/* Write page i of the region with a byte of its own. */
static void
scribble(unsigned char *p, unsigned int i, unsigned char round)
{
	memset(p + (size_t)i * PAGE, (int)(round * 16 + i % 16), PAGE);
}

/* Sync, expecting want; then the daemon's count of pages written. */
static void
sync_expect(struct pagerd *pd, void *p, int want, uint64_t written,
    const char *when)
{
	int error = pagerd_sync(pd, p);

	CHECKF(error == want, "%s: pagerd_sync() returned %d (%s), expected "
	    "%d", when, error, error < 0 ? strerror(-error) : "ok", want);
	CHECKF(pages_written(pd) == written, "%s: %llu pages written in all, "
	    "expected %llu", when, (unsigned long long)pages_written(pd),
	    (unsigned long long)written);
}

/* A new connection's write-back region over the bad pages. */
static unsigned char *
map_writeback(const char *sock, const char *path, struct pagerd **pdp)
{
	unsigned char *p;
	int fd;

	CHECKF(pagerd_connect(sock, pdp) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF((fd = open(path, O_RDWR | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pagerd_map_file(*pdp, fd, REGION_OFF, REGION_SIZE, PROT_READ |
	    PROT_WRITE, PAGERD_MAP_WRITEBACK, (void **)&p) == 0, "map: %s",
	    pagerd_errmsg());
	return p;
}

static void
client(const char *sock, const char *path, pid_t fs)
{
	unsigned char *p, page[PAGE];
	struct pagerd *pd;
	unsigned int i;
	int fd;

	p = map_writeback(sock, path, &pd);

	/* Eight pages written back, then the fsync fails. */
	for (i = 0; i < 8; i++)
		scribble(p, i, 1);
	sync_expect(pd, p, -EIO, 0, "failing fsync");
	CHECK(kill(fs, SIGUSR1) == 0);
	sync_expect(pd, p, 0, 8, "after the disk mended");

	/*
	 * Four good pages and a bad one, which must be read in while the
	 * disk is good (a write to a page starts from its bytes): its write
	 * fails.
	 */
	CHECK(p[BAD_PAGE * PAGE] == (unsigned char)harness_word(REGION_OFF +
	    BAD_PAGE * PAGE, SEED));
	CHECK(kill(fs, SIGUSR2) == 0);
	for (i = 10; i < 14; i++)
		scribble(p, i, 2);
	scribble(p, BAD_PAGE, 2);
	sync_expect(pd, p, -EIO, 8, "failing write");
	CHECK(kill(fs, SIGUSR1) == 0);
	sync_expect(pd, p, 0, 8 + 5, "after the disk mended again");

	/* The file has what memory has, bad pages included. */
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	for (i = 0; i < REGION_SIZE / PAGE; i++) {
		CHECK(pread(fd, page, PAGE, REGION_OFF + (off_t)i * PAGE) ==
		    PAGE);
		CHECKF(memcmp(page, p + (size_t)i * PAGE, PAGE) == 0, "page "
		    "%u of the region differs between memory and the file", i);
	}
	close(fd);
	CHECK(pagerd_unmap(pd, p) == 0);
	pagerd_close(pd);
	exit(0);
}

/* Snapshots of a region none of whose pages were read yet. */
static void
snapshotter(const char *sock, const char *path, const char *image, pid_t fs)
{
	unsigned char *p, page[PAGE], want[PAGE];
	struct pagerd *pd;
	int fd, img, error;
	unsigned int i;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pagerd_map_file(pd, fd, REGION_OFF, REGION_SIZE, PROT_READ |
	    PROT_WRITE, PAGERD_MAP_COW, (void **)&p) == 0, "map: %s",
	    pagerd_errmsg());
	CHECKF((img = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1, "create %s: %s", image, strerror(errno));
	CHECK(kill(fs, SIGUSR2) == 0);
	error = pagerd_snapshot(pd, p, img);
	CHECKF(error == -EIO, "a snapshot over unreadable pages returned %d "
	    "(%s), expected EIO", error, error < 0 ? strerror(-error) : "ok");
	CHECK(kill(fs, SIGUSR1) == 0);
	error = pagerd_snapshot(pd, p, img);
	CHECKF(error == 0, "a snapshot after the disk mended: %s",
	    strerror(-error));
	for (i = 0; i < REGION_SIZE / PAGE; i++) {
		CHECK(pread(img, page, PAGE, (off_t)i * PAGE) == PAGE);
		CHECK(pread(fd, want, PAGE, REGION_OFF + (off_t)i * PAGE) ==
		    PAGE);
		CHECKF(memcmp(page, want, PAGE) == 0, "page %u of the image "
		    "differs from the file", i);
	}
	close(img);
	pagerd_close(pd);
	exit(0);
}

/*
 * Writes a page of its own into the bad page and eight others, breaks the
 * disk and exits without a sync: the daemon's write-back at the end fails.
 */
static void
leaver(const char *sock, const char *path, pid_t fs, unsigned char round)
{
	unsigned char *p;
	struct pagerd *pd;
	unsigned int i;

	p = map_writeback(sock, path, &pd);
	(void)*(volatile unsigned char *)(p + BAD_PAGE * PAGE);
	CHECK(kill(fs, SIGUSR2) == 0);
	for (i = 20; i < 28; i++)
		scribble(p, i, round);
	scribble(p, BAD_PAGE, round);
	_exit(0);
}

/* Waits up to 10 s for n lines of the daemon's log to have text. */
static int
log_waits_for(const struct harness_daemon *d, const char *text, int n)
{
	int i;

	for (i = 0; i < 1000 && harness_log_count(d, text) < n; i++)
		harness_sleep_ms(10);
	return harness_log_count(d, text) >= n;
}

/* Does the file's bad page hold what leaver(round) wrote there? */
static int
bad_page_written(const char *path, unsigned char round)
{
	unsigned char page[PAGE];
	int fd, ok;

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	ok = pread(fd, page, PAGE, REGION_OFF + BAD_PAGE * PAGE) == PAGE &&
	    page[0] == (unsigned char)(round * 16 + BAD_PAGE % 16);
	close(fd);
	return ok;
}

int
main(void)
{
	struct harness_daemon d, d2;
	char mnt[300], path[320], image[320], conf[320];
	pid_t fs, pid;
	int keep_log;
	FILE *f;

	harness_need_root();
	harness_start(&d, NULL);
	snprintf(mnt, sizeof mnt, "%s/eio", d.dir);
	snprintf(path, sizeof path, "%s/data", mnt);
	fs = harness_eio_fs(mnt, SIZE, SEED, BAD_OFF, BAD_LEN);
	fflush(NULL);
	if ((pid = fork()) == 0)
		client(d.sock, path, fs);
	CHECKF(harness_wait(pid) == 0, "the write-back client failed");
	snprintf(image, sizeof image, "%s/image", d.dir);
	fflush(NULL);
	if ((pid = fork()) == 0)
		snapshotter(d.sock, path, image, fs);
	CHECKF(harness_wait(pid) == 0, "the snapshot client failed");
	CHECKF(harness_log_has(&d, "write-back of region 1: Input/output "
	    "error"), "the daemon's log does not give the write-back's I/O "
	    "error");
	CHECK(harness_alive(&d));

	/* A client gone with its writes while the disk fails. */
	fflush(NULL);
	if ((pid = fork()) == 0)
		leaver(d.sock, path, fs, 3);
	CHECKF(harness_wait(pid) == 0, "the leaving client failed");
	CHECKF(log_waits_for(&d, "dirty pages exist only in the daemon now: "
	    "trying again in 1 s", 1), "the daemon did not say it keeps a "
	    "gone client's pages to try again");
	CHECK(kill(d.pid, SIGUSR1) == 0);
	CHECKF(log_waits_for(&d, " 9 pages of gone clients waiting to be "
	    "written back", 1), "the daemon's totals (SIGUSR1) do not count "
	    "the pages waiting");
	CHECK(kill(fs, SIGUSR1) == 0);
	CHECKF(log_waits_for(&d, "pages written back at try", 1), "the "
	    "daemon did not write a gone client's pages back once the disk "
	    "mended");
	CHECK(kill(d.pid, SIGUSR1) == 0);
	CHECKF(log_waits_for(&d, " 0 pages of gone clients waiting to be "
	    "written back", 1), "the daemon's totals (SIGUSR1) still count "
	    "pages written back");
	CHECKF(bad_page_written(path, 3), "the file lacks a gone client's "
	    "page after its write-back was tried again");

	/* The same, and the daemon stops while the disk still fails. */
	fflush(NULL);
	if ((pid = fork()) == 0)
		leaver(d.sock, path, fs, 4);
	CHECKF(harness_wait(pid) == 0, "the second leaving client failed");
	CHECKF(log_waits_for(&d, "exist only in the daemon now: trying "
	    "again", 2), "the daemon did not plan to try the second gone "
	    "client's write-back again");
	keep_log = getenv("PAGERD_TEST_KEEP_LOG") != NULL;
	setenv("PAGERD_TEST_KEEP_LOG", "1", 1);
	harness_stop(&d);
	CHECKF(harness_log_has(&d, "written pages of its gone client are "
	    "lost"), "a daemon stopping with pages it could not write back "
	    "did not say they are lost");
	CHECKF(!bad_page_written(path, 4), "a page the disk refused reached "
	    "the file");
	/* Only this stop keeps its log, unless the caller asked for all. */
	if (!keep_log)
		unsetenv("PAGERD_TEST_KEEP_LOG");

	/* A daemon that may hold nothing for retries says so at once. */
	snprintf(conf, sizeof conf, "%s/hold-none.conf", d.dir);
	CHECK((f = fopen(conf, "we")) != NULL);
	fprintf(f, "writeback-hold-mib 0\n");
	CHECK(fclose(f) == 0);
	CHECK(kill(fs, SIGUSR1) == 0);
	harness_start(&d2, "-f", conf, NULL);
	fflush(NULL);
	if ((pid = fork()) == 0)
		leaver(d2.sock, path, fs, 5);
	CHECKF(harness_wait(pid) == 0, "the third leaving client failed");
	CHECKF(log_waits_for(&d2, "are lost (more would wait to be written "
	    "back than writeback-hold-mib allows)", 1), "a daemon with "
	    "writeback-hold-mib 0 did not give up a gone client's pages at "
	    "once");
	CHECKF(!harness_log_has(&d2, "trying again"), "a daemon with "
	    "writeback-hold-mib 0 kept pages to try again");
	harness_stop(&d2);
	harness_eio_fs_unmount(mnt, fs);
	if (!keep_log)
		harness_remove_tree(d.dir);
	printf("failed write-backs and snapshots: EIO to the client, every "
	    "page written again once the disk mends, no zeros; a gone "
	    "client's pages tried again until they land\n");
	return 0;
}

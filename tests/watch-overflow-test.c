/*
 * Description: an overflow of the watch thread's inotify queue, which any
 * user can cause with two FUSE files written in turn, drops only the
 * files watched through inotify from their caches, not every cached file
 * of every user. The daemon starts with an inotify queue of one event
 * (fs.inotify.max_queued_events, restored at once: the kernel reads it
 * when the queue is made). One client caches F, a file on the test's
 * directory (fanotify watches it, by file handle), and A and B, the files
 * of two tests/eio-fs mounts (FUSE: no fsid, so inotify watches them).
 * A and B are written in turn until the daemon says that inotify's queue
 * overflowed: F's pages must stay in its cache, and the client must then
 * read A's and B's new bytes.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define F_SEED 0x0ff00000ull
#define A_SEED 0x0aa00000ull
#define B_SEED 0x0bb00000ull
#define F_SIZE (4u << 20)
#define FS_SIZE (64u << 10)
#define PAGE 4096u
#define NEW 0x5a
#define QUEUED "/proc/sys/fs/inotify/max_queued_events"
#define OVERFLOW_LINE "event queue overflowed"

static char queued_was[32];

static void
queued_set(const char *value)
{
	FILE *f;

	if ((f = fopen(QUEUED, "w")) == NULL)
		return;
	fputs(value, f);
	fclose(f);
}

static void
queued_restore(void)
{
	if (queued_was[0] != '\0')
		queued_set(queued_was);
	queued_was[0] = '\0';
}

/* Until told, then the new bytes of A and B: a client of all three. */
static void
client_start(struct harness_hold *h, const char *sock, const char *f,
    const char *a, const char *b)
{
	volatile const unsigned char *pa, *pb;
	const unsigned char *pf;
	struct pagerd *pd;
	int i, status;

	if (harness_hold_start(h) == 0) {
		alarm(60);
		pf = harness_map_cached(&pd, sock, f, F_SIZE, PROT_READ);
		harness_check_range(pf, 0, F_SIZE, F_SEED, F_SIZE);
		pa = harness_map_cached(&pd, sock, a, FS_SIZE, PROT_READ);
		harness_check_range((const void *)pa, 0, FS_SIZE, A_SEED,
		    FS_SIZE);
		pb = harness_map_cached(&pd, sock, b, FS_SIZE, PROT_READ);
		harness_check_range((const void *)pb, 0, FS_SIZE, B_SEED,
		    FS_SIZE);
		harness_hold_ready(h);	/* returns when told */
		for (i = 0; i < 1000 && (pa[0] != NEW || pb[0] != NEW); i++)
			harness_sleep_ms(10);
		CHECKF(pa[0] == NEW && pb[0] == NEW, "the client keeps the "
		    "old bytes of a FUSE file after its events were lost "
		    "(A: %#x, B: %#x)", pa[0], pb[0]);
		harness_check_range(pf, 0, F_SIZE, F_SEED, F_SIZE);
		_exit(0);
	}
	status = harness_hold_wait(h);
	if (status == 77)
		harness_skip("no shared page cache");
	CHECKF(status == 0, "the client failed to start (status %d)", status);
}

int
main(void)
{
	char f[512], ma[512], mb[512], a[600], b[600];
	unsigned char page[PAGE];
	struct pd_stats_reply sr;
	struct harness_daemon d;
	struct harness_hold h;
	int i, pairs, wa, wb, status;
	pid_t fsa, fsb;
	FILE *q;

	harness_need_root();
	CHECKF((q = fopen(QUEUED, "r")) != NULL, "%s: %s", QUEUED,
	    strerror(errno));
	CHECK(fgets(queued_was, sizeof queued_was, q) != NULL);
	fclose(q);
	atexit(queued_restore);
	queued_set("1");
	harness_start(&d, NULL);
	queued_restore();
	if (!harness_log_has(&d, "whose events name them by file handle"))
		harness_skip("no fanotify with file handles (Linux 5.1, and "
		    "CAP_SYS_ADMIN): inotify would watch every file");

	harness_make_file(&d, "f", F_SIZE, F_SEED, f, sizeof f);
	snprintf(ma, sizeof ma, "%s/ma", d.dir);
	snprintf(mb, sizeof mb, "%s/mb", d.dir);
	fsa = harness_eio_fs(ma, FS_SIZE, A_SEED, 0, 0);
	fsb = harness_eio_fs(mb, FS_SIZE, B_SEED, 0, 0);
	snprintf(a, sizeof a, "%s/data", ma);
	snprintf(b, sizeof b, "%s/data", mb);
	client_start(&h, d.sock, f, a, b);
	harness_wait_caches(d.sock, 3, "F, A and B mapped");

	CHECKF((wa = open(a, O_WRONLY | O_CLOEXEC)) != -1, "open %s: %s", a,
	    strerror(errno));
	CHECKF((wb = open(b, O_WRONLY | O_CLOEXEC)) != -1, "open %s: %s", b,
	    strerror(errno));
	memset(page, NEW, sizeof page);
	for (i = 0; i < 20000 && !harness_log_has(&d, OVERFLOW_LINE); i++) {
		CHECKF(pwrite(wa, page, PAGE, 0) == PAGE, "write A: %s",
		    strerror(errno));
		CHECKF(pwrite(wb, page, PAGE, 0) == PAGE, "write B: %s",
		    strerror(errno));
	}
	close(wa);
	close(wb);
	CHECKF(harness_log_has(&d, OVERFLOW_LINE), "inotify's queue of one "
	    "event never overflowed in %d pairs of writes", i);

	/*
	 * What a cache holds is counted from its file's blocks on the
	 * daemon's tick (a second): a drop of F shows within three.
	 */
	pairs = i;
	for (i = 0; i < 300; i++) {
		harness_control_stats(d.sock, &sr);
		CHECKF(sr.cache_held >= F_SIZE, "F was dropped from its cache "
		    "when inotify's queue overflowed: %" PRIu64 " bytes "
		    "cached, F alone is %u", sr.cache_held, F_SIZE);
		harness_sleep_ms(10);
	}
	status = harness_hold_end(&h);
	CHECKF(status == 0, "the client ended with status %d", status);

	harness_eio_fs_unmount(ma, fsa);
	harness_eio_fs_unmount(mb, fsb);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("PASS: an inotify overflow dropped only the files inotify "
	    "watches (after %d pairs of writes)\n", pairs);
	return 0;
}

/*
 * Description: a file whose cached pages a hung read holds keeps no other
 * user's file stale. Root's client faults on a page of F1, a file on
 * tests/eio-fs whose read of that page hangs (hang-read mode: the file
 * system serves writes meanwhile), so that the fill holds the page's
 * window of F1's cache. F1 is then written outside the shim, and so is
 * F2, which a client of another user (pagerd-tb) reads through its page
 * cache. The daemon's watch thread must not wait for F1's window before
 * it reads F2's event: F2's client sees the new bytes while F1's read
 * still hangs, before F1's drop would give up (20 s). (The thread used to
 * wait for F1's window, for up to 20 s, and F2's client kept the old
 * bytes meanwhile.) Once the disk is mended, F1's client reads the bytes
 * written to F1's held window.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define F1_SEED 0x4e1d0000ull
#define F2_SEED 0x4e2d0000ull
#define F1_SIZE (8u << 20)
#define F2_SIZE (1u << 20)
#define PAGE 4096u
/* Both in the cache window of 2 MiB at 4 MiB: the hung read holds it. */
#define WRITE_OFF (4u << 20)
#define BAD_OFF ((5u << 20) + (512u << 10))
#define NEW 0xa5
#define GAVE_UP "held some of its cached pages for"

/* Wait up to 10 s for the page at p to read NEW: 1 if it does. */
static int
sees_new(volatile const unsigned char *p)
{
	int i;

	for (i = 0; i < 1000 && (p[0] != NEW || p[PAGE - 1] != NEW); i++)
		harness_sleep_ms(10);
	return p[0] == NEW && p[PAGE - 1] == NEW;
}

/* A page of NEW at off, by a plain write(2): outside the shim. */
static void
write_page(int fd, off_t off, const char *what)
{
	unsigned char page[PAGE];

	memset(page, NEW, sizeof page);
	CHECKF(pwrite(fd, page, PAGE, off) == PAGE, "write %s: %s", what,
	    strerror(errno));
	close(fd);
}

struct hung_arg {
	const char *sock;
	const char *path;
};

/* F1's client: its fault on the bad page hangs until the disk is mended. */
static void
hung_client(void *arg, int up)
{
	const struct hung_arg *a = arg;
	volatile const unsigned char *p;
	struct pagerd *pd;

	alarm(60);
	p = harness_map_cached(&pd, a->sock, a->path, F1_SIZE, PROT_READ);
	CHECK(write(up, "u", 1) == 1);
	harness_check_range((const void *)(p + BAD_OFF), BAD_OFF, PAGE,
	    F1_SEED, F1_SIZE);
	CHECKF(sees_new(p + WRITE_OFF), "F1's client keeps the old bytes of "
	    "a page written outside the shim while a read held its window");
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	struct harness_hold h;
	struct hung_arg ha;
	struct pagerd *pd;
	volatile const unsigned char *p;
	char mnt[512], f1[600], f2[512];
	uint64_t reads;
	pid_t fs, hung;
	int status, i, w1, w2;

	harness_need_root();
	harness_test_user("pagerd-tb");
	harness_start_conf(&d, "read-timeout 60\n");
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_read_fs(mnt, F1_SIZE, F1_SEED, BAD_OFF, PAGE);
	snprintf(f1, sizeof f1, "%s/data", mnt);
	harness_make_file(&d, "f2", F2_SIZE, F2_SEED, f2, sizeof f2);

	/* F2's client, of another user, has read all of F2. */
	if (harness_hold_start(&h) == 0) {
		harness_become_user("pagerd-tb");
		alarm(60);
		p = harness_map_cached(&pd, d.sock, f2, F2_SIZE, PROT_READ);
		harness_check_range((const void *)p, 0, F2_SIZE, F2_SEED,
		    F2_SIZE);
		harness_hold_ready(&h);
		CHECKF(sees_new(p), "F2's client keeps the old bytes of a page "
		    "written outside the shim while another file's read hung");
		_exit(0);
	}
	if ((status = harness_hold_wait(&h)) == 77)
		harness_skip("no shared page cache for pagerd-tb");
	CHECKF(status == 0, "F2's client failed to start (status %d)", status);

	/*
	 * Opened before the read hangs: FUSE's open drops the file's kernel
	 * page cache, and waits for the pages the read has locked.
	 */
	CHECKF((w1 = open(f1, O_WRONLY | O_CLOEXEC)) != -1, "open %s: %s", f1,
	    strerror(errno));
	CHECKF((w2 = open(f2, O_WRONLY | O_CLOEXEC)) != -1, "open %s: %s", f2,
	    strerror(errno));

	/* F1's client: its fill holds the window once its read is counted. */
	harness_control_stats(d.sock, &sr);
	reads = sr.counters.reads;
	ha.sock = d.sock;
	ha.path = f1;
	hung = harness_started(hung_client, &ha, "F1's client failed to start");
	for (i = 0; i < 500 && sr.counters.reads == reads; i++) {
		harness_sleep_ms(10);
		harness_control_stats(d.sock, &sr);
	}
	CHECKF(sr.counters.reads > reads, "F1's client's fault read nothing");
	harness_wait_caches(d.sock, 2, "F1 and F2 mapped");

	write_page(w1, WRITE_OFF, "F1");
	write_page(w2, 0, "F2");
	status = harness_hold_end(&h);
	CHECKF(status == 0, "F2's client ended with status %d: the watch "
	    "thread waited for F1's held window before F2's event", status);
	/* What was seen, was seen while F1 was held and its drop pending. */
	CHECKF(waitpid(hung, &status, WNOHANG) == 0, "F1's client ended "
	    "before its disk was mended");
	CHECKF(!harness_log_has(&d, GAVE_UP), "F1's drop gave up before F2's "
	    "client saw its new bytes");

	/* Mended: the read ends, and F1's held window is dropped after it. */
	kill(fs, SIGUSR1);
	CHECKF(harness_wait(hung) == 0, "F1's client failed once its disk "
	    "was mended");
	harness_eio_fs_unmount(mnt, fs);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("PASS: a file held by a hung read kept no other file stale\n");
	return 0;
}

/*
 * Description: the daemon's watch thread opens no file to learn which one
 * was written, so that a FUSE file system whose opens hang keeps no other
 * user's file stale. Root's client caches F1, the file of tests/eio-fs in
 * hang-open mode: once it is written, every open of it waits until the
 * file system is mended. F1 is written outside the shim, which queues an
 * event for it, and so is F2, a file on the test's directory which a
 * client of another user (pagerd-tb) reads through its page cache: F2's
 * client must see the new bytes while F1's opens still hang, and its
 * writer is named (its event named F2 by file handle); so must F1's
 * client. (With event descriptors, the kernel opened F1 for its event
 * inside the watch thread's read(2), which waited there until the file
 * system was mended, and F2's client kept the old bytes meanwhile.)
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

#define F1_SEED 0x0f1d0000ull
#define F2_SEED 0x0f2d0000ull
#define F1_SIZE (1u << 20)
#define F2_SIZE (1u << 20)
#define PAGE 4096u
#define NEW 0x5a
#define WRITER_LINE "f2, which clients map through pagerd, was written by pid"

/* A page of NEW at offset 0, by a plain write(2): outside the shim. */
static void
write_page(int fd, const char *what)
{
	unsigned char page[PAGE];

	memset(page, NEW, sizeof page);
	CHECKF(pwrite(fd, page, PAGE, 0) == PAGE, "write %s: %s", what,
	    strerror(errno));
	close(fd);
}

/*
 * A client of user (or root, if NULL) that reads all of path cached, then,
 * once told, waits for its first page to read NEW.
 */
static void
client_start(struct harness_hold *h, const char *user, const char *sock,
    const char *path, size_t size, uint64_t seed)
{
	volatile const unsigned char *p;
	struct pagerd *pd;
	int i, status;

	if (harness_hold_start(h) == 0) {
		if (user != NULL)
			harness_become_user(user);
		alarm(60);
		p = harness_map_cached(&pd, sock, path, size, PROT_READ);
		harness_check_range((const void *)p, 0, size, seed, size);
		harness_hold_ready(h);
		for (i = 0; i < 1000 && (p[0] != NEW || p[PAGE - 1] != NEW);
		    i++)
			harness_sleep_ms(10);
		CHECKF(p[0] == NEW && p[PAGE - 1] == NEW, "%s's client keeps "
		    "the old bytes of a page written outside the shim while "
		    "F1's opens hung", path);
		_exit(0);
	}
	if ((status = harness_hold_wait(h)) == 77)
		harness_skip("no shared page cache for %s", user != NULL ?
		    user : "root");
	CHECKF(status == 0, "%s's client failed to start (status %d)", path,
	    status);
}

int
main(void)
{
	struct harness_hold h1, h2;
	struct harness_daemon d;
	char mnt[512], f1[600], f2[512];
	int i, status, w1, w2;
	pid_t fs;

	harness_need_root();
	harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	if (!harness_log_has(&d, "whose events name them by file handle"))
		harness_skip("no fanotify with file handles (Linux 5.1, and "
		    "CAP_SYS_ADMIN): its events would open the written file");
	harness_make_file(&d, "f2", F2_SIZE, F2_SEED, f2, sizeof f2);
	client_start(&h2, "pagerd-tb", d.sock, f2, F2_SIZE, F2_SEED);
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_open_fs(mnt, F1_SIZE, F1_SEED);
	snprintf(f1, sizeof f1, "%s/data", mnt);
	client_start(&h1, NULL, d.sock, f1, F1_SIZE, F1_SEED);
	harness_wait_caches(d.sock, 2, "F1 and F2 mapped");

	/* Opened before F1's write, after which its opens hang. */
	CHECKF((w1 = open(f1, O_WRONLY | O_CLOEXEC)) != -1, "open %s: %s", f1,
	    strerror(errno));
	CHECKF((w2 = open(f2, O_WRONLY | O_CLOEXEC)) != -1, "open %s: %s", f2,
	    strerror(errno));
	write_page(w1, "F1");
	write_page(w2, "F2");
	status = harness_hold_end(&h2);
	CHECKF(status == 0, "F2's client ended with status %d: the watch "
	    "thread waited for an open of F1 before F2's event", status);
	CHECKF(waitpid(fs, &status, WNOHANG) == 0, "eio-fs ended before it "
	    "was mended");
	/* F2's event named it by handle, and its writer by pid. */
	for (i = 0; i < 500 && !harness_log_has(&d, WRITER_LINE); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, WRITER_LINE), "F2's writer not named: "
	    "its event did not name F2 by its file handle");

	/* F1 itself is watched, and read again, without an open. */
	status = harness_hold_end(&h1);
	CHECKF(status == 0, "F1's client ended with status %d", status);

	/* Mended: nothing waits for an open of F1 now. */
	kill(fs, SIGUSR1);
	harness_eio_fs_unmount(mnt, fs);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("PASS: a file whose opens hang kept no other file stale\n");
	return 0;
}

/*
 * Description: a file whose opens hang freezes no other user's client
 * through its working-set recording. A client of pagerd-ta maps, through
 * its page cache, a file of tests/eio-fs in hang-open mode after writing
 * it, so that every new open of it waits (as on a FUSE server of its own,
 * or a network file system gone dead); its own descriptor is open. The
 * daemon, with one worker, records its faults: it must not open the file
 * again for that (to see whether the file is cold), nor for a replay,
 * where its opens may hang. A client of root then connects, maps a file
 * and reads it, served by that worker. (The worker used to open the file
 * again, after its reply to the map, and wait in that open until the disk
 * was mended: root's client waited with it.) Once the disk is mended, the
 * attacker's client reads its pages.
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

#define HUNG_SEED 0x4e3d0000ull
#define ROOT_SEED 0x4e4d0000ull
#define SIZE (1u << 20)
#define PAGE 4096u

struct attack_arg {
	const char *sock;
	const char *path;
	int mended;		/* read end: the disk is mended */
};

/* pagerd-ta's client: its file's opens hang from its write on. */
static void
attacker(void *arg, int up)
{
	const struct attack_arg *a = arg;
	volatile const unsigned char *p;
	unsigned char page[PAGE];
	struct pagerd *pd;
	void *v;
	char c;
	int fd;

	harness_become_user("pagerd-ta");
	alarm(120);
	CHECKF(pagerd_connect(a->sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	CHECKF((fd = open(a->path, O_RDWR | O_CLOEXEC)) != -1, "open %s: %s",
	    a->path, strerror(errno));
	/* The same bytes written back: every open after this one hangs. */
	CHECK(pread(fd, page, PAGE, 0) == PAGE);
	CHECK(pwrite(fd, page, PAGE, 0) == PAGE);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &v) == 0,
	    "map: %s", pagerd_errmsg());
	close(fd);
	CHECK(write(up, "u", 1) == 1);
	CHECK(read(a->mended, &c, 1) == 1);
	p = v;
	harness_check_range((const void *)p, 0, SIZE, HUNG_SEED, SIZE);
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon d;
	struct attack_arg a;
	struct pagerd *pd;
	const void *p;
	char mnt[512], hung[600], mine[512];
	pid_t fs, ta, root;
	int mend[2], status;

	harness_need_root();
	harness_test_user("pagerd-ta");
	harness_start(&d, "--workers", "1", NULL);
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_open_fs(mnt, SIZE, HUNG_SEED);
	snprintf(hung, sizeof hung, "%s/data", mnt);
	harness_make_file(&d, "root.dat", SIZE, ROOT_SEED, mine, sizeof mine);

	CHECK(pipe(mend) == 0);
	a.sock = d.sock;
	a.path = hung;
	a.mended = mend[0];
	ta = harness_started(attacker, &a, "pagerd-ta's client failed to "
	    "start");
	close(mend[0]);

	/* Root's client, on the one worker, bounded: a hang fails it. */
	fflush(NULL);
	CHECKF((root = fork()) != -1, "fork: %s", strerror(errno));
	if (root == 0) {
		alarm(30);
		p = harness_map_cached(&pd, d.sock, mine, SIZE, PROT_READ);
		harness_check_range(p, 0, SIZE, ROOT_SEED, SIZE);
		pagerd_close(pd);
		_exit(0);
	}
	status = harness_wait(root);
	if (status == 77)
		harness_skip("no shared page cache");
	CHECKF(status == 0, "root's client ended with status %d while another "
	    "user's file's opens hung: the worker waited in an open of it",
	    status);

	/* Mended: the attacker's client reads its file. */
	kill(fs, SIGUSR1);
	CHECK(write(mend[1], "m", 1) == 1);
	close(mend[1]);
	CHECKF((status = harness_wait(ta)) == 0, "pagerd-ta's client ended "
	    "with status %d once its disk was mended", status);
	harness_eio_fs_unmount(mnt, fs);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("PASS: a file whose opens hang froze no other user's client\n");
	return 0;
}

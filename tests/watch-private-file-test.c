/*
 * Description: a user's private file (mode 0600, in a 0700 directory of
 * its own) that its clients map through the daemon's page cache is
 * watched like any other, though the daemon, root without
 * CAP_DAC_OVERRIDE once it serves, could not open it: the client's
 * descriptor is what lets the daemon mark it (fanotify and inotify ask
 * for read permission on the file). A client of pagerd-tb reads the file
 * cached; the file is then written outside the shim, and the client must
 * see the new bytes, and the daemon must not say that such writes are
 * not seen. (Before, the mark failed with EACCES, the log said so, and
 * the client kept the old bytes for as long as the cache lived.)
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x0600f000ull
#define SIZE (1u << 20)
#define PAGE 4096u
#define NEW 0x6b
#define UNSEEN_LINE "writes by programs outside the shim are not seen"

int
main(void)
{
	volatile const unsigned char *p;
	char priv[512], path[600];
	unsigned char page[PAGE];
	struct harness_daemon d;
	struct harness_hold h;
	struct pagerd *pd;
	int i, fd, status;
	uid_t uid;

	harness_need_root();
	uid = harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	snprintf(priv, sizeof priv, "%s/private", d.dir);
	CHECKF(mkdir(priv, 0700) == 0, "mkdir %s: %s", priv, strerror(errno));
	harness_make_file(&d, "private/data", SIZE, SEED, path, sizeof path);
	CHECK(chown(priv, uid, uid) == 0 && chown(path, uid, uid) == 0);
	CHECK(chmod(path, 0600) == 0);

	if (harness_hold_start(&h) == 0) {
		harness_become_user("pagerd-tb");
		alarm(60);
		p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);
		harness_check_range((const void *)p, 0, SIZE, SEED, SIZE);
		harness_hold_ready(&h);	/* returns once written */
		for (i = 0; i < 1000 && (p[0] != NEW || p[PAGE - 1] != NEW);
		    i++)
			harness_sleep_ms(10);
		CHECKF(p[0] == NEW && p[PAGE - 1] == NEW, "the client keeps "
		    "the old bytes of its private file written outside the "
		    "shim (%#x)", p[0]);
		harness_check_range((const void *)(p + PAGE), PAGE,
		    SIZE - PAGE, SEED, SIZE);
		_exit(0);
	}
	if ((status = harness_hold_wait(&h)) == 77)
		harness_skip("no shared page cache for pagerd-tb");
	CHECKF(status == 0, "the client failed to start (status %d)", status);
	harness_wait_caches(d.sock, 1, "the private file mapped");
	CHECKF(!harness_log_has(&d, UNSEEN_LINE), "the daemon could not "
	    "watch a private file its client mapped");

	memset(page, NEW, sizeof page);
	CHECKF((fd = open(path, O_WRONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pwrite(fd, page, PAGE, 0) == PAGE, "write %s: %s", path,
	    strerror(errno));
	close(fd);
	status = harness_hold_end(&h);
	CHECKF(status == 0, "the client ended with status %d", status);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("PASS: a private file written outside the shim reached its "
	    "client\n");
	return 0;
}

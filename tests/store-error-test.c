/*
 * Description: a store that answers a read with an error (nbdkit's error
 * filter, switched on by a file) gets the faulting page SIGBUS, never
 * zeros, and a log line naming the store; the connection stays, and
 * pages read once the errors stop are right.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed1018ull
#define SIZE (8u << 20)

int
main(void)
{
	struct harness_daemon d;
	struct harness_daemon f;
	struct nbdkit k;
	char path[512], trigger[512], conf[1024], opt[600];
	int fd, status, i;

	nbdkit_image(&f, SIZE, SEED, path, sizeof path);
	snprintf(trigger, sizeof trigger, "%s/fail-reads", f.dir);
	snprintf(opt, sizeof opt, "error-pread-file=%s", trigger);
	nbdkit_start(&k, f.dir, "--filter=error", "file", path,
	    "error-pread=EIO", "error-pread-rate=100%", opt, NULL);
	snprintf(conf, sizeof conf, "store img %s\n", k.uri);
	harness_start_conf(&d, conf);

	status = nbdkit_touch(d.sock, "img", SIZE, 0, SEED, SIZE);
	CHECKF(status == 0, "a good read: status %d", status);
	CHECK((fd = open(trigger, O_CREAT | O_WRONLY, 0644)) != -1);
	close(fd);
	status = nbdkit_touch(d.sock, "img", SIZE, 4u << 20, SEED, SIZE);
	CHECKF(status == 128 + SIGBUS, "a read the store failed: status %d, "
	    "expected death by SIGBUS", status);
	/* The line comes right after the poison that ended the client. */
	for (i = 0; i < 500 && !harness_log_has(&d, "store img at offset");
	    i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, "(store offset 0x400000): read of store "
	    "img at offset 0x400000"), "no log line names the store and the "
	    "page");
	unlink(trigger);
	status = nbdkit_touch(d.sock, "img", SIZE, 6u << 20, SEED, SIZE);
	CHECKF(status == 0, "a read after the errors stopped: status %d",
	    status);
	nbdkit_end(&d, &k, f.dir);
	printf("a store's read error: SIGBUS and a log line, then served\n");
	return 0;
}

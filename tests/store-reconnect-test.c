/*
 * Description: a store server killed while a read is out (nbdkit's delay
 * filter holds it) and started again at once: the daemon connects again
 * and sends the read again, and the client gets the right bytes.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed2018ull
#define SIZE (8u << 20)

int
main(void)
{
	struct harness_daemon d;
	struct nbdkit k;
	char path[512], kdir[256];
	int status;
	pid_t pid;

	nbdkit_delayed_store(&d, &k, kdir, sizeof kdir, path, sizeof path,
	    SIZE, SEED, "delay-read=3");
	/* The read is at the server, which holds it for 3 s. */
	pid = nbdkit_touch_held(&d, &k, SIZE, 4u << 20, SEED);
	nbdkit_kill(&k);
	nbdkit_start(&k, kdir, "file", path, NULL);
	status = harness_wait(pid);
	CHECKF(status == 0, "the client of a read sent again: status %d",
	    status);
	CHECKF(harness_log_has(&d, "store img: worker"), "no log line of the "
	    "lost connection");
	nbdkit_end(&d, &k, kdir);
	printf("a read out when the server died: sent again, bytes right\n");
	return 0;
}

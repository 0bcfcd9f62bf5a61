/*
 * Description: a restarted daemon adopts store regions. pagerd is killed
 * (SIGKILL) while four client threads fault a store region one page at a
 * time, beside a copy-on-write store region with pages the program wrote;
 * a new daemon with the same configuration starts on the socket, the
 * client's watchdog re-attaches, naming each store again (the daemon
 * adopts their page caches after checking the user may use them), and
 * every byte of both regions is right afterwards: no SIGBUS, no zeros.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed1818ull
#define SIZE (32u << 20)
#define PAGE 4096u
#define THREADS 4

/*
 * The client, in a process of its own (the daemon is started from the
 * test's, which must not fork under a re-attach): maps both regions,
 * writes, reads from four threads, says when under way, checks.
 */
static void
client(void *sock, int started)
{
	struct harness_readers r;
	struct pagerd_stats st;
	struct pagerd *pd;
	unsigned char *cow;
	const void *region;
	uint64_t word;
	void *p;
	size_t i;

	setenv("PAGERD_REATTACH_TIMEOUT", "20000", 1);
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "img", 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	region = p;
	CHECKF(pagerd_map_store(pd, "img", 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, &p) == 0, "map copy-on-write: %s",
	    pagerd_errmsg());
	cow = p;
	harness_check_range(cow, 0, PAGE, SEED, SIZE);
	memset(cow + 8, 0x5a, 8);		/* read, then written */
	memset(cow + 100 * PAGE, 0x5a, 8);	/* only written */

	harness_readers_start(&r, region, SIZE, SEED, SIZE, THREADS, SIZE);
	harness_readers_wait(&r, 256);
	CHECK(write(started, "s", 1) == 1);
	harness_readers_end(&r);

	/* The copy-on-write region: the program's bytes, the store's rest. */
	CHECK(cow[8] == 0x5a && cow[100 * PAGE] == 0x5a);
	for (i = 0; i < SIZE; i += PAGE / 2) {
		if (i == 0 || i == 100 * PAGE) {
			word = harness_word(i + 16, SEED);
			CHECK(memcmp(cow + i + 16, &word, 8) == 0);
			continue;
		}
		harness_check_range(cow + i, i, 8, SEED, SIZE);
	}
	/* The new daemon serves this connection, both regions. */
	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	CHECKF(st.regions == 2 && st.errors == 0 && st.pages_poisoned == 0,
	    "after the restart: %u regions, %llu errors, %llu poisoned",
	    st.regions, (unsigned long long)st.errors,
	    (unsigned long long)st.pages_poisoned);
	pagerd_close(pd);
}

int
main(void)
{
	static char conf[1024];
	struct harness_daemon d, f;
	struct nbdkit k;
	char img[512], text[1024];
	int status;
	pid_t pid;

	nbdkit_image(&f, SIZE, SEED, img, sizeof img);
	/*
	 * One thread: nbdkit 1.32 aborts when a connection it is answering
	 * on several threads closes under it, as the killed daemon's does.
	 */
	nbdkit_start(&k, f.dir, "-t", "1", "file", img, NULL);
	/* A file that outlives the first daemon: the second reads it too. */
	snprintf(conf, sizeof conf, "%s/pagerd.conf", f.dir);
	snprintf(text, sizeof text, "store img %s\n", k.uri);
	nbdkit_write_file(conf, text);
	/* One page per fault: many faults are in flight at the kill. */
	harness_start(&d, "-f", conf, "--readahead", "1", NULL);

	pid = harness_started(client, d.sock, "the client failed before "
	    "faulting");
	harness_kill(&d);
	usleep(200000);
	harness_restart(&d);
	CHECKF((status = harness_wait(pid)) == 0, "the client failed across "
	    "the restart (status %d)", status);
	CHECKF(harness_log_has(&d, "re-attached with 2 regions"), "the daemon "
	    "did not log the re-attach of both regions");

	nbdkit_end(&d, &k, f.dir);
	printf("restart: both store regions right, adopted by the new "
	    "daemon\n");
	return 0;
}

/*
 * Description: one user's working-set records and replays hold at most
 * its share of the daemon's memory, however many sessions it opens. Each
 * session that maps a recorded file holds the recording (its ranges, and
 * them sorted) while it lives: pagerd-ta records 65536 ranges of a file
 * (a page of every two), then runs 48 clients of the same program on it
 * at once. With uid-max-recordings 1, its sessions may hold 8 MiB of
 * records: the daemon's heap grows by no more than that and a little for
 * each session (it used to grow by the recording for every session, over
 * 100 MiB here, and without bound with more sessions and files: a user
 * could run the daemon out of memory). The first clients replay it.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define PAGE 4096u
#define PAGES 131072u		/* 512 MiB, sparse */
#define SIZE ((size_t)PAGES * PAGE)
#define CLIENTS 48
/* The user's 8 MiB, and 512 KiB a session for the rest of it (ASan's). */
#define BOUND_KIB (8192 + CLIENTS * 512)

/* A page of every two, from the end (no stream): a range each. */
static void
recorder(void *arg)
{
	const char *sock = ((const char **)arg)[0];
	const char *path = ((const char **)arg)[1];
	volatile const unsigned char *p;
	struct pagerd *pd;
	unsigned int sum = 0;
	uint64_t i;

	p = harness_map_cached(&pd, sock, path, SIZE, PROT_READ);
	for (i = PAGES; i >= 2; i -= 2)
		sum += p[(i - 2) * PAGE];
	CHECKF(sum == 0, "a hole read %u", sum);
	pagerd_close(pd);
}

int
main(void)
{
	const char *arg[2];
	struct harness_hold h[CLIENTS];
	struct harness_daemon d;
	volatile const unsigned char *p;
	struct pagerd *pd;
	char path[512];
	long before, after;
	int i, fd, status;

	harness_need_root();
	harness_test_user("pagerd-ta");
	harness_start_conf(&d, "uid-max-recordings 1\nreadahead 1\n");
	snprintf(path, sizeof path, "%s/sparse.dat", d.dir);
	CHECK((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) !=
	    -1);
	CHECK(ftruncate(fd, (off_t)SIZE) == 0);
	close(fd);

	arg[0] = d.sock;
	arg[1] = path;
	status = harness_as_user("pagerd-ta", recorder, arg);
	if (status == 77)
		harness_skip("no shared page cache for pagerd-ta");
	CHECKF(status == 0, "the recording run ended with status %d", status);
	harness_wait_idle(d.sock);
	CHECKF(harness_log_has(&d, "recorded 65536 ranges"), "the recording "
	    "is not of 65536 ranges");

	before = harness_status_kib(d.pid, "RssAnon");
	for (i = 0; i < CLIENTS; i++) {
		if (harness_hold_start(&h[i]) != 0)
			continue;
		harness_become_user("pagerd-ta");
		alarm(120);
		p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);
		CHECK(p[0] == 0);
		harness_hold_ready(&h[i]);
		pagerd_close(pd);
		_exit(0);
	}
	for (i = 0; i < CLIENTS; i++)
		CHECKF((status = harness_hold_wait(&h[i])) == 0, "client %d "
		    "failed to start (status %d)", i, status);
	/* Each session's record is made after the reply to its map. */
	harness_sleep_ms(1000);
	after = harness_status_kib(d.pid, "RssAnon");
	printf("daemon RssAnon: %ld KiB before the %d clients, %ld with them "
	    "(+%ld, at most %d)\n", before, CLIENTS, after, after - before,
	    BOUND_KIB);
	CHECKF(after - before <= BOUND_KIB, "pagerd-ta's %d sessions grew the "
	    "daemon's heap by %ld KiB, more than its share of working-set "
	    "records (8 MiB) and 512 KiB a session", CLIENTS, after - before);
	for (i = 0; i < 3000 && !harness_log_has(&d, "replayed ahead of "
	    "faults"); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, "replayed ahead of faults"), "no client "
	    "replayed the recording");
	for (i = 0; i < CLIENTS; i++)
		CHECKF(harness_hold_end(&h[i]) == 0, "client %d failed", i);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("PASS: 48 sessions of one user held no more than its share of "
	    "working-set records\n");
	return 0;
}

/*
 * Description: a working-set recording holds the pages a fault's read
 * ahead mapped, not only the fault's own window. The file lives on
 * tests/eio-fs in hang mode, bad from page BAD on, and is cold: each
 * random fault of a first run is recorded a page alone. The client
 * (readahead 16) fills pages 16-63 by random faults, touches page 0 and
 * then page 16, where a stream starts: its window is in the cache, and
 * its read ahead, pages 48-111, goes out and hangs. Then it touches page
 * TOUCH, off the stream but within the read ahead: that fault waits for
 * the read ahead (no read of its own; it starts the next read ahead). Once the disk is mended the read
 * ahead's install maps pages 48-111, and the client touches every one
 * of them without a fault. The recording must hold at least the pages
 * touched (68); it held the faults' pages and windows only (35: a replay
 * would not bring 49-99 and 101-111 back).
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "replay-common.h"

#define SEED 0x5eedabadull
#define PAGE 4096u
#define SIZE (1u << 20)
/* The stream's read ahead, [AHEAD, AHEAD_END), and the bad range. */
#define AHEAD 48u
#define AHEAD_END 112u
#define BAD 64u
#define TOUCH 100u
/*
 * The faults up to the one that takes the read ahead, and the reads: one
 * a random fault, the read ahead, and the next one its taker starts.
 */
#define FAULTS 6u
#define READS 6u

static void
touch(const char *p, uint64_t page)
{
	harness_check_range(p + page * PAGE, page * PAGE, PAGE, SEED, SIZE);
}

/*
 * The client: maps the file (no read-ahead of the kernel's on its
 * description: the reads must stop where the daemon's do), faults as
 * described above up to the stream's start, says 'r' on up, touches
 * TOUCH and then every page of the read ahead.
 */
static pid_t
client(const char *sock, const char *path, int *up)
{
	static const uint64_t before[] = { 33, 49, 17, 0, 16 };
	struct pagerd *pd;
	const char *p;
	void *map;
	int u[2], fd;
	uint64_t i;
	pid_t pid;

	CHECK(pipe(u) == 0);
	fflush(NULL);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		close(u[0]);
		alarm(30);
		CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
		    pagerd_errmsg());
		harness_need_shared_cache(pd);
		CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "%s",
		    path);
		CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) == 0);
		CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &map) ==
		    0, "map: %s", pagerd_errmsg());
		p = map;
		for (i = 0; i < sizeof before / sizeof before[0]; i++)
			touch(p, before[i]);
		CHECK(write(u[1], "r", 1) == 1);
		touch(p, TOUCH);
		for (i = AHEAD; i < AHEAD_END; i++)
			touch(p, i);
		_exit(0);
	}
	close(u[1]);
	*up = u[0];
	return pid;
}

int
main(void)
{
	struct pd_stats_reply sr;
	struct replay_entry e[2];
	struct harness_daemon d;
	char mnt[512], path[600], c;
	uint64_t want;
	int up, n;
	pid_t fs, pid;

	harness_need_root();
	harness_start_conf(&d, "readahead 16\n");
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_fs(mnt, SIZE, SEED, BAD * PAGE, SIZE - BAD * PAGE);
	snprintf(path, sizeof path, "%s/data", mnt);

	pid = client(d.sock, path, &up);
	if (read(up, &c, 1) != 1)
		exit(harness_wait(pid) == 77 ? 77 : 1);
	harness_wait_faults(d.sock, FAULTS, &sr);
	printf("the fault at page %u came: %" PRIu64 " faults, %" PRIu64
	    " reads\n", TOUCH, sr.counters.faults, sr.counters.reads);
	CHECKF(sr.counters.reads == READS, "%" PRIu64 " reads, expected %u: "
	    "the windows are not as this test takes them (readahead 16)",
	    sr.counters.reads, READS);
	kill(fs, SIGUSR1);	/* mended */
	CHECKF(harness_wait(pid) == 0, "the client was not served");
	harness_wait_idle(d.sock);
	harness_control_stats(d.sock, &sr);
	CHECKF(sr.counters.reads == READS, "%" PRIu64 " reads: the fault at "
	    "page %u did not wait for the read ahead", sr.counters.reads,
	    TOUCH);
	CHECKF(sr.counters.faults == FAULTS, "%" PRIu64 " faults: the read "
	    "ahead's install did not map all of it", sr.counters.faults);

	n = replay_ask(d.sock, NULL, 0, 0, NULL, e, 2);
	CHECKF(n == 1, "%d recordings, expected 1", n);
	/* Pages 0, 16, 17 and 33, and the read ahead. */
	want = 4 + (AHEAD_END - AHEAD);
	printf("recorded %" PRIu64 " pages; %" PRIu64 " touched\n", e[0].pages,
	    want);
	CHECKF(e[0].pages >= want, "the recording holds %" PRIu64 " pages, "
	    "%" PRIu64 " were touched: not those the read ahead mapped",
	    e[0].pages, want);
	harness_eio_fs_unmount(mnt, fs);
	harness_stop(&d);
	return 0;
}

/*
 * A client of pagerd for replay-unmap-test: its threads fault on pages a
 * working-set replay is reading while the disk hangs, then a munmap cuts
 * the region and the disk is mended. Every thread must get its page;
 * one left asleep is the bug the test is for.
 *
 * usage: replay-unmap-prog SOCKET FILE SEED record
 *        replay-unmap-prog SOCKET FILE SEED middle|start|unread EIO-FS-PID
 * record reads the first RECORD_PAGES pages of FILE (the pattern of SEED)
 * through libpagerd, for the daemon to record. The others map it again,
 * so that the recording is replayed, fault in threads of their own on
 * pages of the replay's first read (its pages 0-255, which hang), munmap
 * pages 100-199 (middle, unread) or 0-99 (start) of the mapping once
 * each thread waits in the kernel, mend the disk (SIGUSR1 to
 * tests/eio-fs) and wait for the threads. unread also faults on a page
 * the recording lacks, whose own read hangs: with its share of reads
 * out (queue-depth 4), the daemon reads no more of the session's
 * userfaultfd, so that the munmap's event is still unread when the
 * replay read ends, and the kernel refuses its install (EAGAIN).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pagerd.h>

#define HARNESS_STANDALONE	/* see harness.h */
#include "harness.h"

#define PAGE 4096u
/* The pages the recorded run reads: the replay's plan. */
#define RECORD_PAGES 512u
/* A page past them, whose fault the daemon reads for itself. */
#define UNRECORDED 800u
/* Pages cut out: [CUT_FIRST, CUT_FIRST + CUT_PAGES), or the head. */
#define CUT_FIRST 100u
#define CUT_PAGES 100u
/* How long the threads may take once the disk is mended. */
#define WAKE_MS 10000

struct toucher {
	pthread_t t;
	uint64_t page;
	volatile pid_t tid;
	volatile int done;
	uint64_t got;
};

static volatile const uint64_t *map;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

static void *
touch(void *arg)
{
	struct toucher *tc = arg;

	tc->tid = (pid_t)syscall(SYS_gettid);
	tc->got = map[tc->page * PAGE / 8];
	tc->done = 1;
	return NULL;
}

/* /proc/self/task/TID/NAME's first line, or "". */
static void
task_read(pid_t tid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof path, "/proc/self/task/%d/%s", (int)tid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	if ((n = read(fd, buf, len - 1)) > 0)
		buf[n] = '\0';
	close(fd);
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * Is the thread asleep in the kernel's userfaultfd fault handler, parked
 * until the daemon wakes it? Its wait channel says; where the kernel
 * does not name it ("0"), a thread asleep outside any system call
 * ("-1") is in its page fault.
 */
static int
parked(pid_t tid)
{
	char buf[128], *state;

	task_read(tid, "wchan", buf, sizeof buf);
	if (strcmp(buf, "handle_userfault") == 0)
		return 1;
	if (strcmp(buf, "0") != 0 && buf[0] != '\0')
		return 0;
	task_read(tid, "syscall", buf, sizeof buf);
	if (strncmp(buf, "-1 ", 3) != 0)
		return 0;
	task_read(tid, "stat", buf, sizeof buf);
	return (state = strrchr(buf, ')')) != NULL && strncmp(state, ") S",
	    3) == 0;
}

/* Has the daemon taken n faults of this connection, within 5 s? */
static int
faults_seen(struct pagerd *pd, uint64_t n)
{
	struct pagerd_stats st;
	uint64_t t0 = now_ms();

	do {
		CHECK(pagerd_stats(pd, &st) == 0);
		if (st.faults >= n)
			return 1;
		sleep_ms(5);
	} while (now_ms() - t0 < 5000);
	return 0;
}

/* Start a thread faulting on page; 0 once it waits in the kernel. */
static int
toucher_start(struct toucher *tc, uint64_t page)
{
	uint64_t t0 = now_ms();

	tc->page = page;
	CHECK(pthread_create(&tc->t, NULL, touch, tc) == 0);
	while (!tc->done && (tc->tid == 0 || !parked(tc->tid)) &&
	    now_ms() - t0 < 5000)
		sleep_ms(5);
	if (tc->done) {
		fprintf(stderr, "FAIL: page %" PRIu64 " was served while the "
		    "disk hung\n", page);
		return 1;
	}
	if (tc->tid == 0 || !parked(tc->tid)) {
		fprintf(stderr, "FAIL: the fault on page %" PRIu64 " did not "
		    "wait in the kernel within 5 s\n", page);
		return 1;
	}
	return 0;
}

/* Does a mapping of this process hold address a? */
static int
mapped(uintptr_t a)
{
	unsigned long lo, hi;
	char line[512];
	FILE *f;
	int found = 0;

	CHECK((f = fopen("/proc/self/maps", "re")) != NULL);
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= a &&
		    a < hi;
	fclose(f);
	return found;
}

struct cut {
	pthread_t t;
	char *addr;
	size_t len;
	volatile int done;
};

static void *
unmapper(void *arg)
{
	struct cut *c = arg;

	CHECK(munmap(c->addr, c->len) == 0);
	c->done = 1;
	return NULL;
}

int
main(int argc, char **argv)
{
	struct toucher tc[2];
	struct cut cut;
	struct pagerd *pd;
	struct stat st;
	uint64_t seed, npages, first, i, t0;
	pid_t fs = 0;
	void *p;
	int fd, n = 0;
	const char *how = argc > 4 ? argv[4] : "";

	if (argc == 5 && strcmp(how, "record") == 0)
		;
	else if (argc == 6 && (strcmp(how, "middle") == 0 ||
	    strcmp(how, "start") == 0 || strcmp(how, "unread") == 0))
		fs = (pid_t)strtol(argv[5], NULL, 10);
	else {
		fprintf(stderr, "usage: replay-unmap-prog SOCKET FILE SEED "
		    "record | middle PID | start PID | unread PID\n");
		return 2;
	}
	seed = strtoull(argv[3], NULL, 0);
	CHECK((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(fstat(fd, &st) == 0);
	npages = (uint64_t)st.st_size / PAGE;
	CHECK(npages > UNRECORDED);
	CHECK(pagerd_connect(argv[1], &pd) == 0);
	CHECK(pagerd_map_file(pd, fd, 0, (size_t)st.st_size, PROT_READ, 0,
	    &p) == 0);
	map = p;
	close(fd);

	if (fs == 0) {
		for (i = 0; i < RECORD_PAGES; i++)
			CHECK(map[i * PAGE / 8] == harness_word(i * PAGE, seed));
		return 0;
	}

	/*
	 * Pages of the first replay read (0-255) on both sides of the cut:
	 * the head that stays in the region, and the tail split off from it.
	 */
	memset(tc, 0, sizeof tc);
	memset(&cut, 0, sizeof cut);
	first = strcmp(how, "start") == 0 ? 0 : CUT_FIRST;
	cut.addr = (char *)p + first * PAGE;
	cut.len = CUT_PAGES * PAGE;
	if (strcmp(how, "start") != 0 && toucher_start(&tc[n++],
	    CUT_FIRST / 2) != 0)
		return 1;
	if (strcmp(how, "unread") == 0) {
		/* Taken, parked; then a read of its own out: the share. */
		CHECK(faults_seen(pd, 1));
		if (toucher_start(&tc[n++], UNRECORDED) != 0)
			return 1;
		CHECK(faults_seen(pd, 2));
		/* The munmap waits for the daemon to read its event. */
		CHECK(pthread_create(&cut.t, NULL, unmapper, &cut) == 0);
		t0 = now_ms();
		while (mapped((uintptr_t)cut.addr + cut.len / 2) &&
		    now_ms() - t0 < 5000)
			sleep_ms(5);
		CHECK(!mapped((uintptr_t)cut.addr + cut.len / 2));
		if (cut.done) {
			fprintf(stderr, "FAIL: the daemon read the munmap's "
			    "event while the session's reads were out: the "
			    "case is not set up\n");
			return 1;
		}
	} else {
		if (toucher_start(&tc[n++], CUT_FIRST + CUT_PAGES + 10) != 0)
			return 1;
		/* The daemon has read the event when munmap returns. */
		CHECK(munmap(cut.addr, cut.len) == 0);
		cut.done = 1;
	}
	CHECK(kill(fs, SIGUSR1) == 0);

	t0 = now_ms();
	for (i = 0; i < (uint64_t)n; i++) {
		while (!tc[i].done && now_ms() - t0 < WAKE_MS)
			sleep_ms(5);
		if (!tc[i].done) {
			fprintf(stderr, "FAIL: the fault on page %" PRIu64 " "
			    "still sleeps %d s after munmap of pages %" PRIu64
			    "-%" PRIu64 " and the disk's mending\n",
			    tc[i].page, WAKE_MS / 1000, first,
			    first + CUT_PAGES - 1);
			return 1;
		}
		pthread_join(tc[i].t, NULL);
		CHECK(tc[i].got == harness_word(tc[i].page * PAGE, seed));
	}
	while (!cut.done && now_ms() - t0 < WAKE_MS)
		sleep_ms(5);
	CHECK(cut.done);
	printf("ok %s: %d faults parked while the disk hung were served after "
	    "the munmap\n", how, n);
	return 0;
}

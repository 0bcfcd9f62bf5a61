/*
 * Description: write protection, in separate client processes.
 * - copy-on-write: a file region and a zero region written from 4 threads
 *   (some pages read first, some written first): untouched pages keep
 *   their backing's bytes, written ones the writes, and the dirty set is
 *   exactly the pages written;
 * - write-back: after pagerd_sync(), pagerd_unmap(), exit() without
 *   pagerd_close(), and kill -9, the file equals what memory held;
 * - live snapshot: 4 threads write a 256 MiB file region while it is
 *   snapshotted; the image equals a copy taken with the writers paused at
 *   the snapshot's instant, though they write on during the copy, and a
 *   region restored from the image reads the same;
 * - read-only regions: a write is reported with its address, thread and
 *   region; under the kill policy the process dies of SIGSEGV, under the
 *   report policy the write goes through.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
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

#include "harness.h"

#define SEED 0x5eed000bull
#define PAGE 4096u
#define COW_SIZE (16u << 20)
#define WB_SIZE (8u << 20)
#define SNAP_SIZE (256u << 20)
#define WRITERS 4

static const char *sock;

/* The word a test writes into page p: never the file's. */
static uint64_t
mark(uint64_t p, uint64_t round)
{
	return ~harness_word(p * PAGE, SEED) ^ (round << 48) ^ 0xa5;
}

/* Whether the COW test writes page p (about one page in five). */
static int
cow_writes(uint64_t p)
{
	return (p * 2654435761u >> 7) % 5 == 0;
}

static struct pagerd *
connect_or_skip(void)
{
	struct pagerd_info info;
	struct pagerd *pd;
	void *p;
	int error;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	pagerd_info(pd, &info);
	error = pagerd_map_zero(pd, PAGE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, &p);
	if (error == -EOPNOTSUPP) {
		printf("SKIP: %s\n", pagerd_errmsg());
		fflush(stdout);
		_exit(77);
	}
	CHECKF(error == 0, "map a COW zero region: %s", pagerd_errmsg());
	CHECK(pagerd_unmap(pd, p) == 0);
	return pd;
}

struct cow_writer {
	unsigned char *base;
	uint64_t npages;
	int index;
};

static void *
cow_writer(void *arg)
{
	struct cow_writer *w = arg;
	uint64_t p;

	for (p = (uint64_t)w->index; p < w->npages; p += WRITERS)
		if (cow_writes(p))
			memcpy(w->base + p * PAGE + (p % 500) * 8,
			    &(uint64_t){ mark(p, 0) }, 8);
	return NULL;
}

/* Check a COW region after the writers: bytes and the dirty set. */
static void
cow_check(struct pagerd *pd, unsigned char *base, uint64_t npages, int file)
{
	unsigned char *vec;
	uint64_t p, off, w, n = 0;
	size_t ndirty;

	CHECK((vec = malloc(npages)) != NULL);
	CHECKF(pagerd_dirty(pd, base, vec, &ndirty) == 0, "dirty: %s",
	    pagerd_errmsg());
	for (p = 0; p < npages; p++) {
		CHECKF(vec[p] == cow_writes(p), "page %" PRIu64 ": dirty %d, "
		    "written %d", p, vec[p], cow_writes(p));
		n += cow_writes(p);
		for (off = 0; off < PAGE; off += 8) {
			memcpy(&w, base + p * PAGE + off, 8);
			if (cow_writes(p) && off == (p % 500) * 8)
				CHECKF(w == mark(p, 0), "page %" PRIu64 ": the "
				    "write is lost", p);
			else
				CHECKF(w == (file ? harness_word(p * PAGE + off,
				    SEED) : 0), "page %" PRIu64 " offset %"
				    PRIu64 ": 0x%" PRIx64 " is not the backing's",
				    p, off, w);
		}
	}
	CHECKF(ndirty == n, "%zu pages dirty, %" PRIu64 " written", ndirty, n);
	free(vec);
}

static void
cow_region(struct pagerd *pd, unsigned char *base, uint64_t npages, int file)
{
	struct cow_writer w[WRITERS];
	pthread_t t[WRITERS];
	volatile unsigned char sink;
	uint64_t p;
	int i;

	/* Even pages are read (installed clean) before the writes. */
	for (p = 0; p < npages; p += 2)
		sink = base[p * PAGE];
	(void)sink;
	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct cow_writer){ base, npages, i };
		CHECK(pthread_create(&t[i], NULL, cow_writer, &w[i]) == 0);
	}
	for (i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	cow_check(pd, base, npages, file);
}

static void
test_cow(const char *path)
{
	struct pagerd_stats st;
	struct pagerd *pd = connect_or_skip();
	unsigned char *f, *z;
	int fd;

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, COW_SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&f) == 0, "map: %s", pagerd_errmsg());
	close(fd);
	cow_region(pd, f, COW_SIZE / PAGE, 1);
	CHECKF(pagerd_map_zero(pd, COW_SIZE / 4, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&z) == 0, "map: %s", pagerd_errmsg());
	cow_region(pd, z, COW_SIZE / 4 / PAGE, 0);
	CHECK(pagerd_stats(pd, &st) == 0);
	CHECKF(st.pages_dirtied > 0, "no dirtied pages counted");
	/* Not a write-back region: nothing to sync. */
	CHECK(pagerd_sync(pd, f) == -EINVAL);
	/* Past the session's write-protected pages: refused, with why. */
	CHECK(pagerd_map_zero(pd, (1ull << 40) + PAGE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&z) == -ENOSPC);
	CHECKF(strstr(pagerd_errmsg(), "the limit") != NULL, "refusal: %s",
	    pagerd_errmsg());
	pagerd_close(pd);
	printf("ok: copy-on-write file and zero regions, 4 writers\n");
}

/* Write round's marks into every page p with p % stride == phase. */
static void
wb_write(unsigned char *base, unsigned char *copy, uint64_t stride,
    uint64_t phase, uint64_t round)
{
	uint64_t p, m;

	for (p = phase; p < WB_SIZE / PAGE; p += stride) {
		m = mark(p, round);
		memcpy(base + p * PAGE + round * 8, &m, 8);
		memcpy(copy + p * PAGE + round * 8, &m, 8);
	}
}

static void
file_equals(const char *path, const unsigned char *want, const char *when)
{
	unsigned char *got;
	ssize_t n;
	size_t i;
	int fd;

	CHECK((got = malloc(WB_SIZE)) != NULL);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	n = pread(fd, got, WB_SIZE, 0);
	CHECKF(n == WB_SIZE, "%s: read %zd bytes of the file", when, n);
	close(fd);
	if (memcmp(got, want, WB_SIZE) != 0) {
		for (i = 0; got[i] == want[i]; i++)
			;
		harness_fail(__FILE__, __LINE__, "%s: the file differs from "
		    "memory at offset %zu (page %zu)", when, i, i / PAGE);
	}
	free(got);
}

/* Whether the file equals want, within 10 s (the daemon writes it). */
static int
file_becomes(const char *path, const unsigned char *want)
{
	unsigned char *got;
	int fd, tries, same = 0;

	CHECK((got = malloc(WB_SIZE)) != NULL);
	for (tries = 0; tries < 100 && !same; tries++) {
		CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
		same = pread(fd, got, WB_SIZE, 0) == WB_SIZE &&
		    memcmp(got, want, WB_SIZE) == 0;
		close(fd);
		if (!same)
			usleep(100000);
	}
	free(got);
	return same;
}

static unsigned char *
wb_map(struct pagerd *pd, const char *path)
{
	unsigned char *p;
	int fd;

	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, WB_SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, (void **)&p) == 0, "map: %s",
	    pagerd_errmsg());
	close(fd);
	return p;
}

static void
test_writeback(const char *path)
{
	unsigned char *p, *copy;
	struct pagerd *pd;
	size_t ndirty;
	int sync[2], status;
	pid_t pid;
	char c;

	CHECK((copy = malloc(WB_SIZE)) != NULL);
	pd = connect_or_skip();
	p = wb_map(pd, path);
	memcpy(copy, p, WB_SIZE);
	wb_write(p, copy, 3, 0, 1);
	CHECKF(pagerd_sync(pd, p) == 0, "sync: %s", pagerd_errmsg());
	file_equals(path, copy, "after pagerd_sync");
	CHECK(pagerd_dirty(pd, p, NULL, &ndirty) == 0 && ndirty == 0);
	/* Pages written back are protected again: new writes are seen. */
	wb_write(p, copy, 5, 1, 2);
	CHECK(pagerd_dirty(pd, p, NULL, &ndirty) == 0);
	CHECKF(ndirty == (WB_SIZE / PAGE - 1 + 4) / 5, "%zu dirty after "
	    "the second round", ndirty);
	CHECKF(pagerd_unmap(pd, p) == 0, "unmap: %s", pagerd_errmsg());
	file_equals(path, copy, "after pagerd_unmap");
	pagerd_close(pd);

	/* exit() without pagerd_close(). */
	if ((pid = fork()) == 0) {
		pd = connect_or_skip();
		p = wb_map(pd, path);
		wb_write(p, copy, 7, 2, 3);
		exit(0);
	}
	CHECK(pid != -1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	wb_write(copy, copy, 7, 2, 3);
	file_equals(path, copy, "after exit");

	/* kill -9: the daemon writes back when the connection ends. */
	CHECK(pipe(sync) == 0);
	if ((pid = fork()) == 0) {
		pd = connect_or_skip();
		p = wb_map(pd, path);
		wb_write(p, copy, 11, 3, 4);
		CHECK(write(sync[1], "x", 1) == 1);
		pause();
		_exit(1);
	}
	CHECK(pid != -1);
	CHECK(read(sync[0], &c, 1) == 1);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	wb_write(copy, copy, 11, 3, 4);
	CHECKF(file_becomes(path, copy), "after kill -9: the file never got "
	    "the writes");
	free(copy);
	printf("ok: write-back on sync, unmap, exit and kill -9\n");
}

/* Snapshot writers: write until told to stop, pausing when asked. */
static struct {
	unsigned char *base;
	int pause, paused, stop;
	uint64_t writes;
} snap;

static void *
snap_writer(void *arg)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (uintptr_t)arg + 1, p, round = 0;
	const uint64_t npages = SNAP_SIZE / PAGE;
	unsigned int idx = (unsigned int)(uintptr_t)arg;

	while (!__atomic_load_n(&snap.stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&snap.pause, __ATOMIC_ACQUIRE)) {
			__atomic_add_fetch(&snap.paused, 1, __ATOMIC_ACQ_REL);
			while (__atomic_load_n(&snap.pause, __ATOMIC_ACQUIRE))
				sched_yield();
			__atomic_sub_fetch(&snap.paused, 1, __ATOMIC_ACQ_REL);
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Each writer its own pages: p % WRITERS == idx. */
		p = (x % (npages / WRITERS)) * WRITERS + idx;
		round++;
		memcpy(snap.base + p * PAGE + (round % 512) * 8,
		    &(uint64_t){ mark(p, round) }, 8);
		__atomic_add_fetch(&snap.writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
image_equals(int fd, const unsigned char *want, const char *what)
{
	unsigned char *buf;
	uint64_t off, i;
	const size_t chunk = 4u << 20;

	CHECK((buf = malloc(chunk)) != NULL);
	for (off = 0; off < SNAP_SIZE; off += chunk) {
		CHECKF(pread(fd, buf, chunk, (off_t)off) == (ssize_t)chunk,
		    "%s: short read at %" PRIu64, what, off);
		if (memcmp(buf, want + off, chunk) == 0)
			continue;
		for (i = 0; buf[i] == want[off + i]; i++)
			;
		harness_fail(__FILE__, __LINE__, "%s differs from memory at "
		    "the instant at offset %" PRIu64 " (page %" PRIu64 ")",
		    what, off + i, (off + i) / PAGE);
	}
	free(buf);
}

static void
test_snapshot(const char *path, const char *image)
{
	pthread_t t[WRITERS];
	unsigned char *ref, *restored;
	struct pagerd *pd = connect_or_skip();
	uint64_t before, during;
	uint32_t id;
	int fd, ifd, i;

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SNAP_SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&snap.base) == 0, "map: %s",
	    pagerd_errmsg());
	close(fd);
	CHECK((ref = malloc(SNAP_SIZE)) != NULL);
	for (i = 0; i < WRITERS; i++)
		CHECK(pthread_create(&t[i], NULL, snap_writer,
		    (void *)(uintptr_t)i) == 0);
	/* Let them touch part of the region: some pages stay untouched. */
	usleep(300000);

	/* The instant: writers paused, memory copied, region protected. */
	__atomic_store_n(&snap.pause, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&snap.paused, __ATOMIC_ACQUIRE) < WRITERS)
		sched_yield();
	memcpy(ref, snap.base, SNAP_SIZE);
	CHECK((ifd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) != -1);
	CHECKF(pagerd_snapshot_start(pd, snap.base, ifd, &id) == 0,
	    "snapshot: %s", pagerd_errmsg());
	before = __atomic_load_n(&snap.writes, __ATOMIC_RELAXED);
	__atomic_store_n(&snap.pause, 0, __ATOMIC_RELEASE);

	CHECKF(pagerd_snapshot_wait(pd, id) == 0, "snapshot: %s",
	    pagerd_errmsg());
	during = __atomic_load_n(&snap.writes, __ATOMIC_RELAXED) - before;
	__atomic_store_n(&snap.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	CHECKF(during > 0, "the writers wrote nothing during the snapshot");
	image_equals(ifd, ref, "the image");

	/* Restore on demand: a region backed by the image. */
	CHECKF(pagerd_map_file(pd, ifd, 0, SNAP_SIZE, PROT_READ, 0,
	    (void **)&restored) == 0, "map the image: %s", pagerd_errmsg());
	CHECKF(memcmp(restored, ref, SNAP_SIZE) == 0, "the restored region "
	    "differs from the image");
	close(ifd);
	pagerd_close(pd);
	free(ref);
	printf("ok: snapshot of 256 MiB under 4 writers (%" PRIu64 " writes "
	    "during the copy), restored\n", during);
}

struct ro_writer {
	unsigned char *addr;
	pid_t tid;
	int tell;
};

static void *
ro_writer(void *arg)
{
	struct ro_writer *w = arg;

	w->tid = gettid();
	if (w->tell != -1)
		CHECK(write(w->tell, &w->tid, sizeof w->tid) == sizeof w->tid);
	w->addr[16] = 0x77;
	return NULL;
}

static int
log_has(const char *log, const char *needle)
{
	char buf[8192];
	size_t n;
	FILE *f;
	int found = 0;

	if ((f = fopen(log, "r")) == NULL)
		return 0;
	while (!found && fgets(buf, sizeof buf, f) != NULL)
		found = strstr(buf, needle) != NULL;
	(void)n;
	fclose(f);
	return found;
}

static void
test_readonly(const char *path, const char *log)
{
	struct pagerd_violation v[4];
	struct ro_writer w;
	struct pagerd_stats st;
	struct pagerd *pd;
	unsigned char *p;
	char needle[128];
	int pipefd[2], fd, status;
	pid_t pid, tid;
	uintptr_t addr;
	pthread_t t;

	/* Policy kill: the child dies of SIGSEGV, the daemon reports. */
	CHECK(pipe(pipefd) == 0);
	if ((pid = fork()) == 0) {
		close(pipefd[0]);
		harness_default_segv();
		pd = connect_or_skip();
		CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
		CHECKF(pagerd_map_file(pd, fd, 0, COW_SIZE, PROT_READ,
		    PAGERD_MAP_READONLY, (void **)&p) == 0, "map: %s",
		    pagerd_errmsg());
		harness_check_range(p + 3 * PAGE, 3 * PAGE, PAGE, SEED,
		    UINT64_MAX);
		addr = (uintptr_t)(p + 5 * PAGE);
		CHECK(write(pipefd[1], &addr, sizeof addr) == sizeof addr);
		w = (struct ro_writer){ p + 5 * PAGE, 0, pipefd[1] };
		CHECK(pthread_create(&t, NULL, ro_writer, &w) == 0);
		pthread_join(t, NULL);
		_exit(3);	/* the write went through: wrong */
	}
	close(pipefd[1]);
	CHECK(read(pipefd[0], &addr, sizeof addr) == sizeof addr);
	CHECK(read(pipefd[0], &tid, sizeof tid) == sizeof tid);
	close(pipefd[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "the "
	    "writer's process ended with status 0x%x, not SIGSEGV", status);
	snprintf(needle, sizeof needle, "tid %d: protection violation at "
	    "0x%" PRIxPTR, (int)tid, addr);
	CHECKF(log_has(log, needle), "the daemon's log lacks \"%s\"", needle);
	CHECKF(log_has(log, "policy kill"), "the log lacks the policy");

	/* Policy report: the write goes through and is reported. */
	pd = connect_or_skip();
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, COW_SIZE, PROT_READ,
	    PAGERD_MAP_READONLY | PAGERD_MAP_REPORT, (void **)&p) == 0,
	    "map: %s", pagerd_errmsg());
	close(fd);
	w = (struct ro_writer){ p + 2 * PAGE, 0, -1 };
	CHECK(pthread_create(&t, NULL, ro_writer, &w) == 0);
	pthread_join(t, NULL);
	CHECK(p[2 * PAGE + 16] == 0x77);
	CHECKF(pagerd_violations(pd, v, 4) == 1, "expected one report");
	CHECKF(v[0].addr == p + 2 * PAGE && v[0].region == p &&
	    v[0].tid == w.tid && !v[0].killed, "report: addr %p region %p "
	    "tid %d killed %d; wrote %p in %p from %d", v[0].addr,
	    v[0].region, (int)v[0].tid, v[0].killed, (void *)(p + 2 * PAGE),
	    (void *)p, (int)w.tid);
	CHECK(pagerd_stats(pd, &st) == 0 && st.violations == 1);
	pagerd_close(pd);
	printf("ok: read-only regions, policies kill and report\n");
}

static void
run(void (*fn)(void))
{
	pid_t pid;
	int rc;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		fn();
		exit(0);
	}
	CHECK(pid != -1);
	rc = harness_wait(pid);
	if (rc == 77)
		exit(77);
	CHECKF(rc == 0, "a test process failed (%d)", rc);
}

static struct harness_daemon d;
static char cow_path[512], wb_path[512], snap_path[512], image_path[512];

static void run_cow(void) { test_cow(cow_path); }
static void run_writeback(void) { test_writeback(wb_path); }
static void run_snapshot(void) { test_snapshot(snap_path, image_path); }
static void run_readonly(void) { test_readonly(cow_path, d.log); }

int
main(void)
{
	harness_start(&d, NULL);
	sock = d.sock;
	harness_make_file(&d, "cow", COW_SIZE, SEED, cow_path,
	    sizeof cow_path);
	harness_make_file(&d, "wb", WB_SIZE, SEED, wb_path, sizeof wb_path);
	harness_make_file(&d, "snap", SNAP_SIZE, SEED, snap_path,
	    sizeof snap_path);
	snprintf(image_path, sizeof image_path, "%s/image", d.dir);
	run(run_cow);
	run(run_writeback);
	run(run_readonly);
	run(run_snapshot);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	return 0;
}

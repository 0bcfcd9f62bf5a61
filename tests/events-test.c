/*
 * Description: the daemon's region table follows the client's address
 * space. On a file region and a zero region of one client process:
 * - fork: parent and child each see the pages written before the fork,
 *   the pages neither touched come from the file (the child's through a
 *   connection of its own), and later writes of one side are not seen by
 *   the other; a child of a child works too;
 * - munmap of a region's middle: both ends are still served, the hole
 *   faults with SIGSEGV, the daemon counts two regions;
 * - mremap moving a region: pages never touched before the move are
 *   served at the new address with the right bytes; shrinking in place;
 * - madvise(MADV_DONTNEED): written pages come back from the backing.
 * Run as root and again as an unprivileged user.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed000cull
#define SIZE (8u << 20)
#define PAGE 4096u
#define NPAGES (SIZE / PAGE)

static unsigned char *
map_file(struct pagerd *pd, const char *path)
{
	unsigned char *p;
	int fd;

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ | PROT_WRITE, 0,
	    (void **)&p) == 0, "map: %s", pagerd_errmsg());
	close(fd);
	return p;
}

static uint64_t
word_at(const unsigned char *p, uint64_t page)
{
	uint64_t w;

	memcpy(&w, p + page * PAGE + 8, 8);
	return w;
}

static void
put(unsigned char *p, uint64_t page, uint64_t w)
{
	memcpy(p + page * PAGE + 8, &w, 8);
}

static uint64_t
file_word(uint64_t page)
{
	return harness_word(page * PAGE + 8, SEED);
}

/*
 * Pages 0-9 touched by reads before the fork, 10-19 written before it,
 * 20-29 written by the parent after it, 30-39 by the child; the rest are
 * untouched by anyone.
 */
static void
check_side(unsigned char *f, unsigned char *z, int child)
{
	uint64_t p, w, want;

	for (p = 0; p < NPAGES; p++) {
		w = word_at(f, p);
		if (p >= 10 && p < 20)
			want = ~file_word(p);
		else if ((p >= 20 && p < 30 && !child) ||
		    (p >= 30 && p < 40 && child))
			want = p ^ 0xfeed;
		else
			want = file_word(p);
		CHECKF(w == want, "%s: file region page %" PRIu64 ": 0x%"
		    PRIx64 ", want 0x%" PRIx64, child ? "child" : "parent", p,
		    w, want);
		w = word_at(z, p / 2);
		want = p / 2 >= 10 && p / 2 < 20 ? p / 2 :
		    (p / 2 >= 20 && p / 2 < 30 && !child) ||
		    (p / 2 >= 30 && p / 2 < 40 && child) ? ~(p / 2) : 0;
		CHECKF(w == want, "%s: zero region page %" PRIu64 ": 0x%"
		    PRIx64 ", want 0x%" PRIx64, child ? "child" : "parent",
		    p / 2, w, want);
	}
}

static void
test_fork(const char *sock, const char *path)
{
	volatile unsigned char sink;
	unsigned char *f, *z;
	struct pagerd *pd;
	int go[2], done[2], status;
	uint64_t p;
	pid_t pid, grandchild;
	char c;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	f = map_file(pd, path);
	CHECKF(pagerd_map_zero(pd, SIZE / 2, PROT_READ | PROT_WRITE, 0,
	    (void **)&z) == 0, "map zero: %s", pagerd_errmsg());
	for (p = 0; p < 10; p++)
		sink = f[p * PAGE] + z[p * PAGE];
	(void)sink;
	for (p = 10; p < 20; p++) {
		put(f, p, ~file_word(p));
		put(z, p, p);
	}
	CHECK(pipe(go) == 0 && pipe(done) == 0);
	if ((pid = fork()) == 0) {
		CHECK(read(go[0], &c, 1) == 1);
		for (p = 30; p < 40; p++) {
			put(f, p, p ^ 0xfeed);
			put(z, p, ~p);
		}
		CHECK(write(done[1], "c", 1) == 1);
		check_side(f, z, 1);
		/* A child of the child. */
		if ((grandchild = fork()) == 0) {
			check_side(f, z, 1);
			_exit(0);
		}
		CHECK(harness_wait(grandchild) == 0);
		_exit(0);
	}
	CHECK(pid != -1);
	for (p = 20; p < 30; p++) {
		put(f, p, p ^ 0xfeed);
		put(z, p, ~p);
	}
	CHECK(write(go[1], "p", 1) == 1);
	CHECK(read(done[0], &c, 1) == 1);
	check_side(f, z, 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child "
	    "failed: status 0x%x", status);
	pagerd_close(pd);
	printf("ok: fork: both sides write, the child and its child are "
	    "served\n");
}

static void
test_munmap(const char *sock, const char *path)
{
	struct pagerd_stats st;
	struct pagerd *pd;
	unsigned char *f;
	pid_t pid;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	f = map_file(pd, path);
	CHECK(munmap(f + 100 * PAGE, 50 * PAGE) == 0);
	CHECK(pagerd_stats(pd, &st) == 0);
	CHECKF(st.regions == 2, "%u regions after a hole was cut, want 2",
	    st.regions);
	harness_check_range(f, 0, 100 * PAGE, SEED, UINT64_MAX);
	harness_check_range(f + 150 * PAGE, 150 * PAGE, SIZE - 150 * PAGE,
	    SEED, UINT64_MAX);
	if ((pid = fork()) == 0) {
		harness_default_segv();
		*(volatile unsigned char *)(f + 120 * PAGE) = 1;
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 128 + SIGSEGV, "a touch of the hole did "
	    "not fault");
	/* The library's unmap of a region the daemon already cut. */
	CHECK(pagerd_unmap(pd, f) == 0);
	CHECK(munmap(f + 150 * PAGE, SIZE - 150 * PAGE) == 0);
	CHECK(pagerd_stats(pd, &st) == 0);
	CHECKF(st.regions == 0, "%u regions left", st.regions);
	pagerd_close(pd);
	printf("ok: munmap of a region's middle\n");
}

static void
test_mremap(const char *sock, const char *path)
{
	struct pagerd_stats st;
	unsigned char *f, *z, *to, *moved;
	struct pagerd *pd;
	uint64_t p;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	f = map_file(pd, path);
	/* Some pages touched before the move, most not. */
	harness_check_range(f, 0, 16 * PAGE, SEED, UINT64_MAX);
	to = mmap(NULL, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(to != MAP_FAILED);
	moved = mremap(f, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	CHECKF(moved == to, "mremap: %s", strerror(errno));
	harness_check_range(moved, 0, SIZE, SEED, UINT64_MAX);

	/* Shrink in place: the tail goes. */
	CHECK(mremap(moved, SIZE, SIZE / 2, 0) == moved);
	CHECK(pagerd_stats(pd, &st) == 0);
	CHECKF(st.regions == 1, "%u regions", st.regions);

	/* A zero region moved, with pages written before. */
	CHECKF(pagerd_map_zero(pd, SIZE, PROT_READ | PROT_WRITE, 0,
	    (void **)&z) == 0, "map zero: %s", pagerd_errmsg());
	for (p = 0; p < NPAGES; p += 3)
		put(z, p, p + 1);
	to = mmap(NULL, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(to != MAP_FAILED);
	moved = mremap(z, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	CHECK(moved == to);
	for (p = 0; p < NPAGES; p++)
		CHECKF(word_at(moved, p) == (p % 3 == 0 ? p + 1 : 0), "moved "
		    "zero region page %" PRIu64, p);
	pagerd_close(pd);
	printf("ok: mremap move and shrink\n");
}

static void
test_dontneed(const char *sock, const char *path)
{
	unsigned char *f, *z;
	struct pagerd *pd;
	uint64_t p;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	f = map_file(pd, path);
	CHECKF(pagerd_map_zero(pd, SIZE, PROT_READ | PROT_WRITE, 0,
	    (void **)&z) == 0, "map zero: %s", pagerd_errmsg());
	for (p = 0; p < 64; p++) {
		put(f, p, ~file_word(p));
		put(z, p, p + 7);
	}
	CHECK(madvise(f, 32 * PAGE, MADV_DONTNEED) == 0);
	CHECK(madvise(z, 32 * PAGE, MADV_DONTNEED) == 0);
	for (p = 0; p < 64; p++) {
		CHECKF(word_at(f, p) == (p < 32 ? file_word(p) :
		    ~file_word(p)), "file page %" PRIu64 " after DONTNEED", p);
		CHECKF(word_at(z, p) == (p < 32 ? 0 : p + 7), "zero page %"
		    PRIu64 " after DONTNEED", p);
	}
	harness_check_range(f, 0, 32 * PAGE, SEED, UINT64_MAX);
	pagerd_close(pd);
	printf("ok: MADV_DONTNEED refills from the backing\n");
}

static void
run_all(const char *sock, const char *path)
{
	test_fork(sock, path);
	test_munmap(sock, path);
	test_mremap(sock, path);
	test_dontneed(sock, path);
}

int
main(void)
{
	struct harness_daemon d;
	struct pagerd *pd;
	char path[512];
	pid_t pid;
	int rc;

	harness_start(&d, NULL);
	harness_make_file(&d, "file", SIZE, SEED, path, sizeof path);
	run_all(d.sock, path);

	/* The same as nobody, where the system lets nobody have one. */
	if (geteuid() == 0) {
		fflush(NULL);
		if ((pid = fork()) == 0) {
			harness_become_nobody();
			if (pagerd_connect(d.sock, &pd) != 0) {
				printf("as nobody: skipped: %s\n",
				    pagerd_errmsg());
				fflush(stdout);
				_exit(0);
			}
			pagerd_close(pd);
			printf("as nobody:\n");
			run_all(d.sock, path);
			fflush(stdout);
			_exit(0);
		}
		rc = harness_wait(pid);
		CHECKF(rc == 0, "the unprivileged run failed (%d)", rc);
	}
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	return 0;
}

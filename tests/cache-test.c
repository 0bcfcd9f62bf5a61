/*
 * Description: the shared page cache. Two client processes map one file:
 * the second gets every page mapped from the cache the first one filled,
 * without a single read of the file; each one's writes stay private to
 * it (the other and the file keep the original bytes), also a write that
 * is a page's first touch.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed000aull
#define SIZE (32u << 20)
#define PAGE 4096u

static void
client(const char *sock, const char *path, int first, int say, int hear)
{
	struct pagerd_stats st;
	struct pagerd_info info;
	struct pagerd *pd;
	unsigned char *p, *q;
	char c;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	pagerd_info(pd, &info);
	if (!info.shared_cache) {
		printf("SKIP: no shared page cache (the kernel lacks "
		    "missing-shmem or minor-shmem userfaultfd features)\n");
		fflush(stdout);
		_exit(77);
	}
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ | PROT_WRITE, 0,
	    (void **)&p) == 0, "map: %s", pagerd_errmsg());
	close(fd);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	if (first) {
		CHECK(st.reads > 0);
		/* A write before any read of a page of a fresh mapping. */
		CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
		CHECKF(pagerd_map_file(pd, fd, 0, 64 * PAGE, PROT_READ |
		    PROT_WRITE, 0, (void **)&q) == 0, "map: %s",
		    pagerd_errmsg());
		close(fd);
		q[7 * PAGE + 1] = 0x5a;
		CHECK(q[7 * PAGE + 1] == 0x5a);
		harness_check_range(q + 7 * PAGE, 7 * PAGE, 1, SEED,
		    UINT64_MAX);
		harness_check_range(q + 8 * PAGE, 8 * PAGE, PAGE, SEED,
		    UINT64_MAX);
		CHECK(pagerd_unmap(pd, q) == 0);
		/* A private write, before the other client reads. */
		memset(p + 3 * PAGE, 0xee, PAGE);
		CHECK(write(say, "a", 1) == 1);
		CHECK(read(hear, &c, 1) == 1);
		CHECK(p[3 * PAGE] == 0xee && p[4 * PAGE - 1] == 0xee);
	} else {
		CHECKF(st.reads == 0, "the second client caused %llu reads of "
		    "the file", (unsigned long long)st.reads);
		CHECKF(st.pages_file >= SIZE / PAGE, "%llu pages mapped",
		    (unsigned long long)st.pages_file);
		memset(p + 5 * PAGE, 0xdd, PAGE);
		CHECK(write(say, "b", 1) == 1);
	}
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	char path[512], buf[PAGE];
	int ab[2], ba[2], fd, status;
	pid_t a, b;

	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	CHECK(pipe(ab) == 0 && pipe(ba) == 0);
	fflush(NULL);
	if ((a = fork()) == 0)
		client(d.sock, path, 1, ab[1], ba[0]);
	/* The second client starts once the first has read everything. */
	CHECK(read(ab[0], buf, 1) == 1 || harness_wait(a) == 77);
	fflush(NULL);
	if ((b = fork()) == 0)
		client(d.sock, path, 0, ba[1], ab[0]);
	status = harness_wait(b);
	if (status == 77)
		harness_skip("no shared page cache on this kernel");
	CHECKF(status == 0, "the second client failed (status %d)", status);
	CHECKF(harness_wait(a) == 0, "the first client failed");

	CHECK((fd = open(path, O_RDONLY)) != -1);
	CHECK(pread(fd, buf, PAGE, 3 * PAGE) == PAGE);
	harness_check_range(buf, 3 * PAGE, PAGE, SEED, UINT64_MAX);
	CHECK(pread(fd, buf, PAGE, 5 * PAGE) == PAGE);
	harness_check_range(buf, 5 * PAGE, PAGE, SEED, UINT64_MAX);
	close(fd);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	printf("shared page cache: second client mapped every page, no read; "
	    "writes private\n");
	return 0;
}

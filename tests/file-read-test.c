/*
 * Description: a separate client process maps a 64 MiB file through pagerd
 * and reads every page, in order from one thread and in random order from
 * four threads: every byte equals the file's. A region starting at a file
 * offset reads the right part of the file, and a region longer than a file
 * whose size is not page aligned reads the file's bytes, then zeros. All
 * of it twice: through the shared page cache (pages mapped), and with
 * PAGERD_NO_CACHE (pages copied), where the daemon's latency histogram
 * counts every one of the reads.
 *
 * With "--client SOCKET" it only runs the client, on a 4 MiB file, against
 * a daemon somebody else started (the valgrind test does that).
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed0001ull
#define THREADS 4
#define PAGE 4096u

struct reader {
	const char *base;
	const uint32_t *order;
	size_t npages;
	int index;
};

static void *
reader_main(void *arg)
{
	const struct reader *rd = arg;
	size_t i;
	uint64_t off;

	for (i = (size_t)rd->index; i < rd->npages; i += THREADS) {
		off = (uint64_t)rd->order[i] * PAGE;
		harness_check_range(rd->base + off, off, PAGE, SEED, UINT64_MAX);
	}
	return NULL;
}

static void
client(const char *sock, const char *path, size_t size, const char *tail)
{
	struct reader rd[THREADS];
	pthread_t th[THREADS];
	struct pagerd_stats st;
	struct pagerd_info info;
	struct pagerd *pd;
	uint32_t *order, tmp;
	uint64_t x = 88172645463325252ull;
	size_t npages = size / PAGE, i, j;
	void *p;
	int fd, t;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s", path);
	pagerd_info(pd, &info);
	printf("client: %s\n", info.shared_cache ? "shared page cache" :
	    "copies");
	fflush(stdout);
	if (getenv("PAGERD_NO_CACHE") != NULL)
		CHECK(!info.shared_cache);

	/* In order, one thread. */
	CHECKF(pagerd_map_file(pd, fd, 0, size, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	harness_check_range(p, 0, size, SEED, UINT64_MAX);
	CHECKF(pagerd_unmap(pd, p) == 0, "unmap: %s", pagerd_errmsg());

	/* In random order, several threads, a fresh mapping. */
	CHECK((order = calloc(npages, sizeof *order)) != NULL);
	for (i = 0; i < npages; i++)
		order[i] = (uint32_t)i;
	for (i = npages - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		j = (size_t)(x % (i + 1));
		tmp = order[i], order[i] = order[j], order[j] = tmp;
	}
	CHECKF(pagerd_map_file(pd, fd, 0, size, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	for (t = 0; t < THREADS; t++) {
		rd[t] = (struct reader){ .base = p, .order = order,
		    .npages = npages, .index = t };
		CHECK(pthread_create(&th[t], NULL, reader_main, &rd[t]) == 0);
	}
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	CHECKF(pagerd_unmap(pd, p) == 0, "unmap: %s", pagerd_errmsg());
	free(order);

	/* A region that starts 5 pages into the file. */
	CHECKF(pagerd_map_file(pd, fd, 5 * PAGE, size - 5 * PAGE, PROT_READ,
	    0, &p) == 0, "map at offset: %s", pagerd_errmsg());
	harness_check_range(p, 5 * PAGE, size - 5 * PAGE, SEED, UINT64_MAX);
	CHECK(pagerd_unmap(pd, p) == 0);
	close(fd);

	/* 3 pages and 100 bytes of file in an 8-page region. */
	CHECKF((fd = open(tail, O_RDONLY | O_CLOEXEC)) != -1, "open %s", tail);
	CHECKF(pagerd_map_file(pd, fd, 0, 8 * PAGE, PROT_READ | PROT_WRITE, 0,
	    &p) == 0, "map tail: %s", pagerd_errmsg());
	close(fd);
	harness_check_range(p, 0, 8 * PAGE, SEED, 3 * PAGE + 100);
	/* Writes stay private: the file is unchanged (checked by the parent). */
	memset(p, 0xa5, PAGE);
	CHECK(((unsigned char *)p)[PAGE - 1] == 0xa5);

	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	CHECKF(st.pages_file >= 2 * npages, "only %llu pages served from the "
	    "file", (unsigned long long)st.pages_file);
	CHECK(st.errors == 0);
	CHECK(st.pages_poisoned == 0);
	CHECK(st.regions == 1);
	pagerd_close(pd);
}

int
main(int argc, char **argv)
{
	struct harness_daemon d, scratch;
	struct pd_stats_reply before, after;
	char path[512], tail[512], buf[PAGE];
	uint64_t timed;
	size_t size = 64u << 20;
	pid_t pid;
	int fd, i;

	if (argc == 3 && strcmp(argv[1], "--client") == 0) {
		/* Files only: make them in a scratch directory. */
		snprintf(scratch.dir, sizeof scratch.dir, "/tmp/pagerd-client."
		    "XXXXXX");
		CHECK(mkdtemp(scratch.dir) != NULL);
		harness_make_file(&scratch, "data", 4u << 20, SEED, path,
		    sizeof path);
		harness_make_file(&scratch, "tail", 3 * PAGE + 100, SEED, tail,
		    sizeof tail);
		client(argv[2], path, 4u << 20, tail);
		unlink(path);
		unlink(tail);
		rmdir(scratch.dir);
		printf("client: every byte right\n");
		return 0;
	}

	harness_start(&d, NULL);
	harness_make_file(&d, "data", size, SEED, path, sizeof path);
	harness_make_file(&d, "tail", 3 * PAGE + 100, SEED, tail, sizeof tail);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		client(d.sock, path, size, tail);
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "the client failed");
	harness_wait_idle(d.sock);
	harness_control_stats(d.sock, &before);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		setenv("PAGERD_NO_CACHE", "1", 1);
		client(d.sock, path, size, tail);
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "the client with copies failed");
	/* Without a cache every read is a fault's: each one's time counts. */
	harness_wait_idle(d.sock);
	harness_control_stats(d.sock, &after);
	for (i = 0, timed = 0; i < PD_LATENCY_BUCKETS; i++)
		timed += after.latency[i] - before.latency[i];
	CHECKF(timed >= after.counters.reads - before.counters.reads, "%llu "
	    "fault latencies counted for %llu reads",
	    (unsigned long long)timed, (unsigned long long)(after.counters.reads
	    - before.counters.reads));
	/* The client's private write did not reach the file. */
	CHECK((fd = open(tail, O_RDONLY)) != -1);
	CHECK(read(fd, buf, PAGE) == PAGE);
	harness_check_range(buf, 0, PAGE, SEED, UINT64_MAX);
	close(fd);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	unlink(tail);
	printf("64 MiB read in order and at random from %d threads: every "
	    "byte right\n", THREADS);
	return 0;
}

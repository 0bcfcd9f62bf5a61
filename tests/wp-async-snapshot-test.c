/*
 * Description: a snapshot of a region whose writes the kernel tracks
 * (WP_ASYNC), which the daemon moves to tracking by faults first. 4
 * threads write at random: (1) a 64 MiB copy-on-write file region, paused
 * at the snapshot's instant only: the image equals memory at the instant
 * (pages never touched included), though they write on during the copy;
 * (2) a 64 MiB write-back region, not paused at all while its snapshot
 * starts: after they stop, pagerd_dirty() reports every page written
 * since the last sync (those written while the region changed hands
 * among them) and pagerd_sync() makes the file equal memory byte for byte.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "uffd.h"

#define SEED 0x5a5a0017ull
#define PAGE 4096u
#define SIZE (64u << 20)
#define NPAGES (SIZE / PAGE)
#define WRITERS 4

static struct {
	unsigned char *base;
	unsigned char *shadow;	/* what each write wrote, or NULL */
	unsigned char written[NPAGES];
	int pause, paused, stop;
	uint64_t writes;
} w;

static void *
writer(void *arg)
{
	unsigned int idx = (unsigned int)(uintptr_t)arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (idx + 1), p, v, off;

	while (!__atomic_load_n(&w.stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&w.pause, __ATOMIC_ACQUIRE)) {
			__atomic_add_fetch(&w.paused, 1, __ATOMIC_ACQ_REL);
			while (__atomic_load_n(&w.pause, __ATOMIC_ACQUIRE))
				sched_yield();
			__atomic_sub_fetch(&w.paused, 1, __ATOMIC_ACQ_REL);
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Each writer its own pages: p % WRITERS == idx. */
		p = (x % (NPAGES / WRITERS)) * WRITERS + idx;
		off = ((x >> 32) % (PAGE / 8)) * 8;
		v = ~harness_word(p * PAGE + off, SEED) ^ (x << 1);
		memcpy(w.base + p * PAGE + off, &v, 8);
		if (w.shadow != NULL)
			memcpy(w.shadow + p * PAGE + off, &v, 8);
		__atomic_store_n(&w.written[p], 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&w.writes, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
writers(pthread_t *t, int start)
{
	int i;

	for (i = 0; i < WRITERS; i++) {
		if (start)
			CHECK(pthread_create(&t[i], NULL, writer,
			    (void *)(uintptr_t)i) == 0);
		else
			pthread_join(t[i], NULL);
	}
}

static void
equals(const unsigned char *got, const unsigned char *want, const char *what)
{
	size_t i;

	if (memcmp(got, want, SIZE) == 0)
		return;
	for (i = 0; got[i] == want[i]; i++)
		;
	harness_fail(__FILE__, __LINE__, "%s differs at offset %zu (page %zu)",
	    what, i, i / PAGE);
}

static unsigned char *
read_file(const char *path)
{
	unsigned char *buf;
	int fd;

	CHECK((buf = malloc(SIZE)) != NULL);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECK(pread(fd, buf, SIZE, 0) == SIZE);
	close(fd);
	return buf;
}

static void
require_async(struct pagerd *pd)
{
	struct pagerd_info info;
	char why[256];
	uint64_t features;

	pagerd_info(pd, &info);
	if (info.uffd_features & UFFD_FEATURE_WP_ASYNC)
		return;
	if (uffd_probe_features(&features, why, sizeof why) == 0 &&
	    (features & UFFD_FEATURE_WP_ASYNC) && getenv("PAGERD_NO_WP_ASYNC")
	    == NULL) {
		int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

		if (fd != -1 && uffd_scan_written(fd, 0, 0, 0, NULL, NULL) ==
		    0)
			harness_fail(__FILE__, __LINE__, "the kernel has "
			    "WP_ASYNC and PAGEMAP_SCAN, the connection does "
			    "not use them");
	}
	harness_skip("no WP_ASYNC dirty tracking here (Linux 6.7 has it)");
}

/* (1) The image equals memory at the instant. */
static void
instant(struct pagerd *pd, const char *path, const char *image)
{
	unsigned char *ref, *img;
	pthread_t t[WRITERS];
	uint64_t before;
	uint32_t id;
	int fd;

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	if (pagerd_map_file(pd, fd, 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&w.base) == -EOPNOTSUPP)
		harness_skip("%s", pagerd_errmsg());
	CHECKF(w.base != NULL, "map: %s", pagerd_errmsg());
	close(fd);
	require_async(pd);
	CHECK((ref = malloc(SIZE)) != NULL);
	writers(t, 1);
	/* Some pages written, most never touched. */
	usleep(200000);
	__atomic_store_n(&w.pause, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&w.paused, __ATOMIC_ACQUIRE) < WRITERS)
		sched_yield();
	memcpy(ref, w.base, SIZE);
	CHECK((fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1);
	CHECKF(pagerd_snapshot_start(pd, w.base, fd, &id) == 0, "snapshot: %s",
	    pagerd_errmsg());
	before = __atomic_load_n(&w.writes, __ATOMIC_RELAXED);
	__atomic_store_n(&w.pause, 0, __ATOMIC_RELEASE);
	CHECKF(pagerd_snapshot_wait(pd, id) == 0, "snapshot: %s",
	    pagerd_errmsg());
	CHECKF(__atomic_load_n(&w.writes, __ATOMIC_RELAXED) > before,
	    "the writers wrote nothing during the snapshot");
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	writers(t, 0);
	close(fd);
	img = read_file(image);
	equals(img, ref, "the image");
	free(img);
	free(ref);
	CHECK(pagerd_unmap(pd, w.base) == 0);
}

/* (2) No write is lost while the region changes hands. */
static void
handover(struct pagerd *pd, const char *path, const char *image)
{
	static unsigned char vec[NPAGES];
	unsigned char *file;
	pthread_t t[WRITERS];
	size_t ndirty, p;
	uint32_t id;
	int fd;

	memset(&w, 0, sizeof w);
	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, (void **)&w.base) == 0, "map: %s",
	    pagerd_errmsg());
	close(fd);
	CHECK((w.shadow = malloc(SIZE)) != NULL);
	memcpy(w.shadow, w.base, SIZE);
	writers(t, 1);
	usleep(100000);
	CHECK((fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1);
	CHECKF(pagerd_snapshot_start(pd, w.base, fd, &id) == 0, "snapshot: %s",
	    pagerd_errmsg());
	usleep(100000);
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	writers(t, 0);
	CHECKF(pagerd_snapshot_wait(pd, id) == 0, "snapshot: %s",
	    pagerd_errmsg());
	close(fd);
	CHECKF(pagerd_dirty(pd, w.base, vec, &ndirty) == 0, "dirty: %s",
	    pagerd_errmsg());
	for (p = 0; p < NPAGES; p++)
		CHECKF(!w.written[p] || vec[p], "page %zu was written and is "
		    "not reported dirty", p);
	CHECKF(pagerd_sync(pd, w.base) == 0, "sync: %s", pagerd_errmsg());
	equals(w.base, w.shadow, "memory");
	file = read_file(path);
	equals(file, w.shadow, "the file");
	free(file);
	CHECK(pagerd_dirty(pd, w.base, NULL, &ndirty) == 0 && ndirty == 0);
	CHECK(pagerd_unmap(pd, w.base) == 0);
	free(w.shadow);
}

int
main(void)
{
	struct harness_daemon d;
	struct pagerd *pd;
	char cow[512], wb[512], image[512];

	harness_start(&d, NULL);
	harness_make_file(&d, "cow", SIZE, SEED, cow, sizeof cow);
	harness_make_file(&d, "wb", SIZE, SEED, wb, sizeof wb);
	snprintf(image, sizeof image, "%s/image", d.dir);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	instant(pd, cow, image);
	handover(pd, wb, image);
	pagerd_close(pd);
	CHECKF(harness_alive(&d), "the daemon died");
	unlink(cow);
	unlink(wb);
	unlink(image);
	harness_stop(&d);
	printf("ok: snapshots of WP_ASYNC regions under 4 writers: the image "
	    "of the instant, no write lost\n");
	return 0;
}

/*
 * Description: a client that maps and unmaps files through shared page
 * caches, again and again, while eviction runs (a budget of 4 MiB under
 * files of 8 MiB), leaves the daemon's memory where it started: no page
 * cache file stays open, none of their shared memory stays allocated, the
 * bytes the daemon counts as held go back to 0, and its resident memory
 * does not grow; every byte read is the file's.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eedc4c4ull
#define SIZE (8u << 20)
#define FILES 4
#define ROUNDS 40

/* The shared memory the daemon's page cache files hold, in KiB. */
static uint64_t
cache_kib(pid_t pid, int *files)
{
	char dir[64], path[320], link[64];
	struct dirent *e;
	struct stat st;
	uint64_t kib = 0;
	ssize_t n;
	DIR *d;

	*files = 0;
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	CHECK((d = opendir(dir)) != NULL);
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (e->d_name[0] == '.' || (n = readlink(path, link,
		    sizeof link - 1)) == -1)
			continue;
		link[n] = '\0';
		if (strncmp(link, "/memfd:pagerd-cache", 19) != 0 ||
		    stat(path, &st) == -1)
			continue;
		(*files)++;
		kib += (uint64_t)st.st_blocks / 2;
	}
	closedir(d);
	return kib;
}

/* Wait (up to 5 s) for the daemon to hold no page cache; its numbers. */
static void
settle(struct harness_daemon *d, struct pd_stats_reply *sr)
{
	int i;

	for (i = 0; i < 50; i++) {
		harness_control_stats(d->sock, sr);
		if (sr->caches == 0 && sr->cache_held == 0)
			return;
		harness_sleep_ms(100);
	}
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	struct pagerd *pd;
	char paths[FILES][512], name[16];
	long rss0, rss;
	uint64_t kib;
	int i, fd, files;
	void *p;

	harness_need_root();
	harness_start_conf(&d, "cache-max-mib 4\ncache-linger 0\n");
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof name, "f%d", i);
		harness_make_file(&d, name, SIZE, SEED + (uint64_t)i, paths[i],
		    sizeof paths[i]);
	}
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	rss0 = 0;
	for (i = 0; i < ROUNDS; i++) {
		CHECKF((fd = open(paths[i % FILES], O_RDONLY | O_CLOEXEC)) !=
		    -1, "open: %s", strerror(errno));
		CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
		    "round %d: map: %s", i, pagerd_errmsg());
		close(fd);
		harness_check_range(p, 0, SIZE, SEED + (uint64_t)(i % FILES),
		    UINT64_MAX);
		CHECK(pagerd_unmap(pd, p) == 0);
		/* After a first round of each file: the daemon warmed up. */
		if (i == FILES - 1) {
			settle(&d, &sr);
			rss0 = harness_rss_kib(d.pid);
		}
	}
	settle(&d, &sr);
	kib = cache_kib(d.pid, &files);
	rss = harness_rss_kib(d.pid);
	printf("after %d rounds: %u caches, %" PRIu64 " bytes held, %d cache "
	    "files of %" PRIu64 " KiB open; rss %ld KiB, %ld after the first "
	    "round\n", ROUNDS, sr.caches, sr.cache_held, files, kib, rss,
	    rss0);
	CHECKF(sr.caches == 0, "%u caches left", sr.caches);
	CHECKF(sr.cache_held == 0, "the daemon counts %" PRIu64 " bytes held "
	    "with no cache", sr.cache_held);
	CHECKF(files == 0 && kib == 0, "%d page cache files of %" PRIu64
	    " KiB still open", files, kib);
	CHECKF(sr.cache_evicted > 0, "nothing was evicted");
	CHECKF(rss <= rss0 + 2048, "the daemon's rss grew from %ld to %ld "
	    "KiB", rss0, rss);
	pagerd_close(pd);
	harness_stop(&d);
	for (i = 0; i < FILES; i++)
		unlink(paths[i]);
	return 0;
}

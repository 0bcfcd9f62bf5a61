/*
 * Description: a working set replayed from a cold file past its user's
 * share of the page caches (cache-max-mib 48: 24 MiB, a 64 MiB file) is
 * read into huge pages where the recording holds most of a 2 MiB window:
 * the first 8 MiB read in order, recorded a page at a time, and replayed
 * with the client waiting, leave the daemon's cache mapped in 2 MiB
 * entries (ShmemPmdMapped of its smaps_rollup), and the pages hold the
 * file's bytes. The replay used to take huge pages only for a read of
 * 2 MiB or more, and its reads are 1 MiB at most: never.
 *
 * The recording holds 8 to 14 MiB (the first run's stream read ahead of
 * it): within the share, so that eviction does not decide what stays
 * (with a share of 8 MiB it took the user down to 6 MiB, or not, as the
 * reads came in: 6 of 8 MiB mapped huge, once in ten runs). Each run
 * waits for its cache to go (cache-linger 0; a read still out holds it
 * past the session): else the replay may find the first run's cache,
 * read nothing (seen: "0 MiB read") and map what that run filled, not
 * all of it in huge pages.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "replay-common.h"

#define DENSE (8u << 20)

/* The daemon's shared memory mapped in 2 MiB entries, in bytes. */
static uint64_t
pmd_mapped(pid_t pid)
{
	char path[64], line[256];
	unsigned long long kb = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	CHECKF((f = fopen(path, "re")) != NULL, "%s", path);
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "ShmemPmdMapped: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/*
 * A client reading the first DENSE bytes of path in order, its page
 * cache dropped first; where replay is set, it waits for the replay to
 * end before it touches anything and checks the daemon's huge mapping.
 */
static void
run(const struct harness_daemon *d, const char *path, int replay)
{
	struct pagerd *pd;
	uint64_t off, pmd;
	void *map;
	pid_t pid;
	int fd, i;

	fd = harness_open_cold(d, path);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		CHECKF(pagerd_connect(d->sock, &pd) == 0, "connect: %s",
		    pagerd_errmsg());
		CHECKF(pagerd_map_file(pd, fd, 0, REPLAY_SIZE, PROT_READ, 0,
		    &map) == 0, "map: %s", pagerd_errmsg());
		if (replay) {
			for (i = 0; i < 1000 && !harness_log_has(d,
			    "replayed ahead of faults"); i++)
				usleep(10000);
			CHECK(harness_log_has(d, "replayed with O_DIRECT"));
			CHECK(harness_log_has(d, "replayed ahead of faults"));
			pmd = pmd_mapped(d->pid);
			CHECKF(pmd >= DENSE, "the daemon maps %llu bytes of "
			    "its caches huge, not the %u replayed",
			    (unsigned long long)pmd, DENSE);
		}
		for (off = 0; off < DENSE; off += 4096)
			harness_check_range((char *)map + off, off, 4096,
			    REPLAY_SEED, REPLAY_SIZE);
		_exit(0);
	}
	close(fd);
	CHECKF(harness_wait(pid) == 0, "a run failed");
	harness_wait_idle(d->sock);
}

int
main(void)
{
	struct harness_daemon d;
	char path[512];

	harness_start_conf(&d, "cache-linger 0\ncache-max-mib 48\n");
	replay_need_cache(&d);
	harness_make_file(&d, "dense.dat", REPLAY_SIZE, REPLAY_SEED, path,
	    sizeof path);
	run(&d, path, 0);
	run(&d, path, 1);
	harness_stop(&d);
	return 0;
}

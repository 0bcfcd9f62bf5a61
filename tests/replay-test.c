/*
 * Description: working-set record and replay. A program run under the
 * shim reads a quarter of a file in a fixed random order: the daemon
 * records the windows it faulted and lists the recording (the file, its
 * pages). Run again, the program finds most of those pages mapped before
 * it touches them: it takes at most a quarter of the first run's faults,
 * and every page holds the file's bytes.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "replay-common.h"

int
main(void)
{
	struct harness_daemon d;
	struct replay_entry e[4];
	char path[512];
	uint64_t first, second;
	int n;

	harness_start(&d, NULL);
	replay_need_cache(&d);
	harness_make_file(&d, "ws.dat", REPLAY_SIZE, REPLAY_SEED, path,
	    sizeof path);

	first = replay_run(&d, path, REPLAY_SEED, NULL);
	n = replay_ask(d.sock, NULL, 0, 0, NULL, e, 4);
	CHECKF(n == 1, "%d recordings after the first run, expected 1", n);
	CHECKF(strcmp(e[0].path, path) == 0, "recording of %s", e[0].path);
	CHECKF(e[0].pages >= REPLAY_SIZE / 4096 / 4, "%llu pages recorded",
	    (unsigned long long)e[0].pages);

	second = replay_run(&d, path, REPLAY_SEED, NULL);
	printf("faults: first run %llu, second %llu\n",
	    (unsigned long long)first, (unsigned long long)second);
	CHECKF(second * 4 <= first, "the replayed run took %llu faults, the "
	    "first %llu", (unsigned long long)second,
	    (unsigned long long)first);
	CHECK(harness_log_has(&d, "replayed ahead of faults"));
	harness_stop(&d);
	return 0;
}

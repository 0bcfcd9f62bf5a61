/*
 * Description: a changed file invalidates its working-set recording. A
 * program's run is recorded; the file is rewritten with other bytes (its
 * change time moves); the next run replays nothing (as many faults as a
 * first run, the new bytes read), the daemon says the recording was
 * removed, and that run's own recording replays in the run after it.
 */
#include "config.h"

#include <stdio.h>

#include "replay-common.h"

#define SEED2 0x5eed0018ull

int
main(void)
{
	struct harness_daemon d;
	struct replay_entry e[4];
	uint64_t first, changed, again;
	char path[512];

	harness_start(&d, NULL);
	replay_need_cache(&d);
	harness_make_file(&d, "ws.dat", REPLAY_SIZE, REPLAY_SEED, path,
	    sizeof path);
	first = replay_run(&d, path, REPLAY_SEED, NULL);
	CHECK(replay_ask(d.sock, NULL, 0, 0, NULL, e, 4) == 1);

	/* The same file, inode and size: other bytes, a later ctime. */
	harness_sleep_ms(20);
	harness_make_file(&d, "ws.dat", REPLAY_SIZE, SEED2, path, sizeof path);
	changed = replay_run(&d, path, SEED2, NULL);
	printf("faults: first run %llu, after the change %llu\n",
	    (unsigned long long)first, (unsigned long long)changed);
	CHECKF(changed * 2 >= first, "a run after the file changed took %llu "
	    "faults, the first %llu: a stale recording was replayed",
	    (unsigned long long)changed, (unsigned long long)first);
	CHECK(harness_log_has(&d, "changed since its working set was "
	    "recorded"));
	CHECK(!harness_log_has(&d, "replayed ahead of faults"));

	/* Recorded anew, it replays. */
	CHECK(replay_ask(d.sock, NULL, 0, 0, NULL, e, 4) == 1);
	again = replay_run(&d, path, SEED2, NULL);
	CHECKF(again * 4 <= changed, "the run after took %llu faults, the one "
	    "before %llu", (unsigned long long)again,
	    (unsigned long long)changed);
	harness_stop(&d);
	return 0;
}

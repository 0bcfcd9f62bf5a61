/*
 * Description: a working set replayed from a file that is not in the page
 * cache is read with O_DIRECT straight into the daemon's cache, and the
 * pages it maps hold the file's bytes: a quarter of a file whose end is
 * not page aligned, spread over it, and its last page, every byte checked
 * (zeros past the file's end), in the recorded run and in the replayed
 * one. The daemon keeps no cache after a client (cache-linger 0), so the
 * replay reads the disk.
 */
#include "config.h"

#include "replay-common.h"

#define SIZE (REPLAY_SIZE + 1000)

int
main(void)
{
	struct harness_daemon d;
	char path[512];

	harness_start_conf(&d, "cache-linger 0\n");
	replay_need_cache(&d);
	harness_make_file(&d, "ws.dat", SIZE, REPLAY_SEED, path, sizeof path);
	replay_run_cold(&d, path, SIZE, REPLAY_SEED);
	replay_run_cold(&d, path, SIZE, REPLAY_SEED);
	CHECK(harness_log_has(&d, "replayed ahead of faults"));
	CHECK(harness_log_has(&d, "replayed with O_DIRECT"));
	harness_stop(&d);
	return 0;
}

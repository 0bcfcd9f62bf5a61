/*
 * Description: a first run of a file that is not in the page cache is
 * recorded a page at a time. A program reads a quarter of the file's pages
 * spread over the file: the recording holds those pages, not the 64 KiB
 * windows of read-ahead around them (which would be nearly all of the
 * file, and all of it replayed the next time).
 */
#include "config.h"

#include <stdio.h>

#include "replay-common.h"

int
main(void)
{
	struct harness_daemon d;
	struct replay_entry e[4];
	uint64_t pages = REPLAY_SIZE / 4096;
	char path[512];

	harness_start(&d, NULL);
	replay_need_cache(&d);
	harness_make_file(&d, "ws.dat", REPLAY_SIZE, REPLAY_SEED, path,
	    sizeof path);
	replay_run_cold(&d, path, REPLAY_SIZE, REPLAY_SEED);
	CHECKF(replay_ask(d.sock, NULL, 0, 0, NULL, e, 4) == 1,
	    "no recording of the cold run");
	printf("%llu of %llu pages recorded, %llu touched\n",
	    (unsigned long long)e[0].pages, (unsigned long long)pages,
	    (unsigned long long)(pages / 4 + 1));
	CHECKF(e[0].pages >= pages / 4 + 1, "%llu pages recorded of %llu "
	    "touched", (unsigned long long)e[0].pages,
	    (unsigned long long)(pages / 4 + 1));
	CHECKF(e[0].pages <= pages * 3 / 10, "%llu pages recorded of %llu "
	    "touched: windows, not pages", (unsigned long long)e[0].pages,
	    (unsigned long long)(pages / 4 + 1));
	harness_stop(&d);
	return 0;
}

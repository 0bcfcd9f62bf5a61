/*
 * Description: a damaged working-set recording is refused, never
 * replayed. A program's run is recorded; its recording in the state
 * directory is then damaged three ways in turn, each before a run: cut
 * short in its head, one range moved past the file's end, and more
 * ranges said than it holds. Each run after a damage reads the file's
 * bytes (the program checks every page), replays nothing (as many faults
 * as a first run), the daemon says the recording was damaged and removed
 * it, and the run's own recording takes its place: the last run replays.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "replay-common.h"

/* The one recording's file in d's state directory. */
static void
recording_path(const struct harness_daemon *d, char *path, size_t len)
{
	struct replay_entry e[2];

	CHECKF(replay_ask(d->sock, NULL, 0, 0, NULL, e, 2) == 1,
	    "not one recording");
	snprintf(path, len, "%s/state/%u/%s", d->dir, (unsigned int)geteuid(),
	    e[0].name);
}

/*
 * Damage the recording at path: 0 cuts it in its head, 1 moves its first
 * range past any file's end, 2 says one range more than it holds.
 */
static void
damage(const char *path, int how)
{
	uint64_t far = UINT64_C(1) << 40;
	uint32_t nranges;
	struct stat st;
	int fd;

	CHECK((fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) != -1);
	CHECK(fstat(fd, &st) == 0);
	CHECK(pread(fd, &nranges, sizeof nranges, 8) == sizeof nranges);
	CHECKF(nranges > 0 && (uint64_t)st.st_size > nranges * 16ull,
	    "a recording of %u ranges in %lld bytes", nranges,
	    (long long)st.st_size);
	switch (how) {
	case 0:
		CHECK(ftruncate(fd, 40) == 0);
		break;
	case 1:
		/* The head ends where the ranges, 16 bytes each, begin. */
		CHECK(pwrite(fd, &far, sizeof far, st.st_size - nranges * 16) ==
		    sizeof far);
		break;
	case 2:
		nranges++;
		CHECK(pwrite(fd, &nranges, sizeof nranges, 8) ==
		    sizeof nranges);
		break;
	}
	CHECK(close(fd) == 0);
}

int
main(void)
{
	static const char *const said[] = {
		"is damaged (cut short in its head): removed",
		"is damaged (a range past the file's end): removed",
		"is damaged (its length is not its ranges'): removed",
	};
	struct harness_daemon d;
	char path[512], rec[1024];
	uint64_t first, after, again;
	int how;

	/* No cache outlives its run: a run not replayed faults as the first. */
	harness_start_conf(&d, "cache-linger 0\n");
	replay_need_cache(&d);
	harness_make_file(&d, "ws.dat", REPLAY_SIZE, REPLAY_SEED, path,
	    sizeof path);
	first = replay_run(&d, path, REPLAY_SEED, NULL);

	for (how = 0; how < 3; how++) {
		recording_path(&d, rec, sizeof rec);
		damage(rec, how);
		after = replay_run(&d, path, REPLAY_SEED, NULL);
		printf("faults: first run %llu, after damage %d %llu\n",
		    (unsigned long long)first, how,
		    (unsigned long long)after);
		CHECKF(after * 2 >= first, "a run after damage %d took %llu "
		    "faults, the first %llu: the damaged recording was "
		    "replayed", how, (unsigned long long)after,
		    (unsigned long long)first);
		CHECKF(harness_log_has(&d, said[how]), "no \"%s\" in the log",
		    said[how]);
		CHECK(!harness_log_has(&d, "replayed ahead of faults"));
	}

	/* The last run's own recording replays. */
	recording_path(&d, rec, sizeof rec);
	again = replay_run(&d, path, REPLAY_SEED, NULL);
	CHECKF(again * 4 <= first, "the run after took %llu faults, the first "
	    "%llu", (unsigned long long)again, (unsigned long long)first);
	CHECK(harness_log_has(&d, "replayed ahead of faults"));
	harness_stop(&d);
	return 0;
}

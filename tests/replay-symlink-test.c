/*
 * Description: the daemon follows no symbolic link planted in its state
 * directory. A link in place of a user's directory of recordings: nothing
 * is written where it points, and nothing is listed. A link in place of a
 * recording (to a copy of it): the next run replays nothing through it,
 * the copy is left as it was, and a new recording replaces the link.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "replay-common.h"

/* Entries of directory path, . and .. aside. */
static int
replay_entries(const char *path)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	CHECK((d = opendir(path)) != NULL);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
replay_copy(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	CHECK((in = open(from, O_RDONLY)) != -1);
	CHECK((out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600)) != -1);
	while ((n = read(in, buf, sizeof buf)) > 0)
		CHECK(write(out, buf, (size_t)n) == n);
	close(in);
	close(out);
}

int
main(void)
{
	char path[512], user[600], outside[600], rec[700], copy[700];
	struct harness_daemon d;
	struct replay_entry e[4];
	struct stat before, after, st;
	uint64_t first, second;

	harness_start(&d, NULL);
	replay_need_cache(&d);
	harness_make_file(&d, "ws.dat", REPLAY_SIZE, REPLAY_SEED, path,
	    sizeof path);
	snprintf(outside, sizeof outside, "%s/outside", d.dir);
	CHECK(mkdir(outside, 0700) == 0);
	snprintf(user, sizeof user, "%s/state/%u", d.dir,
	    (unsigned int)geteuid());

	/* The user's directory is a link: not followed. */
	CHECK(symlink(outside, user) == 0);
	first = replay_run(&d, path, REPLAY_SEED, NULL);
	CHECKF(replay_entries(outside) == 0, "the daemon wrote through a "
	    "link in its state directory");
	CHECK(replay_ask(d.sock, NULL, 0, 0, NULL, e, 4) == 0);
	CHECK(unlink(user) == 0);

	/* A recording is a link to a copy of itself: not followed either. */
	replay_run(&d, path, REPLAY_SEED, NULL);
	CHECK(replay_ask(d.sock, NULL, 0, 0, NULL, e, 4) == 1);
	snprintf(rec, sizeof rec, "%s/%s", user, e[0].name);
	snprintf(copy, sizeof copy, "%s/%s", outside, e[0].name);
	replay_copy(rec, copy);
	CHECK(unlink(rec) == 0);
	CHECK(symlink(copy, rec) == 0);
	CHECK(stat(copy, &before) == 0);
	harness_sleep_ms(20);
	second = replay_run(&d, path, REPLAY_SEED, NULL);
	printf("faults: first run %llu, through a planted link %llu\n",
	    (unsigned long long)first, (unsigned long long)second);
	CHECKF(!harness_log_has(&d, "replayed ahead of faults"), "the "
	    "recording was read through the link");
	CHECK(stat(copy, &after) == 0);
	CHECK(after.st_size == before.st_size && after.st_mtim.tv_sec ==
	    before.st_mtim.tv_sec && after.st_mtim.tv_nsec ==
	    before.st_mtim.tv_nsec);
	CHECK(lstat(rec, &st) == 0 && S_ISREG(st.st_mode));
	unlink(copy);
	rmdir(outside);
	harness_stop(&d);
	return 0;
}

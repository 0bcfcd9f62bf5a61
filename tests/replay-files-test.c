/*
 * Description: a session records at most uid-max-recordings files. Its
 * records are held in the daemon's memory (up to 512 KiB each) while it
 * lives and written, each with a scan of the user's directory, by its
 * worker when it ends; past what the user may keep they would only push
 * each other out. A client of pagerd-ta maps 8 files of its own through
 * their page caches, with uid-max-recordings 3, touches each and ends:
 * 3 recordings are written, not 8.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eedf11eull
#define FILES 8
#define SIZE (64u << 10)

static struct harness_daemon d;
static char paths[FILES][512];

static void
client(void)
{
	struct pagerd *pd;
	void *p;
	int i, fd;

	harness_become_user("pagerd-ta");
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	for (i = 0; i < FILES; i++) {
		CHECK((fd = open(paths[i], O_RDONLY | O_CLOEXEC)) != -1);
		CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
		    "map: %s", pagerd_errmsg());
		harness_check_range(p, 0, 4096, SEED, SIZE);
		close(fd);
	}
	pagerd_close(pd);
}

int
main(void)
{
	struct passwd *pw;
	char conf[256], name[16];
	int i;

	harness_need_root();
	harness_test_user("pagerd-ta");
	snprintf(conf, sizeof conf, "uid-max-recordings 3\n");
	harness_start_conf(&d, conf);
	CHECK((pw = getpwnam("pagerd-ta")) != NULL);
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof name, "file%d", i);
		harness_make_file(&d, name, SIZE, SEED, paths[i],
		    sizeof paths[i]);
		CHECK(chown(paths[i], pw->pw_uid, pw->pw_gid) == 0);
	}
	harness_clients(&d, 1, client, "no shared page cache for pagerd-ta");
	harness_wait_idle(d.sock);
	CHECKF(harness_log_count(&d, "pages of ") == 3, "%d recordings written "
	    "at the end of one session, uid-max-recordings 3",
	    harness_log_count(&d, "pages of "));
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("a session records at most uid-max-recordings files\n");
	return 0;
}

/*
 * Description: one user cannot use up the daemon's descriptors. With
 * uid-max-fds 48, pagerd-ta maps one page of a file again and again
 * (each region holds a descriptor of the file) until it is refused: the
 * refusal is EMFILE and names uid-max-fds, the daemon holds no more than
 * 48 descriptors more than before, and root and pagerd-tb still map and
 * read files.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed0021ull
#define SIZE (1u << 20)
#define CAP 48
#define TRIES 400

static struct harness_daemon d;
static char path[512];

/* A client maps the whole file and reads it right. */
static void
served(void *unused)
{
	const char *sock = d.sock;
	struct pagerd *pd;
	void *p;
	int fd;

	(void)unused;
	CHECKF(pagerd_connect(sock, &pd) == 0, "uid %d was refused: %s",
	    (int)getuid(), pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "uid %d: map: %s", (int)getuid(), pagerd_errmsg());
	close(fd);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	pagerd_close(pd);
}

static void
attacker(const char *sock, struct harness_hold *h)
{
	struct pagerd *pd;
	int fd, i, error = 0;
	void *p;

	harness_become_user("pagerd-ta");
	/* Copies, not the page cache: a region then holds the file. */
	setenv("PAGERD_NO_CACHE", "1", 1);
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	for (i = 0; i < TRIES; i++)
		if ((error = pagerd_map_file(pd, fd, 0, 4096, PROT_READ, 0,
		    &p)) != 0)
			break;
	CHECKF(i < TRIES, "%d file regions mapped, none refused", TRIES);
	CHECKF(error == -EMFILE && strstr(pagerd_errmsg(), "uid-max-fds") !=
	    NULL, "region %d refused with %d: %s", i, error, pagerd_errmsg());
	CHECKF(i <= CAP, "%d file regions past uid-max-fds %d", i, CAP);
	printf("pagerd-ta: region %d refused: %s\n", i, pagerd_errmsg());
	harness_hold_ready(h);
	_exit(0);
}

int
main(void)
{
	struct harness_hold h;
	int before, during;

	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	harness_start_conf(&d, "uid-max-fds 48\n");
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	before = harness_settled_fds(d.pid);
	if (harness_hold_start(&h) == 0)
		attacker(d.sock, &h);
	CHECKF(harness_hold_wait(&h) == 0, "pagerd-ta failed");
	during = harness_settled_fds(d.pid);
	printf("daemon descriptors: %d before, %d with pagerd-ta at its "
	    "limit\n", before, during);
	CHECKF(during - before <= CAP, "the daemon holds %d descriptors more "
	    "for pagerd-ta, past uid-max-fds %d", during - before, CAP);

	served(NULL);
	CHECKF(harness_as_user("pagerd-tb", served, NULL) == 0,
	    "pagerd-tb was not served");
	printf("root and pagerd-tb: served\n");
	CHECK(harness_hold_end(&h) == 0);
	harness_stop(&d);
	return 0;
}

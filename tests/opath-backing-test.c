/*
 * Description: an O_PATH descriptor is no backing file. A process of the
 * test user pagerd-tb in the file's group maps a group-readable file
 * through pagerd (filling the page cache of the file for its uid); a
 * process of the same user without that group, which can open the file
 * with O_PATH only, is refused by the library with the reason, and by the
 * daemon when it sends the descriptor itself, for a page cache (the cache
 * hit) and for a plain file region: it gets no bytes of the file.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "uffd.h"

#define SEED 0x5eed0ba7ull
#define SIZE (1u << 20)
#define GROUP 54321		/* the file's group, no user's own */

/* The test user pagerd-tb, with the file's group or with none. */
static void
become_tb(int with_group)
{
	const gid_t g = GROUP;
	struct passwd *pw;

	harness_test_user("pagerd-tb");
	CHECK((pw = getpwnam("pagerd-tb")) != NULL);
	CHECK(setgroups(with_group ? 1 : 0, &g) == 0);
	CHECK(setgid(pw->pw_gid) == 0);
	CHECK(setuid(pw->pw_uid) == 0);
}

/* The reader: maps the file, touches it all, holds it until told. */
static void
reader(const char *sock, const char *path, int ready, int done)
{
	struct pagerd *pd;
	void *p;
	char c;
	int fd;

	become_tb(1);
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s in "
	    "its group: %s", path, strerror(errno));
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	CHECK(write(ready, "r", 1) == 1);
	CHECK(read(done, &c, 1) >= 0);
	pagerd_close(pd);
	_exit(0);
}

/* A client session of our own, past its hello, for raw requests. */
static int
raw_client(const char *sock)
{
	char why[512];
	union pd_msg msg;
	uint64_t got;
	int fd, uffd, umo;

	CHECKF((uffd = uffd_open(O_CLOEXEC | O_NONBLOCK, &umo, why,
	    sizeof why)) >= 0, "%s", why);
	CHECKF(uffd_api(uffd, 0, &got, why, sizeof why) == 0, "%s", why);
	CHECK((fd = harness_raw_connect(sock)) != -1);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, &uffd, 1) == 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == 0,
	    "hello refused: %s", msg.reply.reason);
	close(uffd);
	return fd;
}

/* The daemon's answer to req with the O_PATH descriptor: a refusal. */
static void
expect_refused(const char *sock, union pd_msg *req, int opath,
    const char *what)
{
	union pd_msg msg;
	int fd = raw_client(sock);

	CHECK(harness_raw_send(fd, req, req->hdr.size, &opath, 1) == 0);
	CHECKF(harness_raw_recv(fd, &msg, 5000) > 0, "%s: no answer", what);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == -EBADF,
	    "%s with an O_PATH descriptor: the daemon answered %s, status %d",
	    what, proto_type_name(msg.hdr.type), msg.hdr.type == PD_MSG_REPLY ?
	    msg.reply.status : 0);
	msg.reply.reason[sizeof msg.reply.reason - 1] = '\0';
	CHECKF(strstr(msg.reply.reason, "O_PATH") != NULL, "%s: the refusal "
	    "does not say why: %s", what, msg.reply.reason);
	printf("daemon refused %s: %s\n", what, msg.reply.reason);
	close(fd);
}

/* The sandboxed one: the same user without the group. */
static void
sandboxed(const char *sock, const char *path)
{
	union pd_msg req;
	struct pagerd *pd;
	void *p;
	int fd;

	become_tb(0);
	CHECKF(open(path, O_RDONLY | O_CLOEXEC) == -1 && errno == EACCES,
	    "the sandboxed process could open %s", path);
	CHECKF((fd = open(path, O_PATH | O_CLOEXEC)) != -1, "O_PATH open: %s",
	    strerror(errno));

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == -EBADF,
	    "the library mapped an O_PATH descriptor");
	CHECKF(strstr(pagerd_errmsg(), "O_PATH") != NULL, "no reason: %s",
	    pagerd_errmsg());
	printf("library refused: %s\n", pagerd_errmsg());
	pagerd_close(pd);

	/* Past the library: the cache hit, then a plain file region. */
	proto_init(&req, PD_MSG_CACHE_OPEN, 2);
	expect_refused(sock, &req, fd, "a page cache");
	proto_init(&req, PD_MSG_REGION_ADD, 2);
	req.region_add.start = 0x100000000ull;
	req.region_add.length = SIZE;
	req.region_add.backing = PD_BACKING_FILE;
	req.region_add.prot = PD_PROT_READ;
	req.region_add.mode = PD_MODE_MISSING;
	expect_refused(sock, &req, fd, "a file region");
	fflush(stdout);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	char path[512];
	int ready[2], done[2];
	pid_t rpid, spid;
	char c;

	harness_need_root();
	harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	harness_make_file(&d, "group-only", SIZE, SEED, path, sizeof path);
	CHECK(chown(path, 0, GROUP) == 0);
	CHECK(chmod(path, 0640) == 0);
	CHECK(pipe(ready) == 0 && pipe(done) == 0);
	fflush(NULL);
	if ((rpid = fork()) == 0) {
		close(ready[0]);
		close(done[1]);
		reader(d.sock, path, ready[1], done[0]);
	}
	close(ready[1]);
	close(done[0]);
	CHECKF(read(ready[0], &c, 1) == 1, "the reader failed");
	if ((spid = fork()) == 0)
		sandboxed(d.sock, path);
	CHECKF(harness_wait(spid) == 0, "the sandboxed process got the file");
	close(done[1]);
	CHECKF(harness_wait(rpid) == 0, "the reader failed");
	CHECK(harness_alive(&d));
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	return 0;
}

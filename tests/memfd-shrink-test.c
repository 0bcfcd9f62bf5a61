/*
 * Description: a client that shrinks its own memfd cannot kill the daemon.
 * The attacker (pagerd-ta, speaking the protocol itself, with a memfd it
 * did not seal) maps a write-back region, writes every page, ftruncates
 * the region's memfd to 0 and asks for a snapshot and a sync: both fail
 * with an error and the daemon lives on; likewise with the memfd adopted
 * at re-attach after a daemon restart. Clients of another user
 * (pagerd-tb) and of root, connected before, are served after. A memfd
 * offered as a page cache to adopt must be sealed at its size, and a
 * region's memory must be a memfd, not a file of a disk.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "uffd.h"

#define SEED 0x5eed5471ull
#define SIZE (64u << 10)
#define VSIZE (1u << 20)

#define WP_FEATURES (UFFD_FEATURE_PAGEFAULT_FLAG_WP | \
	UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM)

static int
wait_byte(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? 0 : -1;
}

static void
say_byte(int fd)
{
	CHECK(write(fd, "x", 1) == 1);
}

/* A victim: maps a file before the attack, reads it all after. */
static void
victim(const char *sock, const char *path, const char *user, int ready,
    int go)
{
	struct pagerd *pd;
	void *p;
	int fd;

	if (user != NULL)
		harness_become_user(user);
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open: %s",
	    strerror(errno));
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF(pagerd_map_file(pd, fd, 0, VSIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	say_byte(ready);
	CHECK(wait_byte(go) == 0);
	harness_check_range(p, 0, VSIZE, SEED, UINT64_MAX);
	pagerd_close(pd);
	_exit(0);
}

struct attacker {
	const char *sock;
	int uffd;
	uint64_t features;
	int memfd;
	int file;
	char *mem;
	int sock_fd;
};

/* A client session on a new connection, re-attaching or not. */
static void
attacker_hello(struct attacker *a, uint32_t flags)
{
	union pd_msg msg;

	CHECK((a->sock_fd = harness_raw_connect(a->sock)) != -1);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.flags = flags;
	msg.hello.uffd_features = a->features;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	CHECK(harness_raw_send(a->sock_fd, &msg, msg.hdr.size, &a->uffd, 1) ==
	    0);
	CHECK(harness_raw_recv(a->sock_fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == 0,
	    "hello refused: %s", msg.reply.reason);
}

/* The write-back region over the memfd; its id. */
static uint32_t
attacker_region(struct attacker *a)
{
	union pd_msg msg;
	int fds[2] = { a->file, a->memfd };

	proto_init(&msg, PD_MSG_REGION_ADD, 2);
	msg.region_add.start = (uintptr_t)a->mem;
	msg.region_add.length = SIZE;
	msg.region_add.backing = PD_BACKING_FILE;
	msg.region_add.prot = PD_PROT_READ | PD_PROT_WRITE;
	msg.region_add.mode = PD_MODE_MISSING | PD_MODE_WP;
	msg.region_add.flags = PD_REGION_WP | PD_REGION_WRITEBACK;
	CHECK(harness_raw_send(a->sock_fd, &msg, msg.hdr.size, fds, 2) == 0);
	CHECK(harness_raw_recv(a->sock_fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == 0,
	    "region refused: %s", msg.reply.reason);
	return msg.reply.value;
}

/* The region's memory, registered for missing and write faults. */
static void
attacker_setup(struct attacker *a, const char *sock, const char *path)
{
	struct uffdio_register reg;
	char why[512];
	uint64_t have;
	int umo;

	a->sock = sock;
	CHECKF(uffd_probe_features(&have, why, sizeof why) == 0, "%s", why);
	if ((have & WP_FEATURES) != WP_FEATURES)
		_exit(77);
	CHECKF((a->uffd = uffd_open(O_CLOEXEC | O_NONBLOCK, &umo, why,
	    sizeof why)) >= 0, "%s", why);
	CHECKF(uffd_api(a->uffd, WP_FEATURES, &a->features, why, sizeof why) ==
	    0, "%s", why);
	CHECKF((a->file = open(path, O_RDWR | O_CLOEXEC)) != -1, "open: %s",
	    strerror(errno));
	CHECK((a->memfd = memfd_create("unsealed", MFD_CLOEXEC)) != -1);
	CHECK(ftruncate(a->memfd, SIZE) == 0);
	a->mem = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    a->memfd, 0);
	CHECK(a->mem != MAP_FAILED);
	reg = (struct uffdio_register){ .range = { .start = (uintptr_t)a->mem,
	    .len = SIZE }, .mode = UFFDIO_REGISTER_MODE_MISSING |
	    UFFDIO_REGISTER_MODE_WP };
	CHECKF(ioctl(a->uffd, UFFDIO_REGISTER, &reg) == 0, "register: %s",
	    strerror(errno));
}

/* Cut the memfd, then a snapshot and a sync must fail, not kill. */
static void
attacker_strike(struct attacker *a, uint32_t id, const char *when)
{
	union pd_msg msg;
	int img;

	CHECK(ftruncate(a->memfd, 0) == 0);
	CHECK((img = memfd_create("image", MFD_CLOEXEC)) != -1);
	proto_init(&msg, PD_MSG_SNAPSHOT, 3);
	msg.region_req.region_id = id;
	CHECK(harness_raw_send(a->sock_fd, &msg, msg.hdr.size, &img, 1) == 0);
	CHECKF(harness_raw_recv(a->sock_fd, &msg, 5000) == sizeof msg.reply,
	    "%s: no answer to the snapshot: the daemon died", when);
	CHECK(msg.hdr.type == PD_MSG_REPLY);
	if (msg.reply.status == 0) {
		CHECKF(harness_raw_recv(a->sock_fd, &msg, 5000) ==
		    sizeof msg.notice, "%s: the snapshot never ended: the "
		    "daemon died", when);
		CHECK(msg.hdr.type == PD_MSG_NOTICE);
		CHECKF(msg.notice.status < 0, "%s: a snapshot of a cut memfd "
		    "succeeded", when);
		printf("%s: snapshot: %s\n", when, msg.notice.reason);
	} else
		printf("%s: snapshot refused: %s\n", when, msg.reply.reason);
	close(img);
	proto_init(&msg, PD_MSG_SYNC, 4);
	msg.region_req.region_id = id;
	CHECK(harness_raw_send(a->sock_fd, &msg, msg.hdr.size, NULL, 0) == 0);
	CHECKF(harness_raw_recv(a->sock_fd, &msg, 5000) == sizeof msg.reply,
	    "%s: no answer to the sync: the daemon died", when);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status < 0,
	    "%s: a sync of a cut memfd succeeded", when);
	printf("%s: sync: %s\n", when, msg.reply.reason);
	fflush(stdout);
}

/* Memory that is a file of a disk (shrinkable by anyone) is refused. */
static void
attacker_not_memfd(struct attacker *a)
{
	union pd_msg msg;
	int fds[2] = { a->file, a->file };
	void *p;

	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a->file, 0);
	CHECK(p != MAP_FAILED);
	proto_init(&msg, PD_MSG_REGION_ADD, 7);
	msg.region_add.start = (uintptr_t)p;
	msg.region_add.length = SIZE;
	msg.region_add.backing = PD_BACKING_FILE;
	msg.region_add.prot = PD_PROT_READ | PD_PROT_WRITE;
	msg.region_add.mode = PD_MODE_MISSING | PD_MODE_WP;
	msg.region_add.flags = PD_REGION_WP;
	CHECK(harness_raw_send(a->sock_fd, &msg, msg.hdr.size, fds, 2) == 0);
	CHECK(harness_raw_recv(a->sock_fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == -EINVAL &&
	    strstr(msg.reply.reason, "not a memfd") != NULL, "a disk file was "
	    "taken as a write-protected region's memory: %s",
	    msg.reply.reason);
	printf("a disk file as memory: %s\n", msg.reply.reason);
	munmap(p, SIZE);
}

/* A page cache memfd to adopt that is not sealed is refused. */
static void
attacker_adopt(struct attacker *a)
{
	union pd_msg msg;
	int fds[2];

	fds[0] = a->file;
	CHECK((fds[1] = memfd_create("fake-cache", MFD_CLOEXEC)) != -1);
	CHECK(ftruncate(fds[1], SIZE) == 0);
	proto_init(&msg, PD_MSG_CACHE_OPEN, 5);
	msg.cache_open.flags = PD_CACHE_ADOPT;
	CHECK(harness_raw_send(a->sock_fd, &msg, msg.hdr.size, fds, 2) == 0);
	CHECK(harness_raw_recv(a->sock_fd, &msg, 5000) > 0);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == -EINVAL,
	    "an unsealed memfd was adopted as a page cache");
	printf("adopting an unsealed cache: %s\n", msg.reply.reason);
	close(fds[1]);
}

/*
 * The attacker. restart: after writing, let the parent restart the
 * daemon (told on ready, waited for on go), and re-attach first.
 */
static void
attacker(const char *sock, const char *path, int restart, int ready, int go)
{
	struct attacker a;
	union pd_msg msg;
	uint32_t id;
	size_t i;

	harness_become_user("pagerd-ta");
	attacker_setup(&a, sock, path);
	attacker_hello(&a, 0);
	id = attacker_region(&a);
	for (i = 0; i < SIZE; i += 4096)
		a.mem[i] ^= 1;
	if (!restart) {
		attacker_adopt(&a);
		attacker_not_memfd(&a);
		attacker_strike(&a, id, "live");
		_exit(0);
	}
	say_byte(ready);
	CHECK(wait_byte(go) == 0);
	close(a.sock_fd);
	attacker_hello(&a, PD_HELLO_REATTACH);
	id = attacker_region(&a);
	proto_init(&msg, PD_MSG_REATTACHED, 6);
	CHECK(harness_raw_send(a.sock_fd, &msg, msg.hdr.size, NULL, 0) == 0);
	CHECK(harness_raw_recv(a.sock_fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.reply.status == 0, "reattached: %s", msg.reply.reason);
	attacker_strike(&a, id, "re-attached");
	_exit(0);
}

/* Fork; each side gets its end of a ready and a go pipe. */
static pid_t
spawn(int *ready, int *go)
{
	int r[2], g[2];
	pid_t pid;

	CHECK(pipe(r) == 0 && pipe(g) == 0);
	fflush(NULL);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		close(r[0]);
		close(g[1]);
		*ready = r[1];
		*go = g[0];
		return 0;
	}
	close(r[1]);
	close(g[0]);
	*ready = r[0];
	*go = g[1];
	return pid;
}

int
main(void)
{
	struct harness_daemon d;
	char path[512], vpath[512];
	int ready[2], go[2], aready, ago, i, status;
	pid_t victims[2], pid;
	const char *users[2] = { "pagerd-tb", NULL };
	struct passwd *pw;

	harness_need_root();
	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	harness_make_file(&d, "attacker", SIZE, SEED, path, sizeof path);
	harness_make_file(&d, "victim", VSIZE, SEED, vpath, sizeof vpath);
	CHECK((pw = getpwnam("pagerd-ta")) != NULL);
	CHECK(chown(path, pw->pw_uid, pw->pw_gid) == 0);

	for (i = 0; i < 2; i++) {
		if ((victims[i] = spawn(&ready[i], &go[i])) == 0)
			victim(d.sock, vpath, users[i], ready[i], go[i]);
		CHECKF(wait_byte(ready[i]) == 0, "victim %d failed", i);
	}
	if ((pid = spawn(&aready, &ago)) == 0)
		attacker(d.sock, path, 0, aready, ago);
	status = harness_wait(pid);
	if (status == 77)
		harness_skip("no userfaultfd write protection of shared memory");
	CHECKF(harness_alive(&d), "pagerd died of a client's shrunk memfd");
	CHECKF(status == 0, "the attacker's checks failed (status %d)", status);
	for (i = 0; i < 2; i++) {
		say_byte(go[i]);
		CHECKF(harness_wait(victims[i]) == 0, "victim %s was not served",
		    users[i] != NULL ? users[i] : "root");
	}

	/* At re-attach: the memfd the new daemon adopts. */
	if ((pid = spawn(&aready, &ago)) == 0)
		attacker(d.sock, path, 1, aready, ago);
	CHECKF(wait_byte(aready) == 0, "the attacker failed before the "
	    "restart");
	harness_kill(&d);
	harness_restart(&d);
	say_byte(ago);
	status = harness_wait(pid);
	CHECKF(harness_alive(&d), "pagerd died of a re-attached client's "
	    "shrunk memfd");
	CHECKF(status == 0, "the re-attached attacker's checks failed "
	    "(status %d)", status);
	for (i = 0; i < 2; i++) {
		if ((victims[i] = spawn(&ready[i], &go[i])) == 0)
			victim(d.sock, vpath, users[i], ready[i], go[i]);
		CHECKF(wait_byte(ready[i]) == 0, "victim %d failed", i);
		say_byte(go[i]);
		CHECKF(harness_wait(victims[i]) == 0, "victim %s was not served",
		    users[i] != NULL ? users[i] : "root");
	}
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	unlink(vpath);
	return 0;
}

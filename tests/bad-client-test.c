/*
 * Description: hostile and broken peers. Every framing error (truncated,
 * bad magic, version, type, shorter than the type's first release,
 * oversized, wrong descriptors, out of order, a request of the other
 * role's) gets an error reply with its errno and a reason and closes that
 * session; every refused well-formed request (bad fields, overlap, a
 * backing descriptor that is not a readable regular file, an unknown
 * region, a page cache to adopt that the daemon cannot trust: a named
 * file, a memfd of the wrong size, an unnamed file outside shared memory)
 * gets its error and the session stays usable. A message longer than the
 * daemon knows is taken and its tail of junk ignored. Hostile descriptors
 * (a pipe, an eventfd, a memfd, a userfaultfd with the sigbus or, where
 * the test may enable it, the event-fork feature or before UFFDIO_API,
 * 250 descriptors at once) are refused. Meanwhile a good
 * client maps and checks a file again and again without noticing, and
 * the daemon closes every descriptor it was sent.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "uffd.h"

#define SEED 0x5eed0006ull
#define PAGE 4096u

static const char *sock;
static int cases;

static int
make_uffd(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int uffd;

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	CHECKF(uffd != -1, "userfaultfd: %s", strerror(errno));
	CHECK(ioctl(uffd, UFFDIO_API, &api) == 0);
	return uffd;
}

static void
send_msg(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	CHECKF(harness_raw_send(fd, buf, len, fds, nfds) == 0, "send: %s",
	    strerror(errno));
}

/* A new connection whose first message is buf: its descriptor. */
static int
send_new(const void *buf, size_t len, const int *fds, int nfds)
{
	int fd;

	CHECK((fd = harness_raw_connect(sock)) != -1);
	send_msg(fd, buf, len, fds, nfds);
	return fd;
}

/* A session past a client hello, with its own userfaultfd. */
static int
client_session(int *uffdp)
{
	union pd_msg msg;
	int fd, uffd = make_uffd(0);

	CHECK((fd = harness_raw_connect(sock)) != -1);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.page_size = PAGE;
	send_msg(fd, &msg, msg.hdr.size, &uffd, 1);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.reply.status == 0, "hello refused: %s", msg.reply.reason);
	if (uffdp != NULL)
		*uffdp = uffd;
	else
		close(uffd);
	return fd;
}

/*
 * The reply to the last message must carry status and seq; then the
 * session must be closed, or must still answer a STATS.
 */
static void
expect(int fd, const char *what, int status, uint32_t seq, int closed)
{
	union pd_msg msg;
	ssize_t n;

	cases++;
	n = harness_raw_recv(fd, &msg, 5000);
	/* Before a hello is taken, at the first release's size. */
	CHECKF((n == sizeof msg.reply || n == (ssize_t)proto_min(
	    PD_MSG_REPLY)) && msg.hdr.type == PD_MSG_REPLY,
	    "%s: no reply (%zd bytes)", what, n);
	CHECKF(msg.reply.status == status, "%s: status %d (%s), expected %d",
	    what, msg.reply.status, msg.reply.reason, status);
	CHECKF(msg.reply.reason[0] != '\0', "%s: no reason", what);
	CHECKF(msg.hdr.seq == seq, "%s: seq %u, expected %u", what,
	    msg.hdr.seq, seq);
	if (closed) {
		n = harness_raw_recv(fd, &msg, 5000);
		CHECKF(n == 0, "%s: the session stayed open", what);
	} else {
		proto_init(&msg, PD_MSG_STATS, 77);
		send_msg(fd, &msg, msg.hdr.size, NULL, 0);
		n = harness_raw_recv(fd, &msg, 5000);
		CHECKF(n == sizeof msg.stats_reply && msg.hdr.seq == 77,
		    "%s: the session is not usable after the refusal", what);
	}
	close(fd);
}

static void
framing_errors(void)
{
	union pd_msg msg;
	char big[4096];
	int fd, fds[10], i;

	fd = send_new("abcd", 4, NULL, 0);
	expect(fd, "truncated", -EBADMSG, 0, 1);

	proto_init(&msg, PD_MSG_STATS, 11);
	msg.hdr.magic = 0x12345678;
	fd = send_new(&msg, sizeof msg.stats, NULL, 0);
	expect(fd, "bad magic", -EPROTO, 11, 1);

	proto_init(&msg, PD_MSG_STATS, 12);
	msg.hdr.version = PD_PROTO_VERSION + 1;
	fd = send_new(&msg, sizeof msg.stats, NULL, 0);
	expect(fd, "bad version", -EPROTONOSUPPORT, 12, 1);

	proto_init(&msg, PD_MSG_STATS, 13);
	msg.hdr.type = 99;
	fd = send_new(&msg, sizeof msg.stats, NULL, 0);
	expect(fd, "unknown type", -EBADMSG, 13, 1);

	proto_init(&msg, PD_MSG_STATS, 14);
	msg.hdr.size += 4;
	fd = send_new(&msg, sizeof msg.stats, NULL, 0);
	expect(fd, "header size disagrees", -EBADMSG, 14, 1);

	/* Shorter than the type's first release. */
	proto_init(&msg, PD_MSG_HELLO, 15);
	msg.hdr.size = (uint32_t)proto_min(PD_MSG_HELLO) - 4;
	fd = send_new(&msg, msg.hdr.size, NULL, 0);
	expect(fd, "shorter than the type's first size", -EBADMSG, 15, 1);

	memset(big, 0, sizeof big);
	proto_init((union pd_msg *)big, PD_MSG_STATS, 16);
	((union pd_msg *)big)->hdr.size = sizeof big;
	fd = send_new(big, sizeof big, NULL, 0);
	expect(fd, "oversized", -EMSGSIZE, 16, 1);

	proto_init(&msg, PD_MSG_HELLO, 17);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.page_size = PAGE;
	fd = send_new(&msg, msg.hdr.size, NULL, 0);
	expect(fd, "client hello without its userfaultfd", -EBADMSG, 17, 1);

	proto_init(&msg, PD_MSG_HELLO, 18);
	msg.hello.role = PD_ROLE_CONTROL;
	msg.hello.page_size = PAGE;
	fds[0] = open("/dev/null", O_RDONLY);
	fd = send_new(&msg, msg.hdr.size, fds, 1);
	close(fds[0]);
	expect(fd, "control hello with a descriptor", -EBADMSG, 18, 1);

	for (i = 0; i < 10; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	proto_init(&msg, PD_MSG_STATS, 19);
	fd = send_new(&msg, msg.hdr.size, fds, 10);
	for (i = 0; i < 10; i++)
		close(fds[i]);
	expect(fd, "ten descriptors", -EBADMSG, 19, 1);
}

static void
order_errors(void)
{
	union pd_msg msg;
	int fd;

	proto_init(&msg, PD_MSG_STATS, 21);
	fd = send_new(&msg, msg.hdr.size, NULL, 0);
	expect(fd, "stats before hello", -EPROTO, 21, 1);

	fd = client_session(NULL);
	proto_init(&msg, PD_MSG_HELLO, 22);
	msg.hello.role = PD_ROLE_CONTROL;
	msg.hello.page_size = PAGE;
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "second hello", -EPROTO, 22, 1);

	fd = client_session(NULL);
	proto_init(&msg, PD_MSG_REPLY, 23);
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "a reply sent to the daemon", -EPROTO, 23, 1);

	fd = client_session(NULL);
	proto_init(&msg, PD_MSG_REATTACHED, 25);
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "reattached without a re-attaching hello", -EPROTO, 25, 1);

	CHECK((fd = harness_raw_connect(sock)) != -1);
	CHECK(harness_raw_hello_control(fd) == 0);
	proto_init(&msg, PD_MSG_REGION_DEL, 24);
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "region-del on a control session", -EPROTO, 24, 1);

	fd = client_session(NULL);
	proto_init(&msg, PD_MSG_CLIENTS, 26);
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "clients on a client session", -EPROTO, 26, 1);
}

/*
 * A message longer than the daemon knows (a newer peer's) is taken, its
 * tail ignored, whatever the tail holds; a request's known fields still
 * count.
 */
static void
longer_messages(void)
{
	union {
		union pd_msg msg;
		char raw[PD_MSG_MAX];
	} big;
	union pd_msg msg;
	ssize_t n;
	int fd;

	fd = client_session(NULL);
	memset(&big, 0xa5, sizeof big);
	proto_init(&big.msg, PD_MSG_STATS, 61);
	big.msg.hdr.size = sizeof big.msg.stats + 200;
	send_msg(fd, &big, big.msg.hdr.size, NULL, 0);
	cases++;
	n = harness_raw_recv(fd, &msg, 5000);
	CHECKF(n == sizeof msg.stats_reply && msg.hdr.type ==
	    PD_MSG_STATS_REPLY && msg.hdr.seq == 61, "a stats request with a "
	    "tail of junk: %zd bytes of type %u", n, msg.hdr.type);

	memset(&big, 0xa5, sizeof big);
	proto_init(&big.msg, PD_MSG_REGION_DEL, 62);
	big.msg.region_del.region_id = 999;
	big.msg.region_del.reserved = 0;
	big.msg.hdr.size = PD_MSG_MAX;
	send_msg(fd, &big, big.msg.hdr.size, NULL, 0);
	expect(fd, "the longest region-del, of a region not there", -ENOENT,
	    62, 0);
}

static void
hello_errors(void)
{
	union pd_msg msg;
	int fd, p[2], uffd;

	proto_init(&msg, PD_MSG_HELLO, 31);
	msg.hello.role = 7;
	msg.hello.page_size = PAGE;
	fd = send_new(&msg, msg.hdr.size, NULL, 0);
	expect(fd, "unknown role", -EINVAL, 31, 1);

	proto_init(&msg, PD_MSG_HELLO, 32);
	msg.hello.role = PD_ROLE_CONTROL;
	msg.hello.page_size = PAGE * 2;
	fd = send_new(&msg, msg.hdr.size, NULL, 0);
	expect(fd, "page size mismatch", -EINVAL, 32, 1);

	CHECK(pipe(p) == 0);
	proto_init(&msg, PD_MSG_HELLO, 33);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.page_size = PAGE;
	fd = send_new(&msg, msg.hdr.size, &p[0], 1);
	close(p[0]);
	close(p[1]);
	expect(fd, "a pipe for a userfaultfd", -EBADF, 33, 1);

	uffd = make_uffd(0);
	msg.hdr.seq = 34;
	msg.hello.uffd_features = UFFD_FEATURE_THREAD_ID;
	fd = send_new(&msg, msg.hdr.size, &uffd, 1);
	close(uffd);
	expect(fd, "features claimed but not enabled", -EINVAL, 34, 1);

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	msg.hdr.seq = 35;
	msg.hello.uffd_features = 0;
	fd = send_new(&msg, msg.hdr.size, &uffd, 1);
	close(uffd);
	expect(fd, "a userfaultfd before UFFDIO_API", -EINVAL, 35, 1);

	/* Its faults would never reach a handler. */
	uffd = make_uffd(UFFD_FEATURE_SIGBUS);
	msg.hdr.seq = 36;
	msg.hello.uffd_features = UFFD_FEATURE_SIGBUS;
	fd = send_new(&msg, msg.hdr.size, &uffd, 1);
	close(uffd);
	expect(fd, "a userfaultfd with the sigbus feature", -EINVAL, 36, 1);

	/*
	 * A fork would put the child's userfaultfd in the daemon, a
	 * descriptor and a log line per fork. Enabling the feature needs
	 * CAP_SYS_PTRACE: only where the test has it.
	 */
	{
		struct uffdio_api api = { .api = UFFD_API,
		    .features = UFFD_FEATURE_EVENT_FORK };

		uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		CHECK(uffd != -1);
		if (ioctl(uffd, UFFDIO_API, &api) == 0) {
			msg.hdr.seq = 136;
			msg.hello.uffd_features = UFFD_FEATURE_EVENT_FORK;
			fd = send_new(&msg, msg.hdr.size, &uffd, 1);
			expect(fd, "a userfaultfd with the event-fork feature",
			    -EINVAL, 136, 1);
		} else
			printf("no UFFD_FEATURE_EVENT_FORK (%s): its hello "
			    "is not tried\n", strerror(errno));
		close(uffd);
	}

	msg.hello.uffd_features = 0;
	uffd = eventfd(0, EFD_CLOEXEC);
	msg.hdr.seq = 37;
	fd = send_new(&msg, msg.hdr.size, &uffd, 1);
	close(uffd);
	expect(fd, "an eventfd for a userfaultfd", -EBADF, 37, 1);

	uffd = memfd_create("not-a-uffd", MFD_CLOEXEC);
	msg.hdr.seq = 38;
	fd = send_new(&msg, msg.hdr.size, &uffd, 1);
	close(uffd);
	expect(fd, "a memfd for a userfaultfd", -EBADF, 38, 1);

	/* A blocking userfaultfd is made non-blocking and served. */
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	{
		struct uffdio_api api = { .api = UFFD_API };

		CHECK(ioctl(uffd, UFFDIO_API, &api) == 0);
	}
	msg.hdr.seq = 39;
	fd = send_new(&msg, msg.hdr.size, &uffd, 1);
	close(uffd);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.reply.status == 0, "a blocking userfaultfd was refused: %s",
	    msg.reply.reason);
	close(fd);
}

/* 250 descriptors in one message: refused, and every one closed. */
static void
many_fds(void)
{
	union pd_msg msg;
	int fds[250], i, fd;

	for (i = 0; i < 250; i++)
		CHECK((fds[i] = eventfd(0, EFD_CLOEXEC)) != -1);
	proto_init(&msg, PD_MSG_STATS, 51);
	fd = send_new(&msg, msg.hdr.size, fds, 250);
	for (i = 0; i < 250; i++)
		close(fds[i]);
	expect(fd, "250 descriptors", -EBADMSG, 51, 1);
}

static void
region_errors(const char *path)
{
	struct uffdio_register reg;
	union pd_msg msg, ok;
	int fd, uffd, bad, p[2];
	char *mem;

	fd = client_session(&uffd);
	mem = mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	reg = (struct uffdio_register){ .range = { (uintptr_t)mem, 64 * PAGE },
	    .mode = UFFDIO_REGISTER_MODE_MISSING };
	CHECK(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0);
	proto_init(&ok, PD_MSG_REGION_ADD, 41);
	ok.region_add.start = (uintptr_t)mem;
	ok.region_add.length = 32 * PAGE;
	ok.region_add.backing = PD_BACKING_ZERO;
	ok.region_add.prot = PD_PROT_READ | PD_PROT_WRITE;
	ok.region_add.mode = PD_MODE_MISSING;
	send_msg(fd, &ok, ok.hdr.size, NULL, 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.reply.status == 0, "valid region refused: %s",
	    msg.reply.reason);
	/* The region works: the daemon serves its pages. */
	CHECK(mem[5 * PAGE] == 0);

	/* Each refusal leaves the session usable: expect() checks it. */
	msg = ok, msg.hdr.seq = 42, msg.region_add.start += 100;
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "unaligned start", -EINVAL, 42, 0);

	fd = client_session(NULL);
	msg = ok, msg.hdr.seq = 43, msg.region_add.mode = PD_MODE_MISSING |
	    PD_MODE_WP;
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "write-protect mode without a write-protected region",
	    -EINVAL, 43, 0);

	fd = client_session(NULL);
	send_msg(fd, &ok, ok.hdr.size, NULL, 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply &&
	    msg.reply.status == 0);
	msg = ok, msg.hdr.seq = 44, msg.region_add.start += 16 * PAGE;
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "overlapping region", -EEXIST, 44, 0);

	fd = client_session(NULL);
	CHECK(pipe(p) == 0);
	msg = ok, msg.hdr.seq = 45, msg.region_add.backing = PD_BACKING_FILE;
	send_msg(fd, &msg, msg.hdr.size, &p[0], 1);
	close(p[0]);
	close(p[1]);
	expect(fd, "a pipe for a backing file", -EINVAL, 45, 0);

	fd = client_session(NULL);
	CHECK((bad = open(path, O_WRONLY)) != -1);
	msg.hdr.seq = 46;
	send_msg(fd, &msg, msg.hdr.size, &bad, 1);
	close(bad);
	expect(fd, "a backing file not open for reading", -EBADF, 46, 0);

	fd = client_session(NULL);
	proto_init(&msg, PD_MSG_REGION_DEL, 47);
	msg.region_del.region_id = 12345;
	send_msg(fd, &msg, msg.hdr.size, NULL, 0);
	expect(fd, "deleting an unknown region", -ENOENT, 47, 0);

	munmap(mem, 64 * PAGE);
	close(uffd);
}

/* Asks to adopt cache as the page cache of path; refused, 48 + n. */
static void
adopt_refused(const char *path, int cache, const char *what, int n)
{
	union pd_msg msg;
	int fd, fds[2];

	fd = client_session(NULL);
	CHECK((fds[0] = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	fds[1] = cache;
	proto_init(&msg, PD_MSG_CACHE_OPEN, 48 + (uint32_t)n);
	msg.cache_open.flags = PD_CACHE_ADOPT;
	send_msg(fd, &msg, msg.hdr.size, fds, 2);
	close(fds[0]);
	close(cache);
	expect(fd, what, -EINVAL, 48 + (uint32_t)n, 0);
}

/*
 * A re-attaching client hands back the page cache it maps: only an
 * unnamed file of shared memory (a memfd, or a file a cache-dir holds) of
 * the file's size is adopted.
 */
static void
cache_errors(const char *path, const char *tmpdir)
{
	char named[600];
	struct statfs sfs;
	const char *dir;
	int fd;

	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	adopt_refused(path, fd, "the backing file as its own cache", 0);
	CHECK((fd = memfd_create("pagerd-test", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) != -1 && ftruncate(fd, PAGE) == 0);
	adopt_refused(path, fd, "a memfd smaller than the file", 1);
	CHECK((fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1);
	CHECK(fstatfs(fd, &sfs) == 0);
	if (sfs.f_type != TMPFS_MAGIC) {
		CHECK(ftruncate(fd, 8u << 20) == 0);
		adopt_refused(path, fd, "an unnamed file outside shared "
		    "memory", 3);
	} else
		close(fd);
	/* With cache-dir (tests/cache-dir-test.sh): a named file there. */
	if ((dir = getenv("PAGERD_TEST_CACHE_DIR")) == NULL || *dir == '\0')
		return;
	snprintf(named, sizeof named, "%s/named-cache", dir);
	CHECK((fd = open(named, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) != -1 && ftruncate(fd, 8u << 20) == 0);
	adopt_refused(path, fd, "a named file on the cache directory", 2);
	CHECK(unlink(named) == 0);
}

/*
 * Maps and checks a file until its stop pipe closes; says on the started
 * pipe when the first round is done, so that the bad clients overlap it.
 */
static void
good_client(const char *path, int stop, int started)
{
	struct pagerd *pd;
	char c;
	void *p;
	int fd, rounds = 0;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	fcntl(stop, F_SETFL, O_NONBLOCK);
	while (read(stop, &c, 1) == -1 && errno == EAGAIN) {
		CHECKF(pagerd_map_file(pd, fd, 0, 8u << 20, PROT_READ, 0, &p)
		    == 0, "map: %s", pagerd_errmsg());
		harness_check_range(p, 0, 8u << 20, SEED, UINT64_MAX);
		CHECKF(pagerd_unmap(pd, p) == 0, "unmap: %s", pagerd_errmsg());
		if (rounds++ == 0)
			CHECK(write(started, "s", 1) == 1);
	}
	CHECK(rounds > 0);
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	char path[512];
	int pfd[2], sfd[2], baseline;
	char c;
	pid_t pid;

	harness_need_root();
	signal(SIGPIPE, SIG_IGN);
	harness_start(&d, NULL);
	sock = d.sock;
	harness_make_file(&d, "data", 8u << 20, SEED, path, sizeof path);
	baseline = harness_settled_fds(d.pid);

	CHECK(pipe(pfd) == 0);
	CHECK(pipe(sfd) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(pfd[1]);
		close(sfd[0]);
		good_client(path, pfd[0], sfd[1]);
	}
	close(pfd[0]);
	close(sfd[1]);
	CHECKF(read(sfd[0], &c, 1) == 1, "the good client failed at once");
	close(sfd[0]);

	framing_errors();
	order_errors();
	longer_messages();
	hello_errors();
	many_fds();
	region_errors(path);
	cache_errors(path, d.dir);

	close(pfd[1]);
	CHECKF(harness_wait(pid) == 0, "the good client failed beside the "
	    "bad ones");
	harness_wait_idle(d.sock);
	harness_expect_fds(d.pid, d.sock, baseline, "before the bad clients");
	harness_stop(&d);
	unlink(path);
	printf("%d bad messages answered; the good client never noticed\n",
	    cases);
	return 0;
}

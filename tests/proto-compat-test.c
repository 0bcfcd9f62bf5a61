/*
 * Description: the previous release's clients work with this daemon, and
 * this release's library says so when a daemon of the previous release
 * refuses it. A client that speaks, raw, exactly what the first release's
 * libpagerd sent (its struct layouts, copied below, and version 2; every
 * answer must come at the first release's exact size, which that library
 * checked) maps a file region and a zero region and reads them right,
 * asks for its counters, and after a daemon restart re-attaches (hello
 * with the re-attach flag, its regions again, reattached) and reads the
 * rest right, and drops its zero region by number (REGION_DEL at the
 * first release's size, which has since grown a range that the daemon
 * reads as none). The first release's pagerctl lists the clients. Then
 * libpagerd connects to a stand-in for the first release's daemon, which
 * checks exact sizes as it did: the refusal says that the versions differ.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "uffd.h"

#define SEED 0x5eed0016ull
#define PAGE 4096u
#define NPAGES 64
#define SIZE (NPAGES * PAGE)

/* The first release's protocol, as its proto.h had it. */
#define V1_MAGIC 0x72676170u
#define V1_VERSION 2
#define V1_HELLO 1
#define V1_REGION_ADD 2
#define V1_REGION_DEL 3
#define V1_STATS 4
#define V1_REPLY 5
#define V1_STATS_REPLY 6
#define V1_REATTACHED 7
#define V1_CLIENTS 17
#define V1_CLIENT_INFO 18
#define V1_ROLE_CLIENT 1
#define V1_ROLE_CONTROL 2
#define V1_HELLO_REATTACH 0x1u
#define V1_BACKING_ZERO 1
#define V1_BACKING_FILE 2
#define V1_PROT_READ 0x1u
#define V1_PROT_WRITE 0x2u
#define V1_MODE_MISSING 0x1u

struct v1_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t size;
	uint32_t seq;
};

struct v1_hello {
	struct v1_hdr hdr;
	uint32_t role;
	uint32_t flags;
	uint64_t uffd_features;
	uint32_t page_size;
	uint32_t reserved;
};

struct v1_region_add {
	struct v1_hdr hdr;
	uint64_t start;
	uint64_t length;
	uint64_t offset;
	uint32_t backing;
	uint32_t prot;
	uint32_t mode;
	uint32_t flags;
};

struct v1_region_del {
	struct v1_hdr hdr;
	uint32_t region_id;
	uint32_t reserved;
};

struct v1_list {
	struct v1_hdr hdr;
	int32_t pid;
	uint32_t reserved;
};

struct v1_reply {
	struct v1_hdr hdr;
	int32_t status;
	uint32_t value;
	uint64_t features;
	char reason[256];
};

struct v1_counters {
	uint64_t c[12];
};

struct v1_stats_reply {
	struct v1_hdr hdr;
	uint32_t regions;
	uint32_t sessions;
	struct v1_counters counters;
	uint64_t uptime_ms;
	uint32_t workers;
	uint32_t caches;
	char version[16];
	uint64_t latency[32];
};

struct v1_client_info {
	struct v1_hdr hdr;
	uint32_t session;
	int32_t pid;
	uint32_t uid;
	uint32_t regions;
	char comm[16];
	struct v1_counters counters;
};

/* What the first release's client keeps of its session. */
struct v1_client {
	int sock;
	int uffd;
	int file;
	char *file_map;		/* a file region over the whole file */
	char *zero_map;		/* a zero region of as many pages */
	uint32_t seq;
};

static void
v1_hdr(struct v1_hdr *h, uint16_t type, size_t size, uint32_t seq)
{
	memset(h, 0, size);
	h->magic = V1_MAGIC;
	h->version = V1_VERSION;
	h->type = type;
	h->size = (uint32_t)size;
	h->seq = seq;
}

static void
v1_send(int sock, const void *msg, const int *fds, int nfds)
{
	const struct v1_hdr *h = msg;

	CHECKF(harness_raw_send(sock, msg, h->size, fds, nfds) == 0,
	    "send: %s", strerror(errno));
}

/*
 * One answer of type, exactly as large as the first release knew it
 * (larger than any of its messages is read, to see what came).
 */
static void
v1_recv(int sock, void *msg, uint16_t type, size_t size, const char *what)
{
	union {
		struct v1_hdr hdr;
		char raw[PD_MSG_MAX];
	} buf;
	ssize_t n;

	n = harness_raw_recv(sock, (union pd_msg *)&buf, 5000);
	CHECKF(n > 0, "%s: pagerd hung up", what);
	CHECKF(buf.hdr.magic == V1_MAGIC && buf.hdr.version == V1_VERSION &&
	    buf.hdr.type == type && buf.hdr.size == n && (size_t)n == size,
	    "%s: a %zd-byte message of type %u, version %u: the first "
	    "release's library takes only type %u of %zu bytes", what, n,
	    buf.hdr.type, buf.hdr.version, type, size);
	memcpy(msg, &buf, size);
}

/* A reply with status 0; its value. */
static uint32_t
v1_ok(int sock, uint32_t seq, const char *what)
{
	struct v1_reply r;

	v1_recv(sock, &r, V1_REPLY, sizeof r, what);
	r.reason[sizeof r.reason - 1] = '\0';
	CHECKF(r.status == 0, "%s: refused: %s", what, r.reason);
	CHECKF(r.hdr.seq == seq, "%s: seq %u, expected %u", what, r.hdr.seq,
	    seq);
	return r.value;
}

static void
v1_hello(struct v1_client *c, const char *path, uint32_t flags)
{
	struct v1_hello h;

	CHECKF((c->sock = harness_raw_connect(path)) != -1, "connect %s: %s",
	    path, strerror(errno));
	v1_hdr(&h.hdr, V1_HELLO, sizeof h, ++c->seq);
	h.role = V1_ROLE_CLIENT;
	h.flags = flags;
	h.page_size = PAGE;
	v1_send(c->sock, &h, &c->uffd, 1);
	v1_ok(c->sock, c->seq, "hello");
}

/* A region over SIZE bytes at start: its number. */
static uint32_t
v1_region(struct v1_client *c, void *start, uint32_t backing, uint32_t prot)
{
	struct v1_region_add ra;

	v1_hdr(&ra.hdr, V1_REGION_ADD, sizeof ra, ++c->seq);
	ra.start = (uintptr_t)start;
	ra.length = SIZE;
	ra.backing = backing;
	ra.prot = prot;
	ra.mode = V1_MODE_MISSING;
	v1_send(c->sock, &ra, &c->file, backing == V1_BACKING_FILE);
	return v1_ok(c->sock, c->seq, "region-add");
}

static char *
v1_map(struct v1_client *c)
{
	struct uffdio_register reg;
	char *p;

	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	reg.range.start = (uintptr_t)p;
	reg.range.len = SIZE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	CHECKF(ioctl(c->uffd, UFFDIO_REGISTER, &reg) == 0, "UFFDIO_REGISTER: "
	    "%s", strerror(errno));
	return p;
}

/* Pages first .. last - 1 of both regions are served right. */
static void
v1_touch(struct v1_client *c, unsigned int first, unsigned int last)
{
	unsigned int i, k;

	for (i = first; i < last; i++) {
		harness_check_range(c->file_map + i * PAGE, i * PAGE, PAGE,
		    SEED, SIZE);
		for (k = 0; k < PAGE; k++)
			CHECKF(c->zero_map[i * PAGE + k] == 0, "zero region: "
			    "byte %u of page %u is not zero", k, i);
		c->zero_map[i * PAGE] = (char)i;
	}
}

/* The session has nregions regions, and has taken faults. */
static void
v1_stats(struct v1_client *c, uint32_t nregions)
{
	struct v1_stats_reply sr;
	struct v1_hdr req;

	v1_hdr(&req, V1_STATS, sizeof req, ++c->seq);
	v1_send(c->sock, &req, NULL, 0);
	v1_recv(c->sock, &sr, V1_STATS_REPLY, sizeof sr, "stats");
	CHECKF(sr.regions == nregions && sr.counters.c[0] > 0,
	    "stats: %u regions, %" PRIu64 " faults, expected %u regions",
	    sr.regions, sr.counters.c[0], nregions);
}

/* The first release's pagerctl clients: this process is listed. */
static void
v1_clients(const char *path)
{
	struct v1_client_info ci;
	struct v1_hello h;
	struct v1_list l;
	struct v1_hdr peek;
	int sock, found = 0;

	CHECK((sock = harness_raw_connect(path)) != -1);
	v1_hdr(&h.hdr, V1_HELLO, sizeof h, 1);
	h.role = V1_ROLE_CONTROL;
	h.page_size = PAGE;
	v1_send(sock, &h, NULL, 0);
	v1_ok(sock, 1, "control hello");
	v1_hdr(&l.hdr, V1_CLIENTS, sizeof l, 2);
	v1_send(sock, &l, NULL, 0);
	for (;;) {
		CHECK(recv(sock, &peek, sizeof peek, MSG_PEEK) ==
		    sizeof peek);
		if (peek.type != V1_CLIENT_INFO)
			break;
		v1_recv(sock, &ci, V1_CLIENT_INFO, sizeof ci, "client-info");
		found |= ci.pid == getpid() && ci.regions == 2;
	}
	v1_ok(sock, 2, "clients");
	CHECK(found);
	close(sock);
}

/*
 * A daemon of the first release, as far as a hello goes: exact sizes,
 * its refusal's words and layout, then it hangs up.
 */
static pid_t
v1_daemon(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[PD_MSG_MAX];
	struct v1_reply r;
	pid_t pid;
	ssize_t n;
	int ls, s;

	CHECK(strlen(path) < sizeof sun.sun_path);
	strcpy(sun.sun_path, path);
	unlink(path);
	CHECK((ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) != -1);
	CHECK(bind(ls, (struct sockaddr *)&sun, sizeof sun) == 0);
	CHECK(listen(ls, 4) == 0);
	CHECK((pid = fork()) != -1);
	if (pid != 0) {
		close(ls);
		return pid;
	}
	alarm(30);
	if ((s = accept(ls, NULL, NULL)) == -1)
		_exit(1);
	n = recv(s, buf, sizeof buf, MSG_TRUNC);
	v1_hdr(&r.hdr, V1_REPLY, sizeof r, 0);
	if (n >= (ssize_t)sizeof(struct v1_hdr))
		r.hdr.seq = ((struct v1_hdr *)buf)->seq;
	if (n == sizeof(struct v1_hello))
		_exit(2);	/* the new hello would have been taken */
	r.status = -EBADMSG;
	snprintf(r.reason, sizeof r.reason, "hello message is %zd bytes, "
	    "expected %zu", n, sizeof(struct v1_hello));
	send(s, &r, sizeof r, MSG_NOSIGNAL);
	close(s);
	_exit(0);
}

static void
new_client_old_daemon(const struct harness_daemon *d)
{
	struct pagerd *pd = NULL;
	char path[400];
	pid_t pid;
	int error;

	snprintf(path, sizeof path, "%s/v1.sock", d->dir);
	pid = v1_daemon(path);
	error = pagerd_connect(path, &pd);
	CHECKF(error == -EBADMSG, "connect to the first release's daemon: %d "
	    "(%s)", error, error != 0 ? pagerd_errmsg() : "connected");
	CHECKF(strstr(pagerd_errmsg(), "protocol version") != NULL &&
	    strstr(pagerd_errmsg(), "expected 40") != NULL, "the refusal "
	    "does not say why clearly: %s", pagerd_errmsg());
	printf("new library, old daemon: %s\n", pagerd_errmsg());
	CHECKF(harness_wait(pid) == 0, "the stand-in daemon failed");
	unlink(path);
}

int
main(void)
{
	struct harness_daemon d;
	struct v1_client c = { .seq = 0 };
	char path[512];
	uint32_t zero_id;

	CHECK(proto_min(PD_MSG_HELLO) == sizeof(struct v1_hello));
	CHECK(proto_min(PD_MSG_REPLY) == sizeof(struct v1_reply));
	CHECK(proto_min(PD_MSG_STATS_REPLY) == sizeof(struct v1_stats_reply));
	CHECK(proto_min(PD_MSG_CLIENT_INFO) == sizeof(struct v1_client_info));
	CHECK(proto_min(PD_MSG_REGION_ADD) == sizeof(struct v1_region_add));
	CHECK(proto_min(PD_MSG_REGION_DEL) == sizeof(struct v1_region_del));

	harness_start(&d, "--readahead", "1", NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	CHECK((c.file = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	c.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	CHECKF(c.uffd != -1, "userfaultfd: %s", strerror(errno));
	{
		struct uffdio_api api = { .api = UFFD_API };

		CHECK(ioctl(c.uffd, UFFDIO_API, &api) == 0);
	}

	v1_hello(&c, d.sock, 0);
	c.file_map = v1_map(&c);
	c.zero_map = v1_map(&c);
	v1_region(&c, c.file_map, V1_BACKING_FILE, V1_PROT_READ);
	v1_region(&c, c.zero_map, V1_BACKING_ZERO, V1_PROT_READ |
	    V1_PROT_WRITE);
	v1_touch(&c, 0, NPAGES / 2);
	v1_stats(&c, 2);
	v1_clients(d.sock);
	printf("first release's client: regions served, stats and clients "
	    "at the old sizes\n");

	harness_kill(&d);
	close(c.sock);
	harness_restart(&d);
	v1_hello(&c, d.sock, V1_HELLO_REATTACH);
	v1_region(&c, c.file_map, V1_BACKING_FILE, V1_PROT_READ);
	zero_id = v1_region(&c, c.zero_map, V1_BACKING_ZERO, V1_PROT_READ |
	    V1_PROT_WRITE);
	{
		struct v1_hdr ra;

		v1_hdr(&ra, V1_REATTACHED, sizeof ra, ++c.seq);
		v1_send(c.sock, &ra, NULL, 0);
		v1_ok(c.sock, c.seq, "reattached");
	}
	v1_touch(&c, NPAGES / 2, NPAGES);
	printf("first release's client: re-attached after a restart, every "
	    "page right\n");
	{
		struct v1_region_del rd;

		v1_hdr(&rd.hdr, V1_REGION_DEL, sizeof rd, ++c.seq);
		rd.region_id = zero_id;
		v1_send(c.sock, &rd, NULL, 0);
		v1_ok(c.sock, c.seq, "region-del");
	}
	v1_stats(&c, 1);
	printf("first release's client: its region-del took the region\n");

	new_client_old_daemon(&d);

	close(c.sock);
	harness_stop(&d);
	return 0;
}

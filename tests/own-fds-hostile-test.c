/*
 * Description: the descriptions of its file a client sends with a page
 * cache region for the daemon's own reads (PD_REGION_OWN_FDS) are checked
 * as hostile input. Another file, one open for writing only, an O_PATH
 * descriptor, a pipe, or the flag on a region that is not a page cache's:
 * the region is refused (EINVAL, the reason says which) and the session
 * stays. Too many descriptors, too few, or two without the flag: the
 * message is a protocol error and the session closes. The daemon stays
 * up, good descriptions are taken (the cache's, for its streams), and
 * every descriptor refused is closed: the daemon holds no more than
 * before once its clients left.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SIZE (4u << 20)
#define SEED 0xbadf1dull

static struct harness_daemon d;
static char path[512], other[512];
static uint32_t seq = 10;

/* A client session with the page cache of path: its socket, its memfd. */
static int
client(int *memfd, int *uffd)
{
	uint64_t size;
	int sock;

	sock = harness_raw_cache_client(d.sock, path, ++seq, uffd, memfd,
	    &size);
	CHECK(size == SIZE);
	return sock;
}

/*
 * A region of backing (a page cache's: fds[0] its memfd) with flags and
 * nfds descriptors: the reply's status, its reason in why; 0 where the
 * daemon closed the session without one.
 */
static int
region(int sock, uint32_t backing, uint32_t flags, const int *fds, int nfds,
    char *why, size_t whylen)
{
	union pd_msg msg;
	ssize_t n;

	proto_init(&msg, PD_MSG_REGION_ADD, ++seq);
	msg.region_add.start = 0x100000000ull + (uint64_t)seq * SIZE;
	msg.region_add.length = SIZE;
	msg.region_add.backing = backing;
	msg.region_add.prot = PD_PROT_READ;
	msg.region_add.mode = PD_MODE_MISSING | (backing == PD_BACKING_CACHE ?
	    PD_MODE_MINOR : 0);
	msg.region_add.flags = flags;
	CHECKF(harness_raw_send(sock, &msg, msg.hdr.size, fds, nfds) == 0,
	    "send: %s", strerror(errno));
	n = harness_raw_recv(sock, &msg, 5000);
	if (n == 0)
		return 0;
	CHECK(n == sizeof msg.reply && msg.hdr.type == PD_MSG_REPLY);
	snprintf(why, whylen, "%s", msg.reply.reason);
	return msg.reply.status;
}

/* own as the file's descriptions: refused with EINVAL and because. */
static void
refused(int sock, int memfd, const int *own, const char *what,
    const char *because)
{
	char why[PD_REASON_MAX];
	int fds[3] = { memfd, own[0], own[1] }, status;

	status = region(sock, PD_BACKING_CACHE, PD_REGION_OWN_FDS, fds, 3, why,
	    sizeof why);
	printf("%s: %d, %s\n", what, status, why);
	CHECKF(status == -EINVAL && strstr(why, because) != NULL, "%s: "
	    "status %d (%s), expected EINVAL for %s", what, status, why,
	    because);
	CHECKF(harness_alive(&d), "the daemon died of %s", what);
}

/* The message is a protocol error: refused, and the session closed. */
static void
broken(uint32_t backing, uint32_t flags, int nown, const char *what)
{
	char why[PD_REASON_MAX];
	union pd_msg msg;
	int fds[4], sock, memfd, uffd, i, status;

	sock = client(&memfd, &uffd);
	fds[0] = memfd;
	for (i = 1; i <= nown; i++)
		CHECK((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	status = region(sock, backing, flags, fds, 1 + nown, why, sizeof why);
	printf("%s: %d, %s\n", what, status, why);
	CHECKF(status == -EBADMSG && strstr(why, "descriptors") != NULL,
	    "%s: status %d (%s), expected EBADMSG", what, status, why);
	/* Closed: nothing more comes. */
	CHECKF(harness_raw_recv(sock, &msg, 5000) == 0, "%s: the session "
	    "stayed open", what);
	CHECKF(harness_alive(&d), "the daemon died of %s", what);
	for (i = 1; i <= nown; i++)
		close(fds[i]);
	close(memfd);
	close(uffd);
	close(sock);
}

int
main(void)
{
	char why[PD_REASON_MAX];
	struct stat st;
	int sock, memfd, uffd, own[2], pipefd[2], fds[3], baseline, status;
	int held, n;

	harness_start_conf(&d, "cache-linger 0\nreplay 0\n");
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	harness_make_file(&d, "other", SIZE, SEED, other, sizeof other);
	baseline = harness_settled_fds(d.pid);

	sock = client(&memfd, &uffd);
	CHECK((own[0] = open(other, O_RDONLY | O_CLOEXEC)) != -1);
	CHECK((own[1] = open(other, O_RDONLY | O_CLOEXEC)) != -1);
	refused(sock, memfd, own, "another file", "another file");
	close(own[0]);
	/* One right, the other wrong: refused all the same. */
	CHECK((own[0] = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	refused(sock, memfd, own, "the second of another file",
	    "description 2 of 2: another file");
	close(own[1]);
	CHECK((own[1] = open(path, O_WRONLY | O_CLOEXEC)) != -1);
	refused(sock, memfd, own, "O_WRONLY", "not open for reading");
	close(own[1]);
	CHECK((own[1] = open(path, O_PATH | O_CLOEXEC)) != -1);
	refused(sock, memfd, own, "O_PATH", "O_PATH");
	close(own[1]);
	CHECK(pipe2(pipefd, O_CLOEXEC) == 0);
	refused(sock, memfd, pipefd, "a pipe", "not a regular file");
	close(pipefd[0]);
	close(pipefd[1]);

	/* The flag on a zero region: refused by its fields. */
	CHECK((own[1] = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	status = region(sock, PD_BACKING_ZERO, PD_REGION_OWN_FDS, own, 2, why,
	    sizeof why);
	CHECKF(status == -EINVAL && strstr(why, "page cache") != NULL,
	    "the flag on a zero region: status %d (%s)", status, why);

	/*
	 * Still served: the same session's region takes good ones, for its
	 * cache's streams where the daemon reads them so (a file on a disk).
	 */
	fds[0] = memfd;
	fds[1] = own[0];
	fds[2] = own[1];
	held = harness_settled_fds(d.pid);
	status = region(sock, PD_BACKING_CACHE, PD_REGION_OWN_FDS, fds, 3, why,
	    sizeof why);
	CHECKF(status == 0, "good descriptions refused: %s", why);
	CHECK(stat(path, &st) == 0);
	n = harness_settled_fds(d.pid);
	CHECKF(n == held + (major(st.st_dev) != 0 ? 2 : 0), "the daemon held "
	    "%d descriptors before the region, %d after", held, n);
	CHECK(harness_log_has(&d, "O_DIRECT (descriptions the client "
	    "opened)") == (major(st.st_dev) != 0));
	close(own[0]);
	close(own[1]);
	close(memfd);
	close(uffd);
	close(sock);

	broken(PD_BACKING_CACHE, PD_REGION_OWN_FDS, 0, "the flag without "
	    "descriptions");
	broken(PD_BACKING_CACHE, PD_REGION_OWN_FDS, 1, "the flag with one");
	broken(PD_BACKING_CACHE, PD_REGION_OWN_FDS, 3, "the flag with three");
	broken(PD_BACKING_CACHE, 0, 2, "two without the flag");

	harness_wait_idle(d.sock);
	harness_expect_fds(d.pid, d.sock, baseline, "after every client left");
	harness_stop(&d);
	return 0;
}

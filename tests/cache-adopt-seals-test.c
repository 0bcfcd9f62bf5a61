/*
 * Description: a page cache offered for adoption must have its seals
 * closed. An unprivileged client (pagerd-ta, speaking the protocol
 * itself) offers the daemon a memfd sealed at its size but not against
 * more seals: had the daemon adopted it, the client could add
 * F_SEAL_FUTURE_WRITE, which keeps the daemon from punching the cache's
 * pages out, and so from holding the page cache budget. The offer is
 * refused with EINVAL; the same memfd with its seals closed (as the
 * daemon makes them) is adopted.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define SEED 0x5eedad0bull
#define SIZE (1u << 20)

static struct harness_daemon d;
static char path[512];

/* CACHE_OPEN of file adopting a new memfd with seals; the reply. */
static void
offer(int sock, int file, int seals, union pd_msg *msg)
{
	int fds[2] = { file, -1 };

	CHECK((fds[1] = memfd_create("offered-cache", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) != -1);
	CHECK(ftruncate(fds[1], SIZE) == 0);
	CHECKF(fcntl(fds[1], F_ADD_SEALS, seals) == 0, "seals: %s",
	    strerror(errno));
	proto_init(msg, PD_MSG_CACHE_OPEN, 2);
	msg->cache_open.flags = PD_CACHE_ADOPT;
	CHECK(harness_raw_send(sock, msg, msg->hdr.size, fds, 2) == 0);
	CHECK(harness_raw_recv(sock, msg, 5000) > 0);
	close(fds[1]);
}

static void
attacker(void)
{
	union pd_msg msg;
	int sock, uffd, file;

	harness_become_user("pagerd-ta");
	CHECKF((file = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open: %s",
	    strerror(errno));
	sock = harness_raw_hello_client(d.sock, &uffd);

	offer(sock, file, F_SEAL_SHRINK | F_SEAL_GROW, &msg);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == -EINVAL,
	    "a memfd open to more seals was adopted as a page cache");
	printf("seals open: %s\n", msg.reply.reason);
	fflush(stdout);
	offer(sock, file, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, &msg);
	CHECKF(msg.hdr.type == PD_MSG_CACHE_REPLY, "a memfd sealed as the "
	    "daemon seals them was refused: %s", msg.hdr.type ==
	    PD_MSG_REPLY ? msg.reply.reason : "?");
	close(sock);
}

int
main(void)
{
	struct passwd *pw;

	harness_need_root();
	harness_test_user("pagerd-ta");
	harness_start(&d, NULL);
	harness_make_file(&d, "file", SIZE, SEED, path, sizeof path);
	CHECK((pw = getpwnam("pagerd-ta")) != NULL);
	CHECK(chown(path, pw->pw_uid, pw->pw_gid) == 0);
	harness_clients(&d, 1, attacker, "");
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("an adopted page cache must have its seals closed\n");
	return 0;
}

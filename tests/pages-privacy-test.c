/*
 * Description: the daemon tells a region's pages and its page caches only
 * to whom may see them. With a client of root mapping a file: a control
 * session of pagerd-ta asking for the pages of root's region (PAGES) gets
 * a refusal and no chunk, as if there were no such region, and its
 * CACHES listing holds no cache; root's own control session gets the
 * chunk and the cache.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SIZE (1u << 20)

struct ask {
	const char *sock;
	pid_t pid;
	uint64_t addr;
	int sees;		/* the asker may see the client */
};

/* One request on a new control session: the type of its first answer. */
static union pd_msg
ask_first(const char *sock, union pd_msg *msg)
{
	union pd_msg reply;
	int fd;

	CHECKF((fd = harness_raw_connect(sock)) != -1, "connect: %s",
	    strerror(errno));
	CHECK(harness_raw_hello_control(fd) == 0);
	CHECK(harness_raw_send(fd, msg, msg->hdr.size, NULL, 0) == 0);
	CHECK(harness_raw_recv(fd, &reply, 5000) > 0);
	close(fd);
	return reply;
}

static void
ask(void *arg)
{
	struct ask *a = arg;
	union pd_msg msg, reply;

	proto_init(&msg, PD_MSG_PAGES, 2);
	msg.pages.pid = (int32_t)a->pid;
	msg.pages.addr = a->addr;
	reply = ask_first(a->sock, &msg);
	if (a->sees)
		CHECKF(reply.hdr.type == PD_MSG_PAGES_CHUNK &&
		    reply.pages_chunk.npages == SIZE / 4096, "uid %d: %s",
		    (int)getuid(), proto_type_name(reply.hdr.type));
	else
		CHECKF(reply.hdr.type == PD_MSG_REPLY &&
		    reply.reply.status == -ESRCH, "uid %d was told of "
		    "another's region: %s", (int)getuid(),
		    proto_type_name(reply.hdr.type));

	proto_init(&msg, PD_MSG_CACHES, 2);
	reply = ask_first(a->sock, &msg);
	if (a->sees)
		CHECKF(reply.hdr.type == PD_MSG_CACHE_INFO &&
		    reply.cache_info.uid == 0 && reply.cache_info.size == SIZE,
		    "root: %s", proto_type_name(reply.hdr.type));
	else
		CHECKF(reply.hdr.type == PD_MSG_REPLY && reply.reply.status ==
		    0 && reply.reply.value == 0, "uid %d was told of "
		    "another's cache: %s", (int)getuid(),
		    proto_type_name(reply.hdr.type));
}

int
main(void)
{
	struct harness_daemon d;
	struct ask a;
	struct pagerd *pd;
	char path[512];
	unsigned char *p;
	int fd;

	harness_test_user("pagerd-ta");
	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, 7, path, sizeof path);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0,
	    (void **)&p) == 0, "map: %s", pagerd_errmsg());
	CHECK(harness_verify(p, 0, 4096, 7, SIZE) == -1);

	a.sock = d.sock;
	a.pid = getpid();
	a.addr = (uint64_t)(uintptr_t)p + 4096;
	a.sees = 0;
	CHECK(harness_as_user("pagerd-ta", ask, &a) == 0);
	a.sees = 1;
	ask(&a);

	pagerd_close(pd);
	close(fd);
	unlink(path);
	harness_stop(&d);
	return 0;
}

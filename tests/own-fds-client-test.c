/*
 * Description: libpagerd sends a page cache region's file opened again
 * twice (PD_REGION_OWN_FDS, after the memfd) only to a daemon that agreed
 * to PD_CAP_OWN_FDS, and only for a file on a block device: to a daemon
 * without the capability (an older one), and for a file on tmpfs, the
 * region comes with its memfd alone and no flag. The descriptions sent
 * are the file, read-only, new ones (neither the program's, nor one
 * twice: kcmp, where the kernel has it). A stand-in daemon answers the
 * client and says what each region brought.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include <pagerd.h>

#include "harness.h"

#define SIZE (1u << 20)

/* What the stand-in saw of a region. */
struct seen {
	int nfds;
	uint32_t flags;
	int same;		/* the own ones: the file, read-only, new */
};

/*
 * Are a and b (of this process) one open file description? -1 where the
 * kernel cannot say (no kcmp): not checked then.
 */
static int
one_description(int a, int b)
{
	long r = syscall(SYS_kcmp, (long)getpid(), (long)getpid(),
	    (long)KCMP_FILE, (long)a, (long)b);

	return r == -1 ? -1 : r == 0;
}

static char dir[256], sock_path[300];

static void
answer(int c, const union pd_msg *in, const int *fds, int nfds,
    uint32_t caps)
{
	union pd_msg out;

	proto_init(&out, PD_MSG_REPLY, in->hdr.seq);
	if (in->hdr.type == PD_MSG_HELLO) {
		out.reply.value = 1;
		out.reply.features = in->hello.uffd_features;
		out.reply.caps = in->hello.caps & caps;
	} else if (in->hdr.type == PD_MSG_REGION_ADD)
		out.reply.value = 1;
	if (in->hdr.type == PD_MSG_CACHE_OPEN && nfds == 1) {
		struct stat st;
		int memfd;

		CHECK(fstat(fds[0], &st) == 0);
		CHECK((memfd = memfd_create("stand-in", MFD_CLOEXEC)) != -1);
		CHECK(ftruncate(memfd, (st.st_size + 4095) & ~4095) == 0);
		proto_init(&out, PD_MSG_CACHE_REPLY, in->hdr.seq);
		out.cache_reply.size = ((uint64_t)st.st_size + 4095) & ~4095ull;
		CHECK(proto_send(c, &out, &memfd, 1, PD_CAP_EXTENSIBLE,
		    MSG_NOSIGNAL) == 0);
		close(memfd);
		return;
	}
	(void)proto_send(c, &out, NULL, 0, PD_CAP_EXTENSIBLE, MSG_NOSIGNAL);
}

/*
 * The stand-in: one client connection, its every request answered; the
 * region it adds told on report. Runs until killed.
 */
static void
stand_in(int l, int report, uint32_t caps, const char *file)
{
	char why[PD_REASON_MAX];
	struct proto_in in;
	struct seen seen;
	struct stat st, ost;
	int c, i, fl, program = -1;

	CHECK(stat(file, &st) == 0);
	CHECK((c = accept4(l, NULL, NULL, SOCK_CLOEXEC)) != -1);
	for (;;) {
		if (proto_recv(c, &in, PD_TO_DAEMON, 0, 0, why,
		    sizeof why) != 1)
			pause();
		if (in.msg.hdr.type == PD_MSG_REGION_ADD) {
			seen.nfds = in.nfds;
			seen.flags = in.msg.region_add.flags;
			seen.same = 1;
			for (i = 1; i < in.nfds; i++)
				seen.same &= fstat(in.fds[i], &ost) == 0 &&
				    ost.st_dev == st.st_dev && ost.st_ino ==
				    st.st_ino && (fl = fcntl(in.fds[i],
				    F_GETFL)) != -1 && (fl & O_ACCMODE) ==
				    O_RDONLY && !(fl & O_PATH) &&
				    one_description(in.fds[i], program) != 1 &&
				    (i == 1 || one_description(in.fds[1],
				    in.fds[i]) != 1);
			CHECK(write(report, &seen, sizeof seen) ==
			    sizeof seen);
		}
		/* The program's own description of the file. */
		if (in.msg.hdr.type == PD_MSG_CACHE_OPEN && in.nfds == 1)
			CHECK((program = fcntl(in.fds[0], F_DUPFD_CLOEXEC,
			    0)) != -1);
		answer(c, &in.msg, in.fds, in.nfds, caps);
		proto_close_fds(&in);
	}
}

/* A client maps file through a stand-in with caps: what its region brought. */
static struct seen
map_through(uint32_t caps, const char *file)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pagerd *pd;
	struct seen seen;
	pid_t daemon, client;
	void *map;
	int l, p[2], fd, status;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
	unlink(sock_path);
	CHECK((l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) != -1);
	CHECK(bind(l, (struct sockaddr *)&sun, sizeof sun) == 0);
	CHECK(listen(l, 4) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	fflush(NULL);
	CHECK((daemon = fork()) != -1);
	if (daemon == 0) {
		close(p[0]);
		stand_in(l, p[1], caps, file);
		_exit(0);
	}
	close(l);
	close(p[1]);
	CHECK((client = fork()) != -1);
	if (client == 0) {
		CHECK((fd = open(file, O_RDONLY | O_CLOEXEC)) != -1);
		CHECKF(pagerd_connect(sock_path, &pd) == 0, "connect: %s",
		    pagerd_errmsg());
		harness_need_shared_cache(pd);
		CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &map) ==
		    0, "map: %s", pagerd_errmsg());
		/* No pagerd_close: nobody reads the unmap event. */
		_exit(0);
	}
	if ((status = harness_wait(client)) == 77) {
		kill(daemon, SIGKILL);
		harness_wait(daemon);
		harness_remove_tree(dir);
		harness_skip("no shared page cache for this kernel's "
		    "userfaultfd");
	}
	CHECKF(status == 0, "the client failed");
	CHECKF(read(p[0], &seen, sizeof seen) == sizeof seen, "the stand-in "
	    "saw no region");
	close(p[0]);
	kill(daemon, SIGKILL);
	harness_wait(daemon);
	return seen;
}

/* A file of SIZE bytes at path (what it holds does not matter here). */
static int
make(const char *path)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return -1;
	CHECK(ftruncate(fd, SIZE) == 0);
	close(fd);
	return 0;
}

int
main(void)
{
	char disk[320], shm[64];
	struct stat st;
	struct seen s;

	snprintf(dir, sizeof dir, "%s/own-fds-client.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sock_path, sizeof sock_path, "%s/sock", dir);
	snprintf(disk, sizeof disk, "%s/data", dir);
	CHECK(make(disk) == 0);
	CHECK(stat(disk, &st) == 0);
	if (major(st.st_dev) == 0)
		harness_skip("%s is not on a block device", dir);

	s = map_through(PD_CAPS_ALL, disk);
	CHECKF(s.nfds == 3 && (s.flags & PD_REGION_OWN_FDS) && s.same,
	    "a daemon with the capability, a file on a disk: %d descriptors, "
	    "flags 0x%x, the file's own: %d", s.nfds, s.flags, s.same);
	s = map_through(PD_CAPS_ALL & ~PD_CAP_OWN_FDS, disk);
	CHECKF(s.nfds == 1 && !(s.flags & PD_REGION_OWN_FDS), "a daemon "
	    "without the capability: %d descriptors, flags 0x%x", s.nfds,
	    s.flags);
	snprintf(shm, sizeof shm, "/dev/shm/own-fds-client.%d", (int)getpid());
	if (make(shm) == 0) {
		s = map_through(PD_CAPS_ALL, shm);
		unlink(shm);
		CHECKF(s.nfds == 1 && !(s.flags & PD_REGION_OWN_FDS), "a file "
		    "on tmpfs: %d descriptors, flags 0x%x", s.nfds, s.flags);
	} else
		printf("no /dev/shm: the tmpfs case is not tried\n");
	harness_remove_tree(dir);
	return 0;
}

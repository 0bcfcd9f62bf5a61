/*
 * Description: a client that keeps copies of the descriptions of its file
 * it sends for the daemon's own reads (PD_REGION_OWN_FDS) and changes
 * their flags once the daemon has them (O_DIRECT off on the one the
 * daemon set it on, O_DIRECT on the one without read-ahead, O_APPEND,
 * O_NONBLOCK, read-ahead advice), or sends one description twice, gets
 * every byte of a cold file right, zeros past its end. Other files sent
 * as the file's (a memfd, a directory, a socket, a file on another
 * device) are refused; a hard link to it is the same file, taken. The
 * daemon holds no more descriptors than before once its clients left.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "harness.h"

#define SIZE ((8u << 20) + 1000)
#define SEED 0xf1a95ull
#define NPAGES ((SIZE + 4095) / 4096)

enum hostile { TWICE, FLIPPED, LINKED };

static struct harness_daemon d;
static char path[512], link_path[600];
static uint32_t seq = 10;

/* fd's status flags: set are added, clear taken off. */
static void
flags(int fd, int set, int clear)
{
	int fl;

	CHECK((fl = fcntl(fd, F_GETFL)) != -1);
	CHECKF(fcntl(fd, F_SETFL, (fl | set) & ~clear) == 0, "F_SETFL: %s",
	    strerror(errno));
}

/*
 * A page cache region of the file, with own as its file's descriptions:
 * the reply's status (why says why), the mapping in *mapp.
 */
static int
region(int sock, int uffd, int memfd, const int *own, void **mapp,
    char *why, size_t whylen)
{
	struct uffdio_register reg;
	union pd_msg msg;
	void *map;
	int fds[3] = { memfd, own[0], own[1] };

	CHECK((map = mmap(NULL, (size_t)NPAGES * 4096, PROT_READ, MAP_PRIVATE,
	    memfd, 0)) != MAP_FAILED);
	reg.range.start = (uintptr_t)map;
	reg.range.len = (uint64_t)NPAGES * 4096;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) == -1)
		harness_skip("UFFDIO_REGISTER of a private shmem mapping for "
		    "missing and minor faults: %s", strerror(errno));
	proto_init(&msg, PD_MSG_REGION_ADD, ++seq);
	msg.region_add.start = (uintptr_t)map;
	msg.region_add.length = (uint64_t)NPAGES * 4096;
	msg.region_add.backing = PD_BACKING_CACHE;
	msg.region_add.prot = PD_PROT_READ;
	msg.region_add.mode = PD_MODE_MISSING | PD_MODE_MINOR;
	msg.region_add.flags = PD_REGION_OWN_FDS;
	CHECK(harness_raw_send(sock, &msg, msg.hdr.size, fds, 3) == 0);
	CHECK(harness_raw_recv(sock, &msg, 5000) == sizeof msg.reply);
	CHECK(msg.hdr.type == PD_MSG_REPLY);
	snprintf(why, whylen, "%s", msg.reply.reason);
	if (msg.reply.status != 0)
		munmap(map, (size_t)NPAGES * 4096);
	else
		*mapp = map;
	return msg.reply.status;
}

/* The file's descriptions as how sends them and then changes them. */
static void
scan(enum hostile how, const char *what)
{
	char why[PD_REASON_MAX];
	int sock, memfd, uffd, own[2], status;
	uint64_t i, size;
	void *map;

	sock = harness_raw_cache_client(d.sock, path, ++seq, &uffd, &memfd,
	    &size);
	CHECK(size == (uint64_t)NPAGES * 4096);
	CHECK((own[0] = open(how == LINKED ? link_path : path, O_RDONLY |
	    O_CLOEXEC)) != -1);
	own[1] = how == TWICE ? own[0] : open(path, O_RDONLY | O_CLOEXEC);
	CHECK(own[1] != -1);
	status = region(sock, uffd, memfd, own, &map, why, sizeof why);
	CHECKF(status == 0, "%s: refused: %s", what, why);
	/* The copies kept, changed under the daemon. */
	switch (how) {
	case TWICE:
		/* One description: O_DIRECT off again, O_APPEND on. */
		flags(own[0], O_APPEND | O_NONBLOCK, O_DIRECT);
		break;
	case FLIPPED:
		flags(own[0], O_DIRECT | O_NONBLOCK, 0);
		flags(own[1], O_APPEND, O_DIRECT);
		(void)posix_fadvise(own[1], 0, 0, POSIX_FADV_SEQUENTIAL);
		break;
	case LINKED:
		break;
	}
	close(harness_open_cold(&d, path));
	for (i = 0; i < NPAGES; i++)
		harness_check_range((char *)map + i * 4096, i * 4096, 4096,
		    SEED, SIZE);
	printf("%s: %u pages right\n", what, (unsigned int)NPAGES);
	CHECKF(harness_alive(&d), "the daemon died of %s", what);
	close(sock);
	close(uffd);
	munmap(map, (size_t)NPAGES * 4096);
	close(memfd);
	close(own[0]);
	if (own[1] != own[0])
		close(own[1]);
	harness_wait_idle(d.sock);
}

/* own, not the file's: refused with EINVAL, because. */
static void
refused(const int *own, const char *what, const char *because)
{
	char why[PD_REASON_MAX];
	int sock, memfd, uffd, status;
	uint64_t size;
	void *map;

	sock = harness_raw_cache_client(d.sock, path, ++seq, &uffd, &memfd,
	    &size);
	status = region(sock, uffd, memfd, own, &map, why, sizeof why);
	printf("%s: %d, %s\n", what, status, why);
	CHECKF(status == -EINVAL && strstr(why, because) != NULL, "%s: "
	    "status %d (%s), expected EINVAL for %s", what, status, why,
	    because);
	CHECKF(harness_alive(&d), "the daemon died of %s", what);
	close(sock);
	close(uffd);
	close(memfd);
}

int
main(void)
{
	char dev_path[512];
	struct stat st, dst;
	int own[2], sv[2], baseline, fd;

	harness_start_conf(&d, "cache-linger 0\nreplay 0\n");
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	CHECK(stat(path, &st) == 0);
	if (major(st.st_dev) == 0) {
		harness_stop(&d);
		harness_skip("%s is not on a block device: the daemon takes "
		    "no descriptions for it", path);
	}
	snprintf(link_path, sizeof link_path, "%s.link", path);
	CHECK(link(path, link_path) == 0);
	baseline = harness_settled_fds(d.pid);

	scan(TWICE, "one description twice, O_DIRECT taken off it");
	scan(FLIPPED, "O_DIRECT on the one without, off the other");
	scan(LINKED, "a hard link's");
	CHECK(harness_log_count(&d, "O_DIRECT (descriptions the client "
	    "opened)") == 3);

	/* A memfd is a regular file, of another device and inode. */
	CHECK((own[0] = memfd_create("pagerd-test", MFD_CLOEXEC)) != -1);
	CHECK(ftruncate(own[0], SIZE) == 0);
	own[1] = own[0];
	refused(own, "a memfd", "another file");
	close(own[0]);
	CHECK((own[0] = open(d.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1);
	own[1] = own[0];
	refused(own, "a directory", "not a regular file");
	close(own[0]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	refused(sv, "a socket", "not a regular file");
	close(sv[0]);
	close(sv[1]);
	/* A file of the same name and size on another device. */
	snprintf(dev_path, sizeof dev_path, "/dev/shm/pagerd-flags-%d",
	    (int)getpid());
	if ((fd = open(dev_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) != -1) {
		CHECK(ftruncate(fd, SIZE) == 0 && fstat(fd, &dst) == 0);
		unlink(dev_path);
		CHECK(dst.st_dev != st.st_dev);
		own[0] = own[1] = fd;
		refused(own, "a file on another device", "another file");
		close(fd);
	}

	harness_wait_idle(d.sock);
	harness_expect_fds(d.pid, d.sock, baseline, "after every client left");
	unlink(link_path);
	harness_stop(&d);
	return 0;
}

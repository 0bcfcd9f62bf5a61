/*
 * Description: a cold file only its client's user may read (another
 * user's, mode 0600: the daemon, which keeps no CAP_DAC_OVERRIDE, may not
 * open it) is still read past the kernel's page cache: libpagerd opens
 * it again twice and sends those descriptions with the region
 * (PD_REGION_OWN_FDS), the daemon reads the stream's cold windows with
 * O_DIRECT through them, every byte is right, and the kernel's page cache
 * of the file stays nearly empty. A client that sends none (an older
 * one) gets the path of before: of a file the daemon may open (root's,
 * mode 0644) it opens its own and reads the same way; of the 0600 file
 * its own opening fails, its reads go through the client's description,
 * and the kernel's page cache fills.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include <pagerd.h>

#include "harness.h"

#define SIZE ((24u << 20) + 1000)
#define SEED 0x0f7f1de5ull
#define NPAGES ((SIZE + 4095) / 4096)
#define USER "pagerd-ta"

static struct harness_daemon d;
static char path[512], shared[512];

/* Every page of the mapping, in order, checked against the pattern. */
static void
check_all(const char *p)
{
	uint64_t i;

	for (i = 0; i < NPAGES; i++)
		harness_check_range(p + i * 4096, i * 4096, 4096, SEED, SIZE);
}

/* As the file's user: map it through libpagerd and scan it. */
static void
scan_libpagerd(void *arg)
{
	struct pagerd *pd;
	void *map;
	int fd;

	(void)arg;
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "%s: %s", path,
	    strerror(errno));
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &map) == 0,
	    "map: %s", pagerd_errmsg());
	check_all(map);
	pagerd_close(pd);
	close(fd);
}

/*
 * As the user, a client of before: the page cache region of the file at
 * arg sent with the memfd alone, and scanned.
 */
static void
scan_old_client(void *arg)
{
	struct uffdio_register reg;
	union pd_msg msg;
	char why[PD_REASON_MAX];
	const char *file = arg;
	uint64_t size;
	void *map;
	int fd, sock, uffd, memfd;

	CHECKF((fd = open(file, O_RDONLY | O_CLOEXEC)) != -1, "%s: %s", file,
	    strerror(errno));
	sock = harness_raw_hello_client(d.sock, &uffd);
	memfd = harness_raw_cache_open(sock, fd, 2, &size);
	CHECK(size == (uint64_t)NPAGES * 4096);
	CHECK((map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, memfd, 0)) !=
	    MAP_FAILED);
	reg.range.start = (uintptr_t)map;
	reg.range.len = size;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg) == -1)
		harness_skip("UFFDIO_REGISTER of a private shmem mapping for "
		    "missing and minor faults: %s", strerror(errno));
	proto_init(&msg, PD_MSG_REGION_ADD, 3);
	msg.region_add.start = (uintptr_t)map;
	msg.region_add.length = size;
	msg.region_add.backing = PD_BACKING_CACHE;
	msg.region_add.prot = PD_PROT_READ;
	msg.region_add.mode = PD_MODE_MISSING | PD_MODE_MINOR;
	CHECK(harness_raw_send(sock, &msg, msg.hdr.size, &memfd, 1) == 0);
	CHECK(harness_raw_recv(sock, &msg, 5000) == sizeof msg.reply);
	snprintf(why, sizeof why, "%s", msg.reply.reason);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == 0,
	    "region refused: %s", why);
	check_all(map);
	close(sock);
	close(uffd);
	close(memfd);
	close(fd);
}

int
main(void)
{
	size_t cached;
	uid_t uid;

	uid = harness_test_user(USER);
	harness_start_conf(&d, "cache-linger 0\nreplay 0\n");
	harness_make_file(&d, "private.dat", SIZE, SEED, path, sizeof path);
	CHECK(chown(path, uid, (gid_t)-1) == 0 && chmod(path, 0600) == 0);

	/* The client's descriptions: read past the page cache. */
	close(harness_open_cold(&d, path));
	CHECKF(harness_as_user(USER, scan_libpagerd, NULL) == 0, "the scan "
	    "through libpagerd failed");
	harness_wait_idle(d.sock);
	cached = harness_kernel_cached(path);
	CHECKF(cached < NPAGES / 10, "the kernel's page cache holds %zu of "
	    "the cold file's %u pages after the daemon read it through the "
	    "client's descriptions", cached, (unsigned int)NPAGES);
	CHECK(harness_log_has(&d, "O_DIRECT (descriptions the client "
	    "opened)"));
	CHECK(!harness_log_has(&d, "O_DIRECT (the daemon's own"));

	/*
	 * None sent, of a file the daemon may open (root's, mode 0644): it
	 * opens its own, and the page cache stays nearly empty.
	 */
	harness_make_file(&d, "shared.dat", SIZE, SEED, shared, sizeof shared);
	close(harness_open_cold(&d, shared));
	CHECKF(harness_as_user(USER, scan_old_client, shared) == 0, "the scan "
	    "by a client of before failed");
	harness_wait_idle(d.sock);
	CHECK(harness_log_has(&d, "O_DIRECT (the daemon's own descriptions)"));
	cached = harness_kernel_cached(shared);
	CHECKF(cached < NPAGES / 10, "the kernel's page cache holds %zu of "
	    "the cold file's %u pages after the daemon read it through its "
	    "own descriptions", cached, (unsigned int)NPAGES);

	/* None sent: the daemon may not open it, its page cache fills. */
	close(harness_open_cold(&d, path));
	CHECKF(harness_as_user(USER, scan_old_client, path) == 0, "the scan "
	    "by a client of before failed");
	harness_wait_idle(d.sock);
	CHECKF(harness_log_has(&d, "no reads of its own (the daemon's own "
	    "descriptions): Permission denied"), "the daemon opened a file "
	    "mode 0600 of another user itself");
	cached = harness_kernel_cached(path);
	CHECKF(cached > NPAGES / 2, "the kernel's page cache holds only %zu "
	    "of the file's %u pages after a scan through the client's "
	    "description", cached, (unsigned int)NPAGES);
	harness_stop(&d);
	return 0;
}

/*
 * Description: REGION_DEL of a range (region number 0, start and length:
 * what the shim sends for a piece of a region it gives back to the
 * kernel on MADV_HUGEPAGE) drops the sender's own regions there only,
 * cutting a region that straddles its ends: the middle of a region goes,
 * the rest stays (an overlapping add is refused there, one in the hole is
 * taken). Another user's session (pagerd-ta) naming the victim's range
 * removes nothing of the victim's. A range not of whole pages, or one
 * that wraps past the end of the address space, is refused with EINVAL
 * and the session stays usable; number 0 with no range is still ENOENT.
 * A non-zero reserved field, or a range with a region number other than
 * 0, is refused with EINVAL and a log line, deletes nothing, and the
 * session stays usable.
 * A range that would cut a write-protected region is refused with
 * EOPNOTSUPP and the region stays whole (skipped where the kernel cannot
 * write-protect shared memory).
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "uffd.h"

#define PAGE 4096u
#define PAGES 32u
#define WP_FEATURES (UFFD_FEATURE_PAGEFAULT_FLAG_WP | \
	UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM)

static const char *sock;
static unsigned char *mem;

/*
 * REGION_DEL of region id and [start, start + length), reserved field
 * reserved, on fd: the status.
 */
static int
del_any(int fd, uint32_t id, uint32_t reserved, uint64_t start,
    uint64_t length, uint32_t seq)
{
	union pd_msg msg;
	char why[PD_REASON_MAX];

	proto_init(&msg, PD_MSG_REGION_DEL, seq);
	msg.region_del.region_id = id;
	msg.region_del.reserved = reserved;
	msg.region_del.start = start;
	msg.region_del.length = length;
	return harness_raw_request(fd, &msg, why, sizeof why);
}

/* REGION_DEL of [start, start + length) on fd: the status. */
static int
del_range(int fd, uint64_t start, uint64_t length, uint32_t seq)
{
	return del_any(fd, 0, 0, start, length, seq);
}

/* REGION_ADD of a zero-fill region at [p, p + pages): the status. */
static int
add(int fd, const unsigned char *p, unsigned int pages, uint32_t seq)
{
	union pd_msg msg;
	char why[PD_REASON_MAX];

	proto_init(&msg, PD_MSG_REGION_ADD, seq);
	msg.region_add.start = (uintptr_t)p;
	msg.region_add.length = (uint64_t)pages * PAGE;
	msg.region_add.backing = PD_BACKING_ZERO;
	msg.region_add.prot = PD_PROT_READ | PD_PROT_WRITE;
	msg.region_add.mode = PD_MODE_MISSING;
	return harness_raw_request(fd, &msg, why, sizeof why);
}

/*
 * A session of its own with a write-protected zero region (over a memfd)
 * at [wp, wp + PAGES): a range in its middle is refused, and it stays
 * whole. Returns 0, or 77 where the kernel lacks what it needs.
 */
static int
wp_region_kept(void)
{
	struct uffdio_register reg;
	char why[PD_REASON_MAX];
	uint64_t have, got;
	union pd_msg msg;
	unsigned char *wp;
	int fd, uffd, memfd, umo, status;

	CHECKF(uffd_probe_features(&have, why, sizeof why) == 0, "%s", why);
	if ((have & WP_FEATURES) != WP_FEATURES)
		return 77;
	CHECKF((uffd = uffd_open(O_CLOEXEC | O_NONBLOCK, &umo, why,
	    sizeof why)) >= 0, "%s", why);
	CHECKF(uffd_api(uffd, WP_FEATURES, &got, why, sizeof why) == 0, "%s",
	    why);
	CHECK((memfd = memfd_create("wp", MFD_CLOEXEC)) != -1);
	CHECK(ftruncate(memfd, PAGES * PAGE) == 0);
	wp = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    memfd, 0);
	CHECK(wp != MAP_FAILED);
	reg = (struct uffdio_register){ .range = { (uintptr_t)wp, PAGES *
	    PAGE }, .mode = UFFDIO_REGISTER_MODE_MISSING |
	    UFFDIO_REGISTER_MODE_WP };
	CHECKF(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0, "register: %s",
	    strerror(errno));

	CHECK((fd = harness_raw_connect(sock)) != -1);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.uffd_features = got;
	msg.hello.page_size = PAGE;
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, &uffd, 1) == 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == 0,
	    "hello refused: %s", msg.reply.reason);
	proto_init(&msg, PD_MSG_REGION_ADD, 2);
	msg.region_add.start = (uintptr_t)wp;
	msg.region_add.length = PAGES * PAGE;
	msg.region_add.backing = PD_BACKING_ZERO;
	msg.region_add.prot = PD_PROT_READ | PD_PROT_WRITE;
	msg.region_add.mode = PD_MODE_MISSING | PD_MODE_WP;
	msg.region_add.flags = PD_REGION_WP;
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, &memfd, 1) == 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == 0,
	    "write-protected region refused: %s", msg.reply.reason);

	CHECKF((status = del_range(fd, (uintptr_t)wp + 8 * PAGE, 8 * PAGE,
	    3)) == -EOPNOTSUPP, "the middle of a write-protected region: %d",
	    status);
	CHECKF((status = add(fd, wp + 8 * PAGE, 8, 4)) == -EEXIST,
	    "after a refused cut: add in its middle: %d", status);
	CHECKF((status = add(fd, wp + 16 * PAGE, 8, 5)) == -EEXIST,
	    "after a refused cut: add over its tail: %d", status);
	CHECKF((status = del_range(fd, (uintptr_t)wp, PAGES * PAGE, 6)) == 0,
	    "all of a write-protected region (no cut): %d", status);
	close(fd);
	close(uffd);
	munmap(wp, PAGES * PAGE);
	close(memfd);
	return 0;
}

/* The attacker: its own session names the victim's whole region. */
static void
attacker(void *arg)
{
	int fd, uffd, status;

	(void)arg;
	fd = harness_raw_hello_client(sock, &uffd);
	status = del_range(fd, (uintptr_t)mem, PAGES * PAGE, 10);
	CHECKF(status == 0, "a range of no region of the sender's: %d",
	    status);
	close(fd);
	close(uffd);
}

int
main(void)
{
	struct uffdio_register reg;
	struct harness_daemon d;
	union pd_msg msg;
	char why[PD_REASON_MAX];
	int fd, uffd, status;
	uint32_t id;

	harness_need_root();
	harness_test_user("pagerd-ta");
	signal(SIGPIPE, SIG_IGN);
	harness_start(&d, NULL);
	sock = d.sock;
	mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	fd = harness_raw_hello_client(sock, &uffd);
	reg = (struct uffdio_register){ .range = { (uintptr_t)mem, PAGES *
	    PAGE }, .mode = UFFDIO_REGISTER_MODE_MISSING };
	CHECK(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0);
	CHECK(add(fd, mem, PAGES, 1) == 0);

	/* Another user's session takes nothing of this one's. */
	CHECKF(harness_as_user("pagerd-ta", attacker, NULL) == 0,
	    "the attacker failed");
	CHECKF((status = add(fd, mem + 8 * PAGE, 8, 2)) == -EEXIST,
	    "after another session's range delete: add over the region: %d",
	    status);

	/* Hostile ranges: refused, the session stays. */
	CHECKF((status = del_range(fd, (uintptr_t)mem + 1, PAGE, 3)) ==
	    -EINVAL, "a start not on a page: %d", status);
	CHECKF((status = del_range(fd, (uintptr_t)mem, PAGE + 1, 4)) ==
	    -EINVAL, "a length not of pages: %d", status);
	CHECKF((status = del_range(fd, UINT64_MAX - PAGE + 1, 2 * PAGE, 5)) ==
	    -EINVAL, "a range past the address space: %d", status);
	proto_init(&msg, PD_MSG_REGION_DEL, 6);
	CHECKF((status = harness_raw_request(fd, &msg, why, sizeof why)) ==
	    -ENOENT,
	    "region 0 without a range: %d", status);

	/* The reserved field, and a number with a range: refused, said. */
	CHECKF((status = del_any(fd, 0, 1, (uintptr_t)mem, PAGES * PAGE,
	    13)) == -EINVAL, "a range with reserved 1: %d", status);
	CHECKF(harness_log_has(&d, "refused: region-del: reserved field is "
	    "not zero"), "no line for a non-zero reserved field");
	for (id = 1; id <= 4; id++)
		CHECKF((status = del_any(fd, id, 0, (uintptr_t)mem, PAGES *
		    PAGE, 13 + id)) == -EINVAL, "region %u with a range: %d",
		    id, status);
	CHECKF((status = del_any(fd, 1, 0, (uintptr_t)mem, 0, 18)) ==
	    -EINVAL, "region 1 with a start and no length: %d", status);
	CHECKF(harness_log_has(&d, "refused: region-del: region 1 and a "
	    "range"), "no line for a region number with a range");
	CHECKF((status = add(fd, mem + 8 * PAGE, 8, 19)) == -EEXIST,
	    "after refused deletes: add over the region: %d", status);

	/* Its own middle: cut out, the rest kept. */
	CHECKF((status = del_range(fd, (uintptr_t)mem + 8 * PAGE, 8 * PAGE,
	    7)) == 0, "the middle of its own region: %d", status);
	CHECKF((status = add(fd, mem + 8 * PAGE, 8, 8)) == 0,
	    "a region in the hole: %d", status);
	CHECKF((status = add(fd, mem, 8, 9)) == -EEXIST,
	    "over the head left: %d", status);
	CHECKF((status = add(fd, mem + 16 * PAGE, PAGES - 16, 10)) == -EEXIST,
	    "over the tail left: %d", status);
	CHECKF((status = del_range(fd, (uintptr_t)mem, PAGES * PAGE, 11)) ==
	    0, "all of it: %d", status);
	CHECKF((status = add(fd, mem, PAGES, 12)) == 0,
	    "a region where all went: %d", status);

	close(fd);
	close(uffd);

	if (wp_region_kept() == 77)
		printf("skipped the write-protected case: the kernel cannot "
		    "write-protect shared memory\n");
	CHECK(harness_alive(&d));
	harness_stop(&d);
	printf("ok: range deletes: own regions only, cut at the ends, "
	    "hostile ranges refused\n");
	return 0;
}

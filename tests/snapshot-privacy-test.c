/*
 * Description: a refused snapshot of another user's process tells the
 * caller nothing of it. Root's client maps a region; pagerd-ta asks, on
 * a control session, for a snapshot of root's process at an address in
 * that region, at one in none, and of a root process that is no client:
 * each is refused alike (EPERM, the same reason but for the pid), so that
 * the caller learns neither which of root's processes pagerd serves nor
 * where their regions lie (the refusals used to differ: "no region of
 * that process holds that address" against "only root or the process's
 * own user": a probe found a region's address page by page). No image is
 * written. pagerd-ta's own client, asked at an address in none of its
 * regions, still hears that; root's snapshot of root's client is taken.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "proto.h"

#define SEED 0x5a9e0000ull
#define SIZE (1u << 20)

struct probe {
	const char *sock;
	const char *dir;	/* for the images: anyone's */
	const char *path;	/* a pattern file anyone may read */
	pid_t root_client, root_other;
	uint64_t addr;
};

/* A snapshot of pid at addr into a new file of dir: status and reason. */
static int
snapshot_of(const struct probe *pr, pid_t pid, uint64_t addr, char *why,
    size_t whylen)
{
	char path[600];
	union pd_msg msg;
	struct stat st;
	int s, img;

	snprintf(path, sizeof path, "%s/image-%d", pr->dir, (int)getpid());
	CHECKF((img = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) != -1, "open %s: %s", path, strerror(errno));
	CHECKF((s = harness_raw_connect(pr->sock)) != -1, "connect: %s",
	    strerror(errno));
	CHECK(harness_raw_hello_control(s) == 0);
	proto_init(&msg, PD_MSG_SNAPSHOT_OF, 2);
	msg.snapshot_of.pid = (int32_t)pid;
	msg.snapshot_of.addr = addr;
	CHECK(harness_raw_send(s, &msg, msg.hdr.size, &img, 1) == 0);
	CHECK(harness_raw_recv(s, &msg, 5000) == sizeof msg.reply);
	CHECK(msg.hdr.type == PD_MSG_REPLY && msg.hdr.seq == 2);
	snprintf(why, whylen, "%s", msg.reply.reason);
	printf("snapshot of pid %d at 0x%llx: %d %s\n", (int)pid,
	    (unsigned long long)addr, msg.reply.status, why);
	CHECK(fstat(img, &st) == 0);
	if (msg.reply.status != 0)
		CHECKF(st.st_size == 0, "a refused snapshot wrote %lld bytes",
		    (long long)st.st_size);
	close(s);
	close(img);
	unlink(path);
	return msg.reply.status;
}

/* As pagerd-ta: every probe of root's processes answered alike. */
static void
attacker(void *arg)
{
	const struct probe *pr = arg;
	char in[PD_REASON_MAX], out[PD_REASON_MAX], other[PD_REASON_MAX];
	char own[PD_REASON_MAX];
	struct pagerd *pd;
	const void *p;
	int sin, sout, sother, sown;

	sin = snapshot_of(pr, pr->root_client, pr->addr, in, sizeof in);
	sout = snapshot_of(pr, pr->root_client, 0x10000, out, sizeof out);
	sother = snapshot_of(pr, pr->root_other, pr->addr, other,
	    sizeof other);
	CHECKF(sin == -EPERM && strstr(in, "only root or the process's own "
	    "user") != NULL, "a snapshot of root's region: %d %s", sin, in);
	CHECKF(sout == sin && strcmp(out, in) == 0, "root's process answered "
	    "otherwise at an address in none of its regions: %d \"%s\" "
	    "against %d \"%s\"", sout, out, sin, in);
	CHECKF(sother == sin, "a root process that is no client answered "
	    "otherwise: %d \"%s\"", sother, other);

	/* Its own client: the address is in none of its regions. */
	p = harness_map_cached(&pd, pr->sock, pr->path, SIZE, PROT_READ);
	harness_check_range(p, 0, SIZE, SEED, SIZE);
	sown = snapshot_of(pr, getpid(), 0x10000, own, sizeof own);
	CHECKF(sown == -ESRCH && strstr(own, "no region") != NULL, "its own "
	    "process: %d %s", sown, own);
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon d;
	struct harness_hold h;
	struct pagerd *pd;
	struct probe pr;
	char path[512], images[300], why[PD_REASON_MAX];
	uint64_t *shared;
	void *p;
	int status;

	harness_need_root();
	harness_test_user("pagerd-ta");
	harness_start(&d, NULL);
	harness_make_file(&d, "root.dat", SIZE, SEED, path, sizeof path);
	CHECK((shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0)) != MAP_FAILED);

	/* Root's client, holding its region. */
	if ((h.pid = harness_hold_start(&h)) == 0) {
		p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ);
		harness_check_range(p, 0, SIZE, SEED, SIZE);
		*shared = (uint64_t)(uintptr_t)p;
		harness_hold_ready(&h);
		pagerd_close(pd);
		_exit(0);
	}
	if ((status = harness_hold_wait(&h)) == 77)
		harness_skip("no shared page cache");
	CHECKF(status == 0, "root's client failed to start (status %d)",
	    status);

	snprintf(images, sizeof images, "%s/images", d.dir);
	CHECK(mkdir(images, 0700) == 0 && chmod(images, 01777) == 0);
	pr.sock = d.sock;
	pr.dir = images;
	pr.path = path;
	pr.root_client = h.pid;
	pr.root_other = getpid();
	pr.addr = *shared + SIZE / 2;
	CHECKF((status = harness_as_user("pagerd-ta", attacker, &pr)) == 0,
	    "pagerd-ta's probes ended with status %d", status);

	/* Root may. */
	CHECKF((status = snapshot_of(&pr, h.pid, pr.addr, why, sizeof why)) !=
	    -EPERM && status != -ESRCH, "root's snapshot of its client: %d %s",
	    status, why);
	CHECKF(harness_hold_end(&h) == 0, "root's client failed");
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	printf("PASS: refused snapshots told nothing of another user's "
	    "processes\n");
	return 0;
}

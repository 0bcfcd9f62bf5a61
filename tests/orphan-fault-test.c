/*
 * Description: a fault in a range a client registered with its
 * userfaultfd but holds no region for (never added; added and then
 * deleted with REGION_DEL; write-protected by the client itself, whose
 * page is there and cannot be poisoned; or registered with the session's
 * wp-async userfaultfd, which no region names) ends the faulting process with
 * SIGBUS within seconds, never a sleep or a fault loop for ever nor a
 * zero page, and the daemon reports each as a violation ("no region",
 * with pid, tid and address), kept for pagerctl violations; the daemon
 * lives on.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "uffd.h"

#define PAGE 4096u
#define PAGES 64u
/* A fault left asleep ends the child with SIGALRM after this long. */
#define ORPHAN_TIMEOUT 10

/* Send msg on fd and check that its reply says success. */
static void
request(int fd, union pd_msg *msg)
{
	char why[PD_REASON_MAX];
	int status;

	CHECKF((status = harness_raw_request(fd, msg, why, sizeof why)) == 0,
	    "request %u: %d: %s", msg->hdr.seq, status, why);
}

enum orphan_case {
	ORPHAN_NEVER_ADDED,
	ORPHAN_DELETED,
	ORPHAN_WRITE_PROTECTED,
	ORPHAN_ASYNC,
};

static const char *const orphan_names[] = {
	[ORPHAN_NEVER_ADDED] = "never added",
	[ORPHAN_DELETED] = "deleted",
	[ORPHAN_WRITE_PROTECTED] = "write-protected",
	[ORPHAN_ASYNC] = "wp-async userfaultfd",
};

/*
 * A client session on sock that agreed on wp-async and handed the daemon
 * its second userfaultfd (*auffdp) with the pagemap; the socket.
 */
static int
hello_async(const char *sock, int *auffdp)
{
	uint64_t features;
	union pd_msg msg;
	char why[512];
	int fd, uffd, umo, fds[2];

	/* (Its hello asks for every cap; its userfaultfd has no features.) */
	fd = harness_raw_hello_client(sock, &uffd);
	CHECKF((*auffdp = uffd_open(O_CLOEXEC | O_NONBLOCK, &umo, why,
	    sizeof why)) >= 0, "%s", why);
	CHECKF(uffd_api(*auffdp, UFFD_FEATURE_WP_ASYNC |
	    UFFD_FEATURE_WP_UNPOPULATED, &features, why, sizeof why) == 0,
	    "%s", why);
	fds[0] = *auffdp;
	CHECK((fds[1] = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) !=
	    -1);
	proto_init(&msg, PD_MSG_WP_ASYNC, 2);
	msg.wp_async.uffd_features = features;
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, fds, 2) == 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.hdr.type == PD_MSG_REPLY && msg.reply.status == 0,
	    "wp-async refused: %s", msg.reply.reason);
	close(fds[1]);
	return fd;
}

/*
 * The child: a session of its own, a range registered with its
 * userfaultfd as how says; then the touch that must end it. The byte on
 * ready says it got that far.
 */
static void
orphan_child(const char *sock, enum orphan_case how, int ready)
{
	struct uffdio_writeprotect wp;
	struct uffdio_register reg;
	volatile unsigned char *mem;
	union pd_msg msg;
	int fd, uffd;

	alarm(ORPHAN_TIMEOUT);
	if (how == ORPHAN_ASYNC)
		fd = hello_async(sock, &uffd);
	else
		fd = harness_raw_hello_client(sock, &uffd);
	mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	CHECK(mem != MAP_FAILED);
	if (how == ORPHAN_WRITE_PROTECTED)
		memset((void *)mem, 1, PAGES * PAGE);
	reg = (struct uffdio_register){ .range = { (uintptr_t)mem, PAGES *
	    PAGE }, .mode = how == ORPHAN_WRITE_PROTECTED ?
	    UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_MISSING };
	CHECKF(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0, "UFFDIO_REGISTER: %s",
	    strerror(errno));
	if (how == ORPHAN_WRITE_PROTECTED) {
		wp = (struct uffdio_writeprotect){ .range = reg.range,
		    .mode = UFFDIO_WRITEPROTECT_MODE_WP };
		CHECKF(ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) == 0,
		    "UFFDIO_WRITEPROTECT: %s", strerror(errno));
	}
	if (how == ORPHAN_DELETED) {
		proto_init(&msg, PD_MSG_REGION_ADD, 2);
		msg.region_add.start = (uintptr_t)mem;
		msg.region_add.length = PAGES * PAGE;
		msg.region_add.backing = PD_BACKING_ZERO;
		msg.region_add.prot = PD_PROT_READ | PD_PROT_WRITE;
		msg.region_add.mode = PD_MODE_MISSING;
		request(fd, &msg);
		/* Served while the region is there. */
		CHECK(mem[0] == 0);
		proto_init(&msg, PD_MSG_REGION_DEL, 3);
		msg.region_del.start = (uintptr_t)mem;
		msg.region_del.length = PAGES * PAGE;
		request(fd, &msg);
	}
	CHECK(write(ready, "r", 1) == 1);
	/* Far from the page touched before, past its read-ahead window. */
	if (how == ORPHAN_WRITE_PROTECTED)
		mem[(PAGES - 1) * PAGE] = 2;
	else
		(void)mem[(PAGES - 1) * PAGE];
	fprintf(stderr, "the touch of a page without a region returned\n");
	_exit(1);
}

/* Occurrences of text in s. */
static int
count(const char *s, const char *text)
{
	int n = 0;

	for (; (s = strstr(s, text)) != NULL; s += strlen(text))
		n++;
	return n;
}

/* The case the next child runs. */
static enum orphan_case orphan_how;

static void
orphan_run_child(const char *sock, const char *path, int ready)
{
	(void)path;
	orphan_child(sock, orphan_how, ready);
}

/* Run the case how: its child must die of SIGBUS, not SIGALRM. */
static void
orphan_run(const char *sock, enum orphan_case how)
{
	printf("%s: the child ends with SIGBUS, not with SIGALRM (%d) %d s "
	    "later\n", orphan_names[how], 128 + SIGALRM, ORPHAN_TIMEOUT);
	fflush(stdout);
	orphan_how = how;
	harness_expect_sigbus(orphan_run_child, sock, NULL);
}

int
main(void)
{
	struct harness_daemon d;
	char out[8192], why[256];
	uint64_t features;
	int i, ran;

	signal(SIGPIPE, SIG_IGN);
	harness_start(&d, NULL);
	ran = 2;
	orphan_run(d.sock, ORPHAN_NEVER_ADDED);
	orphan_run(d.sock, ORPHAN_DELETED);
	CHECKF(uffd_probe_features(&features, why, sizeof why) == 0, "%s",
	    why);
	if (features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) {
		orphan_run(d.sock, ORPHAN_WRITE_PROTECTED);
		ran++;
	} else
		printf("write-protected: not run: the kernel has no "
		    "userfaultfd write-protection\n");
	/* (PAGEMAP_SCAN, which the daemon asks for too, came in 6.7.) */
	if (features & UFFD_FEATURE_WP_ASYNC) {
		orphan_run(d.sock, ORPHAN_ASYNC);
		ran++;
	} else
		printf("wp-async userfaultfd: not run: the kernel has no "
		    "UFFD_FEATURE_WP_ASYNC\n");
	CHECK(harness_alive(&d));
	/* The log line may trail the signal by a moment. */
	for (i = 0; i < 100 && harness_log_count(&d, "no region") < ran; i++)
		harness_sleep_ms(20);
	CHECKF(harness_log_count(&d, "no region") == ran, "%d reports of a "
	    "fault without a region in the log, expected %d",
	    harness_log_count(&d, "no region"), ran);
	harness_pagerctl(NULL, d.sock, "violations", out, sizeof out);
	CHECKF(count(out, "no region") == ran, "pagerctl violations keeps %d "
	    "reports of a fault without a region, expected %d",
	    count(out, "no region"), ran);
	harness_stop(&d);
	printf("ok: faults without a region end in SIGBUS and a report\n");
	return 0;
}

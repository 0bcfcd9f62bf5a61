/*
 * Description: violation reports can neither forge log lines nor crowd
 * out other users' records. A control session's REPORT is refused with
 * an error reply. pagerd-ta's client session sends 300 reports whose text
 * holds a newline, a forged "pid 1 (sshd) uid 0:" line and a terminal
 * escape, then again every 0.1 s until more than its share (32) got
 * through the rate: the log shows the text escaped (no line begins with
 * the forged words, no escape byte), logs only a burst of the first flood
 * and what the rate lets through after it, says that it dropped the rest,
 * and keeps pagerd-ta's share of the records (32) and no more; pagerd-tb's real
 * violation (tests/crash-prog's SIGSEGV under the shim), reported before
 * the flood, is still listed.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/userfaultfd.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define FLOOD 300
#define FORGED "pid 1 (sshd) uid 0: forged"

static struct harness_daemon d;
static int floods;		/* sent so far */

/* pagerd-tb's program dies of a SIGSEGV its shim reports. */
static void
victim_violation(void)
{
	pid_t pid;
	int i;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		harness_become_user("pagerd-tb");
		setenv("PAGERD_SOCKET", d.sock, 1);
		setenv("LD_PRELOAD", ".libs/libpagerd-preload.so", 1);
		execl("tests/crash-prog", "crash-prog", "read-unmapped",
		    (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0);
	CHECKF(harness_wait(pid) == 128 + SIGSEGV, "crash-prog did not die "
	    "of SIGSEGV");
	for (i = 0; i < 500 && !harness_log_has(&d, "SIGSEGV at 0x10"); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, "SIGSEGV at 0x10"), "pagerd-tb's fault was "
	    "not reported");
}

static void
fill_report(union pd_msg *msg, uint32_t seq)
{
	proto_init(msg, PD_MSG_REPORT, seq);
	msg->report.signo = SIGSEGV;
	msg->report.code = SEGV_MAPERR;
	msg->report.addr = 0x1000;
	snprintf(msg->report.mapping, sizeof msg->report.mapping,
	    "00001000-00002000 r--p 00000000 00:00 0 /x\n" FORGED
	    "\033[2J");
}

/* As pagerd-ta, a control session's REPORT: an error reply. */
static void
control_report(void)
{
	union pd_msg msg;
	ssize_t n;
	int fd;

	CHECK((fd = harness_raw_connect(d.sock)) != -1);
	CHECK(harness_raw_hello_control(fd) == 0);
	fill_report(&msg, 2);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, NULL, 0) == 0);
	n = harness_raw_recv(fd, &msg, 5000);
	CHECKF(n == sizeof msg.reply && msg.hdr.type == PD_MSG_REPLY &&
	    msg.reply.status < 0, "a control session's report was not "
	    "refused");
	printf("control session's report refused: %s\n", msg.reply.reason);
	close(fd);
}

/* As pagerd-ta, a client session's flood of forged reports. */
static void
flood(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	union pd_msg msg;
	int fd, uffd, i;

	CHECK((fd = harness_raw_connect(d.sock)) != -1);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	CHECKF(uffd != -1, "userfaultfd: %s", strerror(errno));
	CHECK(ioctl(uffd, UFFDIO_API, &api) == 0);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, &uffd, 1) == 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.reply);
	CHECKF(msg.reply.status == 0, "client hello: %s", msg.reply.reason);
	for (i = 0; i < FLOOD; i++) {
		fill_report(&msg, (uint32_t)i + 2);
		CHECK(harness_raw_send(fd, &msg, msg.hdr.size, NULL, 0) == 0);
	}
	/* Its answer comes after every report was taken. */
	proto_init(&msg, PD_MSG_STATS, FLOOD + 2);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, NULL, 0) == 0);
	CHECK(harness_raw_recv(fd, &msg, 5000) == sizeof msg.stats_reply);
	close(uffd);
	close(fd);
}

static void
as_attacker(void (*fn)(void))
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		harness_become_user("pagerd-ta");
		fn();
		_exit(0);
	}
	CHECK(pid > 0);
	CHECKF(harness_wait(pid) == 0, "the attacker's part failed");
}

/* The log: no forged line, no escape byte, few of the flood. */
static void
check_log(void)
{
	char line[2048];
	int forged = 0;
	FILE *f;

	CHECK((f = fopen(d.log, "re")) != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		CHECKF(strncmp(line, "pid 1 ", 6) != 0, "a forged log line: %s",
		    line);
		CHECKF(strchr(line, '\033') == NULL, "an escape byte in the "
		    "log: %s", line);
		if (strstr(line, "forged") == NULL)
			continue;
		forged++;
		CHECKF(strstr(line, "/x\\012" FORGED "\\033[2J") != NULL,
		    "a report not escaped: %s", line);
	}
	fclose(f);
	printf("%d of %d reports logged\n", forged, floods * FLOOD);
	CHECKF(forged >= 20 && forged <= 60, "%d of %d reports logged",
	    forged, floods * FLOOD);
	CHECKF(harness_log_has(&d, "are neither logged nor kept"),
	    "no word of the reports dropped");
}

/* What root's pagerctl violations gets. */
static void
check_kept(void)
{
	union pd_msg msg;
	int fd, victim = 0, forged = 0, n = 0;
	size_t i;

	CHECK((fd = harness_raw_connect(d.sock)) != -1);
	CHECK(harness_raw_hello_control(fd) == 0);
	proto_init(&msg, PD_MSG_VIOLATIONS, 2);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, NULL, 0) == 0);
	for (;;) {
		CHECK(harness_raw_recv(fd, &msg, 5000) > 0);
		if (msg.hdr.type == PD_MSG_REPLY)
			break;
		CHECK(msg.hdr.type == PD_MSG_NOTICE);
		msg.notice.reason[sizeof msg.notice.reason - 1] = '\0';
		for (i = 0; msg.notice.reason[i] != '\0'; i++)
			CHECKF((unsigned char)msg.notice.reason[i] >= 0x20 &&
			    (unsigned char)msg.notice.reason[i] < 0x7f,
			    "a control byte kept: %s", msg.notice.reason);
		victim += strstr(msg.notice.reason, "(crash-prog)") != NULL;
		forged += strstr(msg.notice.reason, "forged") != NULL;
		n++;
	}
	close(fd);
	printf("%d records kept, %d of the flood\n", n, forged);
	CHECKF(victim == 1, "pagerd-tb's violation was pushed out");
	/* More than its share got through the rate: it keeps its share. */
	CHECKF(forged == 32, "%d of the flood kept, not its share of 32",
	    forged);
	CHECK(msg.reply.value == (uint32_t)n);
}

int
main(void)
{
	int i;

	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	victim_violation();
	as_attacker(control_report);
	as_attacker(flood);
	floods++;
	/*
	 * More floods as the rate lets records through again (10 a second),
	 * until more than pagerd-ta's share of them got through.
	 */
	for (i = 0; i < 100 && harness_log_count(&d, FORGED) <= 32; i++) {
		harness_sleep_ms(100);
		as_attacker(flood);
		floods++;
	}
	check_log();
	check_kept();
	harness_stop(&d);
	printf("reports are escaped, limited per uid and kept fairly\n");
	return 0;
}

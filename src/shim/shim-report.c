/*
 * Reports of the faults the kernel catches. A SIGSEGV or SIGBUS handler,
 * installed where the program has none, tells the daemon what happened
 * (address, cause, access, the mapping from /proc/self/maps) on a
 * connection of its own, then lets the signal take its course: the
 * process dies of the same signal, with the same status. Everything here
 * is async-signal-safe: no allocation, no stdio, no locks.
 */
#include "config.h"

#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/ucontext.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd-compat.h"

static struct sockaddr_un report_addr;
static uint32_t report_page_size;
static uid_t report_daemon_uid;	/* PAGERD_DAEMON_UID, read at start */

/* The /proc/self/maps line of the mapping holding addr, or "". */
static void
report_mapping(uint64_t addr, char *out, size_t outlen)
{
	char buf[4096], line[512];
	size_t ln = 0, i;
	uint64_t start, end;
	ssize_t n;
	int fd, d;

	out[0] = '\0';
	if ((fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) == -1)
		return;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != '\n') {
				/* Runs of blanks (before the path) as one. */
				if (ln < sizeof line - 1 && (buf[i] != ' ' ||
				    ln == 0 || line[ln - 1] != ' '))
					line[ln++] = buf[i];
				continue;
			}
			line[ln] = '\0';
			ln = 0;
			/* "start-end perms ...": two hex numbers. */
			start = end = 0;
			for (d = 0; line[d] != '-' && line[d] != '\0'; d++)
				start = start * 16 + (uint64_t)(line[d] <= '9' ?
				    line[d] - '0' : line[d] - 'a' + 10);
			for (d += line[d] == '-'; line[d] != ' ' &&
			    line[d] != '\0'; d++)
				end = end * 16 + (uint64_t)(line[d] <= '9' ?
				    line[d] - '0' : line[d] - 'a' + 10);
			if (start <= addr && addr < end) {
				strlcpy(out, line, outlen);
				close(fd);
				return;
			}
		}
	}
	close(fd);
}

static void
report_fault(int signo, siginfo_t *si, void *ucv)
{
	const ucontext_t *uc = ucv;
	union pd_msg msg, reply;
	struct timeval tv = { .tv_sec = 1 };
	struct uffdio_api api = { .api = UFFD_API };
	struct ucred cred;
	socklen_t len = sizeof cred;
	int saved = errno, fd, uffd = -1;
	uint64_t err;

	if (report_addr.sun_path[0] == '\0' ||
	    (fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&report_addr,
	    sizeof report_addr) == -1 || getsockopt(fd, SOL_SOCKET,
	    SO_PEERCRED, &cred, &len) == -1 ||
	    !pagerd_daemon_trusted(cred.uid, report_daemon_uid))
		goto close;
	/*
	 * Only a client session may report, about its own process: a
	 * userfaultfd with no features and no regions makes one.
	 */
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd == -1)		/* a kernel before 5.11 */
		uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd == -1 || ioctl(uffd, UFFDIO_API, &api) == -1)
		goto close;
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.page_size = report_page_size;
	msg.hello.caps = 0;
	/*
	 * The hello's answer first: a report is only read after it. No
	 * caps: a report needs none, and any daemon reads the first
	 * release's messages.
	 */
	if (proto_send(fd, &msg, &uffd, 1, 0, MSG_NOSIGNAL) != 0 ||
	    recv(fd, &reply, sizeof reply, 0) <= 0 ||
	    reply.hdr.type != PD_MSG_REPLY || reply.reply.status != 0)
		goto close;
	proto_init(&msg, PD_MSG_REPORT, 2);
	msg.report.signo = (uint32_t)signo;
	msg.report.code = si->si_code;
	msg.report.addr = (uintptr_t)si->si_addr;
	msg.report.tid = (uint32_t)syscall(SYS_gettid);
#if defined(__x86_64__)
	msg.report.ip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	/* The page fault's error code: bit 1 a write, bit 4 a fetch. */
	if (signo == SIGSEGV && si->si_code > 0) {
		err = (uint64_t)uc->uc_mcontext.gregs[REG_ERR];
		msg.report.access = (err & 0x10) ? PD_ACCESS_EXEC :
		    (err & 0x2) ? PD_ACCESS_WRITE : PD_ACCESS_READ;
	}
#else
	(void)uc;
	(void)err;
#endif
	report_mapping(msg.report.addr, msg.report.mapping,
	    sizeof msg.report.mapping);
	(void)proto_send(fd, &msg, NULL, 0, 0, MSG_NOSIGNAL);
close:
	if (uffd != -1)
		close(uffd);
	close(fd);
out:
	errno = saved;
	/*
	 * The handler is gone (SA_RESETHAND): a fault happens again when
	 * the instruction is retried, now with the default action; a signal
	 * someone sent is sent again.
	 */
	if (si->si_code <= 0)
		raise(signo);
}

__attribute__((constructor)) static void
report_install(void)
{
	struct sigaction sa, old;
	const char *env, *path;
	int sigs[] = { SIGSEGV, SIGBUS };
	size_t i;

	if (getauxval(AT_SECURE) != 0 || ((env = getenv("PAGERD_REPORT")) !=
	    NULL && strcmp(env, "0") == 0))
		return;
	path = (env = getenv("PAGERD_SOCKET")) != NULL && *env != '\0' ? env :
	    PAGERD_DEFAULT_SOCKET;
	report_addr.sun_family = AF_UNIX;
	if (strlcpy(report_addr.sun_path, path, sizeof report_addr.sun_path)
	    >= sizeof report_addr.sun_path)
		return;
	report_page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	report_daemon_uid = pagerd_daemon_uid();
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = report_fault;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
}

/*
 * Protection violations: writes to read-only regions (wp.c), and the
 * faults the kernel caught in preloaded programs, which their shim reports
 * before the signal takes its course. Each is logged, and the most recent
 * are kept for pagerctl violations.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pagerd.h"

#define VIOLATIONS_KEPT 256

static pthread_mutex_t violation_lock = PTHREAD_MUTEX_INITIALIZER;
static char violation_ring[VIOLATIONS_KEPT][PD_REASON_MAX];
static uint64_t violation_count;

/* Log a violation of session s's process and keep it. */
void
violation_record(struct session *s, uint32_t tid, const char *fmt, ...)
{
	char what[512], stamp[32], *line;
	struct tm tm;
	int n;
	time_t now;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	log_warnx("session %u: pid %d (%s) tid %u: %s", s->id, (int)s->pid,
	    s->comm, tid, what);
	now = time(NULL);
	strftime(stamp, sizeof stamp, "%F %T", localtime_r(&now, &tm));
	pthread_mutex_lock(&violation_lock);
	/* The kept line is cut to fit a notice; the log has it all. */
	line = violation_ring[violation_count++ % VIOLATIONS_KEPT];
	n = snprintf(line, PD_REASON_MAX, "%s pid %d (%s) tid %u: ", stamp,
	    (int)s->pid, s->comm, tid);
	if (n > 0 && n < PD_REASON_MAX)
		strlcpy(line + n, what, PD_REASON_MAX - (size_t)n);
	pthread_mutex_unlock(&violation_lock);
}

static const char *
violation_code(int signo, int code)
{
	if (signo == SIGSEGV) {
		switch (code) {
		case SEGV_MAPERR:
			return "no mapping at the address (SEGV_MAPERR)";
		case SEGV_ACCERR:
			return "the mapping does not allow the access "
			    "(SEGV_ACCERR)";
		case SEGV_BNDERR:
			return "outside the pointer's bounds (SEGV_BNDERR)";
		case SEGV_PKUERR:
			return "denied by a protection key (SEGV_PKUERR)";
		}
	} else if (signo == SIGBUS) {
		switch (code) {
		case BUS_ADRALN:
			return "misaligned address (BUS_ADRALN)";
		case BUS_ADRERR:
			return "no backing at the address, e.g. past the end "
			    "of a mapped file (BUS_ADRERR)";
		case BUS_OBJERR:
			return "error of the mapped object (BUS_OBJERR)";
		case BUS_MCEERR_AR:
			return "memory error, or a page pagerd could not "
			    "serve (BUS_MCEERR_AR)";
		}
	}
	return code <= 0 ? "sent by a process, not by a fault" : "other cause";
}

/* A shim's report of a fault the kernel caught: check, log, keep. */
void
violation_report(struct session *s, const struct pd_report *r)
{
	static const char *const access[] = { "", " (read)", " (write)",
	    " (execute)" };
	char mapping[PD_MAPPING_MAX], *sp;
	int path = 0;

	if ((r->signo != SIGSEGV && r->signo != SIGBUS) || r->access > 3) {
		log_warnx("session %u: pid %d (%s): a report of signal %u, "
		    "access %u: ignored", s->id, (int)s->pid, s->comm,
		    r->signo, r->access);
		return;
	}
	/* "start-end perms offset dev inode path": keep range, perms, path. */
	memcpy(mapping, r->mapping, sizeof mapping);
	mapping[sizeof mapping - 1] = '\0';
	if (sscanf(mapping, "%*s %*s %*s %*s %*s %n", &path) >= 0 &&
	    path > 0 && (size_t)path < strlen(mapping) &&
	    (sp = strchr(mapping, ' ')) != NULL &&
	    (sp = strchr(sp + 1, ' ')) != NULL)
		memmove(sp + 1, mapping + path, strlen(mapping + path) + 1);
	else if ((sp = strstr(mapping, " 00000000 00:00 0")) != NULL)
		*sp = '\0';
	violation_record(s, r->tid, "%s at 0x%" PRIx64 "%s, instruction 0x%"
	    PRIx64 ": %s; %s%s", r->signo == SIGSEGV ? "SIGSEGV" : "SIGBUS",
	    r->addr, access[r->access], r->ip,
	    violation_code((int)r->signo, r->code),
	    mapping[0] != '\0' ? "mapping " : "no mapping holds it",
	    mapping);
}

/* Send the kept violations, oldest first, then their number. */
void
violation_list(struct session *s, uint32_t seq)
{
	uint64_t first, i, n;
	union pd_msg msg;

	pthread_mutex_lock(&violation_lock);
	n = violation_count;
	first = n > VIOLATIONS_KEPT ? n - VIOLATIONS_KEPT : 0;
	for (i = first; i < n && !s->closing; i++) {
		proto_init(&msg, PD_MSG_NOTICE, seq);
		msg.notice.kind = PD_NOTICE_RECORD;
		memcpy(msg.notice.reason, violation_ring[i % VIOLATIONS_KEPT],
		    sizeof msg.notice.reason);
		session_send(s, &msg);
	}
	pthread_mutex_unlock(&violation_lock);
	session_reply(s, seq, 0, (uint32_t)(n - first), 0, NULL);
}

/*
 * Protection violations: writes to read-only regions (wp-violation.c),
 * and the faults the kernel caught in preloaded programs, which their
 * shim reports before the signal takes its course. Each is logged, and
 * the most recent are kept for pagerctl violations.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pagerd.h"

#define VIOLATIONS_KEPT 256
/* The most records one uid keeps: a flood pushes out its own. */
#define VIOLATIONS_SHARE 32
/* Records a uid may add: this many a second after a burst of ... */
#define VIOLATIONS_RATE 10
#define VIOLATIONS_BURST 20

struct violation_kept {
	uint64_t seq;		/* 0: an empty slot */
	uid_t uid;		/* of the process the record is about */
	char line[PD_REASON_MAX];
};

static pthread_mutex_t violation_lock = PTHREAD_MUTEX_INITIALIZER;
static struct violation_kept violation_kept[VIOLATIONS_KEPT];
static struct ratelimit violation_rate = RATELIMIT_INIT("violations",
    "neither logged nor kept", VIOLATIONS_RATE, VIOLATIONS_BURST);
static uint64_t violation_seq;

/* The count of a flood of violations that ended, or of all at a stop. */
void
violation_flush(int all)
{
	ratelimit_flush(&violation_rate, all);
}

/* Oldest first. */
static int
violation_by_seq(const void *a, const void *b)
{
	const struct violation_kept *ka = *(struct violation_kept *const *)a;
	const struct violation_kept *kb = *(struct violation_kept *const *)b;

	return ka->seq < kb->seq ? -1 : ka->seq > kb->seq;
}

/* By uid, and a uid's records oldest first. */
static int
violation_by_uid(const void *a, const void *b)
{
	const struct violation_kept *ka = *(struct violation_kept *const *)a;
	const struct violation_kept *kb = *(struct violation_kept *const *)b;

	if (ka->uid != kb->uid)
		return ka->uid < kb->uid ? -1 : 1;
	return violation_by_seq(a, b);
}

/*
 * The slot for uid's next record: its own oldest once it holds its share;
 * else a free one; else the oldest of the uid that holds the most, so
 * that a flood never pushes out another uid's few records. Called with
 * violation_lock held.
 */
static struct violation_kept *
violation_slot(uid_t uid)
{
	struct violation_kept *k, *own = NULL, *victim = NULL;
	struct violation_kept *byuid[VIOLATIONS_KEPT];
	size_t i, run, most = 0, mine = 0, nfree = 0, free_at = 0;

	for (i = 0; i < VIOLATIONS_KEPT; i++) {
		k = &violation_kept[i];
		byuid[i] = k;
		if (k->seq == 0) {
			free_at = i;
			nfree++;
		} else if (k->uid == uid) {
			if (own == NULL || k->seq < own->seq)
				own = k;
			mine++;
		}
	}
	if (mine >= VIOLATIONS_SHARE)
		return own;
	if (nfree > 0)
		return &violation_kept[free_at];
	qsort(byuid, VIOLATIONS_KEPT, sizeof byuid[0], violation_by_uid);
	for (i = 0; i < VIOLATIONS_KEPT; i += run) {
		for (run = 1; i + run < VIOLATIONS_KEPT &&
		    byuid[i + run]->uid == byuid[i]->uid; run++)
			;
		if (run > most || (run == most && byuid[i]->seq <
		    victim->seq)) {
			most = run;
			victim = byuid[i];
		}
	}
	return victim;
}

/* Log a violation of session s's process and keep it, within its rate. */
void
violation_record(struct session *s, uint32_t tid, const char *fmt, ...)
{
	char what[512], stamp[32], line[PD_REASON_MAX];
	struct violation_kept *k;
	struct tm tm;
	int n;
	time_t now;
	va_list ap;

	if (!ratelimit_allow(&violation_rate, s->uid))
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	log_warnx("session %u: pid %d (%s) tid %u: %s", s->id, (int)s->pid,
	    s->comm, tid, what);
	now = time(NULL);
	strftime(stamp, sizeof stamp, "%F %T", localtime_r(&now, &tm));
	/* The kept line is cut to fit a notice; the log has it all. */
	n = snprintf(line, sizeof line, "%s pid %d (%s) tid %u: ", stamp,
	    (int)s->pid, s->comm, tid);
	if (n > 0 && (size_t)n < sizeof line)
		strlcpy(line + n, what, sizeof line - (size_t)n);
	pthread_mutex_lock(&violation_lock);
	k = violation_slot(s->uid);
	k->seq = ++violation_seq;
	k->uid = s->uid;
	log_escape(line, k->line, sizeof k->line);
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

/*
 * A fault in a pagerd region: its mapping is named by the region's
 * backing file (and as a pagerd region), not by the cache's memfd the
 * kernel's maps give. mapping is "start-end perms path".
 */
static void
violation_region_name(struct session *s, uint64_t addr, char *mapping,
    size_t len)
{
	char name[PD_MAPPING_MAX];
	struct region *r;
	char *sp;

	if ((r = region_find(s, addr)) == NULL ||
	    (sp = strchr(mapping, ' ')) == NULL ||
	    (sp = strchr(sp + 1, ' ')) == NULL)
		return;
	region_backing_name(r, name, sizeof name);
	snprintf(sp + 1, len - (size_t)(sp + 1 - mapping), "%s (pagerd region)",
	    name);
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
		if (ratelimit_allow(&violation_rate, s->uid))
			log_warnx("session %u: pid %d (%s): a report of signal "
			    "%u, access %u: ignored", s->id, (int)s->pid,
			    s->comm, r->signo, r->access);
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
	violation_region_name(s, r->addr, mapping, sizeof mapping);
	violation_record(s, r->tid, "%s at 0x%" PRIx64 "%s, instruction 0x%"
	    PRIx64 ": %s; %s%s", r->signo == SIGSEGV ? "SIGSEGV" : "SIGBUS",
	    r->addr, access[r->access], r->ip,
	    violation_code((int)r->signo, r->code),
	    mapping[0] != '\0' ? "mapping " : "no mapping holds it",
	    mapping);
}

/*
 * Send the kept violations s may see, oldest first, then their number:
 * those of processes of its own uid, or all for root and the admin group.
 */
void
violation_list(struct session *s, uint32_t seq)
{
	struct violation_kept *list[VIOLATIONS_KEPT];
	union pd_msg msg;
	size_t i, n = 0;
	int all = control_sees_all(s);

	pthread_mutex_lock(&violation_lock);
	for (i = 0; i < VIOLATIONS_KEPT; i++)
		if (violation_kept[i].seq != 0 && (all ||
		    violation_kept[i].uid == s->uid))
			list[n++] = &violation_kept[i];
	qsort(list, n, sizeof list[0], violation_by_seq);
	for (i = 0; i < n && !s->closing; i++) {
		proto_init(&msg, PD_MSG_NOTICE, seq);
		msg.notice.kind = PD_NOTICE_RECORD;
		memcpy(msg.notice.reason, list[i]->line,
		    sizeof msg.notice.reason);
		session_send(s, &msg);
	}
	pthread_mutex_unlock(&violation_lock);
	session_reply(s, seq, 0, (uint32_t)n, 0, NULL);
}

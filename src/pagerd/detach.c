/*
 * Detached sessions: a client's session lives as long as its process, not
 * its socket. A session whose connection closes while its process lives
 * keeps serving its regions, and ends when the process exits or runs
 * another program, or when none of its regions is mapped any more; the
 * process may take it up again on a new connection (resume).
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"

/* A client process's socket handed to the worker of its detached session. */
struct detach_job {
	struct job job;
	uint32_t id;
	int sock;
	pid_t pid;
	uid_t uid;
	uint32_t seq;
};

/*
 * A copy of one page into the client at addr from address 0, which the
 * daemon never maps: the kernel looks for the userfaultfd's address
 * space first and says ESRCH once it is gone; while it lives the copy
 * fails (ENOENT where addr has no mapping registered with the
 * userfaultfd, EFAULT or EEXIST where it has) and installs nothing.
 * Returns the errno.
 */
static int
detach_probe(struct session *s, uint64_t addr)
{
	struct uffdio_copy copy;

	memset(&copy, 0, sizeof copy);
	copy.dst = addr;
	copy.len = page_size;
	copy.mode = UFFDIO_COPY_MODE_DONTWAKE;
	return ioctl(s->uffd, UFFDIO_COPY, &copy) == -1 ? errno : 0;
}

/* Has the client's process exited, or its address space gone (exec)? */
static int
detach_gone(struct session *s)
{
	struct pollfd pfd = { .fd = s->pidfd, .events = POLLIN };
	static uint64_t probe;
	unsigned long min = 0;
	FILE *f;

	if (s->pidfd != -1 && poll(&pfd, 1, 0) == 1)
		return 1;
	if (s->uffd == -1)
		return 1;
	if (__atomic_load_n(&probe, __ATOMIC_RELAXED) == 0) {
		if ((f = fopen("/proc/sys/vm/mmap_min_addr", "re")) != NULL) {
			if (fscanf(f, "%lu", &min) != 1)
				min = 0;
			fclose(f);
		}
		min = (min + page_size - 1) & ~(page_size - 1);
		__atomic_store_n(&probe, min > page_size ? min : page_size,
		    __ATOMIC_RELAXED);
	}
	return detach_probe(s, __atomic_load_n(&probe, __ATOMIC_RELAXED)) ==
	    ESRCH;
}

/*
 * Is any of the session's regions still registered in the process? One
 * the program unmapped is not, and without unmap events the daemon would
 * not know.
 */
static int
detach_registered(struct session *s)
{
	size_t i;
	int error;

	for (i = 0; i < s->nregions; i++)
		if ((error = detach_probe(s, s->regions[i]->start)) !=
		    ENOENT && error != ESRCH)
			return 1;
	return 0;
}

/*
 * The peer's end of the socket is gone. A client whose process lives (it
 * closed its descriptors: closefrom, close_range, a spawner's clean-up)
 * may still touch its regions: the session stays, detached, serving
 * faults, until the process exits or execs, or resumes it.
 */
void
detach_hangup(struct session *s, const char *why)
{
	struct worker *w = s->worker;

	if (s->role != PD_ROLE_CLIENT || s->reattaching || detach_gone(s) ||
	    !detach_registered(s)) {
		session_close(s, "%s", why);
		return;
	}
	worker_cancel_poll(w, &s->sock_op);
	/* The removal names the poll, not the number: submit it first. */
	ring_submit(&w->ring);
	close(s->sock);
	s->sock = -1;
	s->detached = 1;
	if (session_log_allow(s->uid, LOG_INFO))
		log_info("session %u: pid %d (%s): %s, the process lives: its "
		    "%zu regions are served until it exits", s->id,
		    (int)s->pid, s->comm, why, s->nregions);
}

/*
 * On the worker's tick: detached sessions whose process is gone end, and
 * those whose regions are all gone (the program unmapped them, as
 * pagerd_close() does before it closes the socket).
 */
void
detach_tick(struct worker *w)
{
	struct session *s, *next;

	TAILQ_FOREACH_SAFE(s, &w->sessions, entry, next) {
		if (!s->detached || s->closing)
			continue;
		if (detach_gone(s))
			session_close(s, "its process exited or ran another "
			    "program");
		else if (!detach_registered(s))
			session_close(s, "its regions are unmapped");
	}
}

/*
 * On the worker of the detached session: give it the new connection if
 * the peer is its very process. The peer's pid is the kernel's, taken at
 * connect; while the session's pidfd says its process lives, that pid is
 * still its process's, so a peer with it is that process.
 */
static void
detach_resume_run(struct worker *w, struct job *j)
{
	struct detach_job *rs = (struct detach_job *)(void *)j;
	struct session *s;
	const char *why = NULL;
	union pd_msg msg;
	int error = -ESRCH;

	TAILQ_FOREACH(s, &w->sessions, entry)
		if (s->id == rs->id)
			break;
	if (s == NULL || s->closing || s->role != PD_ROLE_CLIENT)
		why = "no such session";
	else if (s->uid != rs->uid || s->pid != rs->pid) {
		why = "the session is another process's";
		error = -EPERM;
	} else if (s->pidfd == -1) {
		why = "without SO_PEERPIDFD (Linux 6.5) the daemon cannot tell "
		    "the session's process from another";
		error = -EOPNOTSUPP;
	} else if (detach_gone(s)) {
		why = "the session's process exited or ran another program";
		session_close(s, "its process exited or ran another program");
	}
	if (why != NULL) {
		if (session_log_allow(rs->uid, LOG_WARNING))
			log_warnx("pid %d uid %d: refused to resume session "
			    "%u: %s", (int)rs->pid, (int)rs->uid, rs->id, why);
		proto_init(&msg, PD_MSG_REPLY, rs->seq);
		msg.reply.status = error;
		snprintf(msg.reply.reason, sizeof msg.reply.reason, "hello: "
		    "resume session %u: %s", rs->id, why);
		/* Its caps are unread: the first release's reply. */
		(void)proto_send(rs->sock, &msg, NULL, 0, 0, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		close(rs->sock);
	} else {
		/*
		 * Still connected: a watchdog's poll holds the socket the
		 * process closed. The process's new connection replaces it.
		 */
		if (s->sock != -1) {
			worker_cancel_poll(w, &s->sock_op);
			ring_submit(&w->ring);
			close(s->sock);
		}
		s->sock = rs->sock;
		s->detached = 0;
		/* A poll being removed is armed again on the new socket. */
		if (!s->sock_op.armed) {
			s->inflight++;
			worker_arm_poll(w, &s->sock_op, s->sock);
		}
		if (session_log_allow(s->uid, LOG_INFO))
			log_info("session %u: pid %d (%s): resumed on a new "
			    "connection", s->id, (int)s->pid, s->comm);
		/* The client may have closed its copy of the userfaultfd. */
		proto_init(&msg, PD_MSG_REPLY, rs->seq);
		msg.reply.value = s->id;
		msg.reply.features = s->features;
		session_send_fd(s, &msg, s->uffd);
	}
	free(rs);
}

/*
 * A hello that resumes a detached session: the connection goes to the
 * session's worker, which checks the peer, and this session ends.
 */
void
detach_resume(struct session *s, const struct pd_hello *h)
{
	struct detach_job *rs;
	struct session *t;
	int i, found = -1;

	for (i = 0; i < nworkers && found == -1; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(t, &workers[i].sessions, entry)
			if (t->id == h->resume)
				found = i;
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	/* Gone already, say with its last region: the client starts anew. */
	if (found == -1) {
		session_refuse(s, h->hdr.seq, -ESRCH, 0, "hello: no session "
		    "to resume by that number");
		session_close(s, "no session to resume");
		return;
	}
	if ((rs = calloc(1, sizeof *rs)) == NULL) {
		session_refuse(s, h->hdr.seq, -ENOMEM, 1, "hello: out of "
		    "memory");
		return;
	}
	if ((rs->sock = fcntl(s->sock, F_DUPFD_CLOEXEC, 0)) == -1) {
		free(rs);
		session_refuse(s, h->hdr.seq, -errno, 1, "hello: dup of the "
		    "connection failed");
		return;
	}
	rs->job.run = detach_resume_run;
	rs->id = h->resume;
	rs->pid = s->pid;
	rs->uid = s->uid;
	rs->seq = h->hdr.seq;
	session_close(s, "resuming session %u", h->resume);
	worker_post(&workers[found], &rs->job);
}

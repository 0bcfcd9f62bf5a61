/*
 * Each connection's watchdog thread, which re-attaches to a restarted
 * daemon, and the end of the process when it cannot.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"

/* How long the watchdog tries to re-attach to a lost daemon, by default. */
#define PAGERD_REATTACH_TIMEOUT_MS 5000

/*
 * How often the watchdog looks whether the program closed the
 * connection under it (its poll holds the socket open meanwhile).
 */
#define PAGERD_WATCH_MS 1000

/*
 * The daemon is gone and did not come back in time. Threads touching
 * pages it has not served would wait forever, or read zeros if we let
 * go of the userfaultfd: end the process with a signal and a reason.
 */
__attribute__((noreturn)) void
pagerd_end(struct pagerd *pd, const char *what, const char *why)
{
	char msg[768];
	int n;

	n = snprintf(msg, sizeof msg, "libpagerd: pagerd at %s: %s (%s): "
	    "ending the process with SIGBUS\n", pd->path, what, why);
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) == -1) {
		/* Nothing left to tell. */
	}
	signal(SIGBUS, SIG_DFL);
	kill(getpid(), SIGBUS);
	for (;;)
		pause();
}

static void
pagerd_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * The watchdog: a thread that never touches registered memory, waiting
 * for the daemon's end of the socket to go away. It leaves when
 * pagerd_close() shuts the socket down, and when the program closed the
 * connection under it (a new watchdog comes with the next connection):
 * its poll holds the socket open, so it looks every PAGERD_WATCH_MS.
 */
static void *
pagerd_watchdog(void *arg)
{
	struct pagerd *pd = arg;
	struct pollfd pfd;
	uint64_t gen;
	sigset_t all;
	int waited, error;

	/* Signals are for the application's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&pd->lock);
	gen = pd->gen;
	for (;;) {
		if (pd->stopping || pd->gen != gen || pagerd_conn_lost(pd))
			break;
		pfd = (struct pollfd){ .fd = pd->sock,
		    .events = POLLIN | POLLRDHUP };
		pthread_mutex_unlock(&pd->lock);
		if (poll(&pfd, 1, PAGERD_WATCH_MS) == -1)
			pfd.revents = 0;
		pthread_mutex_lock(&pd->lock);
		if (pd->stopping || pd->gen != gen || pagerd_conn_lost(pd))
			break;
		if (pfd.revents == 0)
			continue;
		if (!(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			pagerd_drain_notices(pd);
			continue;
		}
		for (waited = 0;; waited += 50) {
			if ((error = pagerd_reattach(pd)) == 0)
				break;
			if (waited >= pd->reattach_ms)
				pagerd_end(pd, "lost it and could not "
				    "re-attach in time (PAGERD_REATTACH_TIMEOUT)",
				    pagerd_errmsg());
			pagerd_sleep_ms(50);
		}
		gen = pd->gen;
	}
	pthread_mutex_unlock(&pd->lock);
	return NULL;
}

/*
 * Join the watchdogs that have left, but for the caller: a detached
 * thread would run its exit after pagerd_close() returned, and a fork
 * at that moment may copy a lock its teardown holds (ASan's allocator
 * has no fork handler), so that the child hangs at its next malloc.
 * Called with pd->lock held.
 */
static void
pagerd_watch_reap(struct pagerd *pd)
{
	size_t i, j;

	for (i = j = 0; i < pd->nwatchdogs; i++) {
		if (!pthread_equal(pd->watchdogs[i], pthread_self()) &&
		    pthread_tryjoin_np(pd->watchdogs[i], NULL) == 0)
			continue;
		pd->watchdogs[j++] = pd->watchdogs[i];
	}
	pd->nwatchdogs = j;
}

/* Start a watchdog for the current connection. Called with pd->lock held. */
int
pagerd_watch(struct pagerd *pd)
{
	pthread_t *new;
	size_t cap;
	int error;

	if (pd->stopping)
		return pagerd_fail(-ESHUTDOWN, "the connection is closing");
	pagerd_watch_reap(pd);
	if (pd->nwatchdogs == pd->watchdogs_cap) {
		cap = pd->watchdogs_cap == 0 ? 2 : pd->watchdogs_cap * 2;
		if ((new = reallocarray(pd->watchdogs, cap,
		    sizeof *new)) == NULL)
			return pagerd_fail(-ENOMEM, "out of memory");
		pd->watchdogs = new;
		pd->watchdogs_cap = cap;
	}
	error = pthread_create(&pd->watchdogs[pd->nwatchdogs], NULL,
	    pagerd_watchdog, pd);
	if (error != 0)
		return pagerd_fail(-error, "pthread_create: %s",
		    strerror(error));
	pd->nwatchdogs++;
	return 0;
}

/*
 * pagerd_close: every watchdog, told to leave (pd->stopping, and no new
 * one starts after it), has ended when this returns. Called with
 * pd->lock held; drops it while it waits, for they take it to leave.
 */
void
pagerd_watch_join(struct pagerd *pd)
{
	pthread_t *threads = pd->watchdogs;
	size_t i, n = pd->nwatchdogs;

	pd->watchdogs = NULL;
	pd->nwatchdogs = pd->watchdogs_cap = 0;
	pthread_mutex_unlock(&pd->lock);
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	pthread_mutex_lock(&pd->lock);
}

/* A forked child: the parent's watchdogs are not its threads. */
void
pagerd_watch_forget(struct pagerd *pd)
{
	free(pd->watchdogs);
	pd->watchdogs = NULL;
	pd->nwatchdogs = pd->watchdogs_cap = 0;
}

int
pagerd_reattach_timeout(void)
{
	const char *env = secure_getenv("PAGERD_REATTACH_TIMEOUT");
	const char *errstr;
	long long ms;

	if (env == NULL || *env == '\0')
		return PAGERD_REATTACH_TIMEOUT_MS;
	ms = strtonum(env, 0, 3600 * 1000, &errstr);
	return errstr != NULL ? PAGERD_REATTACH_TIMEOUT_MS : (int)ms;
}

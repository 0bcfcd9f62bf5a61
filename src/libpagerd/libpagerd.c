/*
 * libpagerd: the client side of pagerd. Creates the connection's
 * userfaultfd, registers regions with it and hands them to the daemon; a
 * watchdog thread re-attaches them to a restarted daemon. Returns -errno
 * and keeps a per-thread message; never prints or exits, except when the
 * daemon is lost for good or a forked child cannot be handed to it (see
 * pagerd_end): then the regions' pages cannot be served, and the process
 * ends with SIGBUS rather than read zeros.
 *
 * This file holds the per-thread message, the opening and closing of a
 * connection and what it says of itself (pagerd_info, pagerd_stats); the
 * rest is in libpagerd-*.c, and what crosses files in internal.h.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd.h"

static __thread char pagerd_error[PAGERD_ERROR_MAX];
static __thread int pagerd_error_code;	/* what pagerd_error explains */

int
pagerd_fail(int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pagerd_error, sizeof pagerd_error, fmt, ap);
	va_end(ap);
	pagerd_error_code = error;
	return error;
}

/* The message as the last failure left it. */
const char *
pagerd_lasterror(void)
{
	return pagerd_error;
}

/*
 * A system call that just failed with EFAULT (errno still says so) where
 * the process has regions served by a user-mode-only userfaultfd most
 * likely touched an untouched page of one: the kernel cannot say so, the
 * library can. A pagerd_* call's own -EFAULT keeps its message.
 */
PUBLIC const char *
pagerd_errmsg(void)
{
	int saved = errno;

	if (saved == EFAULT && pagerd_error_code != -EFAULT &&
	    pagerd_user_mode_regions())
		snprintf(pagerd_error, sizeof pagerd_error, "EFAULT: a system "
		    "call read or wrote a page of a pagerd region not yet "
		    "touched, and this process's userfaultfd serves user-mode "
		    "faults only (root, CAP_SYS_PTRACE, access to "
		    "/dev/userfaultfd or vm.unprivileged_userfaultfd=1 lift "
		    "that): touch the pages first");
	errno = saved;
	return pagerd_error;
}

PUBLIC const char *
pagerd_version(void)
{
	return PACKAGE_VERSION;
}

PUBLIC int
pagerd_connect(const char *path, struct pagerd **pdp)
{
	struct pagerd *pd;
	const char *env;
	int error;

	*pdp = NULL;
	if (path == NULL) {
		env = secure_getenv("PAGERD_SOCKET");
		path = env != NULL && *env != '\0' ? env :
		    PAGERD_DEFAULT_SOCKET;
	}
	if ((pd = calloc(1, sizeof *pd)) == NULL)
		return pagerd_fail(-ENOMEM, "out of memory");
	pd->sock = pd->uffd = pd->auffd = -1;
	pd->page_size = (size_t)sysconf(_SC_PAGESIZE);
	pd->reattach_ms = pagerd_reattach_timeout();
	if ((error = pthread_mutex_init(&pd->lock, NULL)) != 0) {
		free(pd);
		return pagerd_fail(-error, "pthread_mutex_init: %s",
		    strerror(error));
	}
	if (strlcpy(pd->path, path, sizeof pd->path) >= sizeof pd->path) {
		error = pagerd_fail(-ENAMETOOLONG, "socket path %s is too long",
		    path);
		goto fail;
	}

	if ((error = pagerd_new_session(pd)) != 0)
		goto fail;
	pthread_mutex_lock(&pd->lock);
	error = pagerd_watch(pd);
	pthread_mutex_unlock(&pd->lock);
	if (error != 0)
		goto fail;
	pagerd_all_add(pd);
	*pdp = pd;
	return 0;

fail:
	if (pd->uffd != -1)
		close(pd->uffd);
	if (pd->sock != -1)
		close(pd->sock);
	free(pd->watchdogs);
	pthread_mutex_destroy(&pd->lock);
	free(pd);
	return error;
}

PUBLIC void
pagerd_close(struct pagerd *pd)
{
	size_t i;
	int lost;

	if (pd == NULL)
		return;
	pagerd_all_remove(pd);
	pthread_mutex_lock(&pd->lock);
	pagerd_sync_all(pd);
	/*
	 * Unmapped while the daemon still serves the session: a munmap
	 * waits until the daemon has read its unmap event.
	 */
	for (i = 0; i < pd->nregions; i++)
		pagerd_region_release(pd, &pd->regions[i]);
	pd->nregions = 0;
	/*
	 * The watchdogs leave: the current one woken by the shutdown, one
	 * left on a connection the program closed within PAGERD_WATCH_MS.
	 */
	pd->stopping = 1;
	lost = pagerd_conn_lost(pd);
	if (!lost)
		shutdown(pd->sock, SHUT_RDWR);
	pagerd_watch_join(pd);
	pthread_mutex_unlock(&pd->lock);
	free(pd->held);
	if (!lost)
		close(pd->sock);
	if (pagerd_uffd_ours(pd))
		close(pd->uffd);
	pagerd_async_drop(pd, !lost);
	pthread_mutex_destroy(&pd->lock);
	free(pd->regions);
	free(pd);
}

PUBLIC int
pagerd_info(struct pagerd *pd, struct pagerd_info *info)
{
	memset(info, 0, sizeof *info);
	pthread_mutex_lock(&pd->lock);
	info->session_id = pd->session_id;
	pthread_mutex_unlock(&pd->lock);
	info->kernel_faults = !pd->user_mode_only;
	info->shared_cache = pd->use_cache;
	info->uffd_features = pd->features;
	/* Copy-on-write and write-back regions' writes go unseen: say so. */
	pthread_mutex_lock(&pd->lock);
	if (pd->auffd != -1)
		info->uffd_features |= PAGERD_WP_ASYNC_FEATURES;
	pthread_mutex_unlock(&pd->lock);
	info->page_size = pd->page_size;
	return 0;
}

PUBLIC int
pagerd_stats(struct pagerd *pd, struct pagerd_stats *stats)
{
	union pd_msg msg, reply;
	int error;

	proto_init(&msg, PD_MSG_STATS, 0);
	pthread_mutex_lock(&pd->lock);
	error = pagerd_request(pd, &msg, -1, &reply, PD_MSG_STATS_REPLY);
	pthread_mutex_unlock(&pd->lock);
	if (error != 0)
		return error;
	memset(stats, 0, sizeof *stats);
	stats->faults = reply.stats_reply.counters.faults;
	stats->pages_file = reply.stats_reply.counters.pages_file;
	stats->pages_zero = reply.stats_reply.counters.pages_zero;
	stats->pages_poisoned = reply.stats_reply.counters.pages_poisoned;
	stats->bytes_read = reply.stats_reply.counters.bytes_read;
	stats->reads = reply.stats_reply.counters.reads;
	stats->errors = reply.stats_reply.counters.errors;
	stats->pages_dirtied = reply.stats_reply.counters.pages_dirtied;
	stats->pages_written = reply.stats_reply.counters.pages_written;
	stats->violations = reply.stats_reply.counters.violations;
	stats->snapshots = reply.stats_reply.counters.snapshots;
	stats->regions = reply.stats_reply.regions;
	return 0;
}

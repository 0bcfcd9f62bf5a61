/*
 * Exit and fork: the list of every connection of the process, write-back
 * at exit, and a forked child's regions handed to the daemon on a
 * connection of its own.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd.h"

/* Every connection, so that exit writes back what write-back regions hold. */
static pthread_mutex_t pagerd_all_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, pagerd) pagerd_all = LIST_HEAD_INITIALIZER(pagerd_all);
static pthread_once_t pagerd_atexit_once = PTHREAD_ONCE_INIT;

static void pagerd_atexit_register(void);

/* Has a connection of this process a user-mode-only userfaultfd, and regions? */
int
pagerd_user_mode_regions(void)
{
	struct pagerd *pd;
	int found = 0;

	pthread_mutex_lock(&pagerd_all_lock);
	LIST_FOREACH(pd, &pagerd_all, entry)
		if (pd->user_mode_only && __atomic_load_n(&pd->nregions,
		    __ATOMIC_RELAXED) > 0)
			found = 1;
	pthread_mutex_unlock(&pagerd_all_lock);
	return found;
}

/*
 * At exit, what the program wrote to write-back regions reaches the files
 * before exit() returns to the kernel. (Should the process die instead,
 * the daemon writes it back when the connection ends.)
 */
static void
pagerd_atexit(void)
{
	struct pagerd *pd;

	pthread_mutex_lock(&pagerd_all_lock);
	LIST_FOREACH(pd, &pagerd_all, entry) {
		pthread_mutex_lock(&pd->lock);
		pagerd_sync_all(pd);
		pthread_mutex_unlock(&pd->lock);
	}
	pthread_mutex_unlock(&pagerd_all_lock);
}

/*
 * fork: the child's copy of every region lost its registration (without
 * UFFD_FEATURE_EVENT_FORK, which needs CAP_SYS_PTRACE): a page it had not
 * touched would read zeros. Before the child runs, its regions are
 * registered with a userfaultfd of its own and handed to the daemon on a
 * connection of its own; the pages already there are its private copies.
 * The connections are locked across the fork so that none is mid-request.
 */
static void
pagerd_fork_prepare(void)
{
	struct pagerd *pd;

	pthread_mutex_lock(&pagerd_all_lock);
	LIST_FOREACH(pd, &pagerd_all, entry)
		pthread_mutex_lock(&pd->lock);
}

static void
pagerd_fork_parent(void)
{
	struct pagerd *pd;

	LIST_FOREACH(pd, &pagerd_all, entry)
		pthread_mutex_unlock(&pd->lock);
	pthread_mutex_unlock(&pagerd_all_lock);
}

static int
pagerd_child_attach(struct pagerd *pd)
{
	struct uffdio_register reg;
	struct pagerd_region *r;
	uint32_t session = pd->session_id;
	size_t i, j;
	int error;

	/* Write-protected regions stay with the parent (MADV_DONTFORK). */
	for (i = j = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		if (r->add.flags & PD_REGION_WP) {
			pagerd_fd_drop(pd, r->fd);
			if (r->wpfd != -1)
				close(r->wpfd);
			continue;
		}
		pd->regions[j++] = *r;
	}
	pd->nregions = j;
	pd->nviolations = pd->nsnapshots = 0;
	/* The parent's WP_ASYNC userfaultfd: the child may make its own. */
	pagerd_async_drop(pd, 1);
	pd->async = 0;

	/*
	 * The parent's socket and descriptor are the parent's (if the
	 * program did not close them), its watchdogs stayed with it.
	 */
	pagerd_watch_forget(pd);
	if ((error = pagerd_new_session(pd)) != 0)
		return error;
	for (i = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		reg = (struct uffdio_register){ .range = {
		    .start = r->add.start, .len = r->add.length },
		    .mode = UFFDIO_REGISTER_MODE_MISSING |
		    ((r->add.mode & PD_MODE_MINOR) ?
		    UFFDIO_REGISTER_MODE_MINOR : 0) };
		if (ioctl(pd->uffd, UFFDIO_REGISTER, &reg) == -1)
			return pagerd_fail(-errno, "UFFDIO_REGISTER: %s",
			    strerror(errno));
	}
	if ((error = pagerd_send_regions(pd, session)) != 0)
		return error;
	return pagerd_watch(pd);
}

static void
pagerd_fork_child(void)
{
	struct pagerd *pd;

	LIST_FOREACH(pd, &pagerd_all, entry) {
		if (pagerd_child_attach(pd) != 0)
			pagerd_end(pd, "could not hand a forked child's regions "
			    "to pagerd", pagerd_errmsg());
		pthread_mutex_unlock(&pd->lock);
	}
	pthread_mutex_unlock(&pagerd_all_lock);
}

static void
pagerd_atexit_register(void)
{
	atexit(pagerd_atexit);
	pthread_atfork(pagerd_fork_prepare, pagerd_fork_parent,
	    pagerd_fork_child);
}

/* A new connection: exit and fork look after it from now on. */
void
pagerd_all_add(struct pagerd *pd)
{
	pthread_once(&pagerd_atexit_once, pagerd_atexit_register);
	pthread_mutex_lock(&pagerd_all_lock);
	LIST_INSERT_HEAD(&pagerd_all, pd, entry);
	pthread_mutex_unlock(&pagerd_all_lock);
}

void
pagerd_all_remove(struct pagerd *pd)
{
	pthread_mutex_lock(&pagerd_all_lock);
	LIST_REMOVE(pd, entry);
	pthread_mutex_unlock(&pagerd_all_lock);
}

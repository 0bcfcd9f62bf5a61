/*
 * The write-protection calls: write-back, dirty pages, snapshots and
 * violation reports, and the daemon's notices that bring the last two.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd.h"

/*
 * A notice the daemon sent unasked. A write to a read-only region under
 * the kill policy: make the page read-only for real and wake the writer,
 * whose write then gets the kernel's own SIGSEGV (SEGV_ACCERR, with the
 * address), so that a debugger or a core shows the faulting write.
 * Called with pd->lock held.
 */
void
pagerd_notice(struct pagerd *pd, const struct pd_notice *n)
{
	struct pagerd_violation *v;
	struct uffdio_range range;
	char line[PD_REASON_MAX + 128];
	size_t i;
	int len;

	if (n->kind == PD_NOTICE_COLLAPSE) {
		pagerd_collapse(pd, n);
		return;
	}
	if (n->kind == PD_NOTICE_SNAPSHOT_DONE) {
		i = pd->nsnapshots++ % PAGERD_SNAPSHOTS_KEPT;
		pd->snapshots[i].id = n->value;
		pd->snapshots[i].status = n->status;
		return;
	}
	if (n->kind != PD_NOTICE_VIOLATION)
		return;
	v = &pd->violations[pd->nviolations++ % PAGERD_VIOLATIONS_KEPT];
	memset(v, 0, sizeof *v);
	v->addr = (void *)(uintptr_t)n->addr;
	v->tid = (pid_t)n->tid;
	v->killed = n->value == PD_VIOLATION_KILL;
	for (i = 0; i < pd->nregions; i++)
		if (pd->regions[i].id == n->region_id)
			v->region = (void *)(uintptr_t)pd->regions[i].add.start;
	memcpy(v->reason, n->reason, sizeof v->reason);
	v->reason[sizeof v->reason - 1] = '\0';
	if (!v->killed)
		return;
	len = snprintf(line, sizeof line, "libpagerd: thread %d: %s: "
	    "SIGSEGV\n", (int)v->tid, v->reason);
	if (len > 0 && write(STDERR_FILENO, line, (size_t)len) == -1) {
		/* The signal says it anyway. */
	}
	if (mprotect((void *)(uintptr_t)(n->addr & ~(uint64_t)(pd->page_size -
	    1)), pd->page_size, PROT_READ) == -1)
		return;
	range.start = n->addr & ~(uint64_t)(pd->page_size - 1);
	range.len = pd->page_size;
	ioctl(pd->uffd, UFFDIO_WAKE, &range);
}

/*
 * Hand the daemon the WP_ASYNC userfaultfd and this process's pagemap,
 * which it scans for the written pages (it needs no ptrace rights over
 * the process: the process opened it). Called with pd->lock held, on a
 * connection just made or checked.
 */
int
pagerd_async_send(struct pagerd *pd)
{
	union pd_msg msg, reply;
	int error, fds[2];

	if ((fds[1] = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) == -1)
		return pagerd_fail(-errno, "/proc/self/pagemap: %s",
		    strerror(errno));
	fds[0] = pd->auffd;
	proto_init(&msg, PD_MSG_WP_ASYNC, 0);
	msg.wp_async.uffd_features = pd->features | PAGERD_WP_ASYNC_FEATURES;
	error = pagerd_exchange(pd, &msg, fds, 2, &reply, PD_MSG_REPLY, NULL);
	close(fds[1]);
	return error;
}

/*
 * The WP_ASYNC userfaultfd is done with: closed where it is still ours,
 * forgotten where the program closed it (its number may be another's).
 */
void
pagerd_async_drop(struct pagerd *pd, int ours)
{
	if (pd->auffd != -1 && ours)
		close(pd->auffd);
	pd->auffd = -1;
}

/*
 * May a copy-on-write or write-back region be registered with a WP_ASYNC
 * userfaultfd, whose write faults the kernel resolves without the daemon?
 * Made at the first such region: the kernel must have WP_ASYNC (6.4) and
 * PAGEMAP_SCAN (6.7), the daemon must take it, and PAGERD_NO_WP_ASYNC
 * must not be set. Where not, regions are tracked by faults, as before.
 * Called with pd->lock held.
 */
int
pagerd_async_ready(struct pagerd *pd)
{
	char why[512];
	uint64_t got;
	int error, umo, fd;

	if (pd->async != 0)
		return pd->async > 0 && pd->auffd != -1;
	pd->async = -1;
	if (!(pd->caps & PD_CAP_WP_ASYNC) || (pd->supported &
	    PAGERD_WP_ASYNC_FEATURES) != PAGERD_WP_ASYNC_FEATURES ||
	    secure_getenv("PAGERD_NO_WP_ASYNC") != NULL)
		return 0;
	/* A kernel without PAGEMAP_SCAN answers ENOTTY. */
	if ((fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	error = uffd_scan_written(fd, 0, 0, 0, NULL, NULL);
	close(fd);
	if (error != 0)
		return 0;
	fd = uffd_open(O_CLOEXEC | O_NONBLOCK, &umo, why, sizeof why);
	if (fd < 0)
		return 0;
	pd->auffd = pagerd_fd_high(fd);
	if (uffd_api(pd->auffd, pd->features | PAGERD_WP_ASYNC_FEATURES, &got,
	    why, sizeof why) != 0 || pagerd_async_send(pd) != 0) {
		pagerd_async_drop(pd, 1);
		return 0;
	}
	pd->async = 1;
	return 1;
}

/*
 * final: the region goes after this sync (unmap, close, exit), so the
 * daemon need not take every page for written when it goes. Called with
 * pd->lock held.
 */
int
pagerd_sync_region(struct pagerd *pd, struct pagerd_region *r, int final)
{
	union pd_msg msg, reply;

	proto_init(&msg, PD_MSG_SYNC, 0);
	msg.region_req.region_id = r->id;
	if (final && (r->add.flags & PD_REGION_ASYNC))
		msg.region_req.reserved = PD_SYNC_FINAL;
	return pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY);
}

/* Write back every write-back region. Called with pd->lock held. */
int
pagerd_sync_all(struct pagerd *pd)
{
	size_t i;
	int error, first = 0;

	/* A detached session writes its regions back when it ends. */
	for (i = 0; i < pd->nregions; i++)
		if ((pd->regions[i].add.flags & PD_REGION_WRITEBACK) &&
		    pd->regions[i].session == pd->session_id &&
		    (error = pagerd_sync_region(pd, &pd->regions[i], 1)) != 0 &&
		    first == 0)
			first = error;
	return first;
}

PUBLIC int
pagerd_sync(struct pagerd *pd, void *addr)
{
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find_live(pd, addr, &i)) == 0) {
		if (pd->regions[i].add.flags & PD_REGION_WRITEBACK)
			error = pagerd_sync_region(pd, &pd->regions[i], 0);
		else
			error = pagerd_fail(-EINVAL, "%p is not a "
			    "PAGERD_MAP_WRITEBACK region", addr);
	}
	pthread_mutex_unlock(&pd->lock);
	return error;
}

int
pagerd_sync_unmap(struct pagerd *pd, void *start, const void *addr,
    size_t len)
{
	struct pagerd_region *r;
	uint64_t a = (uintptr_t)addr;
	size_t i;
	int error;

	/* munmap(2) takes whole pages. */
	len = (len + pd->page_size - 1) & ~(pd->page_size - 1);
	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find_live(pd, start, &i)) == 0) {
		r = &pd->regions[i];
		error = pagerd_sync_region(pd, r, a <= r->add.start &&
		    len >= r->add.start + r->maplen - a);
	}
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_dirty(struct pagerd *pd, void *addr, unsigned char *vec,
    size_t *ndirty)
{
	union pd_msg msg, reply;
	uint64_t first, i, npages = 1;
	size_t k;
	int error;

	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find_live(pd, addr, &k)) != 0)
		goto out;
	if (!(pd->regions[k].add.flags & PD_REGION_WP)) {
		error = pagerd_fail(-EINVAL, "%p is not a write-protected "
		    "region", addr);
		goto out;
	}
	for (first = 0; first < npages; first += PD_DIRTY_BITS) {
		proto_init(&msg, PD_MSG_DIRTY, 0);
		msg.dirty.region_id = pd->regions[k].id;
		msg.dirty.first = first;
		if ((error = pagerd_request(pd, &msg, -1, &reply,
		    PD_MSG_DIRTY_REPLY)) != 0)
			goto out;
		npages = reply.dirty_reply.npages;
		if (ndirty != NULL)
			*ndirty = (size_t)reply.dirty_reply.ndirty;
		if (vec == NULL)
			break;
		for (i = 0; i < PD_DIRTY_BITS && first + i < npages; i++)
			vec[first + i] = (reply.dirty_reply.bits[i / 8] >>
			    (i % 8)) & 1;
	}
out:
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_snapshot_start(struct pagerd *pd, void *addr, int fd, uint32_t *idp)
{
	union pd_msg msg, reply;
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find_live(pd, addr, &i)) == 0) {
		proto_init(&msg, PD_MSG_SNAPSHOT, 0);
		msg.region_req.region_id = pd->regions[i].id;
		error = pagerd_request(pd, &msg, fd, &reply, PD_MSG_REPLY);
		if (error == 0)
			*idp = reply.reply.value;
	}
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_snapshot_wait(struct pagerd *pd, uint32_t id)
{
	union pd_msg m;
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	for (;;) {
		for (i = 0; i < PAGERD_SNAPSHOTS_KEPT && i < pd->nsnapshots;
		    i++)
			if (pd->snapshots[i].id == id)
				break;
		if (i < PAGERD_SNAPSHOTS_KEPT && i < pd->nsnapshots) {
			pd->snapshots[i].id = 0;
			error = pd->snapshots[i].status;
			if (error != 0)
				pagerd_fail(error, "snapshot %u: %s", id,
				    strerror(-error));
			break;
		}
		/* A long copy outlasts the reply timeout: keep waiting. */
		error = pagerd_recv_msg(pd, &m, 0, NULL);
		if (error == -ETIMEDOUT)
			continue;
		if (error != 0)
			break;
		if (m.hdr.type == PD_MSG_NOTICE && m.hdr.seq == 0)
			pagerd_notice(pd, &m.notice);
	}
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_snapshot(struct pagerd *pd, void *addr, int fd)
{
	uint32_t id;
	int error;

	if ((error = pagerd_snapshot_start(pd, addr, fd, &id)) != 0)
		return error;
	return pagerd_snapshot_wait(pd, id);
}

PUBLIC size_t
pagerd_violations(struct pagerd *pd, struct pagerd_violation *v, size_t n)
{
	uint64_t total, first, i;

	pthread_mutex_lock(&pd->lock);
	pagerd_drain_notices(pd);
	total = pd->nviolations;
	first = total > PAGERD_VIOLATIONS_KEPT ? total -
	    PAGERD_VIOLATIONS_KEPT : 0;
	if (total - first > n)
		first = total - n;
	for (i = first; i < total; i++)
		v[i - first] = pd->violations[i % PAGERD_VIOLATIONS_KEPT];
	pthread_mutex_unlock(&pd->lock);
	return (size_t)(total - first);
}

/*
 * For the shim: the record of the regions kept true when the program
 * unmaps, moves or advises their memory itself, and the cuts that takes.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd.h"

/* The record that straddles addr (begins before it, ends after), or none. */
static size_t
pagerd_straddling(const struct pagerd *pd, uint64_t addr)
{
	const struct pagerd_region *r;
	size_t i;

	for (i = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		if (r->add.start < addr && addr < r->add.start + r->maplen)
			break;
	}
	return i;
}

/*
 * Make addr a boundary between records: a record that straddles it is cut
 * in two, the second with descriptors of its own (the daemon cuts its
 * regions the same way on the kernel's events). A write-protected region
 * is not cut, as the daemon does not cut it. A piece without registered
 * pages (a page cache region's zero tail) is no region: it is dropped.
 * Called with pd->lock held.
 */
static void
pagerd_cut(struct pagerd *pd, uint64_t addr)
{
	struct pagerd_region *r, n;
	uint64_t delta;
	size_t i = pagerd_straddling(pd, addr);

	if (i == pd->nregions || (pd->regions[i].add.flags & PD_REGION_WP))
		return;
	r = &pd->regions[i];
	delta = addr - r->add.start;
	n = *r;
	n.id = 0;	/* the daemon's number for the piece is its own */
	n.add.start = addr;
	n.maplen = r->maplen - delta;
	n.add.length = r->add.length > delta ? r->add.length - delta : 0;
	if (n.add.backing != PD_BACKING_ZERO)
		n.add.offset += delta;
	r->maplen = delta;
	if (r->add.length > delta)
		r->add.length = delta;
	if (n.add.length == 0)
		return;
	/* Else the piece cannot be handed over after a restart. */
	if (pagerd_region_room(pd) != 0)
		return;
	pagerd_fd_share(pd, n.fd);
	pagerd_fd_share(pd, n.memfd);
	pd->regions[pd->nregions++] = n;
}

/* Drop the records of [start, start + len). Called with pd->lock held. */
void
pagerd_forget(struct pagerd *pd, uint64_t start, uint64_t len)
{
	struct pagerd_region *r;
	size_t i;

	pagerd_cut(pd, start);
	pagerd_cut(pd, start + len);
	for (i = 0; i < pd->nregions;) {
		r = &pd->regions[i];
		if (r->add.start >= start && r->add.start < start + len &&
		    !(r->add.flags & PD_REGION_WP)) {
			pagerd_fd_drop(pd, r->fd);
			pagerd_fd_drop(pd, r->memfd);
			pd->regions[i] = pd->regions[--pd->nregions];
		} else
			i++;
	}
}

int
pagerd_overlaps(struct pagerd *pd, const void *addr, size_t len)
{
	uint64_t a = (uintptr_t)addr;
	size_t i;
	int found = 0;

	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nregions && !found; i++)
		found = pd->regions[i].add.start < a + len &&
		    a < pd->regions[i].add.start + pd->regions[i].maplen;
	pthread_mutex_unlock(&pd->lock);
	return found;
}

int
pagerd_advise(struct pagerd *pd, const void *addr, size_t len, int advice)
{
	uint64_t a = (uintptr_t)addr;
	struct pagerd_region *r;
	int error, found = 0;
	size_t i;

	/* Advice anonymous memory takes and a private file mapping refuses. */
	switch (advice) {
	case MADV_FREE:
	case MADV_WIPEONFORK:
		error = -EINVAL;	/* anonymous memory only */
		break;
	case MADV_REMOVE:
		error = -EACCES;	/* shared mappings only */
		break;
	default:
		return 0;
	}
	if ((a & (pd->page_size - 1)) != 0)
		return 0;		/* the kernel says EINVAL first */
	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nregions && !found; i++) {
		r = &pd->regions[i];
		found = r->fd != -1 && r->wpfd == -1 && r->add.start < a + len &&
		    a < r->add.start + r->maplen;
	}
	pthread_mutex_unlock(&pd->lock);
	return found ? error : 0;
}

/* Is r a zero-fill region of this session the kernel may take back? */
static int
pagerd_unroutable(const struct pagerd *pd, const struct pagerd_region *r)
{
	return r->add.backing == PD_BACKING_ZERO && r->wpfd == -1 &&
	    r->add.flags == 0 && r->session == pd->session_id;
}

/*
 * Cut the record straddling addr if it is one to give back. The daemon's
 * region is not cut until it is asked to drop a piece: its number names
 * more than either piece now, so neither keeps it.
 */
static void
pagerd_unroute_cut(struct pagerd *pd, uint64_t addr)
{
	size_t i = pagerd_straddling(pd, addr);

	if (i < pd->nregions && pagerd_unroutable(pd, &pd->regions[i])) {
		pagerd_cut(pd, addr);
		pd->regions[i].id = 0;
	}
}

/*
 * The program asked huge pages (MADV_HUGEPAGE) for [addr, addr + len):
 * the zero-fill regions in it go back to the kernel, which fills them
 * with huge pages where pagerd fills 4 KiB at a time (3x the kernel's
 * time per page). A region reaching past the range is cut there first,
 * as the kernel splits its mapping. Unregistering keeps every page
 * already there and wakes faults waiting on the daemon, which then find
 * the kernel's page. A piece cut since it was mapped (an allocator's
 * mapping trimmed to alignment) has a number in the daemon this record
 * does not know: the daemon drops it by its range. A daemon before that
 * answers ENOENT, and the piece is registered again and stays with it.
 * A detached session's region is not the current session's to drop.
 * The bytes given back.
 */
size_t
pagerd_unroute(struct pagerd *pd, const void *addr, size_t len)
{
	uint64_t a = (uintptr_t)addr, end;
	struct uffdio_register reg;
	struct uffdio_range range;
	struct pagerd_region *r;
	union pd_msg msg, reply;
	size_t i, given = 0;

	/* madvise took it: page-aligned and inside the address space. */
	len = (len + pd->page_size - 1) & ~(pd->page_size - 1);
	end = a + len;
	pthread_mutex_lock(&pd->lock);
	pagerd_unroute_cut(pd, a);
	pagerd_unroute_cut(pd, end);
	for (i = 0; i < pd->nregions;) {
		r = &pd->regions[i];
		if (!pagerd_unroutable(pd, r) || r->add.start < a ||
		    r->add.start + r->maplen > end) {
			i++;
			continue;
		}
		range = (struct uffdio_range){ .start = r->add.start,
		    .len = r->add.length };
		if (ioctl(pd->uffd, UFFDIO_UNREGISTER, &range) == -1) {
			i++;
			continue;
		}
		proto_init(&msg, PD_MSG_REGION_DEL, 0);
		msg.region_del.region_id = r->id;
		if (r->id == 0) {
			msg.region_del.start = range.start;
			msg.region_del.length = range.len;
		}
		if (pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY) != 0 &&
		    r->id == 0) {
			/* Else the daemon keeps a region nothing faults in. */
			reg = (struct uffdio_register){ .range = range,
			    .mode = UFFDIO_REGISTER_MODE_MISSING |
			    ((r->add.mode & PD_MODE_MINOR) ?
			    UFFDIO_REGISTER_MODE_MINOR : 0) |
			    ((r->add.mode & PD_MODE_WP) ?
			    UFFDIO_REGISTER_MODE_WP : 0) };
			if (ioctl(pd->uffd, UFFDIO_REGISTER, &reg) == 0) {
				i++;
				continue;
			}
		}
		/* Unregistered, it is the kernel's whatever the daemon says. */
		given += r->maplen;
		pd->regions[i] = pd->regions[--pd->nregions];
	}
	pthread_mutex_unlock(&pd->lock);
	return given;
}

void
pagerd_unmapped(struct pagerd *pd, const void *addr, size_t len)
{
	pthread_mutex_lock(&pd->lock);
	pagerd_forget(pd, (uintptr_t)addr, len);
	pthread_mutex_unlock(&pd->lock);
}

void *
pagerd_writeback_region(struct pagerd *pd, const void *addr)
{
	uint64_t a = (uintptr_t)addr;
	void *start = NULL;
	size_t i;

	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nregions; i++)
		if ((pd->regions[i].add.flags & PD_REGION_WRITEBACK) &&
		    pd->regions[i].add.start <= a && a <
		    pd->regions[i].add.start + pd->regions[i].maplen)
			start = (void *)(uintptr_t)pd->regions[i].add.start;
	pthread_mutex_unlock(&pd->lock);
	return start;
}

/*
 * After mremap(2): the records of the old range move (the daemon moves its
 * regions on the kernel's event); a shrunk tail is gone (an unmap event
 * told the daemon); a grown tail is registered already, inheriting the
 * mapping's registration, and becomes a region of its own here. What of
 * it lies past a page cache's end (sqlite grows its mapping as its file
 * grows) the cache cannot serve: the kernel maps the file there.
 */
int
pagerd_remapped(struct pagerd *pd, const void *old, size_t old_len,
    void *new, size_t new_len)
{
	uint64_t o = (uintptr_t)old, n = (uintptr_t)new, end = o + old_len;
	struct pagerd_region *r, *last = NULL, ext;
	union pd_msg msg, reply;
	uint64_t inside;
	size_t i;
	int error = 0;

	pthread_mutex_lock(&pd->lock);
	pagerd_cut(pd, o);
	pagerd_cut(pd, end);
	for (i = 0; i < pd->nregions; i++) {
		r = &pd->regions[i];
		if (r->add.start < o || r->add.start >= end)
			continue;
		r->add.start = r->add.start - o + n;
		if (r->add.start + r->maplen == n + old_len)
			last = r;
	}
	if (new_len < old_len) {
		pagerd_forget(pd, n + new_len, old_len - new_len);
		last = NULL;
	}
	if (new_len > old_len && last != NULL &&
	    last->add.length == last->maplen) {
		ext = *last;
		ext.add.start = n + old_len;
		ext.add.length = ext.maplen = new_len - old_len;
		if (ext.add.backing != PD_BACKING_ZERO)
			ext.add.offset += last->maplen;
		if (ext.add.backing == PD_BACKING_CACHE &&
		    ext.add.offset + ext.add.length > ext.cache_size) {
			inside = ext.add.offset < ext.cache_size ?
			    ext.cache_size - ext.add.offset : 0;
			if ((error = pagerd_map_past_cache(&ext,
			    (void *)(uintptr_t)ext.add.start, inside)) != 0 ||
			    inside == 0)
				goto out;
			ext.add.length = ext.maplen = inside;
		}
		if (pagerd_region_room(pd) != 0) {
			error = pagerd_fail(-ENOMEM, "out of memory");
			goto out;
		}
		msg.region_add = ext.add;
		if ((error = pagerd_request_region(pd, &msg, &ext, &reply)) !=
		    0)
			goto out;
		ext.id = reply.reply.value;
		pagerd_fd_share(pd, ext.fd);
		pagerd_fd_share(pd, ext.memfd);
		pd->regions[pd->nregions++] = ext;
	}
out:
	pthread_mutex_unlock(&pd->lock);
	return error;
}

int
pagerd_invalidate(struct pagerd *pd, int fd, uint64_t offset, uint64_t length)
{
	union pd_msg msg, reply;
	int error;

	pthread_mutex_lock(&pd->lock);
	if (!(pd->caps & PD_CAP_INVALIDATE)) {
		error = pagerd_fail(-EOPNOTSUPP, "this daemon cannot drop "
		    "written pages from its page caches (it is older)");
		goto out;
	}
	proto_init(&msg, PD_MSG_INVALIDATE, 0);
	msg.invalidate.offset = offset;
	msg.invalidate.length = length;
	error = pagerd_request(pd, &msg, fd, &reply, PD_MSG_REPLY);
out:
	pthread_mutex_unlock(&pd->lock);
	return error;
}

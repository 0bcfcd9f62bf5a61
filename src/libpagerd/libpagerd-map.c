/*
 * Regions: mapping one (zero-fill, or a file, through the daemon's shared
 * page cache where it has one), finding one, unmapping one.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"
#include "uffd.h"

#define PAGERD_MAP_WP_FLAGS (PAGERD_MAP_COW | PAGERD_MAP_WRITEBACK | \
	PAGERD_MAP_READONLY | PAGERD_MAP_REPORT)

/* Called with pd->lock held. */
void
pagerd_region_release(struct pagerd *pd, struct pagerd_region *r)
{
	/* Unmapping also drops the registration. */
	munmap((void *)(uintptr_t)r->add.start, r->maplen);
	pagerd_fd_drop(pd, r->fd);
	pagerd_fd_drop(pd, r->memfd);
	if (r->wpfd != -1)
		close(r->wpfd);
}

static int
pagerd_check_prot(int prot)
{
	if (prot != PROT_READ && prot != (PROT_READ | PROT_WRITE))
		return pagerd_fail(-EINVAL, "prot must be PROT_READ or "
		    "PROT_READ|PROT_WRITE");
	return 0;
}

/*
 * Map the file's shared page cache at addr for up to length bytes from
 * offset: the cache's memfd, privately, so that writes stay ours. Returns
 * the bytes it covers (the rest of the region lies past the end of the
 * file and stays anonymous zero-fill memory), 0 when the daemon has no
 * cache for this file, or -errno. Called with pd->lock held.
 */
static ssize_t
pagerd_map_cache(struct pagerd *pd, struct pagerd_region *r, void *addr,
    uint64_t offset, size_t length, int prot)
{
	union pd_msg msg, reply;
	size_t covered;
	int error, memfd = -1;

	proto_init(&msg, PD_MSG_CACHE_OPEN, 0);
	error = pagerd_request_fds(pd, &msg, &r->fd, 1, &reply,
	    PD_MSG_CACHE_REPLY, &memfd);
	if (error == -ECONNRESET || error == -ETIMEDOUT || error == -EPROTO ||
	    error == -EBADMSG || error == -EMFILE)
		return error;
	/* Refused (an empty file, a limit): serve it by copies instead. */
	if (error != 0 || reply.cache_reply.size <= offset) {
		if (memfd != -1)
			close(memfd);
		return 0;
	}
	if ((r->memfd = pagerd_fd_hold(pd, memfd, 1)) == -1)
		return pagerd_fail(-errno, "the page cache's descriptor: %s",
		    strerror(errno));
	r->cache_size = reply.cache_reply.size;
	covered = reply.cache_reply.size - offset < length ?
	    (size_t)(reply.cache_reply.size - offset) : length;
	if (mmap(addr, covered, prot, MAP_PRIVATE | MAP_FIXED, r->memfd,
	    (off_t)offset) == MAP_FAILED)
		return pagerd_fail(-errno, "mmap of the page cache: %s",
		    strerror(errno));
	return (ssize_t)covered;
}

/*
 * Map [addr + from, addr + r->maplen) of r with the kernel, from the file:
 * the part of the mapping past the page cache's end, which the file may
 * grow into. Shared as the program asked, or private. 0 or -errno.
 */
int
pagerd_map_past_cache(const struct pagerd_region *r, void *addr, size_t from)
{
	int prot = PROT_READ | ((r->add.prot & PD_PROT_WRITE) ? PROT_WRITE :
	    0);

	if (mmap((char *)addr + from, r->maplen - from, prot, MAP_FIXED |
	    (r->shared ? MAP_SHARED : MAP_PRIVATE), r->fd,
	    (off_t)(r->add.offset + from)) == MAP_FAILED)
		return pagerd_fail(-errno, "mmap of the file past its page "
		    "cache's end: %s", strerror(errno));
	return 0;
}

/*
 * Room in pd->regions for one more record: 0, or -ENOMEM. Called with
 * pd->lock held.
 */
int
pagerd_region_room(struct pagerd *pd)
{
	struct pagerd_region *regions;
	size_t cap;

	if (pd->nregions < pd->regions_cap)
		return 0;
	cap = pd->regions_cap ? pd->regions_cap * 2 : 8;
	if ((regions = reallocarray(pd->regions, cap, sizeof *regions)) ==
	    NULL)
		return -ENOMEM;
	pd->regions = regions;
	pd->regions_cap = cap;
	return 0;
}

/*
 * Create, register and hand over a region: an anonymous private mapping
 * whose missing pages the daemon fills, or a private mapping of a file's
 * shared page cache, whose pages the daemon maps.
 */
static int
pagerd_map(struct pagerd *pd, uint32_t backing, int fd, uint64_t offset,
    size_t length, int prot, unsigned int flags, void *hint, int fixed,
    void **addrp)
{
	struct uffdio_register reg;
	struct pagerd_region r;
	union pd_msg msg, reply;
	ssize_t covered = 0;
	void *addr;
	int error;

	if (length == 0 || length > PD_REGION_MAX_LENGTH)
		return pagerd_fail(-EINVAL, "length %zu is not in 1 .. %llu",
		    length, PD_REGION_MAX_LENGTH);
	length = (length + pd->page_size - 1) & ~(pd->page_size - 1);

	memset(&r, 0, sizeof r);
	r.fd = r.memfd = r.wpfd = -1;
	r.maplen = length;

	if (flags & PAGERD_MAP_WP_FLAGS) {
		/*
		 * A write-protected region's memory is a memfd the daemon
		 * maps too. A read-only region is writable underneath: the
		 * daemon catches, reports and judges every write.
		 */
		if ((pd->features & PAGERD_WP_FEATURES) != PAGERD_WP_FEATURES) {
			error = pagerd_fail(-EOPNOTSUPP, "write-protected "
			    "regions need userfaultfd write protection of "
			    "shared memory (Linux 5.19), which this kernel "
			    "lacks");
			goto fail_fd;
		}
		/*
		 * Sealed at its size: the daemon copies from it, and a
		 * stray ftruncate would cut pages from under both.
		 */
		if ((r.wpfd = pagerd_fd_high(memfd_create("pagerd-region",
		    MFD_CLOEXEC | MFD_ALLOW_SEALING))) == -1 ||
		    ftruncate(r.wpfd, (off_t)length) == -1 ||
		    fcntl(r.wpfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		    F_SEAL_SEAL) == -1) {
			error = pagerd_fail(-errno, "memfd of %zu bytes: %s",
			    length, strerror(errno));
			goto fail_fd;
		}
		addr = mmap(hint, length, PROT_READ | PROT_WRITE, MAP_SHARED |
		    MAP_NORESERVE | fixed, r.wpfd, 0);
	} else
		addr = mmap(hint, length, prot, MAP_PRIVATE | MAP_ANONYMOUS |
		    MAP_NORESERVE | fixed, -1, 0);
	if (addr == MAP_FAILED) {
		error = pagerd_fail(-errno, "mmap of %zu bytes: %s", length,
		    strerror(errno));
		goto fail_fd;
	}
	proto_init(&msg, PD_MSG_REGION_ADD, 0);
	msg.region_add.start = (uintptr_t)addr;
	msg.region_add.length = length;
	msg.region_add.offset = offset;
	msg.region_add.backing = backing;
	msg.region_add.prot = PD_PROT_READ |
	    ((prot & PROT_WRITE) ? PD_PROT_WRITE : 0);
	msg.region_add.mode = PD_MODE_MISSING;
	if (flags & PAGERD_MAP_WP_FLAGS) {
		msg.region_add.mode |= PD_MODE_WP;
		msg.region_add.flags = PD_REGION_WP |
		    ((flags & PAGERD_MAP_WRITEBACK) ? PD_REGION_WRITEBACK : 0) |
		    ((flags & PAGERD_MAP_READONLY) ? PD_REGION_READONLY : 0) |
		    ((flags & PAGERD_MAP_REPORT) ? PD_REGION_REPORT : 0);
	}
	r.add = msg.region_add;

	pthread_mutex_lock(&pd->lock);
	/* MAP_FIXED replaced whatever was there, regions included. */
	if (fixed != 0)
		pagerd_forget(pd, (uintptr_t)addr, length);
	/* The userfaultfd registered below must be the session's. */
	if ((error = pagerd_need(pd)) != 0)
		goto fail_locked;
	/* Writes that need not be seen one by one: the kernel records them. */
	if ((r.add.flags & PD_REGION_WP) && !(r.add.flags &
	    PD_REGION_READONLY) && pagerd_async_ready(pd))
		r.add.flags |= PD_REGION_ASYNC;
	/* A copy of the backing file, held to re-attach with. */
	if (fd != -1 && (r.fd = pagerd_fd_hold(pd, fd, 0)) == -1) {
		error = pagerd_fail(-errno, "a copy of the backing file's "
		    "descriptor: %s", strerror(errno));
		goto fail_locked;
	}
	r.shared = (flags & PAGERD_MAP_SHARED_RO) != 0;
	if (r.shared && (!pd->use_cache || !(pd->caps & PD_CAP_INVALIDATE))) {
		error = pagerd_fail(-EOPNOTSUPP, "a shared mapping is served "
		    "from the page cache only, %s", !pd->use_cache ?
		    "which PAGERD_NO_CACHE turns off" : "and this daemon "
		    "cannot drop written pages from it (it is older)");
		goto fail_locked;
	}
	if (backing == PD_BACKING_FILE && pd->use_cache && r.wpfd == -1) {
		covered = pagerd_map_cache(pd, &r, addr, offset, length, prot);
		if (covered < 0) {
			error = (int)covered;
			goto fail_locked;
		}
		if (covered > 0) {
			r.add.backing = PD_BACKING_CACHE;
			r.add.length = (uint64_t)covered;
			r.add.mode |= PD_MODE_MINOR;
		}
	}
	if (r.shared && covered == 0) {
		error = pagerd_fail(-EOPNOTSUPP, "a shared mapping is served "
		    "from the page cache only, which the daemon refused "
		    "(an empty file, or offset past its end)");
		goto fail_locked;
	}
	/*
	 * Past the file's end a shared mapping shows what the file grows
	 * to: the kernel's own mapping of it, as without pagerd.
	 */
	if (r.shared && (size_t)covered < length &&
	    (error = pagerd_map_past_cache(&r, addr, (size_t)covered)) != 0)
		goto fail_locked;

	/*
	 * A child gets a private copy of a region, registered again by the
	 * fork handler. A write-protected region is memory shared with the
	 * daemon, which a child must not share: it does not inherit it.
	 */
	if (r.wpfd != -1 && madvise(addr, length, MADV_DONTFORK) == -1) {
		error = pagerd_fail(-errno, "madvise MADV_DONTFORK: %s",
		    strerror(errno));
		goto fail_locked;
	}
	reg = (struct uffdio_register){ .range = { .start = (uintptr_t)addr,
	    .len = r.add.length }, .mode = UFFDIO_REGISTER_MODE_MISSING |
	    ((r.add.mode & PD_MODE_MINOR) ? UFFDIO_REGISTER_MODE_MINOR : 0) |
	    ((r.add.mode & PD_MODE_WP) ? UFFDIO_REGISTER_MODE_WP : 0) };
	if (ioctl((r.add.flags & PD_REGION_ASYNC) ? pd->auffd : pd->uffd,
	    UFFDIO_REGISTER, &reg) == -1) {
		error = pagerd_fail(-errno, "UFFDIO_REGISTER: %s",
		    strerror(errno));
		goto fail_locked;
	}
	/*
	 * Every page of an async region protected from the start, untouched
	 * ones too (a marker in the page table, WP_UNPOPULATED): the kernel
	 * reports a page with no entry as written, and the daemon's scans
	 * then cost nothing where the program never wrote.
	 */
	if ((r.add.flags & PD_REGION_ASYNC) && ioctl(pd->auffd,
	    UFFDIO_WRITEPROTECT, &(struct uffdio_writeprotect){ .range =
	    reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP }) == -1) {
		error = pagerd_fail(-errno, "UFFDIO_WRITEPROTECT: %s",
		    strerror(errno));
		goto fail_locked;
	}

	if (pagerd_region_room(pd) != 0) {
		error = pagerd_fail(-ENOMEM, "out of memory");
		goto fail_locked;
	}
	msg.region_add = r.add;
	if ((error = pagerd_request_region(pd, &msg, &r, &reply)) != 0)
		goto fail_locked;
	r.id = reply.reply.value;
	r.session = pd->session_id;
	pd->regions[pd->nregions++] = r;
	pthread_mutex_unlock(&pd->lock);
	*addrp = addr;
	return 0;

fail_locked:
	pagerd_region_release(pd, &r);
	pthread_mutex_unlock(&pd->lock);
	return error;

fail_fd:
	if (r.wpfd != -1)
		close(r.wpfd);
	return error;
}

static int
pagerd_check_flags(unsigned int flags, int prot, int file)
{
	if (flags & ~PAGERD_MAP_WP_FLAGS)
		return pagerd_fail(-EINVAL, "unknown flags 0x%x", flags &
		    ~PAGERD_MAP_WP_FLAGS);
	if ((flags & PAGERD_MAP_WRITEBACK) && (!file || (flags &
	    PAGERD_MAP_READONLY)))
		return pagerd_fail(-EINVAL, "PAGERD_MAP_WRITEBACK is for "
		    "writable file regions");
	if ((flags & PAGERD_MAP_REPORT) && !(flags & PAGERD_MAP_READONLY))
		return pagerd_fail(-EINVAL, "PAGERD_MAP_REPORT goes with "
		    "PAGERD_MAP_READONLY");
	if ((flags & PAGERD_MAP_READONLY) && prot != PROT_READ)
		return pagerd_fail(-EINVAL, "a PAGERD_MAP_READONLY region "
		    "takes PROT_READ");
	if ((flags & PAGERD_MAP_WP_FLAGS) && !(flags & PAGERD_MAP_READONLY) &&
	    !(prot & PROT_WRITE))
		return pagerd_fail(-EINVAL, "copy-on-write and write-back "
		    "regions take PROT_READ|PROT_WRITE");
	return 0;
}

static int
pagerd_check_file(struct pagerd *pd, int fd, off_t offset, int prot,
    unsigned int flags)
{
	struct stat st;
	int error, fl;

	if ((error = pagerd_check_prot(prot)) != 0 ||
	    (error = pagerd_check_flags(flags, prot, 1)) != 0)
		return error;
	if (offset < 0 || ((uint64_t)offset & (pd->page_size - 1)) != 0)
		return pagerd_fail(-EINVAL, "offset %lld is not a multiple of "
		    "the page size %zu", (long long)offset, pd->page_size);
	if (fstat(fd, &st) == -1)
		return pagerd_fail(-errno, "backing file: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pagerd_fail(-EINVAL, "backing file: not a regular file");
	/* O_PATH reads as O_RDONLY, and grants no reading at all. */
	if ((fl = fcntl(fd, F_GETFL)) == -1 || (fl & O_PATH) ||
	    (fl & O_ACCMODE) == O_WRONLY)
		return pagerd_fail(-EBADF, "backing file: not open for "
		    "reading%s", fl != -1 && (fl & O_PATH) ? " (an O_PATH "
		    "descriptor)" : "");
	if ((flags & PAGERD_MAP_WRITEBACK) && (fl & O_ACCMODE) != O_RDWR)
		return pagerd_fail(-EBADF, "backing file: PAGERD_MAP_WRITEBACK "
		    "needs it open for reading and writing");
	return 0;
}

PUBLIC int
pagerd_map_file(struct pagerd *pd, int fd, off_t offset, size_t length,
    int prot, unsigned int flags, void **addrp)
{
	int error;

	if ((error = pagerd_check_file(pd, fd, offset, prot, flags)) != 0)
		return error;
	return pagerd_map(pd, PD_BACKING_FILE, fd, (uint64_t)offset, length,
	    prot, flags, NULL, 0, addrp);
}

int
pagerd_map_at(struct pagerd *pd, void *hint, int fixed, int fd, off_t offset,
    size_t length, int prot, unsigned int flags, void **addrp)
{
	unsigned int shared = flags & PAGERD_MAP_SHARED_RO;
	int error;

	flags &= ~PAGERD_MAP_SHARED_RO;
	if (shared && (fd == -1 || prot != PROT_READ || flags != 0))
		return pagerd_fail(-EINVAL, "a shared mapping is a read-only "
		    "file mapping");

	if (fd == -1) {
		if ((error = pagerd_check_prot(prot)) != 0 ||
		    (error = pagerd_check_flags(flags, prot, 0)) != 0)
			return error;
		return pagerd_map(pd, PD_BACKING_ZERO, -1, 0, length, prot,
		    flags, hint, fixed, addrp);
	}
	if ((error = pagerd_check_file(pd, fd, offset, prot, flags)) != 0)
		return error;
	return pagerd_map(pd, PD_BACKING_FILE, fd, (uint64_t)offset, length,
	    prot, flags | shared, hint, fixed, addrp);
}

PUBLIC int
pagerd_map_zero(struct pagerd *pd, size_t length, int prot,
    unsigned int flags, void **addrp)
{
	int error;

	if ((error = pagerd_check_prot(prot)) != 0 ||
	    (error = pagerd_check_flags(flags, prot, 0)) != 0)
		return error;
	return pagerd_map(pd, PD_BACKING_ZERO, -1, 0, length, prot, flags,
	    NULL, 0, addrp);
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/*
 * Does this process's page table map every page of [addr, addr + len)?
 * A window the daemon punched out of its cache since (its hold on it let
 * go) is unmapped, and must not be collapsed: the kernel would map the
 * huge page a refill has begun, unfilled parts and all.
 */
static int
pagerd_all_mapped(uint64_t addr, uint64_t len)
{
	const uint64_t psz = (uint64_t)getpagesize();
	uint64_t entries[512], page;
	size_t i, n, want;
	ssize_t got;
	int fd, all = 1;

	if ((fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	for (page = addr / psz; all && page < (addr + len) / psz;
	    page += n) {
		want = (addr + len) / psz - page;
		n = want < 512 ? want : 512;
		got = pread(fd, entries, n * sizeof entries[0],
		    (off_t)(page * sizeof entries[0]));
		if (got != (ssize_t)(n * sizeof entries[0])) {
			all = 0;
			break;
		}
		for (i = 0; i < n; i++)
			if (!(entries[i] >> 63))	/* present */
				all = 0;
	}
	close(fd);
	return all;
}

/*
 * The daemon mapped whole 2 MiB windows of a region from a huge-page
 * cache (a COLLAPSE notice): map them with huge pages, as the kernel maps
 * a file of its own, so that later accesses miss the TLB less, and tell
 * the daemon, which holds them in its cache meanwhile. Only within a page
 * cache region of this session: the notice names no memory of the
 * program's own. A hint: a failure (a page written, hence private; an
 * older kernel) leaves the small pages. Called with pd->lock held.
 */
void
pagerd_collapse(struct pagerd *pd, const struct pd_notice *n)
{
	const uint64_t huge = 2ull << 20;
	struct pagerd_region *r;
	uint64_t len = (uint64_t)n->value * huge;
	union pd_msg msg;
	size_t i;

	for (i = 0; i < pd->nregions && n->addr % huge == 0 && len != 0; i++) {
		r = &pd->regions[i];
		if (r->id != n->region_id || r->session != pd->session_id ||
		    r->memfd == -1)
			continue;
		if (n->addr >= r->add.start && len <= r->add.length &&
		    n->addr - r->add.start <= r->add.length - len &&
		    pagerd_all_mapped(n->addr, len))
			(void)madvise((void *)(uintptr_t)n->addr, len,
			    MADV_COLLAPSE);
		break;
	}
	/* Unsent, the daemon holds the windows until the session ends. */
	proto_init(&msg, PD_MSG_COLLAPSED, 0);
	msg.collapsed.id = n->tid;
	(void)proto_send(pd->sock, &msg, NULL, 0, pd->caps, MSG_NOSIGNAL |
	    MSG_DONTWAIT);
}

/* The region that starts at addr. Called with pd->lock held. */
int
pagerd_find(struct pagerd *pd, void *addr, size_t *ip)
{
	size_t i;

	*ip = 0;
	for (i = 0; i < pd->nregions; i++)
		if (pd->regions[i].add.start == (uintptr_t)addr) {
			*ip = i;
			return 0;
		}
	return pagerd_fail(-EINVAL, "%p is not the start of a pagerd region",
	    addr);
}

/*
 * The region at addr, to ask the daemon about: on the current session,
 * not on one the program's closing of the connection left detached.
 */
int
pagerd_find_live(struct pagerd *pd, void *addr, size_t *ip)
{
	int error;

	if ((error = pagerd_need(pd)) != 0 ||
	    (error = pagerd_find(pd, addr, ip)) != 0)
		return error;
	if (pd->regions[*ip].session != pd->session_id)
		return pagerd_fail(-ENOTCONN, "%p is served by an earlier "
		    "session of this process, which the daemon keeps detached "
		    "since the program closed its connection", addr);
	return 0;
}

PUBLIC int
pagerd_unmap(struct pagerd *pd, void *addr)
{
	struct pagerd_region r;
	union pd_msg msg, reply;
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	if ((error = pagerd_find(pd, addr, &i)) != 0) {
		pthread_mutex_unlock(&pd->lock);
		return error;
	}
	/* What was written goes to the file before the memory goes. */
	if ((pd->regions[i].add.flags & PD_REGION_WRITEBACK) &&
	    pd->regions[i].session == pd->session_id &&
	    (error = pagerd_sync_region(pd, &pd->regions[i], 1)) != 0) {
		pthread_mutex_unlock(&pd->lock);
		return error;
	}
	r = pd->regions[i];
	pd->regions[i] = pd->regions[--pd->nregions];
	/* Unmap first: the daemon may then free its side at leisure. */
	pagerd_region_release(pd, &r);
	/* A detached session of ours drops it on the munmap event alone. */
	if (r.session != pd->session_id) {
		pthread_mutex_unlock(&pd->lock);
		return 0;
	}
	/* The daemon may have dropped it on the munmap event already. */
	proto_init(&msg, PD_MSG_REGION_DEL, 0);
	msg.region_del.region_id = r.id;
	error = pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY);
	pthread_mutex_unlock(&pd->lock);
	return error == -ENOENT ? 0 : error;
}

/*
 * What crosses libpagerd's files, and its interface to its LD_PRELOAD
 * shim, which is built from the same sources: mapping at the place
 * mmap(2) was asked for, and keeping the library's record of the regions
 * true when the program unmaps or moves them itself. Not installed, not
 * exported.
 */
#ifndef PAGERD_INTERNAL_H
#define PAGERD_INTERNAL_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pagerd.h"
#include "proto.h"

#define PUBLIC __attribute__((visibility("default")))

/* How long a request waits for the daemon's reply. */
#define PAGERD_REPLY_TIMEOUT 30

/* Features asked of the kernel where it has them. */
#define PAGERD_WANTED_FEATURES (UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_POISON | \
	PAGERD_CACHE_FEATURES | PAGERD_WP_FEATURES | PAGERD_EVENT_FEATURES)

/*
 * The address-space changes the daemon must hear of to keep its table true:
 * munmap, mremap, madvise(MADV_DONTNEED/REMOVE). (Fork is handled here:
 * UFFD_FEATURE_EVENT_FORK needs CAP_SYS_PTRACE, and the child's copy of
 * the regions is registered again by the fork handler instead.)
 */
#define PAGERD_EVENT_FEATURES (UFFD_FEATURE_EVENT_UNMAP | \
	UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE)

/* What mapping a file's shared page cache takes. */
#define PAGERD_CACHE_FEATURES (UFFD_FEATURE_MISSING_SHMEM | \
	UFFD_FEATURE_MINOR_SHMEM)

/* What write-protected regions (their memory is a memfd) take. */
#define PAGERD_WP_FEATURES (UFFD_FEATURE_PAGEFAULT_FLAG_WP | \
	UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM)

/*
 * What the second userfaultfd of copy-on-write and write-back regions has
 * beyond the connection's own: the kernel resolves their write faults and
 * keeps the record the daemon scans (libpagerd-wp.c).
 */
#define PAGERD_WP_ASYNC_FEATURES (UFFD_FEATURE_WP_ASYNC | \
	UFFD_FEATURE_WP_UNPOPULATED)

/* Violation reports and finished snapshots kept per connection. */
#define PAGERD_VIOLATIONS_KEPT 64
#define PAGERD_SNAPSHOTS_KEPT 16

/* The per-thread message pagerd_errmsg() returns. */
#define PAGERD_ERROR_MAX 512

/* A region as handed to the daemon: enough to hand it over again. */
struct pagerd_region {
	struct pd_region_add add;	/* the request that added it */
	size_t maplen;			/* mapped; past add.length: zeros */
	int fd;				/* the backing file (held), or -1 */
	int memfd;			/* its page cache (held), or -1 */
	int wpfd;			/* a write-protected region's memory */
	uint32_t id;
	uint32_t session;		/* the session that serves it */
	int shared;			/* the shim's read-only MAP_SHARED */
	uint64_t cache_size;		/* of its page cache, or 0 */
	char store[PD_STORE_NAME_MAX];	/* a store region's store */
};

/*
 * A descriptor regions hold: the backing file, or its page cache, once
 * for all the regions of one file (opened the same way), not once a
 * region. A restarted daemon needs them (DAEMON RESTARTS in libpagerd.3);
 * thousands of regions of a few files then cost a few descriptors.
 */
struct pagerd_fd {
	int fd;
	dev_t dev;
	ino_t ino;
	int mode;			/* O_ACCMODE */
	unsigned int refs;		/* regions holding it */
};

struct pagerd_snapshot_done {
	uint32_t id;
	int status;
};

struct pagerd {
	pthread_mutex_t lock;	/* one request at a time; the region list */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int sock;
	dev_t sock_dev;		/* what sock is: the program may close it */
	ino_t sock_ino;
	uint64_t gen;		/* of the connection, bumped on each new one */
	int uffd;
	int stopping;		/* pagerd_close: watchdogs leave */
	pthread_t *watchdogs;	/* started and not joined yet */
	size_t nwatchdogs;
	size_t watchdogs_cap;
	int reattach_ms;
	int user_mode_only;
	int use_cache;		/* map files through the shared page cache */
	uint64_t features;
	int auffd;		/* the WP_ASYNC userfaultfd, or -1 */
	int async;		/* WP_ASYNC: 1 in use, -1 not to be, 0 not
				   tried yet */
	uint64_t supported;	/* the kernel's userfaultfd features */
	uint32_t session_id;
	uint32_t caps;		/* PD_CAP_* the daemon agreed to */
	uint32_t seq;
	size_t page_size;
	struct pagerd_region *regions;
	size_t nregions;
	size_t regions_cap;
	struct pagerd_fd *held;	/* the regions' descriptors */
	size_t nheld;
	LIST_ENTRY(pagerd) entry;	/* on pagerd_all, for exit's sync */

	struct pagerd_violation violations[PAGERD_VIOLATIONS_KEPT];
	uint64_t nviolations;
	struct pagerd_snapshot_done snapshots[PAGERD_SNAPSHOTS_KEPT];
	size_t nsnapshots;
};

/* libpagerd.c */
int __attribute__((format(printf, 2, 3))) pagerd_fail(int, const char *,
    ...);
const char *pagerd_lasterror(void);

/* libpagerd-fd.c */
/*
 * fd moved to 512 or above (or half the descriptor limit), close on exec;
 * where that fails, fd itself. A negative fd is returned as it is.
 */
int pagerd_fd_high(int);
int pagerd_fd_hold(struct pagerd *, int, int);
int pagerd_fd_share(struct pagerd *, int);
void pagerd_fd_drop(struct pagerd *, int);

/* libpagerd-transport.c */
int pagerd_recv_msg(struct pagerd *, union pd_msg *, int, int *);
void pagerd_drain_notices(struct pagerd *);
int pagerd_exchange(struct pagerd *, union pd_msg *, const int *, int,
    union pd_msg *, uint32_t, int *);
int pagerd_request_fds(struct pagerd *, union pd_msg *, const int *, int,
    union pd_msg *, uint32_t, int *);
int pagerd_request(struct pagerd *, union pd_msg *, int, union pd_msg *,
    uint32_t);
int pagerd_request_region(struct pagerd *, union pd_msg *,
    const struct pagerd_region *, union pd_msg *);

/* libpagerd-session.c */
/* PAGERD_DAEMON_UID through secure_getenv(3), or -1. */
uid_t pagerd_daemon_uid(void);
/*
 * May a daemon of uid peer have this process's memory (root, the
 * effective uid, or the second argument)? Async-signal-safe.
 */
int pagerd_daemon_trusted(uid_t, uid_t);
int pagerd_new_session(struct pagerd *);
int pagerd_conn_lost(struct pagerd *);
int pagerd_uffd_ours(struct pagerd *);
int pagerd_need(struct pagerd *);
int pagerd_send_regions(struct pagerd *, uint32_t);
int pagerd_reattach(struct pagerd *);

/* libpagerd-watchdog.c */
__attribute__((noreturn)) void pagerd_end(struct pagerd *, const char *,
    const char *);
int pagerd_watch(struct pagerd *);
void pagerd_watch_join(struct pagerd *);
void pagerd_watch_forget(struct pagerd *);
int pagerd_reattach_timeout(void);

/* libpagerd-map.c */
/*
 * pagerd_map_at() flag, the shim's only: a read-only MAP_SHARED mapping,
 * served from the page cache alone (which PD_MSG_INVALIDATE can punch),
 * the part past the file's end mapped by the kernel from the file.
 */
#define PAGERD_MAP_SHARED_RO 0x80000000u
/*
 * pagerd_map_file()/pagerd_map_zero() (fd -1) at hint, with fixed 0,
 * MAP_FIXED or MAP_FIXED_NOREPLACE as mmap(2) takes them.
 */
int pagerd_map_at(struct pagerd *, void *, int, int, off_t, size_t, int,
    unsigned int, void **);
int pagerd_map_past_cache(const struct pagerd_region *, void *, size_t);
void pagerd_region_release(struct pagerd *, struct pagerd_region *);
int pagerd_map(struct pagerd *, uint32_t, int, const char *, uint64_t,
    size_t, int, unsigned int, void *, int, void **);
ssize_t pagerd_map_memfd(struct pagerd *, struct pagerd_region *, int,
    uint64_t, void *, uint64_t, size_t, int);
int pagerd_check_prot(int);
int pagerd_check_flags(unsigned int, int, int);

/* libpagerd-store.c */
ssize_t pagerd_store_cache(struct pagerd *, struct pagerd_region *,
    const char *, void *, uint64_t, size_t, int);
int pagerd_store_adopt(struct pagerd *, const struct pagerd_region *);
int pagerd_region_room(struct pagerd *);
int pagerd_find(struct pagerd *, void *, size_t *);
int pagerd_find_live(struct pagerd *, void *, size_t *);

/* libpagerd-shim.c */
void pagerd_forget(struct pagerd *, uint64_t, uint64_t);
/* Does [addr, addr + len) touch a region of the connection? */
int pagerd_overlaps(struct pagerd *, const void *, size_t);
/* The program unmapped [addr, addr + len): forget what was there. */
void pagerd_unmapped(struct pagerd *, const void *, size_t);
/*
 * The program's mremap(2) moved or resized [old, old + old_len) to
 * [new, new + new_len): move the record and hand the daemon a grown part.
 */
int pagerd_remapped(struct pagerd *, const void *, size_t, void *, size_t);
/*
 * What madvise(2) of advice over [addr, addr + len) must answer where it
 * touches a private file region whose memory is anonymous underneath (no
 * page cache): -errno as the kernel answers for a private file mapping,
 * or 0 to let the kernel answer.
 */
int pagerd_advise(struct pagerd *, const void *, size_t, int);
/*
 * MADV_HUGEPAGE over [addr, addr + len): its zero-fill regions go to the
 * kernel; the bytes given back.
 */
size_t pagerd_unroute(struct pagerd *, const void *, size_t);
/* The region containing addr, if it is a write-back region: its start. */
void *pagerd_writeback_region(struct pagerd *, const void *);
/*
 * pagerd_sync() of the write-back region at start before the program's
 * munmap(2) of [addr, addr + len): the last one if that unmaps it all.
 */
int pagerd_sync_unmap(struct pagerd *, void *, const void *, size_t);
/*
 * The program wrote [offset, offset + length) (length 0: to the end) of
 * the file open for writing on fd: the daemon drops it from every page
 * cache of the file before this returns. 0 or -errno.
 */
int pagerd_invalidate(struct pagerd *, int, uint64_t, uint64_t);

/* libpagerd-fork.c */
void pagerd_all_add(struct pagerd *);
void pagerd_all_remove(struct pagerd *);
int pagerd_user_mode_regions(void);

/* libpagerd-wp.c */
void pagerd_notice(struct pagerd *, const struct pd_notice *);
void pagerd_collapse(struct pagerd *, const struct pd_notice *);
int pagerd_sync_region(struct pagerd *, struct pagerd_region *, int);
int pagerd_sync_all(struct pagerd *);
int pagerd_async_ready(struct pagerd *);
int pagerd_async_send(struct pagerd *);
void pagerd_async_drop(struct pagerd *, int);

#endif /* PAGERD_INTERNAL_H */

/*
 * libpagerd's interface to its LD_PRELOAD shim, which is built from the
 * same sources: mapping at the place mmap(2) was asked for, and keeping
 * the library's record of the regions true when the program unmaps or
 * moves them itself. Not installed, not exported.
 */
#ifndef PAGERD_INTERNAL_H
#define PAGERD_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "pagerd.h"

/*
 * pagerd_map_file()/pagerd_map_zero() (fd -1) at hint, with fixed 0,
 * MAP_FIXED or MAP_FIXED_NOREPLACE as mmap(2) takes them.
 */
int pagerd_map_at(struct pagerd *, void *, int, int, off_t, size_t, int,
    unsigned int, void **);

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
 * fd moved to 512 or above (or half the descriptor limit), close on exec;
 * where that fails, fd itself. A negative fd is returned as it is.
 */
int pagerd_fd_high(int);

/*
 * What madvise(2) of advice over [addr, addr + len) must answer where it
 * touches a private file region whose memory is anonymous underneath (no
 * page cache): -errno as the kernel answers for a private file mapping,
 * or 0 to let the kernel answer.
 */
int pagerd_advise(struct pagerd *, const void *, size_t, int);

/* The region containing addr, if it is a write-back region: its start. */
void *pagerd_writeback_region(struct pagerd *, const void *);

/* PAGERD_DAEMON_UID through secure_getenv(3), or -1. */
uid_t pagerd_daemon_uid(void);

/*
 * May a daemon of uid peer have this process's memory (root, the
 * effective uid, or the second argument)? Async-signal-safe.
 */
int pagerd_daemon_trusted(uid_t, uid_t);

#endif /* PAGERD_INTERNAL_H */

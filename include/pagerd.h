/*
 * libpagerd: hand regions of a process's memory to the pagerd daemon, which
 * then serves their page faults (from a file, or as zeros) through
 * userfaultfd.
 *
 * Every function that can fail returns 0 (or a count) on success and a
 * negative errno value on failure; pagerd_errmsg() then says why, in words,
 * for the calling thread. The library never prints and never exits.
 */
#ifndef PAGERD_H
#define PAGERD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PAGERD_DEFAULT_SOCKET "/run/pagerd/pagerd.sock"

/* A connection to the daemon, with its own userfaultfd. Thread-safe. */
struct pagerd;

/*
 * Connect to the daemon at path; NULL means $PAGERD_SOCKET, else
 * PAGERD_DEFAULT_SOCKET. Creates the userfaultfd the connection's regions
 * are registered with.
 */
int pagerd_connect(const char *path, struct pagerd **pdp);

/* Unmap every region of the connection and disconnect. NULL is a no-op. */
void pagerd_close(struct pagerd *pd);

/*
 * Map length bytes of the file open on fd, from offset, served by the
 * daemon. prot is PROT_READ or PROT_READ | PROT_WRITE; writes stay private
 * to the process (like MAP_PRIVATE). offset must be page aligned; length is
 * rounded up to whole pages; pages past the end of the file read as zeros.
 * The daemon keeps its own reference to the file: fd may be closed after.
 * flags are 0 or PAGERD_MAP_* below. On success *addrp is the mapping's
 * address.
 */
int pagerd_map_file(struct pagerd *pd, int fd, off_t offset, size_t length,
    int prot, unsigned int flags, void **addrp);

/*
 * Write-protected regions. Their pages arrive write-protected and the
 * daemon sees the first write to each:
 *
 * PAGERD_MAP_COW: copy-on-write: the daemon tracks which pages have been
 *	written (pagerd_dirty()), and the region can be snapshotted.
 * PAGERD_MAP_WRITEBACK: (file regions open O_RDWR) as COW, and written
 *	pages go back to the file on pagerd_sync(), pagerd_unmap(),
 *	pagerd_close() and exit(); if the process dies, the daemon writes
 *	them back when the connection ends. Bytes past the end the file had
 *	at map time are not written.
 * PAGERD_MAP_READONLY: (prot PROT_READ) a write is a protection
 *	violation: the daemon reports it (log, pagerd_violations()) and the
 *	writing thread gets SIGSEGV at the address.
 * PAGERD_MAP_REPORT: with READONLY: report the write and let it through.
 */
#define PAGERD_MAP_COW 0x1u
#define PAGERD_MAP_WRITEBACK 0x2u
#define PAGERD_MAP_READONLY 0x4u
#define PAGERD_MAP_REPORT 0x8u

/*
 * Map length bytes of the network block store the daemon's configuration
 * names name (pagerd.conf(5): store NAME URI), from offset, served through
 * the daemon's shared page cache of the store. prot is PROT_READ or
 * PROT_READ | PROT_WRITE; writes stay private to the process. offset must
 * be page aligned and within the export; pages past the export's end read
 * as zeros. flags are 0 or PAGERD_MAP_* as for pagerd_map_file(): with
 * PAGERD_MAP_WRITEBACK, written pages go back to the store (NBD writes and
 * a flush), and a store that refuses writes fails the sync with the error.
 * The daemon checks that the caller's user may use the store (allow-uid,
 * allow-gid).
 */
int pagerd_map_store(struct pagerd *pd, const char *name, off_t offset,
    size_t length, int prot, unsigned int flags, void **addrp);

/* Map length bytes of zero-fill-on-demand memory served by the daemon. */
int pagerd_map_zero(struct pagerd *pd, size_t length, int prot,
    unsigned int flags, void **addrp);

/*
 * Unmap a region returned by pagerd_map_file() or pagerd_map_zero(); a
 * write-back region is written back first.
 */
int pagerd_unmap(struct pagerd *pd, void *addr);

/* Write a PAGERD_MAP_WRITEBACK region's written pages to its file, durably. */
int pagerd_sync(struct pagerd *pd, void *addr);

/*
 * Which pages of a write-protected region have been written since it was
 * mapped (or, for write-back regions, last written back): vec, when not
 * NULL, gets one byte per page, 1 for written (like mincore(2)); *ndirty,
 * when not NULL, their number.
 */
int pagerd_dirty(struct pagerd *pd, void *addr, unsigned char *vec,
    size_t *ndirty);

/*
 * Write a point-in-time image of a write-protected region to the file
 * open for writing on fd (resized to the region's length), while the
 * program runs on: pagerd_snapshot_start() returns at the instant, with
 * the snapshot's id; pagerd_snapshot_wait() returns when the image is
 * complete and durable. pagerd_snapshot() does both. The image can back a
 * new region with pagerd_map_file(): restore on demand.
 */
int pagerd_snapshot_start(struct pagerd *pd, void *addr, int fd,
    uint32_t *idp);
int pagerd_snapshot_wait(struct pagerd *pd, uint32_t id);
int pagerd_snapshot(struct pagerd *pd, void *addr, int fd);

/*
 * As pagerd_snapshot_start() and pagerd_snapshot(), the image written to
 * the network block store the daemon's configuration names name, from
 * offset (page aligned) in its export, instead of a file. The daemon
 * checks that the caller's user may use the store (allow-uid, allow-gid),
 * that the export takes writes (-EROFS if not) and that the region fits
 * in it from offset (-ENOSPC if not). pagerd_snapshot_wait() returns
 * when the image is written and flushed. The image can back a new
 * region with pagerd_map_store().
 */
int pagerd_snapshot_store_start(struct pagerd *pd, void *addr,
    const char *name, off_t offset, uint32_t *idp);
int pagerd_snapshot_store(struct pagerd *pd, void *addr, const char *name,
    off_t offset);

/* A write to a read-only region, as the daemon reported it. */
struct pagerd_violation {
	void *addr;		/* the page written */
	void *region;		/* the start of its region */
	pid_t tid;		/* the writing thread, 0 if unknown */
	int killed;		/* 1: it got SIGSEGV; 0: policy report */
	char reason[192];	/* the daemon's description */
};

/*
 * Copy the most recent reports (at most n, oldest first, at most the last
 * 64) to v; returns how many.
 */
size_t pagerd_violations(struct pagerd *pd, struct pagerd_violation *v,
    size_t n);

/* What the connection runs with. */
struct pagerd_info {
	uint32_t session_id;	/* the daemon's number for this connection */
	int kernel_faults;	/* 1: system calls may write into regions;
				   0: user-mode-only userfaultfd, a read(2)
				   into a region fails with EFAULT */
	int shared_cache;	/* 1: file regions map the daemon's shared
				   page cache of the file (no copies) */
	uint64_t uffd_features;	/* UFFD_FEATURE_* bits enabled */
	size_t page_size;
};

int pagerd_info(struct pagerd *pd, struct pagerd_info *info);

/* What the daemon has done for this connection so far. */
struct pagerd_stats {
	uint64_t faults;	 /* page faults handled */
	uint64_t pages_file;	 /* pages filled from backing files */
	uint64_t pages_zero;	 /* pages filled with zeros */
	uint64_t pages_poisoned; /* pages that could not be served */
	uint64_t bytes_read;	 /* bytes read from backing files */
	uint64_t reads;		 /* backing-file reads */
	uint64_t errors;	 /* faults that could not be served */
	uint64_t pages_dirtied;	 /* first writes to write-protected pages */
	uint64_t pages_written;	 /* written back to files */
	uint64_t violations;	 /* writes to read-only regions */
	uint64_t snapshots;	 /* snapshots completed */
	uint32_t regions;	 /* regions currently mapped */
};

int pagerd_stats(struct pagerd *pd, struct pagerd_stats *stats);

/* Why the calling thread's last failed pagerd_* call failed. */
const char *pagerd_errmsg(void);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *pagerd_version(void);

#ifdef __cplusplus
}
#endif

#endif /* PAGERD_H */

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
 * flags must be 0. On success *addrp is the mapping's address.
 */
int pagerd_map_file(struct pagerd *pd, int fd, off_t offset, size_t length,
    int prot, unsigned int flags, void **addrp);

/* Map length bytes of zero-fill-on-demand memory served by the daemon. */
int pagerd_map_zero(struct pagerd *pd, size_t length, int prot,
    unsigned int flags, void **addrp);

/* Unmap a region returned by pagerd_map_file() or pagerd_map_zero(). */
int pagerd_unmap(struct pagerd *pd, void *addr);

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

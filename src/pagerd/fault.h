/*
 * The fault path's own interfaces, shared by its files and nothing else:
 * fault.c (the dispatch of fault messages and the install of pages),
 * fault-read.c (backing reads, read-ahead and read-timeout),
 * fault-event.c (address-space events) and fault-pool.c (each worker's
 * read buffers and fill pipes).
 */
#ifndef PAGERD_FAULT_H
#define PAGERD_FAULT_H

#include "pagerd.h"
#include "uffd.h"

/* Fault messages taken off a userfaultfd per read(2). */
#define FAULT_BATCH 32

/*
 * Windows a stream reads ahead: one where the file is in the kernel's
 * page cache (a copy, which one read at a time keeps busy), four where
 * it comes from the disk (cache-direct.c), which reaches its speed only
 * with several requests out: 8 MiB of default windows, as far as the
 * kernel reads ahead on this kind of disk. Against an O_DIRECT reader
 * with 16 MiB out, in the same rounds: two 0.69-0.74x, four 0.80-0.83x,
 * eight and sixteen no better.
 */
#define FAULT_PREFETCH_MAX 4

/*
 * A region's sequential stream, as the fault path follows it: the window
 * it reads in grows while the faults come in order.
 */
struct fault_stream {
	uint64_t next;		/* where the stream faults next */
	uint64_t ahead;		/* where its reads ahead end, if past next */
	uint64_t pages;		/* its current window */
	/* Reads of its next windows, nearest first; NULL past the last. */
	struct fault_io *prefetch[FAULT_PREFETCH_MAX];
	unsigned int fills;	/* of big windows: every other one spliced */
	/*
	 * A page cache region's chunks of FAULT_CHUNK pages, from its start,
	 * that the client has mapped whole: a hint (an eviction unmaps pages
	 * unseen), which spares a window's install an ioctl for each page
	 * already there. Made with the region, charged to its session (s);
	 * NULL where the session's share was spent.
	 */
	uint64_t *mapped;
	size_t nmapped;		/* chunks the bitmap has room for */
	struct session *s;	/* charged for them */
};

/* Pages in a chunk of fault_stream's mapped hint: the default read-ahead. */
#define FAULT_CHUNK 16

/*
 * The chunks a session's mapped hints may cover: 256 GiB of page cache
 * regions, 512 KiB of bitmaps. Regions past it go without the hint.
 */
#define FAULT_CHUNKS_MAX (1u << 22)

enum fault_fill {
	FILL_COPY,		/* UFFDIO_COPY from a buffer */
	FILL_ZERO,		/* UFFDIO_ZEROPAGE */
	FILL_CONTINUE,		/* UFFDIO_CONTINUE: map the page cache's page */
};

/* fault.c */
int64_t fault_install(struct session *, struct region *, enum fault_fill,
    uint64_t, const char *, uint64_t);
void fault_fail(struct session *, struct region *, uint64_t, uint32_t,
    const char *);
int fault_install_broken(int64_t);
int fault_install_failed(struct session *, struct region *, enum fault_fill,
    uint64_t, uint32_t, int64_t);
void fault_latency(struct worker *, uint64_t);
void fault_count(struct session *, int64_t, int);
void fault_mapped_new(struct session *, struct region *);
void fault_mapped_free(struct fault_stream *);
void fault_mapped_clear(struct region *, uint64_t, uint64_t);
int64_t fault_install_unmapped(struct session *, struct region *, uint64_t,
    uint64_t, uint64_t);

/* fault-read.c */
extern const struct region_part fault_stream_part;
void fault_stream_removed(struct region *, uint64_t, uint64_t);
unsigned int fault_read_share(void);
unsigned int fault_uid_room(const struct session *, int *);
void fault_starve(struct session *, int);
void fault_read(struct session *, struct region *, struct fault_io *,
    uint64_t, uint64_t, int);
void fault_prefetch(struct session *, struct region *);
struct fault_io *fault_prefetch_take(struct region *, uint64_t);

/* fault-pool.c */
struct fault_io *fault_io_get(struct worker *);
void fault_io_put(struct worker *, struct fault_io *);
struct fill_pipe *fault_pipe_get(struct worker *);
void fault_pipe_put(struct worker *, struct fill_pipe *);
void fault_pipe_discard(struct worker *, struct fill_pipe *);

/* fault-event.c */
void fault_event(struct session *, const struct uffd_msg *);

#endif /* PAGERD_FAULT_H */

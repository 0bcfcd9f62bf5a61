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
 * A region's sequential stream, as the fault path follows it: the window
 * it reads in grows while the faults come in order.
 */
struct fault_stream {
	uint64_t next;		/* where the stream faults next */
	uint64_t pages;		/* its current window */
	struct fault_io *prefetch; /* a read of the stream's next window */
	unsigned int fills;	/* of big windows: every other one spliced */
};

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
void fault_latency(struct worker *, uint64_t);
void fault_count(struct session *, int64_t, int);

/* fault-read.c */
extern const struct region_part fault_stream_part;
void fault_stream_restart(struct region *);
unsigned int fault_read_share(void);
void fault_starve(struct session *);
void fault_read(struct session *, struct region *, struct fault_io *,
    uint64_t, uint64_t, int);
void fault_prefetch(struct session *, struct region *);

/* fault-pool.c */
struct fault_io *fault_io_get(struct worker *);
void fault_io_put(struct worker *, struct fault_io *);
struct fill_pipe *fault_pipe_get(struct worker *);
void fault_pipe_put(struct worker *, struct fill_pipe *);
void fault_pipe_discard(struct worker *, struct fill_pipe *);

/* fault-event.c */
void fault_event(struct session *, const struct uffd_msg *);

#endif /* PAGERD_FAULT_H */

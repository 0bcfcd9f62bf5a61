/*
 * Write protection's own interfaces, shared by its files and nothing
 * else: wp.c (tracking: a region's memfd, present and dirty pages, write
 * faults, and the I/O all of them use), wp-snapshot.c, wp-writeback.c
 * (with its retries) and wp-violation.c.
 */
#ifndef PAGERD_WP_H
#define PAGERD_WP_H

#include "pagerd.h"

/*
 * A write-protected region's state (struct region's wp): the memory is
 * the client's memfd, mapped by the daemon too.
 */
struct wp_region {
	int memfd;
	char *mem;		/* the daemon's shared mapping of it */
	uint64_t npages;
	unsigned long *present;	/* pages installed */
	unsigned long *dirty;	/* pages written and not yet written back */
	uint64_t ndirty;
	struct snapshot *snap;	/* the snapshot being taken, or NULL */
	unsigned int wb_retries; /* write-backs retried after its client */
	uint64_t wb_waiting;	/* its pages counted in wp_retry_pages */
	/* Page-out of a write-back region (wp-pageout.c). */
	uint64_t npresent;	/* present pages, in wp_pageout_pages */
	uint8_t *referenced;	/* per eviction window: used since the hand */
	uint64_t nwindows;
	uint64_t hand;		/* the window the CLOCK looks at next */
	uint32_t *writing;	/* per window: write-backs out writing it */
	unsigned int syncs;	/* its write-backs out */
	int pageout_sync;	/* one of them is page-out's */
	int throttled;		/* faults wait for that one's end */
	int pageout_failed;	/* a punch or that write-back failed: its
				   pages are kept */
	int settled;		/* an async region's last sync came
				   (PD_SYNC_FINAL): no write after it */
	int unsynced;		/* page-out wrote pages back that no
				   fsync has covered yet */
};

struct wp_sync;

/*
 * One write-back or snapshot I/O; its op's done says what for: dirty
 * pages to the backing file and then to the disk (wp_writeback_done,
 * wp_sync_fsync_done), or, for a snapshot, backing bytes of pages never
 * installed, saved pages to the image and then to the disk.
 */
struct wp_io {
	struct op op;
	int fd;			/* the file read, written or synced */
	struct store *store;	/* where fd is -1: the store (the region's,
				   or a snapshot's image's) */
	struct session *s;
	struct region *r;
	struct wp_sync *sync;
	struct snapshot *snap;
	char *buf;		/* owned: snapshot pages; NULL: write-back */
	const char *src;	/* what a write writes; NULL: a read */
	uint64_t page;		/* first region page of a snapshot chunk */
	uint64_t npages;
	uint64_t off;		/* in the file written or read */
	uint32_t len;
	uint32_t done;		/* bytes already written (short writes) */
};

/* wp.c */
int wp_protect(struct session *, struct region *, uint64_t, uint64_t, int);
int wp_mem_read(struct session *, struct region *, char *, uint64_t,
    uint64_t);
struct wp_io *wp_io_new(struct session *, struct region *,
    void (*)(struct op *, const struct io_uring_cqe *));
void wp_io_free(struct wp_io *);
void wp_io_rw(struct wp_io *, int);
void wp_io_fsync(struct wp_io *, int);
int wp_io_more(struct wp_io *, int);
void wp_io_failed(int *, int, int);

/* wp-snapshot.c */
void wp_snapshot_write(struct region *, uint64_t);
void wp_snapshot_cancel(struct region *);

/* wp-writeback.c */
void wp_writeback(struct session *, struct region *, uint32_t, int);
void wp_writeback_pageout(struct session *, struct region *);

/* wp-pageout.c */
void wp_pageout_init(void);
void wp_pageout_present(struct region *, uint64_t, int);
void wp_pageout_used(struct region *, uint64_t);
void wp_pageout_written(struct session *, struct region *, int);
int wp_pageout_capturable(const struct region *);

/* wp-violation.c */
void wp_violation(struct session *, struct region *, uint64_t, uint32_t);

#endif /* PAGERD_WP_H */

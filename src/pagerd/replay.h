/*
 * Working-set replay's own interfaces, shared by its files and nothing
 * else: replay.c (the state directory, recordings written and read, each
 * session's record of its faults), replay-run.c (a recording replayed:
 * its reads and their install ahead of faults) and replay-control.c
 * (pagerctl's listing and forgetting of recordings).
 */
#ifndef PAGERD_REPLAY_H
#define PAGERD_REPLAY_H

#include "pagerd.h"

/*
 * Ranges one recording keeps: 2 MiB of them at most, room for the pages
 * a program touched a quarter of 1 GiB at random.
 */
#define REPLAY_MAX_RANGES 131072
/* A file's pages, the last one partly. */
#define REPLAY_PAGES(size) (((size) + page_size - 1) / page_size)
#define REPLAY_NAME_LEN 20	/* 16 hex digits and ".rec" */

/* One run of file pages. */
struct replay_range {
	uint64_t first;
	uint64_t n;
};

/* A recording file: this head, then nranges ranges. */
struct replay_head {
	char magic[8];
	uint32_t nranges;
	uint32_t reserved;
	uint64_t dev;		/* the file, as it was */
	uint64_t ino;
	uint64_t size;
	int64_t ctime_sec;
	int64_t ctime_nsec;
	uint64_t pages;		/* in all its ranges */
	int64_t recorded;	/* time(2) when written */
	char program[PD_RECORDING_PROGRAM];
	char path[PD_RECORDING_PATH];
};

/* What one session faulted of one file, and what it replays of it. */
struct replay_rec {
	LIST_ENTRY(replay_rec) entry;
	struct worker *w;
	uint64_t dev, ino, size;	/* the file's identity: its cache's */
	struct timespec ctime;
	char path[PD_RECORDING_PATH];
	char name[REPLAY_NAME_LEN + 1];
	struct quota_hold *quota; /* its session's: the memory of all this */
	struct replay_range *v;	/* the faults, in order */
	size_t n, cap;
	int capped;		/* cap may not grow: the user's memory */
	uint64_t dropped;	/* ranges past cap */
	struct timer grow;	/* cap grows off the fault path */
	struct replay_range *plan; /* the recording replayed, or NULL */
	size_t nplan;
	struct replay_range *order; /* its pages once each, in its order */
	size_t norder;
	struct replay_range *sorted; /* its pages by offset, runs joined */
	size_t nsorted;
	int fd;			/* the file, for the replay's reads only */
	int direct;		/* fd reads with O_DIRECT */
	int one;		/* the file was cold: faults recorded a page
				   each (replay_window) */
	LIST_HEAD(, replay_run) runs; /* replaying it now */
};

/* A session's recordings and replays. */
struct replay_session {
	char program[PD_RECORDING_PROGRAM];
	LIST_HEAD(, replay_rec) recs;
	LIST_HEAD(, replay_run) runs;
	int nrecs;		/* files recorded, at most uid-max-recordings */
	struct quota_hold quota; /* the memory of its records */
};

/* replay.c */
extern int replay_dir;
int replay_user_dir(uid_t, int);
int replay_name_ok(const char *);
/* replay_read: the file is ours but not a sound recording. */
#define REPLAY_DAMAGED (-2)
int replay_read(int, const char *, struct replay_head *,
    struct replay_range **, const char **);

/* replay.c */
void replay_join(struct replay_range *, size_t *);

/* replay-run.c */
void replay_order(struct replay_rec *);
int replay_reopen(const struct region *);
int replay_cold(int, uint64_t, const struct replay_range *, size_t);
int replay_cold_quiet(int, uint64_t);
void replay_close(struct session *, struct replay_rec *);
void replay_start(struct session *, struct region *, struct replay_rec *);

#endif /* PAGERD_REPLAY_H */

/* pagerctl's internal interface: what its ctl-*.c files share. */
#ifndef PAGERCTL_H
#define PAGERCTL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "pagerd.h"
#include "proto.h"

/* pagerctl.c */
extern const char *ctl_socket;
extern int ctl_json;
extern size_t ctl_width;	/* -w, or 0 */
pid_t ctl_pid(const char *);
uint64_t ctl_addr(const char *);

/* ctl-conn.c */
/* The daemon's totals, and (users) its users' page cache lines. */
struct ctl_stats {
	struct pd_stats_reply sr;
	struct pd_user_info *users;
	size_t nusers;
};
int ctl_connect(void);
void ctl_send(int, const union pd_msg *);
int ctl_receive_or(int, union pd_msg *, uint32_t, uint32_t, int);
void ctl_receive(int, union pd_msg *, uint32_t, uint32_t);
void ctl_exchange_fds(int, union pd_msg *, const int *, int, union pd_msg *,
    uint32_t, uint32_t);
void ctl_exchange(int, union pd_msg *, union pd_msg *, uint32_t, uint32_t);
size_t ctl_list(uint32_t, uint32_t, int32_t, union pd_msg **);
void ctl_stats(struct ctl_stats *, int);

/* ctl-output.c */
void ctl_bytes(char *, size_t, uint64_t);
void json_str(const char *);
const char *ctl_backing(const struct pd_region_info *);
const char *ctl_mode(const struct pd_region_info *);
void ctl_count(char *, size_t, int64_t);
void ctl_escape(const char *, char *, size_t);
const char *ctl_region_path(struct pd_region_info *);

/* ctl-status.c */
void ctl_status(char **);
void ctl_top(char **);

/* ctl-list.c */
void ctl_violations(char **);
void ctl_clients(char **);
void ctl_regions(char **);
void ctl_caches(char **);

/* ctl-stores.c */
void ctl_stores(char **);

/* ctl-process.c */
void ctl_explain(char **);
void ctl_maps(char **);
void ctl_snapshot(char **);
int ctl_find_region(int32_t, uint64_t, struct pd_region_info *);

/* ctl-map.c */
#define CTL_MAP_WIDTH 64	/* cells of map's bar without -w */
#define CTL_TOP_WIDTH 40	/* cells of top's bars without -w */
#define CTL_MAP_MAXWIDTH 4096
/* A page's state in a picture, lowest first. */
enum ctl_state {
	CTL_UNTOUCHED,
	CTL_CACHED,
	CTL_RESIDENT,
	CTL_READING,
	CTL_DIRTY,
	CTL_NSTATES
};
/* One region's pages, read by ctl_map_read. */
struct ctl_map {
	pid_t pid;
	uint32_t session;
	uint32_t region;
	uint64_t start;
	uint64_t length;
	uint64_t npages;
	uint32_t known;		/* PD_PAGES_*: what the daemon told */
	int pagemap_error;	/* 0, or why the process's residency is
				   unknown */
	uint64_t count[CTL_NSTATES];
	size_t width;		/* cells */
	int8_t *cells;		/* each cell's state, -1 none yet */
	/* Called with each run of pages of one state, in order. */
	void (*run)(struct ctl_map *, uint64_t, uint64_t, int);
	size_t nruns;
	uint64_t run_first, run_n;
	int run_state;
};
int ctl_map_read(struct ctl_map *, pid_t, uint64_t, size_t, int);
void ctl_map_bar(const struct ctl_map *, char *);
void ctl_map_free(struct ctl_map *);
const char *ctl_map_state_name(int);
void ctl_map_json_counts(const struct ctl_map *);
void ctl_map(char **);

/* ctl-recordings.c */
void ctl_recordings(char **);

#endif /* PAGERCTL_H */

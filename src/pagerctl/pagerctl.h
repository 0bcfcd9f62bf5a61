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
pid_t ctl_pid(const char *);

/* ctl-conn.c */
/* The daemon's totals, and (users) its users' page cache lines. */
struct ctl_stats {
	struct pd_stats_reply sr;
	struct pd_user_info *users;
	size_t nusers;
};
int ctl_connect(void);
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

/* ctl-status.c */
void ctl_status(char **);
void ctl_top(char **);

/* ctl-list.c */
void ctl_violations(char **);
void ctl_clients(char **);
void ctl_regions(char **);

/* ctl-process.c */
void ctl_explain(char **);
void ctl_maps(char **);
void ctl_snapshot(char **);

#endif /* PAGERCTL_H */

/*
 * What pagerctl.c lends ctl-recordings.c (the connection, -j), and the
 * command it gets back.
 */
#ifndef PAGERCTL_CTL_RECORDINGS_H
#define PAGERCTL_CTL_RECORDINGS_H

#include <stdint.h>

#include "proto.h"

/* pagerctl.c */
extern int ctl_json;
int ctl_connect(void);
void ctl_exchange(int, union pd_msg *, union pd_msg *, uint32_t, uint32_t);
void ctl_receive(int, union pd_msg *, uint32_t, uint32_t);
void json_str(const char *);

/* ctl-recordings.c */
void ctl_recordings(char **);

#endif /* PAGERCTL_CTL_RECORDINGS_H */

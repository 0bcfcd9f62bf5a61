/*
 * Opening and probing userfaultfds: shared by the daemon, the library and
 * the shim. Functions return -errno and explain failures in a caller's
 * buffer; they never print.
 */
#ifndef PAGERD_UFFD_H
#define PAGERD_UFFD_H

#include <stddef.h>
#include <stdint.h>

#include "uffd-compat.h"

/* uffd.c */
int uffd_open(int, int *, char *, size_t);
int uffd_api(int, uint64_t, uint64_t *, char *, size_t);
int uffd_probe_features(uint64_t *, char *, size_t);
int uffd_fdinfo(int, uint64_t *);
void uffd_feature_names(uint64_t, char *, size_t);
int uffd_scan_written(int, uint64_t, uint64_t, int,
    void (*)(void *, uint64_t, uint64_t), void *);

#endif /* PAGERD_UFFD_H */

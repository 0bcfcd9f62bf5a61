/*
 * What the write-back page-out tests share: a write-back region over a
 * new pattern file (its writes tracked by the kernel where it can, by
 * write faults with PAGERD_NO_WP_ASYNC), and its end, the file checked
 * after a sync.
 */
#ifndef PAGERD_TESTS_WRITEBACK_HARNESS_H
#define PAGERD_TESTS_WRITEBACK_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

struct pagerd;

void *harness_map_writeback(const struct harness_daemon *, size_t, uint64_t,
    struct pagerd **, int *, char *, size_t);
void *harness_map_writeback_async(const struct harness_daemon *, size_t,
    uint64_t, struct pagerd **, int *, char *, size_t);
void harness_writeback_end(struct harness_daemon *, struct pagerd *, void *,
    int, const char *, size_t,
    int64_t (*)(const unsigned char *, uint64_t, size_t));
void harness_writeback_stamps(const uint32_t *,
    uint64_t (*)(uint64_t, uint32_t), uint64_t, size_t);
int64_t harness_writeback_stamped(const unsigned char *, uint64_t, size_t);

#endif /* PAGERD_TESTS_WRITEBACK_HARNESS_H */

/*
 * What the write-back page-out tests share: a daemon and a write-back
 * region over a new pattern file (its writes tracked by the kernel where
 * it can, by write faults with PAGERD_NO_WP_ASYNC), writer threads, pages
 * stamped and checked, and the end, the file checked after a sync. The
 * tests' tables assume 4 KiB pages.
 */
#ifndef PAGERD_TESTS_WRITEBACK_HARNESS_H
#define PAGERD_TESTS_WRITEBACK_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

struct pagerd;

/* One test's daemon and region (harness_writeback_start). */
struct harness_writeback {
	struct harness_daemon d;
	struct pagerd *pd;
	unsigned char *region;
	size_t size;
	int fd;			/* the file, open for reading and writing */
	char path[512];
};

void harness_writeback_start(struct harness_writeback *, const char *,
    size_t, uint64_t, int);
void harness_writeback_end(struct harness_writeback *,
    int64_t (*)(const unsigned char *, uint64_t, size_t));
void harness_writeback_writers(int, void *(*)(void *), int, int *);
void harness_writeback_fill(struct harness_writeback *, uint64_t, uint64_t);
void harness_writeback_stamps(const uint32_t *,
    uint64_t (*)(uint64_t, uint32_t), uint64_t);
int64_t harness_writeback_stamped(const unsigned char *, uint64_t, size_t);
void harness_writeback_check_stamps(const struct harness_writeback *,
    const char *);
void harness_writeback_raced(const struct harness_writeback *,
    struct pd_stats_reply *);

#endif /* PAGERD_TESTS_WRITEBACK_HARNESS_H */

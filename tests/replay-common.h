/*
 * What the working-set replay tests share: a run of tests/replay-prog
 * under the shim, and the daemon's list of recordings.
 */
#ifndef PAGERD_TESTS_REPLAY_COMMON_H
#define PAGERD_TESTS_REPLAY_COMMON_H

#include <sys/types.h>

#include <stdint.h>

#include "harness.h"

#define REPLAY_SIZE (64u << 20)
#define REPLAY_SEED 0x5eed0017ull

/* One recording as a control session lists it. */
struct replay_entry {
	uint32_t uid;
	uint64_t pages;
	char name[PD_RECORDING_NAME];
	char path[PD_RECORDING_PATH];
};

uint64_t replay_run(const struct harness_daemon *, const char *, uint64_t,
    const char *);
void replay_need_cache(const struct harness_daemon *);
void replay_run_cold(const struct harness_daemon *, const char *, size_t,
    uint64_t);
int replay_ask(const char *, const char *, uint32_t, uint32_t, const char *,
    struct replay_entry *, int);

#endif /* PAGERD_TESTS_REPLAY_COMMON_H */

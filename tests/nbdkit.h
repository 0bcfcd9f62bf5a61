/*
 * The NBD tests' own servers: nbdkit on a unix socket in the test's
 * directory, started and stopped by the test. A test skips (77) where
 * nbdkit is not installed.
 */
#ifndef PAGERD_TESTS_NBDKIT_H
#define PAGERD_TESTS_NBDKIT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct nbdkit {
	pid_t pid;
	char sock[320];
	char uri[400];		/* nbd+unix:///?socket=SOCK */
	char log[320];		/* its debug messages, "" none */
};

void nbdkit_need(void);
void nbdkit_need_nbdcopy(void);
void nbdkit_write_file(const char *, const char *);
struct harness_daemon;
void nbdkit_reload(struct harness_daemon *, const char *, const char *,
    int);
void nbdkit_start(struct nbdkit *, const char *, ...);
void nbdkit_stop(struct nbdkit *);
void nbdkit_kill(struct nbdkit *);
pid_t nbdkit_touch_start(const char *, const char *, uint64_t, uint64_t,
    uint64_t, uint64_t);
void nbdkit_files(struct harness_daemon *);
void nbdkit_files_remove(const char *);
void nbdkit_image(struct harness_daemon *, size_t, uint64_t, char *,
    size_t);
void nbdkit_end(struct harness_daemon *, struct nbdkit *, const char *);
void nbdkit_delayed_store(struct harness_daemon *, struct nbdkit *, char *,
    size_t, char *, size_t, uint64_t, uint64_t, const char *);
pid_t nbdkit_touch_held(struct harness_daemon *, struct nbdkit *, uint64_t,
    uint64_t, uint64_t);
int nbdkit_touch(const char *, const char *, uint64_t, uint64_t, uint64_t,
    uint64_t);

#endif /* PAGERD_TESTS_NBDKIT_H */

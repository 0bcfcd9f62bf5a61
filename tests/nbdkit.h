/*
 * The NBD tests' own servers: nbdkit on a unix socket in the test's
 * directory, started and stopped by the test. A test skips (77) where
 * nbdkit is not installed.
 */
#ifndef PAGERD_TESTS_NBDKIT_H
#define PAGERD_TESTS_NBDKIT_H

#include <sys/types.h>

struct nbdkit {
	pid_t pid;
	char sock[320];
	char uri[400];		/* nbd+unix:///?socket=SOCK */
};

void nbdkit_need(void);
void nbdkit_start(struct nbdkit *, const char *, ...);
void nbdkit_stop(struct nbdkit *);
void nbdkit_kill(struct nbdkit *);

#endif /* PAGERD_TESTS_NBDKIT_H */

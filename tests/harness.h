/*
 * Shared helpers of the tests: a real pagerd daemon per test, pattern
 * files whose every word says where it belongs, raw protocol access, and
 * checks that fail loudly. Exit codes: 0 pass, 1 fail, 77 skip.
 */
#ifndef PAGERD_TESTS_HARNESS_H
#define PAGERD_TESTS_HARNESS_H

#include <sys/types.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct harness_daemon {
	pid_t pid;
	int restarts;		/* by harness_restart() */
	const char *extra[8];	/* options beyond the defaults */
	char dir[256];
	char sock[320];
	char log[320];
	int linger0;		/* cache-linger 0: no cache without a client */
};

#ifdef HARNESS_STANDALONE
/*
 * Programs run under the shim are built without the harness (and the
 * sanitizers): their checks print and exit on their own.
 */
#include <stdio.h>
#include <stdlib.h>
#define CHECK(expr) do {						\
	if (!(expr)) {							\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__,	\
		    #expr);						\
		exit(1);						\
	}								\
} while (0)
#else
#define CHECK(expr) do {						\
	if (!(expr))							\
		harness_fail(__FILE__, __LINE__, "%s", #expr);		\
} while (0)
#endif

#define CHECKF(expr, ...) do {						\
	if (!(expr))							\
		harness_fail(__FILE__, __LINE__, __VA_ARGS__);		\
} while (0)

/* A memory cgroup of a test's own (harness_memgroup_*). */
struct harness_memgroup {
	int version;		/* 1 or 2 */
	char dir[256];		/* the group, or "" once removed */
	char home[512];		/* the test's own group, to go back to */
};

/* A child holding something until the parent is done (harness_hold_*). */
struct harness_hold {
	pid_t pid;
	int up[2];		/* child to parent: it holds it */
	int down[2];		/* parent to child: let go */
};

/* A store "hang" whose server never answers (harness_hang_*). */
struct harness_hang {
	int l;			/* the server's listening socket */
	char dir[256];		/* its own directory */
	char sock[300];
};

/*
 * Threads reading a pattern region a page at a time, each page checked
 * (harness_readers_*): thread t reads pages t, t + n, ...; the pages from
 * offset gate on wait until harness_readers_open.
 */
#define HARNESS_READERS 16
struct harness_readers {
	const unsigned char *region;
	uint64_t size, seed, export, gate;
	int n;
	int next;		/* the next thread's number */
	int open;
	unsigned long done;	/* pages read and right */
	pthread_t th[HARNESS_READERS];
};

__attribute__((noreturn, format(printf, 3, 4)))
void harness_fail(const char *, int, const char *, ...);
__attribute__((noreturn, format(printf, 1, 2)))
void harness_skip(const char *, ...);
void harness_need_root(void);
struct pagerd;
void harness_need_shared_cache(struct pagerd *);
void *harness_map_cached(struct pagerd **, const char *, const char *, size_t,
    int);
void harness_swap_anon(volatile void *, size_t);
double harness_cpu_s(pid_t);
void harness_expect_calm(const struct harness_daemon *, double, double,
    const char *);
void harness_become_nobody(void);
uid_t harness_test_user(const char *);
void harness_become_user(const char *);
void harness_default_segv(void);
int harness_as_user(const char *, void (*)(void *), void *);
pid_t harness_hold_start(struct harness_hold *);
void harness_hold_ready(struct harness_hold *);
int harness_hold_wait(struct harness_hold *);
int harness_hold_end(struct harness_hold *);

void harness_start(struct harness_daemon *, ...);
void harness_start_conf(struct harness_daemon *, const char *);
void harness_stop(struct harness_daemon *);
void harness_kill(struct harness_daemon *);
void harness_restart(struct harness_daemon *);
int harness_alive(const struct harness_daemon *);
int harness_log_has(const struct harness_daemon *, const char *);
void harness_remove_tree(const char *);
int harness_log_count(const struct harness_daemon *, const char *);
int harness_log_within_rate(const struct harness_daemon *, const char *,
    uid_t, int, double);
int harness_file_count(const char *, const char *);

/* The pattern files' word at offset off (a multiple of 8). */
static inline uint64_t
harness_word(uint64_t off, uint64_t seed)
{
	return (off * 0x9E3779B97F4A7C15ull) ^ seed;
}

void harness_make_file(const struct harness_daemon *, const char *, size_t,
    uint64_t, char *, size_t);
int harness_open_cold(const struct harness_daemon *, const char *);
int64_t harness_verify(const void *, uint64_t, size_t, uint64_t, uint64_t);
void harness_check_range(const void *, uint64_t, size_t, uint64_t, uint64_t);
void harness_file_equals(const char *, const void *, size_t, const char *);
int harness_wait(pid_t);
void harness_clients(const struct harness_daemon *, int, void (*)(void),
    const char *);
pid_t harness_eio_fs(const char *, uint64_t, uint64_t, uint64_t, uint64_t);
pid_t harness_hung_fs(const char *, uint64_t, uint64_t, uint64_t, uint64_t);
pid_t harness_hung_read_fs(const char *, uint64_t, uint64_t, uint64_t,
    uint64_t);
pid_t harness_hung_open_fs(const char *, uint64_t, uint64_t);
void harness_eio_fs_unmount(const char *, pid_t);
void harness_expect_sigbus(void (*)(const char *, const char *, int),
    const char *, const char *);
void harness_sleep_ms(int);
double harness_now_s(void);
void harness_readers_start(struct harness_readers *, const void *, uint64_t,
    uint64_t, uint64_t, int, uint64_t);
void harness_readers_wait(struct harness_readers *, unsigned long);
void harness_readers_open(struct harness_readers *);
void harness_readers_end(struct harness_readers *);
pid_t harness_started(void (*)(void *, int), void *, const char *);

int harness_raw_connect(const char *);
int harness_raw_send(int, const void *, size_t, const int *, int);
ssize_t harness_raw_recv(int, union pd_msg *, int);
int harness_raw_request(int, union pd_msg *, char *, size_t);
int harness_raw_hello_control(int);
int harness_raw_hello_client(const char *, int *);
int harness_raw_hello_flags(const char *, uint32_t, int *);
int harness_raw_refusal(int, union pd_msg *, int);
void harness_pagerctl(const char *, const char *, const char *, char *,
    size_t);
void harness_control_stats(const char *, struct pd_stats_reply *);
void harness_wait_idle(const char *);
void harness_wait_faults(const char *, uint64_t, struct pd_stats_reply *);
void harness_wait_caches(const char *, unsigned int, const char *);
void harness_wait_held(const char *, uint64_t, struct pd_stats_reply *);
int harness_daemon_fds(pid_t);
int harness_settled_fds(pid_t);
void harness_expect_fds(pid_t, const char *, int, const char *);
long harness_rss_kib(pid_t);
long harness_status_kib(pid_t, const char *);
int harness_cgroup_put(const char *, const char *, const char *);
void harness_cgroup_enter(const char *);
void harness_memgroup_make(struct harness_memgroup *, uint64_t);
uint64_t harness_memgroup_get(const struct harness_memgroup *, const char *);
uint64_t harness_memgroup_usage(const struct harness_memgroup *, int);
uint64_t harness_memgroup_stat(const struct harness_memgroup *, const char *);
uint64_t harness_memgroup_key(const struct harness_memgroup *, const char *,
    const char *);
void harness_memgroup_remove(struct harness_memgroup *, pid_t);
int harness_silent_server(const char *);
void harness_hang_start(struct harness_daemon *, struct harness_hang *,
    const char *);
void harness_hang_end(struct harness_daemon *, struct harness_hang *);
int harness_raw_invalidate(const char *, int, uint64_t, uint64_t);
int harness_raw_cache_open(int, int, uint32_t, uint64_t *);
int harness_raw_cache_client(const char *, const char *, uint32_t, int *,
    int *, uint64_t *);
size_t harness_kernel_cached(const char *);

#endif /* PAGERD_TESTS_HARNESS_H */

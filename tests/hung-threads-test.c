/*
 * Description: every fault of a client behind its own hung reads ends in
 * SIGBUS, however its threads fall on the worker's reads. The file lives
 * on tests/eio-fs in hang mode, so that every read of it hangs; the
 * daemon's read-timeout is 2 s. One client faults from 16 or 32 threads,
 * on one window, each on a window of its own, or on windows end to end
 * (streams) of its page cache region, with the default queue depth and
 * with -q 32:
 * its session holds its share of the reads, the rest of its faults wait
 * (throttled, or joined to a read out) or fail at once once its share is
 * stuck. And three clients of 8 threads at -q 32, two of which hold
 * their user's half of the reads: the third's faults wait for a read
 * none will give back, and must fail once the user's reads expire (they
 * waited for ever, and the two clients' own faults with them, when all
 * sessions of a user were first held to half of the reads). Each thread
 * must get SIGBUS, none may wait for ever: the test gives them 30 s,
 * many times what the expiries take.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x57a4d3d0ull
#define PAGE 4096u
#define SIZE (16u << 20)
#define BAD_OFF (4u << 20)
#define BAD_LEN (8u << 20)
#define SPREAD (256u << 10)	/* between distinct windows */
#define ADJACENT (64u << 10)	/* the default read-ahead window */
#define MAX_THREADS 32
#define WAIT_S 30

static volatile const unsigned char *map;
static int spread;
static uintptr_t first;		/* this client's first thread's number */
static __thread sigjmp_buf jmp;
static int bus;			/* threads that got SIGBUS */
static const char *const spreads[] = { "one window", "distinct windows",
    "adjacent windows" };

static void
on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(jmp, 1);
}

/* Thread i touches a page of the hung range: its own window, or one. */
static void *
fault_thread(void *arg)
{
	uintptr_t i = (uintptr_t)arg + first;
	uint64_t off = BAD_OFF + (spread == 2 ? i * ADJACENT : spread ?
	    i * SPREAD : (i % 8) * PAGE);
	unsigned char v;

	if (sigsetjmp(jmp, 1) != 0) {
		__atomic_add_fetch(&bus, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	v = map[off];
	fprintf(stderr, "FAIL: a page whose read hung read 0x%02x instead of "
	    "raising SIGBUS\n", v);
	_exit(3);
}

/*
 * The client: threads fault at once; exits 0 when every one got SIGBUS
 * within WAIT_S, 1 (saying how many did not) otherwise.
 */
static void
client(const char *sock, const char *path, int threads)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	pthread_t t;
	struct pagerd *pd;
	uintptr_t i;
	void *p;
	int fd, n;

	/* The handler, not ASan's report: SIGBUS is what is expected. */
	sigaction(SIGBUS, &sa, NULL);
	alarm(WAIT_S + 30);	/* a daemon that never answers the map */
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map %s: %s", path, pagerd_errmsg());
	map = p;
	for (i = 0; i < (uintptr_t)threads; i++) {
		CHECK(pthread_create(&t, NULL, fault_thread, (void *)i) == 0);
		pthread_detach(t);
	}
	for (i = 0; i < WAIT_S * 10; i++) {
		if ((n = __atomic_load_n(&bus, __ATOMIC_RELAXED)) == threads)
			_exit(0);
		harness_sleep_ms(100);
	}
	fprintf(stderr, "FAIL: %d of %d faults behind hung reads got no "
	    "SIGBUS in %d s\n", threads - n, threads, WAIT_S);
	_exit(1);
}

/*
 * One case, against a daemon and a hung file of its own: clients of the
 * same user (root), each with threads of its own windows.
 */
static void
run_case(const char *depth, int clients, int threads, int spread_)
{
	char conf[] = "/tmp/hung-threads-test.XXXXXX", mnt[512], path[600];
	struct harness_daemon d;
	pid_t fs, pid[4];
	int c, fd, status;

	printf("%s queue depth, %d client%s of %d threads, %s\n",
	    depth != NULL ? depth : "default", clients, clients == 1 ? "" :
	    "s", threads, spreads[spread_]);
	fflush(stdout);
	CHECK((fd = mkstemp(conf)) != -1);
	CHECK(dprintf(fd, "read-timeout 2\n") > 0);
	close(fd);
	if (depth != NULL)
		harness_start(&d, "-f", conf, "-w", "1", "-q", depth, NULL);
	else
		harness_start(&d, "-f", conf, "-w", "1", NULL);
	unlink(conf);
	snprintf(mnt, sizeof mnt, "%s/mnt", d.dir);
	fs = harness_hung_fs(mnt, SIZE, SEED, BAD_OFF, BAD_LEN);
	snprintf(path, sizeof path, "%s/data", mnt);

	spread = spread_;
	for (c = 0; c < clients; c++) {
		first = (uintptr_t)(c * threads);
		fflush(NULL);
		if ((pid[c] = fork()) == 0)
			client(d.sock, path, threads);
	}
	for (c = 0; c < clients; c++) {
		status = harness_wait(pid[c]);
		CHECKF(status == 0, "client %d of %d (%s queue depth, %d "
		    "threads, %s) ended with status %d: faults behind its "
		    "user's hung reads waited for ever", c + 1, clients,
		    depth != NULL ? depth : "default", threads,
		    spreads[spread_], status);
	}

	/* Mended: the reads out come back, and the daemon stops. */
	kill(fs, SIGUSR1);
	harness_eio_fs_unmount(mnt, fs);
	harness_stop(&d);
}

int
main(void)
{
	static const char *const depths[] = { NULL, "32" };
	static const int threads[] = { 16, 32 };
	size_t q, t;
	int spread_;

	harness_need_root();
	for (q = 0; q < sizeof depths / sizeof depths[0]; q++)
		for (t = 0; t < sizeof threads / sizeof threads[0]; t++)
			for (spread_ = 0; spread_ < 3; spread_++)
				run_case(depths[q], 1, threads[t], spread_);
	/*
	 * Three clients at -q 32: two hold the user's half of the reads
	 * (8 each), the third waits for one, which none will give back.
	 */
	run_case("32", 3, 8, 1);
	printf("PASS: every fault behind a client's hung reads got SIGBUS\n");
	return 0;
}

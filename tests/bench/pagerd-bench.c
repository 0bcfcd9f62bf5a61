/*
 * pagerd-bench: pagerd under load, beside the kernel's own paging and a
 * naive userfaultfd handler, all in one run on one machine, so that the
 * ratios mean something where absolute times do not.
 *
 * usage: pagerd-bench [-h] [--list] [--json FILE] [--repeat N]
 *                     [--size MIB] [--pagerd PATH] [--shim PATH]
 *                     [WORKLOAD ...]
 *
 * The replay workload reads a quarter of a file four times --size (1 GiB
 * by default) in a fixed random order, its page cache dropped before each
 * run: the kernel's mmap, pagerd's first run (recorded), and its second
 * (pagerd-replay: the recording replayed ahead of the faults).
 *
 * The big-* workloads page a file four times the page caches' budget
 * (--size / 4): pagerd with cache-max-mib at the budget beside the
 * kernel's mmap in a memory cgroup of that size (where one can be made).
 *
 * Every measurement runs in a fresh child process (a fresh address space);
 * the daemon is a real pagerd process started for the run. Each figure is
 * the median of --repeat runs.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <linux/futex.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include <libnbd.h>
#include <liburing.h>

#include <pagerd.h>

#define PAGE 4096u
#define MAX_SAMPLES 64
#define MAX_CLIENTS 64
#define MAX_THREADS 8
/* The configuration file and socket paths of conf_daemon's daemons. */
#define CONF_PATH_MAX 320
/* big-seq's file, times --size. */
#define BIG_SEQ_SCALE 24

/* What one child measures and sends back. */
struct result {
	double start;		/* CLOCK_MONOTONIC at the touching loop's start */
	double seconds;		/* of the touching loop */
	double p50_us;		/* per-touch latency, where measured */
	double p99_us;
	unsigned long touches;
	double cpu;		/* CPU seconds of the touching thread */
	double rate_before;	/* snapshot: writes/s before, and during */
	double rate_during;
	unsigned long misses;	/* reads of the file the touches took (the
				   kernel's major faults, pagerd's reads) */
	double cpu_all;		/* CPU seconds until it saw a thread of
				   the run finish... */
	int all_marked;		/* ...which it did */
	int ok;
};

enum system {
	SYS_KERNEL_FILE,	/* mmap(MAP_PRIVATE) of the file */
	SYS_KERNEL_ANON,	/* anonymous memory */
	SYS_PAGERD,		/* pagerd, shared page cache where it can */
	SYS_PAGERD_COPY,	/* pagerd with PAGERD_NO_CACHE */
	SYS_NAIVE,		/* one thread: pread 4 KiB, one UFFDIO_COPY */
	SYS_PAGERD_COW,		/* pagerd, PAGERD_MAP_COW: write-protected */
	SYS_PAGERD_1W,		/* pagerd with one worker thread */
	SYS_KERNEL_FORK,	/* snapshots: fork(), the child writes */
	SYS_PAGERD_HUGE,	/* pagerd, caches on a huge-page tmpfs */
	SYS_KERNEL_CGROUP,	/* kernel-file in a memory cgroup of the budget */
	SYS_PAGERD_BUDGET,	/* pagerd with cache-max-mib the budget */
	SYS_DISK,		/* the disk itself: O_DIRECT, a deep queue */
	SYS_PAGERD_COW_SYNC,	/* pagerd-cow with PAGERD_NO_WP_ASYNC */
	SYS_PAGERD_NBD,		/* pagerd, a region of an NBD store */
	SYS_PAGERD_REPLAY,	/* pagerd with caches gone with their last
				   client: a run replays the one before */
	SYS_PAGERD_NOREPLAY,	/* pagerd with working-set replay off */
};

static const char *const system_names[] = {
	[SYS_KERNEL_FILE] = "kernel-file",
	[SYS_KERNEL_ANON] = "kernel-anon",
	[SYS_PAGERD] = "pagerd",
	[SYS_PAGERD_COPY] = "pagerd-copy",
	[SYS_NAIVE] = "naive",
	[SYS_PAGERD_COW] = "pagerd-cow",
	[SYS_PAGERD_1W] = "pagerd-1w",
	[SYS_KERNEL_FORK] = "kernel-fork",
	[SYS_PAGERD_HUGE] = "pagerd-huge",
	[SYS_KERNEL_CGROUP] = "kernel-cgroup",
	[SYS_PAGERD_BUDGET] = "pagerd-budget",
	[SYS_DISK] = "disk",
	[SYS_PAGERD_COW_SYNC] = "pagerd-cow-sync",
	[SYS_PAGERD_NBD] = "pagerd",
	[SYS_PAGERD_REPLAY] = "pagerd-replay",
	[SYS_PAGERD_NOREPLAY] = "pagerd-noreplay",
};

enum pattern {
	SEQUENTIAL,
	RANDOM,
	WRITE_ZERO,		/* first-touch writes of zero-fill memory */
	READ_THEN_WRITE,	/* untimed reads, then timed first writes */
	UNIFORM,		/* as many reads as pages, uniformly random */
	ZIPF,			/* the same, Zipf (s = 0.99) over the pages */
};

static struct {
	const char *pagerd;
	const char *shim;
	char anon_touch[PATH_MAX];	/* shim-anon's program */
	const char *json;
	int repeat;
	size_t size;
	int cold;		/* drop the file's page cache before each run */
	const char *systems;	/* --systems: ",name,name,"; NULL: all */
	int warm;		/* keep pagerd's cache of the file between runs */
	char dir[256];
	char sock[320];		/* the daemon, default workers */
	char sock1[320];	/* a second daemon with one worker */
	char sockh[320];	/* a third with its caches on a tmpfs... */
	char cache[320];	/* ...mounted here with huge=within_size */
	char file[320];
	pid_t daemon;
	pid_t daemon1;
	pid_t daemonh;		/* 0: no tmpfs (not root), no pagerd-huge */
	char sockb[320];	/* a fourth, its caches within the budget */
	char conf[320];		/* its configuration */
	pid_t daemonb;
	size_t budget;		/* bytes: a quarter of size, at least 1 MiB */
	char cgroup[256];	/* kernel-cgroup's group, or "" */
	char cgroup_why[640];	/* why there is none */
	double run_seconds;	/* a run stops after this long; 0: never */
	char nbd_uri[400];	/* nbdkit serving file, for nbd-*; "" none */
	char nbd_sock[320];
	char sockn[320];	/* a fifth daemon, of the store "bench" */
	char confn[320];
	pid_t nbdkit;
	pid_t daemonn;
	int quarter;		/* touch a quarter of the pages only */
	char sockr[CONF_PATH_MAX];	/* replay's daemon: cache-linger 0 */
	char confr[CONF_PATH_MAX];
	pid_t daemonr;
	char socko[CONF_PATH_MAX];	/* seq-warm's: replay off */
	char confo[CONF_PATH_MAX];
	pid_t daemono;
} bench = { .repeat = 5, .size = 256u << 20 };

static FILE *json;
static int json_first = 1;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	pid_t *started[] = { &bench.daemon, &bench.daemon1, &bench.daemonh,
	    &bench.daemonb, &bench.daemonn, &bench.daemonr, &bench.daemono,
	    &bench.nbdkit };
	va_list ap;
	size_t i;

	fflush(stdout);
	fprintf(stderr, "pagerd-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	/* Every daemon and nbdkit started; the one on the tmpfs waited for. */
	for (i = 0; i < sizeof started / sizeof started[0]; i++)
		if (*started[i] > 0)
			kill(*started[i], SIGTERM);
	if (bench.daemonh > 0)
		waitpid(bench.daemonh, NULL, 0);
	if (bench.cgroup[0] != '\0')
		rmdir(bench.cgroup);
	/* The tmpfs goes, even when its daemon never started; the logs stay. */
	if (bench.cache[0] != '\0')
		umount2(bench.cache, MNT_DETACH);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the naive handler: what a user would write instead of pagerd ---- */

struct naive {
	int uffd;
	int fd;			/* backing file, or -1 for zeros */
	uintptr_t base;
	char page[PAGE] __attribute__((aligned(PAGE)));
};

static void *
naive_main(void *arg)
{
	struct naive *n = arg;
	struct uffd_msg msg;
	struct uffdio_copy copy;
	struct pollfd pfd = { .fd = n->uffd, .events = POLLIN };
	uintptr_t addr;

	for (;;) {
		if (poll(&pfd, 1, -1) == -1)
			continue;
		if (read(n->uffd, &msg, sizeof msg) != sizeof msg)
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		addr = (uintptr_t)msg.arg.pagefault.address & ~(uintptr_t)(PAGE - 1);
		if (n->fd != -1 && pread(n->fd, n->page, PAGE,
		    (off_t)(addr - n->base)) < 0)
			memset(n->page, 0, PAGE);
		copy = (struct uffdio_copy){ .dst = addr,
		    .src = (uintptr_t)n->page, .len = PAGE };
		ioctl(n->uffd, UFFDIO_COPY, &copy);
	}
	return NULL;
}

static char *
naive_map(int fd, size_t size)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	static struct naive n;
	pthread_t th;
	char *p;

	n.fd = fd;
	n.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (n.uffd == -1 || ioctl(n.uffd, UFFDIO_API, &api) == -1)
		die("naive: userfaultfd: %s", strerror(errno));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("naive: mmap: %s", strerror(errno));
	n.base = (uintptr_t)p;
	reg = (struct uffdio_register){ .range = { (uintptr_t)p, size },
	    .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(n.uffd, UFFDIO_REGISTER, &reg) == -1)
		die("naive: UFFDIO_REGISTER: %s", strerror(errno));
	if (pthread_create(&th, NULL, naive_main, &n) != 0)
		die("naive: pthread_create");
	return p;
}

/* ---- one measurement, in a child process ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * npages draws of a page, uniform or Zipf (s = 0.99: rank r has weight
 * 1 / r^0.99), the ranks spread over the file by a fixed shuffle so that
 * the hot pages are not all together.
 */
static void
draws(uint32_t *order, size_t npages, enum pattern pat, uint64_t *x)
{
	uint32_t *rank, t;
	double *cdf, u, sum = 0;
	size_t i, j, lo, hi;

	if ((rank = malloc(npages * sizeof *rank)) == NULL || (cdf =
	    malloc(npages * sizeof *cdf)) == NULL)
		die("malloc");
	for (i = 0; i < npages; i++) {
		rank[i] = (uint32_t)i;
		cdf[i] = sum += 1.0 / pow((double)(i + 1), 0.99);
	}
	for (i = npages - 1; i > 0; i--) {
		*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
		j = (size_t)(*x % (i + 1));
		t = rank[i], rank[i] = rank[j], rank[j] = t;
	}
	for (i = 0; i < npages; i++) {
		*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
		if (pat == UNIFORM) {
			order[i] = (uint32_t)(*x % npages);
			continue;
		}
		u = (double)(*x >> 11) / 9007199254740992.0 * sum;
		for (lo = 0, hi = npages - 1; lo < hi;) {
			j = (lo + hi) / 2;
			if (cdf[j] < u)
				lo = j + 1;
			else
				hi = j;
		}
		order[i] = rank[lo];
	}
	free(cdf);
	free(rank);
}

/* The pages to touch, in order or shuffled (the same shuffle each time). */
static uint32_t *
touch_order(size_t npages, enum pattern pat)
{
	uint64_t x = 88172645463325252ull;
	uint32_t *order, t;
	size_t i, j;

	if ((order = malloc(npages * sizeof *order)) == NULL)
		die("malloc");
	for (i = 0; i < npages; i++)
		order[i] = (uint32_t)i;
	if (pat == UNIFORM || pat == ZIPF) {
		draws(order, npages, pat, &x);
		return order;
	}
	if (pat == RANDOM) {
		for (i = npages - 1; i > 0; i--) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			j = (size_t)(x % (i + 1));
			t = order[i], order[i] = order[j], order[j] = t;
		}
	}
	return order;
}

static char *
map_system(enum system sys, enum pattern pat, size_t size, struct pagerd **pdp)
{
	struct pagerd *pd;
	void *p = NULL;
	unsigned int flags;
	int fd = -1, error;

	if (sys == SYS_PAGERD_NBD) {
		if (pagerd_connect(bench.sockn, &pd) < 0)
			die("connect: %s", pagerd_errmsg());
		if (pagerd_map_store(pd, "bench", 0, size, PROT_READ, 0, &p) < 0)
			die("map of the store: %s", pagerd_errmsg());
		*pdp = pd;
		return p;
	}
	if (pat != WRITE_ZERO && (fd = open(bench.file, O_RDONLY |
	    O_CLOEXEC)) == -1)
		die("open %s: %s", bench.file, strerror(errno));
	/* kernel-cgroup reads the file into its group, not from cache. */
	if ((bench.cold || sys == SYS_KERNEL_CGROUP) && fd != -1 &&
	    (errno = posix_fadvise(fd, 0, 0,
	    POSIX_FADV_DONTNEED)) != 0)
		die("posix_fadvise %s: %s", bench.file, strerror(errno));
	switch (sys) {
	case SYS_KERNEL_FILE:
	case SYS_KERNEL_CGROUP:
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		break;
	case SYS_KERNEL_ANON:
	case SYS_KERNEL_FORK:
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		    MAP_ANONYMOUS, -1, 0);
		break;
	case SYS_NAIVE:
		return naive_map(fd, size);
	case SYS_DISK:
		die("disk maps nothing");
	case SYS_PAGERD_NBD:	/* mapped above */
		break;
	case SYS_PAGERD_COPY:
		setenv("PAGERD_NO_CACHE", "1", 1);
		/* FALLTHROUGH */
	case SYS_PAGERD_COW_SYNC:
		if (sys == SYS_PAGERD_COW_SYNC)
			setenv("PAGERD_NO_WP_ASYNC", "1", 1);
		/* FALLTHROUGH */
	case SYS_PAGERD:
	case SYS_PAGERD_COW:
	case SYS_PAGERD_1W:
	case SYS_PAGERD_HUGE:
	case SYS_PAGERD_BUDGET:
	case SYS_PAGERD_REPLAY:
	case SYS_PAGERD_NOREPLAY:
		if (pagerd_connect(sys == SYS_PAGERD_1W ? bench.sock1 :
		    sys == SYS_PAGERD_HUGE ? bench.sockh :
		    sys == SYS_PAGERD_BUDGET ? bench.sockb :
		    sys == SYS_PAGERD_REPLAY ? bench.sockr :
		    sys == SYS_PAGERD_NOREPLAY ? bench.socko : bench.sock,
		    &pd) < 0)
			die("connect: %s", pagerd_errmsg());
		flags = sys == SYS_PAGERD_COW || sys == SYS_PAGERD_COW_SYNC ?
		    PAGERD_MAP_COW : 0;
		error = fd == -1 ? pagerd_map_zero(pd, size, PROT_READ |
		    PROT_WRITE, flags, &p) : pagerd_map_file(pd, fd, 0, size,
		    PROT_READ | PROT_WRITE, flags, &p);
		unsetenv("PAGERD_NO_WP_ASYNC");
		if (error < 0)
			die("map: %s", pagerd_errmsg());
		*pdp = pd;
		break;
	}
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return p;
}

/*
 * The start barrier of a measurement. Every thread of every client does
 * all its setup (connects, maps, builds its order), then waits here: one
 * thread of each client tells the parent it is ready and waits for the
 * one "go" the parent gives when all are (it closes the pipe they read),
 * and only then do the timed touches start. Clients that touched while
 * later ones were still being forked and set up would be timed on CPUs
 * that setup took, and that setup's CPU would be in no touch's account.
 * This is how such a measurement must be made; it changes no target.
 * Likewise at the end: a client's own bookkeeping (sorting its latencies)
 * waits until every client has finished touching, so that it takes no
 * CPU from those still measured. ready_fd is -1 in a process no parent
 * waits for.
 */
static struct {
	int ready_fd;		/* a byte to the parent: set up; another: done */
	int go_fd;		/* end of file: touch */
	int leave_fd;		/* end of file: all are done */
	int *finished;		/* shared by the run: a thread has finished */
} gate = { -1, -1, -1, NULL };

/*
 * The CPU this thread used while every thread of the run was touching:
 * the first to finish raises the run's flag (and wakes the parent, which
 * reads the daemon's), and each thread notes its CPU time when it sees
 * the flag (within 16 touches) or finishes: the share of the CPUs they
 * keep busy before fewer clients than CPUs are left.
 */
static double thread_cpu(void);

static void
touch_mark_all(struct result *res, double cpu0, int finished)
{
	if (gate.finished == NULL || res->all_marked)
		return;
	if (!finished && !__atomic_load_n(gate.finished, __ATOMIC_RELAXED))
		return;
	if (finished && __atomic_exchange_n(gate.finished, 1,
	    __ATOMIC_RELAXED) == 0)
		syscall(SYS_futex, gate.finished, FUTEX_WAKE, INT_MAX, NULL,
		    NULL, 0);
	res->all_marked = 1;
	res->cpu_all = thread_cpu() - cpu0;
}

/* One thread's share of a measurement: its pages, touched once each. */
struct touch_job {
	volatile char *base;
	const uint32_t *order;
	size_t npages;
	enum pattern pat;
	int latencies;
	double run_seconds;	/* stop touching after this long; 0: never */
	pthread_barrier_t *start;	/* all of this client's threads */
	double *lat;		/* each touch's, where measured */
	pthread_t thread;
	struct result res;
};

/*
 * CPU seconds this thread, this process (RUSAGE_SELF) or its waited-for
 * children have used.
 */
static double
usage_cpu(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec /
	    1e6 + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec /
	    1e6;
}

static double
thread_cpu(void)
{
	return usage_cpu(RUSAGE_THREAD);
}

/* Wait at the start barrier (above) with the client's other threads. */
static void
gate_pass(pthread_barrier_t *start)
{
	char c = 0;

	if ((start == NULL || pthread_barrier_wait(start) ==
	    PTHREAD_BARRIER_SERIAL_THREAD) && gate.ready_fd != -1 &&
	    (write(gate.ready_fd, &c, 1) != 1 || read(gate.go_fd, &c, 1) != 0))
		_exit(1);
	if (start != NULL)
		pthread_barrier_wait(start);
}

/* This client has touched all: tell the parent, wait for all others. */
static void
gate_finish(void)
{
	char c = 0;

	if (gate.ready_fd != -1 && (write(gate.ready_fd, &c, 1) != 1 ||
	    read(gate.leave_fd, &c, 1) != 0))
		_exit(1);
}

static void *
touch(void *arg)
{
	struct touch_job *job = arg;
	struct result *res = &job->res, all = { 0 };
	double *lat = NULL, t0, t, cpu;
	unsigned long sum = 0;
	double deadline = 0;
	size_t i, off;

	if (job->latencies && (lat = job->lat = malloc(job->npages *
	    sizeof *lat)) == NULL)
		die("malloc");
	if (job->pat == READ_THEN_WRITE)
		for (i = 0; i < job->npages; i++)
			sum += (unsigned char)job->base[(size_t)job->order[i] *
			    PAGE];
	gate_pass(job->start);
	cpu = thread_cpu();
	t0 = now();
	if (job->run_seconds > 0)
		deadline = t0 + job->run_seconds;
	for (i = 0; i < job->npages; i++) {
		/* A thrashing baseline is measured over what it did in time. */
		if (deadline > 0 && i % 256 == 0 && now() > deadline)
			break;
		t = job->latencies ? now() : 0;
		off = (size_t)job->order[i] * PAGE;
		if (job->pat == WRITE_ZERO || job->pat == READ_THEN_WRITE)
			job->base[off] = 1;
		else
			sum += (unsigned char)job->base[off];
		if (job->latencies)
			lat[i] = now() - t;
		if (i % 16 == 15)
			touch_mark_all(&all, cpu, 0);
	}
	touch_mark_all(&all, cpu, 1);
	*res = all;
	res->start = t0;
	res->seconds = now() - t0;
	res->cpu = thread_cpu() - cpu;
	res->touches = i + (sum & 0);
	res->ok = 1;
	return NULL;
}

/* The percentiles of a job's touches, once no client is measured. */
static void
touch_latencies(struct touch_job *job)
{
	struct result *res = &job->res;
	double *lat = job->lat;
	size_t n = res->touches;

	if (lat == NULL)
		return;
	if (n > 0) {
		qsort(lat, n, sizeof *lat, cmp_double);
		res->p50_us = lat[n / 2] * 1e6;
		res->p99_us = lat[n * 99 / 100] * 1e6;
	}
	free(lat);
	job->lat = NULL;
}

/*
 * The system disk: the file read sequentially with O_DIRECT, DISK_DEPTH
 * reads of DISK_BLOCK in flight, the fastest a pager could bring it in.
 * Its time is per page of the file, as a touch's is. Into huge pages, as
 * pagerd's caches are: a read into small ones is a list of 4 KiB pieces
 * for the virtual disk to walk, which on this VM halved its speed
 * (1.1-1.4 against 2.6-3.0 GB/s).
 */
#define DISK_DEPTH 32
#define DISK_BLOCK (512u << 10)

static void
disk_read(size_t size, struct result *res)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	size_t off = 0, done = 0;
	unsigned int inflight = 0;
	char *buf;
	double t0;
	int fd, error;

	if ((fd = open(bench.file, O_RDONLY | O_DIRECT | O_CLOEXEC)) == -1)
		die("disk: open %s O_DIRECT: %s", bench.file, strerror(errno));
	if ((error = posix_memalign((void **)&buf, 2u << 20, (size_t)DISK_DEPTH *
	    DISK_BLOCK)) != 0)
		die("disk: posix_memalign: %s", strerror(error));
	(void)madvise(buf, (size_t)DISK_DEPTH * DISK_BLOCK, MADV_HUGEPAGE);
	if ((error = io_uring_queue_init(DISK_DEPTH, &ring, 0)) < 0)
		die("disk: io_uring_queue_init: %s", strerror(-error));
	gate_pass(NULL);
	t0 = now();
	while (done < size) {
		/*
		 * Keep the queue full. Nothing reads the buffers, so one that
		 * two reads share when they complete out of order is no harm.
		 */
		while (inflight < DISK_DEPTH && off < size) {
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, fd, buf + (size_t)(off /
			    DISK_BLOCK % DISK_DEPTH) * DISK_BLOCK, DISK_BLOCK,
			    (uint64_t)off);
			off += DISK_BLOCK;
			inflight++;
		}
		if ((error = io_uring_submit_and_wait(&ring, 1)) < 0)
			die("disk: io_uring_submit: %s", strerror(-error));
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			if (cqe->res <= 0)
				die("disk: read: %s", cqe->res < 0 ?
				    strerror(-cqe->res) : "end of file");
			done += (size_t)cqe->res;
			inflight--;
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	memset(res, 0, sizeof *res);
	res->start = t0;
	res->seconds = now() - t0;
	res->touches = size / PAGE;
	res->ok = 1;
	io_uring_queue_exit(&ring);
	free(buf);
	close(fd);
}

/*
 * Touch every page of a fresh mapping once, split among nthreads threads
 * (each its own slice, in the pattern's order); time each thread's loop,
 * and each touch where asked.
 */
static void
measure(enum system sys, enum pattern pat, size_t size, int latencies,
    int nthreads, struct result *res)
{
	struct touch_job jobs[MAX_THREADS];
	struct pagerd_stats st0, st1;
	struct pagerd *pd = NULL;
	struct rusage ru0, ru1;
	pthread_barrier_t start;
	size_t npages = size / PAGE, per = npages / (size_t)nthreads;
	uint32_t *order;
	char *p;
	int t;

	if (sys == SYS_DISK) {
		disk_read(size, res);
		gate_finish();
		return;
	}
	/* Reading anonymous memory maps the zero page: a fresh page is a write. */
	if (sys == SYS_KERNEL_ANON)
		pat = WRITE_ZERO;
	order = touch_order(per, pat);
	p = map_system(sys, pat, size, &pd);
	memset(&st0, 0, sizeof st0);
	memset(&st1, 0, sizeof st1);
	if (pd != NULL)
		(void)pagerd_stats(pd, &st0);
	getrusage(RUSAGE_SELF, &ru0);
	if ((errno = pthread_barrier_init(&start, NULL,
	    (unsigned int)nthreads)) != 0)
		die("pthread_barrier_init: %s", strerror(errno));
	for (t = 0; t < nthreads; t++) {
		jobs[t] = (struct touch_job){ .base = p + (size_t)t * per *
		    PAGE, .order = order, .npages = bench.quarter ? per / 4 :
		    per, .pat = pat, .latencies = latencies,
		    .run_seconds = bench.run_seconds, .start = &start };
		if (nthreads == 1)
			touch(&jobs[t]);
		else if (pthread_create(&jobs[t].thread, NULL, touch,
		    &jobs[t]) != 0)
			die("pthread_create");
	}
	for (t = 0; t < nthreads; t++)
		if (nthreads > 1)
			pthread_join(jobs[t].thread, NULL);
	gate_finish();
	for (t = 0; t < nthreads; t++) {
		touch_latencies(&jobs[t]);
		res[t] = jobs[t].res;
	}
	pthread_barrier_destroy(&start);
	getrusage(RUSAGE_SELF, &ru1);
	if (pd != NULL)
		(void)pagerd_stats(pd, &st1);
	res[0].misses = pd != NULL ? (unsigned long)(st1.reads - st0.reads) :
	    (unsigned long)(ru1.ru_majflt - ru0.ru_majflt);
	free(order);
	/* Exiting unmaps, and hangs up the daemon's session. */
	(void)pd;
}

/* This process into kernel-cgroup's memory cgroup. */
static void
cgroup_enter(void)
{
	char path[300], pid[32];
	int fd;

	snprintf(path, sizeof path, "%s/cgroup.procs", bench.cgroup);
	snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1 ||
	    write(fd, pid, strlen(pid)) != (ssize_t)strlen(pid))
		die("%s: %s", path, strerror(errno));
	close(fd);
}

/*
 * What run_children() samples at the go and once every client has
 * finished touching (the clients wait until then before they sort their
 * latencies, report and exit): the daemon's CPU over the timed touches
 * alone, without its clients' setup and teardown.
 */
struct run_marks {
	pid_t daemon;		/* 0: none */
	double daemon_cpu;	/* seconds, from the go to the last touch */
	double daemon_cpu_all;	/* and to the first thread's finish */
};

static double proc_cpu(pid_t);

/*
 * Wait until a thread of the run has finished touching (touch_mark_all()
 * wakes this) or a client has died (its pipe hangs up).
 */
static void
run_wait_first(int pfd[][2], int nclients)
{
	const struct timespec tick = { 0, 20 * 1000 * 1000 };
	struct pollfd pfds[MAX_CLIENTS];
	int i;

	for (i = 0; i < nclients; i++)
		pfds[i] = (struct pollfd){ .fd = pfd[i][0] };
	while (!__atomic_load_n(gate.finished, __ATOMIC_RELAXED)) {
		syscall(SYS_futex, gate.finished, FUTEX_WAIT, 0, &tick, NULL,
		    0);
		if (poll(pfds, (nfds_t)nclients, 0) > 0)
			for (i = 0; i < nclients; i++)
				if (pfds[i].revents & (POLLHUP | POLLERR))
					return;
	}
}

/*
 * Run measure() in nclients children at once, nthreads threads each,
 * started together (the gate above); collect their nclients * nthreads
 * results.
 */
static void
run_children_marked(enum system sys, enum pattern pat, size_t size,
    int latencies, int nclients, int nthreads, struct result *res,
    struct run_marks *marks)
{
	int pfd[MAX_CLIENTS][2], go[2], leave[2], i, status, fd;
	pid_t pids[MAX_CLIENTS];
	size_t len = (size_t)nthreads * sizeof *res;
	double d0 = 0;
	char c;

	/*
	 * pagerd keeps a file's cache a while after its last client, but
	 * never once the file changed: a new change time makes each run's
	 * first client a cold one.
	 */
	if (!bench.warm && ((fd = open(bench.file, O_RDONLY | O_CLOEXEC)) ==
	    -1 || futimens(fd, NULL) == -1 || close(fd) == -1))
		die("touch %s: %s", bench.file, strerror(errno));

	if (pipe2(go, O_CLOEXEC) == -1 || pipe2(leave, O_CLOEXEC) == -1)
		die("pipe: %s", strerror(errno));
	if (gate.finished == NULL && (gate.finished = mmap(NULL,
	    sizeof *gate.finished, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	*gate.finished = 0;
	for (i = 0; i < nclients; i++) {
		if (pipe(pfd[i]) == -1)
			die("pipe: %s", strerror(errno));
		fflush(NULL);
		if ((pids[i] = fork()) == 0) {
			struct result r[MAX_THREADS];

			close(go[1]);
			close(leave[1]);
			gate.ready_fd = pfd[i][1];
			gate.go_fd = go[0];
			gate.leave_fd = leave[0];
			if (sys == SYS_KERNEL_CGROUP)
				cgroup_enter();
			measure(sys, pat, size, latencies, nthreads, r);
			if (write(pfd[i][1], r, len) != (ssize_t)len)
				_exit(1);
			_exit(0);
		}
		close(pfd[i][1]);
	}
	close(go[0]);
	close(leave[0]);
	/* A client that died before it was ready fails below. */
	for (i = 0; i < nclients; i++)
		if (read(pfd[i][0], &c, 1) != 1)
			break;
	if (marks != NULL && marks->daemon > 0)
		d0 = proc_cpu(marks->daemon);
	close(go[1]);
	if (marks != NULL && marks->daemon > 0) {
		run_wait_first(pfd, nclients);
		marks->daemon_cpu_all = proc_cpu(marks->daemon) - d0;
	}
	for (i = 0; i < nclients; i++)
		if (read(pfd[i][0], &c, 1) != 1)
			break;
	if (marks != NULL)
		marks->daemon_cpu = marks->daemon > 0 ?
		    proc_cpu(marks->daemon) - d0 : 0;
	close(leave[1]);
	for (i = 0; i < nclients; i++) {
		struct result *r = res + (size_t)i * (size_t)nthreads;

		if (read(pfd[i][0], r, len) != (ssize_t)len)
			r->ok = 0;
		close(pfd[i][0]);
		waitpid(pids[i], &status, 0);
		if (!r->ok || !WIFEXITED(status) || WEXITSTATUS(status))
			die("%s client %d failed", system_names[sys], i);
	}
}

static void
run_children(enum system sys, enum pattern pat, size_t size, int latencies,
    int nclients, int nthreads, struct result *res)
{
	run_children_marked(sys, pat, size, latencies, nclients, nthreads,
	    res, NULL);
}

/* ---- reporting ---- */

static double
median(const double *v, int n)
{
	double sorted[MAX_SAMPLES];

	memcpy(sorted, v, (size_t)n * sizeof *v);
	qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
	return sorted[n / 2];
}

/*
 * A load series' records keep the workload's name ("load-clients") and
 * say the count in a field of their own ("clients": 64); the text says
 * "load-clients-64".
 */
static struct {
	const char *workload;
	const char *key;	/* "clients" or "threads"; NULL: no series */
	int count;
} series;

static void
report(const char *label, const char *system, const char *metric,
    double value, const char *unit, double baseline)
{
	printf("  %-14s %-12s %-14s %10.3f %-6s", label, system, metric,
	    value, unit);
	if (baseline > 0)
		printf("  %6.2fx", value / baseline);
	printf("\n");
	if (json == NULL)
		return;
	fprintf(json, "%s\n  {\"workload\": \"%s\", \"system\": \"%s\", "
	    "\"metric\": \"%s\", ", json_first ? "" : ",",
	    series.key != NULL ? series.workload : label, system, metric);
	/* JSON has no inf or nan. */
	if (isfinite(value))
		fprintf(json, "\"median\": %.6g", value);
	else
		fprintf(json, "\"median\": null");
	fprintf(json, ", \"unit\": \"%s\"", unit);
	if (series.key != NULL)
		fprintf(json, ", \"%s\": %d", series.key, series.count);
	fprintf(json, "}");
	json_first = 0;
}

/* Whether --systems chose sys (its name: "pagerd" is pagerd-nbd's too). */
static int
system_chosen(enum system sys)
{
	char name[32];

	if (bench.systems == NULL)
		return 1;
	snprintf(name, sizeof name, ",%s,", system_names[sys]);
	return strstr(bench.systems, name) != NULL;
}

/*
 * A workload over some systems: us-per-page (and latency percentiles)
 * medians, with the first system as the baseline of the ratios. With
 * pair, a system of the list, the systems run in rounds (each once per
 * round, after one untimed run of each), and each other system's ratio
 * to pair's throughput within a round is reported too, their median as
 * "throughput-vs-<pair>": on this VM the disk's speed moves by half from
 * one minute to the next, and a ratio of medians taken minutes apart
 * measures that, not the system.
 */
static void
workload_pairs(const char *name, enum pattern pat, const enum system *systems,
    int nsystems, int latencies, int pair)
{
	static double us[SYS_PAGERD_NOREPLAY + 1][MAX_SAMPLES];
	double p50[MAX_SAMPLES], p99[MAX_SAMPLES], ratio[MAX_SAMPLES];
	double base_us = 0, base_p50 = 0, base_p99 = 0, m;
	char metric[64];
	struct result r;
	int s, i, first, rounds = pair >= 0, chosen[SYS_PAGERD_NOREPLAY + 1];

	for (s = 0; s < nsystems; s++)
		chosen[s] = !(systems[s] == SYS_PAGERD_HUGE &&
		    bench.daemonh == 0) && system_chosen(systems[s]);
	if (rounds && !chosen[pair])
		rounds = 0;
	/*
	 * One run untimed first: it pays for memory the machine has not
	 * used for a while (on a VM, what the host took back, 5-7x slower
	 * to touch at first for huge pages).
	 */
	for (s = 0; rounds && s < nsystems; s++)
		if (chosen[s])
			run_children(systems[s], pat, bench.size, latencies, 1,
			    1, &r);
	for (i = 0; rounds && i < bench.repeat; i++)
		for (s = 0; s < nsystems; s++)
			if (chosen[s]) {
				run_children(systems[s], pat, bench.size,
				    latencies, 1, 1, &r);
				us[s][i] = r.seconds * 1e6 /
				    (double)r.touches;
			}
	for (s = 0; s < nsystems; s++) {
		if (!chosen[s])
			continue;
		if (!rounds) {
			run_children(systems[s], pat, bench.size, latencies, 1,
			    1, &r);
			for (i = 0; i < bench.repeat; i++) {
				run_children(systems[s], pat, bench.size,
				    latencies, 1, 1, &r);
				us[s][i] = r.seconds * 1e6 / (double)r.touches;
				p50[i] = r.p50_us;
				p99[i] = r.p99_us;
			}
		}
		m = median(us[s], bench.repeat);
		first = base_us == 0;
		if (first)
			base_us = m;
		report(name, system_names[systems[s]], "us-per-page", m, "us",
		    first ? 0 : base_us);
		if (pat != RANDOM)
			report(name, system_names[systems[s]], "throughput",
			    (double)PAGE / m / 1e3, "GB/s", 0);
		if (rounds && s != pair) {
			for (i = 0; i < bench.repeat; i++)
				ratio[i] = us[pair][i] / us[s][i];
			snprintf(metric, sizeof metric, "throughput-vs-%s",
			    system_names[systems[pair]]);
			report(name, system_names[systems[s]], metric,
			    median(ratio, bench.repeat), "x", 0);
		}
		/* Rounds keep no percentiles: no workload wants both. */
		if (!latencies || rounds)
			continue;
		report(name, system_names[systems[s]], "faults-per-s", 1e6 / m,
		    "1/s", 0);
		m = median(p50, bench.repeat);
		if (first)
			base_p50 = m;
		report(name, system_names[systems[s]], "p50", m, "us",
		    first ? 0 : base_p50);
		m = median(p99, bench.repeat);
		if (first)
			base_p99 = m;
		report(name, system_names[systems[s]], "p99", m, "us",
		    first ? 0 : base_p99);
	}
}

static void
workload(const char *name, enum pattern pat, const enum system *systems,
    int nsystems, int latencies)
{
	workload_pairs(name, pat, systems, nsystems, latencies, -1);
}

static void
wl_seq_hot(void)
{
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_KERNEL_ANON,
	    SYS_PAGERD, SYS_PAGERD_HUGE, SYS_PAGERD_COPY, SYS_NAIVE };

	workload("seq-hot", SEQUENTIAL, s, 6, 0);
}

static void
wl_random(void)
{
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_PAGERD,
	    SYS_PAGERD_HUGE, SYS_PAGERD_COPY, SYS_NAIVE };

	workload("random", RANDOM, s, 5, 1);
}

static void
wl_zero_fill(void)
{
	static const enum system s[] = { SYS_KERNEL_ANON, SYS_PAGERD,
	    SYS_NAIVE };

	workload("zero-fill", WRITE_ZERO, s, 3, 0);
}

/*
 * seq-cold: the same, the file's page cache dropped before each run; and
 * the disk's own sequential read of the file, the limit of any pager.
 */
static void
wl_seq_cold(void)
{
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_PAGERD,
	    SYS_PAGERD_HUGE, SYS_PAGERD_COPY, SYS_NAIVE, SYS_DISK };

	bench.cold = 1;
	workload_pairs("seq-cold", SEQUENTIAL, s, 6, 0, 5);
	bench.cold = 0;
}

/*
 * wp-write: first writes to pages already read, in a file mapping: the
 * kernel breaks its private copy-on-write; pagerd-cow's pages arrive
 * write-protected and the kernel marks each first write itself
 * (WP_ASYNC, where it has it); pagerd-cow-sync's first writes are faults
 * the daemon resolves, as on a kernel without it.
 */
static void
wl_wp_write(void)
{
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_PAGERD,
	    SYS_PAGERD_COW, SYS_PAGERD_COW_SYNC };

	workload("wp-write", READ_THEN_WRITE, s, 4, 0);
}

static pid_t start_daemon(const char *, const char *, const char *,
    const char *);
static int put(const char *, const char *, const char *);
static void budget_set(size_t);
static void write_file(const char *, size_t);

/*
 * The daemon name, with the configuration text, started once: its
 * configuration file in conf and its socket in sock (each of
 * CONF_PATH_MAX bytes), in the run's directory.
 */
static void
conf_daemon(const char *name, const char *text, char *conf, char *sock,
    pid_t *pid)
{
	char file[64];

	snprintf(file, sizeof file, "%s.conf", name);
	snprintf(conf, CONF_PATH_MAX, "%s/%s", bench.dir, file);
	if (put(bench.dir, file, text) == -1)
		die("%s: %s", conf, strerror(errno));
	snprintf(sock, CONF_PATH_MAX, "%s/%s.sock", bench.dir, name);
	if (*pid == 0)
		*pid = start_daemon(sock, "2", NULL, conf);
}

/*
 * A client of sock that holds the whole file mapped and read, in this
 * process, so that the daemon's shared cache of it stays warm.
 */
static struct pagerd *
warm_holder(const char *sock)
{
	struct pagerd *holder;
	size_t i;
	int fd;
	void *p;

	if (pagerd_connect(sock, &holder) < 0)
		die("connect: %s", pagerd_errmsg());
	if ((fd = open(bench.file, O_RDONLY | O_CLOEXEC)) == -1)
		die("open: %s", strerror(errno));
	if (pagerd_map_file(holder, fd, 0, bench.size, PROT_READ, 0, &p) < 0)
		die("map: %s", pagerd_errmsg());
	close(fd);
	for (i = 0; i < bench.size / PAGE; i++)
		(void)((volatile char *)p)[i * PAGE];
	return holder;
}

/*
 * seq-warm: a client scans the file while another client of the same file
 * still holds it, so pagerd's shared cache is warm. The same program read
 * the same file before, so the default daemon replays that working set
 * ahead of the faults; pagerd-noreplay, replay off, shows the faults.
 */
static void
wl_seq_warm(void)
{
	double us[MAX_SAMPLES], base = 0, m;
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_PAGERD,
	    SYS_PAGERD_NOREPLAY };
	struct pagerd *holder, *holdero;
	struct result r;
	int i, k;

	conf_daemon("pagerd-noreplay", "replay 0\n", bench.confo, bench.socko,
	    &bench.daemono);
	/* The holders live in this process for the whole workload. */
	holder = warm_holder(bench.sock);
	holdero = warm_holder(bench.socko);
	bench.warm = 1;
	for (k = 0; k < 3; k++) {
		for (i = 0; i < bench.repeat; i++) {
			run_children(s[k], SEQUENTIAL, bench.size, 0, 1, 1,
			    &r);
			us[i] = r.seconds * 1e6 / (double)r.touches;
		}
		m = median(us, bench.repeat);
		if (k == 0)
			base = m;
		report("seq-warm", system_names[s[k]], "us-per-page", m, "us",
		    k ? base : 0);
		report("seq-warm", system_names[s[k]], "throughput",
		    (double)PAGE / m / 1e3, "GB/s", 0);
	}
	pagerd_close(holdero);
	pagerd_close(holder);
	bench.warm = 0;
}

/*
 * CPU seconds a process's threads have used, from each one's schedstat
 * (nanoseconds, where /proc/PID/stat counts clock ticks); 0 if gone.
 */
static double
proc_cpu(pid_t pid)
{
	unsigned long long ns, sum = 0;
	char path[300];
	struct dirent *e;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat",
		    (int)pid, e->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return (double)sum / 1e9;
}

/*
 * CPU seconds all the machine's CPUs have been busy, stolen by the
 * hypervisor included (/proc/stat, clock ticks); 0 if unreadable.
 */
static double
machine_busy(void)
{
	unsigned long long v[8];
	FILE *f;
	int n;

	if ((f = fopen("/proc/stat", "re")) == NULL)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return 0;
	/* All but idle (3) and iowait (4). */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
	    (double)sysconf(_SC_CLK_TCK);
}

/*
 * Random faults from nclients processes of nthreads threads each at once:
 * the aggregate rate (every touch over the time from the first start to
 * the last end), the worst p99, and max/min per-thread rate (1.0 is
 * perfectly fair), medians of the repeats. And where the CPUs go: the CPU
 * time per touch of the daemon and of the clients (the kernel's trap,
 * sleep and wake-up are theirs), and the rate the machine's CPUs could at
 * best reach at that cost, which the measured rate is a share of. And the
 * tail: the share of the run after the first client (thread) finished,
 * in which ever fewer are left to keep the CPUs busy (one client and the
 * daemon take turns on two CPUs), so part of the gap to the ceiling; and
 * the share of the ceiling over the stretch before it, while every client
 * touched (all-running-).
 */
static void
load(const char *name, enum system sys, size_t size, int nclients,
    int nthreads, double *base_rate)
{
	static struct result r[MAX_CLIENTS * MAX_THREADS];
	double agg[MAX_SAMPLES], p99[MAX_SAMPLES], fair[MAX_SAMPLES];
	double dcpu[MAX_SAMPLES], ccpu[MAX_SAMPLES], ceil[MAX_SAMPLES];
	double fceil[MAX_SAMPLES], tail[MAX_SAMPLES], busy, ours, wall;
	double aceil[MAX_SAMPLES], afceil[MAX_SAMPLES], all;
	double mn, mx, rate, m, t0, t1, first_end, touches, d0, free_cpus;
	pid_t daemon = sys == SYS_PAGERD ? bench.daemon : sys ==
	    SYS_PAGERD_1W ? bench.daemon1 : 0;
	struct run_marks marks = { .daemon = daemon };
	int i, j, n = nclients * nthreads;

	for (i = 0; i < bench.repeat; i++) {
		d0 = daemon > 0 ? proc_cpu(daemon) : 0;
		busy = machine_busy();
		ours = usage_cpu(RUSAGE_SELF) + usage_cpu(RUSAGE_CHILDREN);
		wall = now();
		run_children_marked(sys, RANDOM, size, 1, nclients, nthreads,
		    r, &marks);
		wall = now() - wall;
		/*
		 * The CPUs others left free in the run: the machine's busy
		 * time less the daemon's, the clients' and this program's.
		 */
		ours = usage_cpu(RUSAGE_SELF) + usage_cpu(RUSAGE_CHILDREN) -
		    ours + (daemon > 0 ? proc_cpu(daemon) - d0 : 0);
		/* The daemon's CPU per touch: over the touches alone. */
		dcpu[i] = marks.daemon_cpu;
		free_cpus = (double)sysconf(_SC_NPROCESSORS_ONLN) -
		    (machine_busy() - busy - ours) / wall;
		if (free_cpus < 0.1)
			free_cpus = 0.1;
		ccpu[i] = 0;
		mn = t0 = first_end = 1e300, mx = t1 = touches = 0;
		all = p99[i] = 0;
		for (j = 0; j < n; j++) {
			rate = (double)r[j].touches / r[j].seconds;
			touches += (double)r[j].touches;
			t0 = r[j].start < t0 ? r[j].start : t0;
			t1 = r[j].start + r[j].seconds > t1 ? r[j].start +
			    r[j].seconds : t1;
			first_end = r[j].start + r[j].seconds < first_end ?
			    r[j].start + r[j].seconds : first_end;
			mn = rate < mn ? rate : mn;
			mx = rate > mx ? rate : mx;
			p99[i] = r[j].p99_us > p99[i] ? r[j].p99_us : p99[i];
			ccpu[i] += r[j].cpu;
			all += r[j].cpu_all;
		}
		fair[i] = mx / mn;
		agg[i] = touches / (t1 - t0);
		tail[i] = (t1 - first_end) / (t1 - t0);
		dcpu[i] = dcpu[i] * 1e6 / touches;
		ccpu[i] = ccpu[i] * 1e6 / touches;
		ceil[i] = (double)sysconf(_SC_NPROCESSORS_ONLN) * 1e6 /
		    (dcpu[i] + ccpu[i]);
		ceil[i] = agg[i] / ceil[i];
		fceil[i] = free_cpus > (double)sysconf(_SC_NPROCESSORS_ONLN) ?
		    ceil[i] : ceil[i] * (double)sysconf(_SC_NPROCESSORS_ONLN) /
		    free_cpus;
		/*
		 * The same while every client touched, to the first finish:
		 * the share of the CPUs the daemon and the clients used then
		 * (the rate over the ceiling is that share; the touches are
		 * not alike over a run, as later ones find more pages
		 * mapped). A thread sees the finish within 16 touches.
		 */
		aceil[i] = (marks.daemon_cpu_all + all) /
		    (first_end - t0) / (double)sysconf(_SC_NPROCESSORS_ONLN);
		afceil[i] = aceil[i] * fceil[i] / ceil[i];
	}
	m = median(agg, bench.repeat);
	report(name, system_names[sys], "faults-per-s", m, "1/s",
	    base_rate != NULL ? *base_rate : 0);
	if (base_rate != NULL && *base_rate == 0)
		*base_rate = m;
	report(name, system_names[sys], "p99", median(p99, bench.repeat),
	    "us", 0);
	report(name, system_names[sys], "max-min-ratio",
	    median(fair, bench.repeat), "x", 0);
	if (daemon > 0)
		report(name, system_names[sys], "cpu-us-daemon",
		    median(dcpu, bench.repeat), "us", 0);
	report(name, system_names[sys], "cpu-us-clients",
	    median(ccpu, bench.repeat), "us", 0);
	report(name, system_names[sys], "of-cpu-ceiling",
	    median(ceil, bench.repeat), "x", 0);
	report(name, system_names[sys], "of-free-cpu-ceiling",
	    median(fceil, bench.repeat), "x", 0);
	report(name, system_names[sys], "tail", median(tail, bench.repeat),
	    "x", 0);
	report(name, system_names[sys], "all-running-of-cpu-ceiling",
	    median(aceil, bench.repeat), "x", 0);
	report(name, system_names[sys], "all-running-of-free-cpu-ceiling",
	    median(afceil, bench.repeat), "x", 0);
}

/*
 * A series of load() runs at each count of clients or of threads; the
 * ratios are to systems[base] (the systems before it get none).
 */
struct load_kind {
	const char *name;
	int counts[4];
	int by_threads;		/* else by client processes */
	enum system systems[3];
	int base;
};

/*
 * load-threads: 1, 2, 4, 8 threads of one client share one mapping, each
 * faulting its slice in random order. One client is one userfaultfd, so
 * this is the daemon's fault path at its busiest for a single descriptor.
 */
static const struct load_kind load_threads = { "load-threads",
    { 1, 2, 4, 8 }, 1, { SYS_KERNEL_FILE, SYS_PAGERD, SYS_NAIVE }, 0 };

/*
 * load-clients: 1, 4, 16, 64 client processes at once, random faults over
 * 64 MiB each, served by the daemon's default workers and by a daemon of
 * one worker: the gain from the second worker.
 */
static const struct load_kind load_clients = { "load-clients",
    { 1, 4, 16, 64 }, 0, { SYS_KERNEL_FILE, SYS_PAGERD_1W, SYS_PAGERD }, 1 };

static void
load_series(const struct load_kind *kind)
{
	size_t size = bench.size < (64u << 20) ? bench.size : 64u << 20;
	char name[32];
	double rate;
	int c, k, n;

	for (c = 0; c < 4; c++) {
		n = kind->counts[c];
		snprintf(name, sizeof name, "%s-%d", kind->name, n);
		series.workload = kind->name;
		series.key = kind->by_threads ? "threads" : "clients";
		series.count = n;
		for (k = 0, rate = 0; k < 3; k++)
			load(name, kind->systems[k], size, kind->by_threads ?
			    1 : n, kind->by_threads ? n : 1, k < kind->base ?
			    NULL : &rate);
		series.key = NULL;
	}
}

static void
wl_load_threads(void)
{
	load_series(&load_threads);
}

static void
wl_load_clients(void)
{
	load_series(&load_clients);
}

/* ---- snapshot: a point-in-time image under a writer ---- */

struct writer {
	volatile char *p;
	size_t npages;
	atomic_ulong writes;
	atomic_int stop;
	pthread_t thread;
};

/* Random 8-byte writes anywhere in the region, as fast as it can. */
static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t x = 0x2545F4914F6CDD1Dull;
	unsigned long n = 0;

	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		*(volatile uint64_t *)(w->p + (x % w->npages) * PAGE + 64) = x;
		if ((++n & 255) == 0)
			atomic_store_explicit(&w->writes, n,
			    memory_order_relaxed);
	}
	return NULL;
}

/*
 * In a child: fill a region, start the writer, measure its rate, take a
 * snapshot of the region to a file and measure the rate while it is
 * written. kernel-fork is the classic way (fork, the child writes the
 * memory out while the kernel copies on write); pagerd is
 * pagerd_snapshot_start() and pagerd_snapshot_wait().
 */
static void
snapshot_child(enum system sys, struct result *res)
{
	struct pagerd *pd = NULL;
	struct writer w = { .npages = bench.size / PAGE };
	char path[400];
	unsigned long w0, w1;
	double t0, t1;
	uint32_t id;
	size_t off;
	ssize_t n;
	pid_t pid;
	int fd, status;

	if (sys == SYS_PAGERD) {
		if (pagerd_connect(bench.sock, &pd) < 0 || pagerd_map_zero(pd,
		    bench.size, PROT_READ | PROT_WRITE, PAGERD_MAP_COW,
		    (void **)&w.p) < 0)
			die("snapshot: %s", pagerd_errmsg());
	} else
		w.p = map_system(sys, WRITE_ZERO, bench.size, &pd);
	for (off = 0; off < bench.size; off += PAGE)
		w.p[off] = 1;
	snprintf(path, sizeof path, "%s/snapshot", bench.dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1)
		die("%s: %s", path, strerror(errno));
	if (pthread_create(&w.thread, NULL, writer_main, &w) != 0)
		die("pthread_create");
	usleep(100000);
	w0 = atomic_load(&w.writes), t0 = now();
	usleep(200000);
	w1 = atomic_load(&w.writes), t1 = now();
	memset(res, 0, sizeof *res);
	res->rate_before = (double)(w1 - w0) / (t1 - t0);

	w0 = w1, t0 = t1;
	if (sys == SYS_PAGERD) {
		if (pagerd_snapshot_start(pd, (void *)w.p, fd, &id) < 0 ||
		    pagerd_snapshot_wait(pd, id) < 0)
			die("snapshot: %s", pagerd_errmsg());
	} else {
		if ((pid = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			for (off = 0; off < bench.size; off += (size_t)n)
				if ((n = write(fd, (const char *)w.p + off,
				    bench.size - off)) <= 0)
					_exit(1);
			_exit(fdatasync(fd) == 0 ? 0 : 1);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			die("snapshot: the forked writer failed");
	}
	w1 = atomic_load(&w.writes), t1 = now();
	atomic_store(&w.stop, 1);
	pthread_join(w.thread, NULL);
	res->seconds = t1 - t0;
	/* No write at all during a short snapshot on a busy machine: count
	   one, so that the slowdown is a lower bound rather than infinite. */
	res->rate_during = (double)(w1 > w0 ? w1 - w0 : 1) / (t1 - t0);
	res->ok = 1;
	close(fd);
	unlink(path);
	pagerd_close(pd);
}

static void
wl_snapshot(void)
{
	static const enum system s[] = { SYS_KERNEL_FORK, SYS_PAGERD };
	double secs[MAX_SAMPLES], slow[MAX_SAMPLES], base = 0, m;
	struct result r;
	int pfd[2], i, k, status;
	pid_t pid;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < bench.repeat; i++) {
			if (pipe(pfd) == -1)
				die("pipe: %s", strerror(errno));
			fflush(NULL);
			if ((pid = fork()) == 0) {
				snapshot_child(s[k], &r);
				_exit(write(pfd[1], &r, sizeof r) == sizeof r ?
				    0 : 1);
			}
			close(pfd[1]);
			if (read(pfd[0], &r, sizeof r) != sizeof r)
				r.ok = 0;
			close(pfd[0]);
			waitpid(pid, &status, 0);
			if (!r.ok || !WIFEXITED(status) || WEXITSTATUS(status))
				die("snapshot: %s run failed",
				    system_names[s[k]]);
			secs[i] = r.seconds;
			slow[i] = r.rate_before / r.rate_during;
		}
		m = median(secs, bench.repeat);
		if (k == 0)
			base = m;
		report("snapshot", system_names[s[k]], "seconds", m, "s",
		    k ? base : 0);
		report("snapshot", system_names[s[k]], "throughput",
		    (double)bench.size / m / 1e9, "GB/s", 0);
		report("snapshot", system_names[s[k]], "writer-slowdown",
		    median(slow, bench.repeat), "x", 0);
	}
}

/* ---- git: a real program through the shim ---- */

static void __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	fflush(NULL);
	status = system(cmd);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("'%s' failed (status 0x%x)", cmd, status);
}

/*
 * A repository of 120 commits, each adding 1 MiB of incompressible data
 * and changing a text file, packed: a pack of over 120 MiB.
 */
static void
make_repo(const char *repo)
{
	static uint64_t buf[(1u << 20) / 8];
	uint64_t x = 0x9E3779B97F4A7C15ull;
	char path[600];
	FILE *f;
	size_t j;
	int i;

	sh("git init -q '%s'", repo);
	for (i = 0; i < 120; i++) {
		for (j = 0; j < sizeof buf / 8; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[j] = x;
		}
		snprintf(path, sizeof path, "%s/blob-%03d", repo, i);
		if ((f = fopen(path, "w")) == NULL ||
		    fwrite(buf, sizeof buf, 1, f) != 1 || fclose(f) != 0)
			die("%s: %s", path, strerror(errno));
		snprintf(path, sizeof path, "%s/changes.txt", repo);
		if ((f = fopen(path, "a")) == NULL)
			die("%s: %s", path, strerror(errno));
		fprintf(f, "change %d: blob-%03d\n", i, i);
		fclose(f);
		sh("cd '%s' && git add -A && git -c user.name=pagerd-bench "
		    "-c user.email=bench@pagerd.invalid commit -qm 'change %d'",
		    repo, i);
	}
	sh("git -C '%s' gc -q", repo);
}

/* Wall time of a git command, plain or through the shim. */
static double
time_git(const char *repo, const char *cmd, int shimmed, const char *log)
{
	double t0;
	int status;
	pid_t pid;

	t0 = now();
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (shimmed) {
			setenv("LD_PRELOAD", bench.shim, 1);
			setenv("PAGERD_SOCKET", bench.sock, 1);
			setenv("PAGERD_FILES", "*.pack:*.idx", 1);
			setenv("PAGERD_LOG", log, 1);
		}
		if (chdir(repo) == -1 || freopen("/dev/null", "w", stdout) ==
		    NULL)
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		die("'%s'%s failed (status 0x%x)", cmd, shimmed ?
		    " under the shim" : "", status);
	return now() - t0;
}

/*
 * Seconds anon-touch took to write each page of mib MiB once (asking for
 * huge pages with thp), plain or under the shim with PAGERD_ANON; through
 * the shim, its log must say it routed the mapping.
 */
static double
anon_touch(size_t mib, int thp, int shimmed)
{
	char arg[32], out[64], log[PATH_MAX];
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	snprintf(arg, sizeof arg, "%zu", mib);
	snprintf(log, sizeof log, "%s/shim-anon.log", bench.dir);
	unlink(log);
	if (pipe(pfd) == -1)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (shimmed) {
			setenv("LD_PRELOAD", bench.shim, 1);
			setenv("PAGERD_SOCKET", bench.sock, 1);
			setenv("PAGERD_ANON", "1M", 1);
			setenv("PAGERD_LOG", log, 1);
		}
		if (dup2(pfd[1], 1) == -1)
			_exit(126);
		execl(bench.anon_touch, "anon-touch", arg, thp ? "thp" : NULL,
		    (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	n = read(pfd[0], out, sizeof out - 1);
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || n <= 0)
		die("%s%s failed (status 0x%x)", bench.anon_touch, shimmed ?
		    " under the shim" : "", status);
	out[n] = '\0';
	if (shimmed && unlink(log) == -1)
		die("shim-anon: the shim routed no mapping (no %s)", log);
	return atof(out);
}

/*
 * shim-anon: an unmodified program's first touch of anonymous memory,
 * plain and through the shim (PAGERD_ANON), with and without
 * MADV_HUGEPAGE. The host's memory noise moves the kernel's own time
 * several-fold between runs, so the two systems run interleaved, after a
 * warm-up of each, and each pair gives a ratio: the median of those is
 * what the shim costs, beside each system's median.
 */
static void
wl_shim_anon(void)
{
	double k[MAX_SAMPLES], sh[MAX_SAMPLES], ratio[MAX_SAMPLES], mk, ms;
	size_t mib = bench.size * 4 >> 20, pages = mib << 8;
	int thp, i, n = bench.repeat * 2 + 1;

	if (n > MAX_SAMPLES)
		n = MAX_SAMPLES;
	for (thp = 0; thp < 2; thp++) {
		(void)anon_touch(mib, thp, 0);
		(void)anon_touch(mib, thp, 1);
		for (i = 0; i < n; i++) {
			k[i] = anon_touch(mib, thp, 0);
			sh[i] = anon_touch(mib, thp, 1);
			ratio[i] = sh[i] / k[i];
		}
		mk = median(k, n) * 1e6 / (double)pages;
		ms = median(sh, n) * 1e6 / (double)pages;
		report("shim-anon", thp ? "kernel-anon-thp" : "kernel-anon",
		    "us-per-page", mk, "us", 0);
		report("shim-anon", thp ? "pagerd-shim-thp" : "pagerd-shim",
		    "us-per-page", ms, "us", mk);
		report("shim-anon", thp ? "pagerd-shim-thp" : "pagerd-shim",
		    "pair-ratio", median(ratio, n), "x", 0);
	}
}

static void
wl_git(void)
{
	static const char *const cmds[][2] = {
		{ "log-stat", "git log --stat" },
		{ "fsck", "git fsck --no-progress" },
	};
	static char shim[PATH_MAX];
	char repo[400], log[400], line[512];
	double t[MAX_SAMPLES], base = 0, m;
	int c, k, i, routed = 0;
	FILE *f;

	if (system("git --version >/dev/null 2>&1") != 0) {
		printf("  git            (skipped: git is not installed)\n");
		return;
	}
	/* git runs in the repository: the shim's path must not be relative. */
	if (realpath(bench.shim, shim) == NULL)
		die("the shim %s: %s (--shim PATH)", bench.shim,
		    strerror(errno));
	bench.shim = shim;
	snprintf(repo, sizeof repo, "%s/repo", bench.dir);
	snprintf(log, sizeof log, "%s/shim.log", bench.dir);
	make_repo(repo);
	for (c = 0; c < 2; c++)
		for (k = 0; k < 2; k++) {
			time_git(repo, cmds[c][1], k, log);	/* warm up */
			for (i = 0; i < bench.repeat; i++)
				t[i] = time_git(repo, cmds[c][1], k, log);
			m = median(t, bench.repeat);
			if (k == 0)
				base = m;
			report("git", k ? "pagerd" : "kernel-file", cmds[c][0],
			    m, "s", k ? base : 0);
		}
	/* No fake figures: the shim must have routed the pack. */
	if ((f = fopen(log, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			routed += strstr(line, ".pack") != NULL;
		fclose(f);
	}
	if (routed == 0)
		die("the shim routed no pack file to pagerd (see %s)", log);
	unlink(log);
	sh("rm -rf '%s'", repo);
}

/*
 * big-*: a file four times the budget, paged by pagerd within it and by
 * the kernel's mmap in a memory cgroup of it (kernel-cgroup, the
 * baseline; kernel-file, unbounded, where no cgroup can be made). Time
 * per page (throughput for a scan, faults/s for random reads) and the hit
 * ratio: 1 - the file reads the touches took / the touches. pagerd-budget
 * must live through each run. A run stops after 30 s ("completed" says
 * which share of its pages it touched): the kernel in a cgroup a quarter
 * of the file's size may thrash for many minutes.
 */
static void
big_workload(const char *name, enum pattern pat, size_t size)
{
	const enum system sys[2] = { bench.cgroup[0] != '\0' ?
	    SYS_KERNEL_CGROUP : SYS_KERNEL_FILE, SYS_PAGERD_BUDGET };
	double us[MAX_SAMPLES], hit[MAX_SAMPLES], base_us = 0, base_hit = 0;
	double m, h, done[MAX_SAMPLES];
	struct result r;
	int s, i;

	bench.run_seconds = 30;
	for (s = 0; s < 2; s++) {
		run_children(sys[s], pat, size, 0, 1, 1, &r);
		for (i = 0; i < bench.repeat; i++) {
			run_children(sys[s], pat, size, 0, 1, 1, &r);
			us[i] = r.seconds * 1e6 / (double)r.touches;
			hit[i] = 1.0 - (double)r.misses / (double)r.touches;
			done[i] = (double)r.touches / (double)(size / PAGE);
		}
		if (waitpid(bench.daemonb, NULL, WNOHANG) != 0)
			die("pagerd-budget died in %s (see %s.log)", name,
			    bench.sockb);
		m = median(us, bench.repeat);
		h = median(hit, bench.repeat);
		if (s == 0) {
			base_us = m;
			base_hit = h;
		}
		report(name, system_names[sys[s]], "us-per-page", m, "us",
		    s ? base_us : 0);
		if (pat == SEQUENTIAL)
			report(name, system_names[sys[s]], "throughput",
			    (double)PAGE / m / 1e3, "GB/s", 0);
		else
			report(name, system_names[sys[s]], "faults-per-s",
			    1e6 / m, "1/s", s ? 1e6 / base_us : 0);
		report(name, system_names[sys[s]], "hit-ratio", h, "",
		    s && base_hit > 0 ? base_hit : 0);
		/* Below 1: stopped after bench.run_seconds, thrashing. */
		report(name, system_names[sys[s]], "completed",
		    median(done, bench.repeat), "", 0);
	}
	bench.run_seconds = 0;
}

/*
 * big-seq: a scan of a file of BIG_SEQ_SCALE x --size, so that a timed
 * scan lasts over a second (pagerd-budget pages about 1 us a page): of
 * --size, 0.1-0.2 s, and the ratio swung 0.6-3.4x from run to run. Its
 * own file, budget and cgroup limit, then --size's again.
 */
static void
wl_big_seq(void)
{
	char data[sizeof bench.file];
	size_t size = bench.size * BIG_SEQ_SCALE;

	memcpy(data, bench.file, sizeof data);
	snprintf(bench.file, sizeof bench.file, "%s/big-seq-data", bench.dir);
	write_file(bench.file, size);
	budget_set(size);
	big_workload("big-seq", SEQUENTIAL, size);
	unlink(bench.file);
	memcpy(bench.file, data, sizeof data);
	budget_set(bench.size);
}

/* Random reads of --size: a run lasts seconds (a fault is ~100 us). */
static void
wl_big_random(void)
{
	big_workload("big-random-uniform", UNIFORM, bench.size);
	big_workload("big-random-zipf", ZIPF, bench.size);
}

/* ---- NBD stores: pagerd beside libnbd on the same export ---- */

#define NBD_CHUNK (2u << 20)	/* libnbd's sequential reads */
#define NBD_INFLIGHT 8
#define NBD_SAMPLES 4096	/* libnbd's 4 KiB round trips */

/*
 * nbdkit serving the file on a unix socket, and a daemon whose store
 * "bench" it is (caches not kept after their last client: each run reads
 * the wire; readahead 1: a random fault reads its page alone). Returns 0
 * where nbdkit is missing, saying so.
 */
static int
nbd_setup(void)
{
	char text[600];
	int i;

	if (bench.nbdkit > 0)
		return 1;
	if (system("nbdkit --version >/dev/null 2>&1") != 0) {
		printf("  nbd-*: skipped: nbdkit is not installed\n");
		return 0;
	}
	snprintf(bench.nbd_sock, sizeof bench.nbd_sock, "%s/nbd.sock",
	    bench.dir);
	snprintf(bench.nbd_uri, sizeof bench.nbd_uri, "nbd+unix:///?socket=%s",
	    bench.nbd_sock);
	fflush(NULL);
	if ((bench.nbdkit = fork()) == 0) {
		execlp("nbdkit", "nbdkit", "-f", "-U", bench.nbd_sock, "file",
		    bench.file, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && access(bench.nbd_sock, F_OK) != 0; i++)
		usleep(10000);
	if (i == 500)
		die("nbdkit did not listen on %s", bench.nbd_sock);
	snprintf(bench.confn, sizeof bench.confn, "pagerd-nbd.conf");
	snprintf(text, sizeof text, "store bench %s\ncache-linger 0\n"
	    "readahead 1\npoll-us 0\n", bench.nbd_uri);
	if (put(bench.dir, bench.confn, text) == -1)
		die("%s/%s: %s", bench.dir, bench.confn, strerror(errno));
	snprintf(bench.confn, sizeof bench.confn, "%s/pagerd-nbd.conf",
	    bench.dir);
	snprintf(bench.sockn, sizeof bench.sockn, "%s/pagerd-nbd.sock",
	    bench.dir);
	/* Huge pages where the benchmark has its tmpfs (pagerd-huge's). */
	bench.daemonn = start_daemon(bench.sockn, "2", bench.cache[0] != '\0' ?
	    bench.cache : NULL, bench.confn);
	return 1;
}

static struct nbd_handle *
nbd_open(void)
{
	struct nbd_handle *h;

	if ((h = nbd_create()) == NULL || nbd_connect_uri(h, bench.nbd_uri) ==
	    -1)
		die("libnbd: %s", nbd_get_error());
	return h;
}

/* libnbd's completion of a sequential read: its buffer is free again. */
static int
nbd_seq_done(void *arg, int *error)
{
	int *free_slots = arg;

	if (*error != 0)
		die("libnbd read: %s", strerror(*error));
	(*free_slots)++;
	return 1;
}

/*
 * The wire's own limit: the export read through by libnbd, NBD_INFLIGHT
 * reads of NBD_CHUNK in flight, into buffers that stay hot. Seconds.
 */
static double
nbd_seq_libnbd(void)
{
	struct nbd_handle *h = nbd_open();
	uint64_t off = 0;
	int free_slots = NBD_INFLIGHT, slot = 0;
	double t0, t;
	char *buf;

	if ((buf = malloc((size_t)NBD_INFLIGHT * NBD_CHUNK)) == NULL)
		die("malloc");
	memset(buf, 0, (size_t)NBD_INFLIGHT * NBD_CHUNK);
	t0 = now();
	while (off < bench.size || free_slots < NBD_INFLIGHT) {
		/* Completions free slots in any order; a slot is a chunk. */
		while (off < bench.size && free_slots > 0) {
			if (nbd_aio_pread(h, buf + (size_t)slot * NBD_CHUNK,
			    bench.size - off < NBD_CHUNK ? bench.size - off :
			    NBD_CHUNK, off, (nbd_completion_callback){
			    .callback = nbd_seq_done, .user_data = &free_slots },
			    0) == -1)
				die("libnbd: %s", nbd_get_error());
			free_slots--;
			slot = (slot + 1) % NBD_INFLIGHT;
			off += NBD_CHUNK;
		}
		if (nbd_poll(h, -1) == -1)
			die("libnbd: %s", nbd_get_error());
	}
	t = now() - t0;
	nbd_shutdown(h, 0);
	nbd_close(h);
	free(buf);
	return t;
}

/* One libnbd 4 KiB read round trip at random pages: the p50, us. */
static double
nbd_random_libnbd(void)
{
	struct nbd_handle *h = nbd_open();
	size_t npages = bench.size / PAGE, n = npages < NBD_SAMPLES ? npages :
	    NBD_SAMPLES, i;
	double lat[NBD_SAMPLES], t;
	uint64_t x = 88172645463325252ull;
	char buf[PAGE];

	for (i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		t = now();
		if (nbd_pread(h, buf, PAGE, (x % npages) * PAGE, 0) == -1)
			die("libnbd: %s", nbd_get_error());
		lat[i] = now() - t;
	}
	nbd_shutdown(h, 0);
	nbd_close(h);
	qsort(lat, n, sizeof lat[0], cmp_double);
	return lat[n / 2] * 1e6;
}

/* nbd-seq: throughput of a sequential scan against libnbd's pipelined. */
static void
wl_nbd_seq(void)
{
	double wire[MAX_SAMPLES], paged[MAX_SAMPLES], base;
	struct result r;
	int i;

	if (!nbd_setup())
		return;
	(void)nbd_seq_libnbd();
	for (i = 0; i < bench.repeat; i++)
		wire[i] = (double)bench.size / nbd_seq_libnbd() / 1e9;
	base = median(wire, bench.repeat);
	report("nbd-seq", "libnbd", "throughput", base, "GB/s", 0);
	run_children(SYS_PAGERD_NBD, SEQUENTIAL, bench.size, 0, 1, 1, &r);
	for (i = 0; i < bench.repeat; i++) {
		run_children(SYS_PAGERD_NBD, SEQUENTIAL, bench.size, 0, 1, 1,
		    &r);
		paged[i] = (double)r.touches * PAGE / r.seconds / 1e9;
	}
	report("nbd-seq", "pagerd", "throughput", median(paged, bench.repeat),
	    "GB/s", base);
}

/* nbd-random: p50 of a random 4 KiB fault against one libnbd read. */
static void
wl_nbd_random(void)
{
	double wire[MAX_SAMPLES], paged[MAX_SAMPLES], base;
	struct result r;
	int i;

	if (!nbd_setup())
		return;
	(void)nbd_random_libnbd();
	for (i = 0; i < bench.repeat; i++)
		wire[i] = nbd_random_libnbd();
	base = median(wire, bench.repeat);
	report("nbd-random", "libnbd", "p50", base, "us", 0);
	run_children(SYS_PAGERD_NBD, RANDOM, bench.size, 1, 1, 1, &r);
	for (i = 0; i < bench.repeat; i++) {
		run_children(SYS_PAGERD_NBD, RANDOM, bench.size, 1, 1, 1, &r);
		paged[i] = r.p50_us;
	}
	report("nbd-random", "pagerd", "p50", median(paged, bench.repeat), "us",
	    base);
}

static void wl_replay(void);

static const struct {
	const char *name;
	void (*run)(void);
	const char *what;
} workloads[] = {
	{ "seq-hot", wl_seq_hot, "sequential scan of a page-cache-hot file" },
	{ "seq-warm", wl_seq_warm, "the same while another client holds the "
	    "file (pagerd's cache warm)" },
	{ "seq-cold", wl_seq_cold, "sequential scan, the file's page cache "
	    "dropped first: I/O bound" },
	{ "random", wl_random, "every page once in random order: faults/s, "
	    "p50/p99 per fault" },
	{ "zero-fill", wl_zero_fill, "first-touch writes of zero-fill "
	    "memory" },
	{ "load-threads", wl_load_threads, "1, 2, 4, 8 threads of one "
	    "client, random faults: aggregate, p99, max/min per thread" },
	{ "load-clients", wl_load_clients, "1, 4, 16, 64 clients at once, "
	    "random faults over 64 MiB each, 1 and 2 workers" },
	{ "wp-write", wl_wp_write, "first writes to pages already read: "
	    "copy-on-write, dirty tracking" },
	{ "snapshot", wl_snapshot, "a live snapshot under a random writer: "
	    "snapshot time, writer slowdown" },
	{ "git", wl_git, "git log --stat and git fsck over a 120 MiB pack, "
	    "through the shim" },
	{ "shim-anon", wl_shim_anon, "an unmodified program's first "
	    "writes to 4x --size of anonymous memory, plain and through the "
	    "shim, with and without MADV_HUGEPAGE" },
	{ "big-seq", wl_big_seq, "sequential scan of a file 4x the page "
	    "caches' budget, beside the kernel in a cgroup of the budget" },
	{ "big-random", wl_big_random, "uniform and Zipf (0.99) random reads "
	    "of it: faults/s and hit ratio" },
	{ "nbd-seq", wl_nbd_seq, "sequential scan of an NBD store (nbdkit) "
	    "beside libnbd's pipelined reads" },
	{ "nbd-random", wl_nbd_random, "random 4 KiB faults on an NBD store: "
	    "p50 beside one libnbd read" },
	{ "replay", wl_replay, "a quarter of a file 4x --size read cold in a "
	    "fixed random order, twice: working-set replay" },
};
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

/* ---- the daemon and the file ---- */

/*
 * A pagerd on sock with the given workers and, unless NULL, its caches in
 * cache_dir and its configuration file conf; its log beside the socket.
 */
static pid_t
start_daemon(const char *sock, const char *workers, const char *cache_dir,
    const char *conf)
{
	const char *argv[14];
	char log[400], state[400];
	pid_t pid;
	int i, fd, n = 0;

	argv[n++] = bench.pagerd;
	argv[n++] = "-d";
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n++] = "--workers";
	argv[n++] = workers;
	/* Working-set recordings of the run only, beside the socket. */
	snprintf(state, sizeof state, "%s.state", sock);
	argv[n++] = "--state-dir";
	argv[n++] = state;
	if (cache_dir != NULL) {
		argv[n++] = "--cache-dir";
		argv[n++] = cache_dir;
	}
	if (conf != NULL) {
		argv[n++] = "-f";
		argv[n++] = conf;
	}
	argv[n] = NULL;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		snprintf(log, sizeof log, "%s.log", sock);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) != -1)
			dup2(fd, STDERR_FILENO);
		execv(bench.pagerd, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (access(sock, F_OK) == 0)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			die("%s did not start (see %s.log)", bench.pagerd, sock);
		usleep(10000);
	}
	die("%s did not listen on %s", bench.pagerd, sock);
}

static void
stop_daemon(pid_t *pid, const char *sock)
{
	char log[400];
	int status;

	kill(*pid, SIGTERM);
	waitpid(*pid, &status, 0);
	*pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("pagerd did not exit cleanly (status 0x%x; see %s.log)",
		    status, sock);
	snprintf(log, sizeof log, "%s.log", sock);
	unlink(log);
	sh("rm -rf '%s.state'", sock);
}

/* Write text to dir/name; 0, or -1 with errno. */
static int
put(const char *dir, const char *name, const char *text)
{
	char path[400];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * The budget for a file of size bytes, a quarter of it: pagerd-budget's
 * daemon (re)started with it, and the cgroup's limit set to it.
 */
static void
budget_set(size_t size)
{
	char text[64];

	if (bench.daemonb > 0)
		stop_daemon(&bench.daemonb, bench.sockb);
	bench.budget = (size / 4) & ~(size_t)((1u << 20) - 1);
	if (bench.budget < (1u << 20))
		bench.budget = 1u << 20;
	snprintf(bench.conf, sizeof bench.conf, "%s/pagerd-budget.conf",
	    bench.dir);
	snprintf(text, sizeof text, "cache-max-mib %zu\n", bench.budget >> 20);
	if (put(bench.dir, "pagerd-budget.conf", text) == -1)
		die("%s: %s", bench.conf, strerror(errno));
	snprintf(bench.sockb, sizeof bench.sockb, "%s/pagerd-budget.sock",
	    bench.dir);
	bench.daemonb = start_daemon(bench.sockb, "2", NULL, bench.conf);
	snprintf(text, sizeof text, "%zu\n", bench.budget + (4u << 20));
	if (bench.cgroup[0] != '\0' && put(bench.cgroup, strstr(bench.cgroup,
	    "/memory/") != NULL ? "memory.limit_in_bytes" : "memory.max",
	    text) == -1)
		die("%s: its memory limit: %s", bench.cgroup, strerror(errno));
}

/*
 * big-*: the budget, pagerd-budget's daemon, and kernel-cgroup's memory
 * cgroup of the budget (and 4 MiB for the program's own memory): v1,
 * else v2, else none with why.
 */
static void
budget_setup(void)
{
	if (access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) == 0)
		snprintf(bench.cgroup, sizeof bench.cgroup,
		    "/sys/fs/cgroup/memory/pagerd-bench.%d", (int)getpid());
	else if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK) == 0) {
		(void)put("/sys/fs/cgroup", "cgroup.subtree_control",
		    "+memory");
		snprintf(bench.cgroup, sizeof bench.cgroup,
		    "/sys/fs/cgroup/pagerd-bench.%d", (int)getpid());
	} else
		snprintf(bench.cgroup_why, sizeof bench.cgroup_why, "none (no "
		    "writable memory cgroup: not root?), kernel-file unbounded "
		    "instead");
	if (bench.cgroup[0] != '\0' && mkdir(bench.cgroup, 0755) == -1) {
		snprintf(bench.cgroup_why, sizeof bench.cgroup_why, "none "
		    "(mkdir %s: %s), kernel-file unbounded instead",
		    bench.cgroup, strerror(errno));
		bench.cgroup[0] = '\0';
	}
	budget_set(bench.size);
}

/* A file of size random-looking bytes at path, read once: hot. */
static void
write_file(const char *path, size_t size)
{
	uint64_t buf[8192], x = 1;
	size_t done, i;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) == -1)
		die("create %s: %s", path, strerror(errno));
	for (done = 0; done < size; done += sizeof buf) {
		for (i = 0; i < 8192; i++)
			buf[i] = (x += 0x9E3779B97F4A7C15ull);
		if (write(fd, buf, sizeof buf) != sizeof buf)
			die("write %s: %s", path, strerror(errno));
	}
	fsync(fd);
	close(fd);
}

static void
make_file(void)
{
	snprintf(bench.file, sizeof bench.file, "%s/data", bench.dir);
	write_file(bench.file, bench.size);
}

/* The kernel's shmem_enabled setting: page caches use huge pages or not. */
static const char *
shmem_huge(void)
{
	static char line[128];
	char *open, *close;
	FILE *f;

	f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");
	if (f == NULL || fgets(line, sizeof line, f) == NULL ||
	    (open = strchr(line, '[')) == NULL ||
	    (close = strchr(open, ']')) == NULL) {
		if (f != NULL)
			fclose(f);
		return "unknown";
	}
	fclose(f);
	*close = '\0';
	return open + 1;
}

/* Wait (up to 10 s) for a recording in the replay daemon's state. */
static void
replay_wait(void)
{
	char path[400];
	struct dirent *e;
	DIR *d;
	int i;

	snprintf(path, sizeof path, "%s.state/%u", bench.sockr,
	    (unsigned int)geteuid());
	for (i = 0; i < 1000; i++, usleep(10000)) {
		if ((d = opendir(path)) == NULL)
			continue;
		while ((e = readdir(d)) != NULL && strstr(e->d_name, ".rec") ==
		    NULL)
			;
		closedir(d);
		if (e != NULL)
			return;
	}
	die("no working-set recording in %s (see %s.log)", path, bench.sockr);
}

/*
 * replay: a quarter of a file four times --size, in a fixed random order,
 * its page cache dropped before each run, against a daemon whose caches
 * go with their last client: the kernel's mmap; pagerd's first run,
 * recorded (a new change time makes the last round's recording stale);
 * its second run, which replays the first's recording.
 */
static void
wl_replay(void)
{
	double k[MAX_SAMPLES], f[MAX_SAMPLES], s[MAX_SAMPLES], kf, pf, ps;
	char data[sizeof bench.file];
	size_t size = bench.size * 4;
	struct result r;
	int i, fd;

	conf_daemon("pagerd-replay", "cache-linger 0\n", bench.confr,
	    bench.sockr, &bench.daemonr);
	memcpy(data, bench.file, sizeof data);
	snprintf(bench.file, sizeof bench.file, "%s/replay-data", bench.dir);
	write_file(bench.file, size);
	bench.cold = bench.quarter = bench.warm = 1;
	run_children(SYS_KERNEL_FILE, RANDOM, size, 0, 1, 1, &r);
	for (i = 0; i < bench.repeat; i++) {
		run_children(SYS_KERNEL_FILE, RANDOM, size, 0, 1, 1, &r);
		k[i] = r.seconds * 1e6 / (double)r.touches;
		if ((fd = open(bench.file, O_RDONLY | O_CLOEXEC)) == -1 ||
		    futimens(fd, NULL) == -1 || close(fd) == -1)
			die("touch %s: %s", bench.file, strerror(errno));
		run_children(SYS_PAGERD_REPLAY, RANDOM, size, 0, 1, 1, &r);
		f[i] = r.seconds * 1e6 / (double)r.touches;
		replay_wait();
		run_children(SYS_PAGERD_REPLAY, RANDOM, size, 0, 1, 1, &r);
		s[i] = r.seconds * 1e6 / (double)r.touches;
	}
	bench.cold = bench.quarter = bench.warm = 0;
	unlink(bench.file);
	memcpy(bench.file, data, sizeof data);
	kf = median(k, bench.repeat);
	pf = median(f, bench.repeat);
	ps = median(s, bench.repeat);
	report("replay", "kernel-file", "us-per-page", kf, "us", 0);
	report("replay", "pagerd", "us-per-page", pf, "us", kf);
	report("replay", "pagerd-replay", "us-per-page", ps, "us", kf);
	report("replay", "pagerd-replay", "vs-first-run", pf / ps, "x", 0);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: pagerd-bench [-h] [--list] [--json FILE] "
	    "[--repeat N] [--size MIB]\n"
	    "                    [--pagerd PATH] [--shim PATH] "
	    "[--systems NAME,...] [WORKLOAD ...]\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", required_argument, NULL, 'j' },
		{ "list", no_argument, NULL, 'l' },
		{ "pagerd", required_argument, NULL, 'p' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "shim", required_argument, NULL, 'S' },
		{ "size", required_argument, NULL, 's' },
		{ "systems", required_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	struct utsname u;
	char why[128], *systems;
	ssize_t n;
	size_t i;
	int ch, j, run[NWORKLOADS];

	bench.pagerd = getenv("PAGERD_BIN") ? getenv("PAGERD_BIN") : "./pagerd";
	bench.shim = "./.libs/libpagerd-preload.so";
	/* Built beside this program: tests/bench/anon-touch. */
	if ((n = readlink("/proc/self/exe", bench.anon_touch,
	    sizeof bench.anon_touch - 1)) <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	bench.anon_touch[n] = '\0';
	*strrchr(bench.anon_touch, '/') = '\0';
	if ((size_t)n + sizeof "/tests/bench/anon-touch" >
	    sizeof bench.anon_touch)
		die("the path of pagerd-bench is too long");
	strcat(bench.anon_touch, "/tests/bench/anon-touch");
	while ((ch = getopt_long(argc, argv, "hj:lp:r:S:s:y:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case 'j':
			bench.json = optarg;
			break;
		case 'l':
			for (i = 0; i < NWORKLOADS; i++)
				printf("%-13s %s\n", workloads[i].name,
				    workloads[i].what);
			return 0;
		case 'p':
			bench.pagerd = optarg;
			break;
		case 'S':
			bench.shim = optarg;
			break;
		case 'r':
			bench.repeat = atoi(optarg);
			if (bench.repeat < 1 || bench.repeat > MAX_SAMPLES)
				die("--repeat must be 1 to %d", MAX_SAMPLES);
			break;
		case 's':
			bench.size = (size_t)atol(optarg) << 20;
			if (bench.size < (1u << 20))
				die("--size is in MiB, at least 1");
			break;
		case 'y':
			/* ",a,b," so that a name is found whole. */
			if (asprintf(&systems, ",%s,", optarg) == -1)
				die("asprintf: %s", strerror(errno));
			bench.systems = systems;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	for (i = 0; i < NWORKLOADS; i++)
		run[i] = optind == argc;
	for (j = optind; j < argc; j++) {
		for (i = 0; i < NWORKLOADS; i++)
			if (strcmp(argv[j], workloads[i].name) == 0)
				break;
		if (i == NWORKLOADS) {
			fprintf(stderr, "pagerd-bench: unknown workload %s; "
			    "known:", argv[j]);
			for (i = 0; i < NWORKLOADS; i++)
				fprintf(stderr, " %s", workloads[i].name);
			fprintf(stderr, "\n");
			return 1;
		}
		run[i] = 1;
	}
	if (bench.json != NULL && (json = fopen(bench.json, "w")) == NULL)
		die("%s: %s", bench.json, strerror(errno));

	snprintf(bench.dir, sizeof bench.dir, "/tmp/pagerd-bench.XXXXXX");
	if (mkdtemp(bench.dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	/* pagerd-huge: pagerd(8)'s cache-dir on a tmpfs that has huge pages. */
	snprintf(bench.cache, sizeof bench.cache, "%s/cache", bench.dir);
	snprintf(bench.sockh, sizeof bench.sockh, "%s/pagerd-huge.sock",
	    bench.dir);
	if (mkdir(bench.cache, 0700) == -1)
		die("mkdir %s: %s", bench.cache, strerror(errno));
	if (mount("pagerd-bench", bench.cache, "tmpfs", 0,
	    "huge=within_size,mode=0700") == -1) {
		snprintf(why, sizeof why, "no pagerd-huge (mount of a tmpfs: "
		    "%s)", strerror(errno));
		rmdir(bench.cache);
		bench.cache[0] = '\0';
	} else
		snprintf(why, sizeof why, "pagerd-huge: caches on a tmpfs, "
		    "huge=within_size");

	budget_setup();
	uname(&u);
	printf("pagerd-bench: %ld CPUs, %ld MiB memory, Linux %s, shmem huge "
	    "pages %s, %s; %zu MiB per mapping, median of %d runs\n",
	    sysconf(_SC_NPROCESSORS_ONLN), sysconf(_SC_PHYS_PAGES) / 256,
	    u.release, shmem_huge(), why, bench.size >> 20, bench.repeat);
	printf("  big-*: a file 4x the budget: %zu MiB (big-seq %zu MiB); "
	    "kernel-cgroup: %s\n", bench.size >> 20,
	    bench.size * BIG_SEQ_SCALE >> 20, bench.cgroup[0] != '\0' ?
	    "a memory cgroup of the budget and 4 MiB for the program" :
	    bench.cgroup_why);
	printf("  %-14s %-12s %-14s %10s %-6s  %s\n", "workload", "system",
	    "metric", "median", "unit", "vs first");
	snprintf(bench.sock, sizeof bench.sock, "%s/pagerd.sock", bench.dir);
	snprintf(bench.sock1, sizeof bench.sock1, "%s/pagerd-1w.sock",
	    bench.dir);
	bench.daemon = start_daemon(bench.sock, "2", NULL, NULL);
	bench.daemon1 = start_daemon(bench.sock1, "1", NULL, NULL);
	if (bench.cache[0] != '\0')
		bench.daemonh = start_daemon(bench.sockh, "2", bench.cache,
		    NULL);

	make_file();
	if (json != NULL)
		fprintf(json, "[");
	for (i = 0; i < NWORKLOADS; i++)
		if (run[i])
			workloads[i].run();
	if (json != NULL) {
		fprintf(json, "\n]\n");
		fclose(json);
	}
	stop_daemon(&bench.daemon1, bench.sock1);
	stop_daemon(&bench.daemon, bench.sock);
	stop_daemon(&bench.daemonb, bench.sockb);
	unlink(bench.conf);
	if (bench.daemonn > 0) {
		stop_daemon(&bench.daemonn, bench.sockn);
		unlink(bench.confn);
		kill(bench.nbdkit, SIGTERM);
		waitpid(bench.nbdkit, NULL, 0);
		unlink(bench.nbd_sock);
	}
	if (bench.daemonr > 0) {
		stop_daemon(&bench.daemonr, bench.sockr);
		unlink(bench.confr);
	}
	if (bench.daemono > 0) {
		stop_daemon(&bench.daemono, bench.socko);
		unlink(bench.confo);
	}
	if (bench.cgroup[0] != '\0' && rmdir(bench.cgroup) == -1)
		die("rmdir %s: %s", bench.cgroup, strerror(errno));
	if (bench.daemonh > 0) {
		stop_daemon(&bench.daemonh, bench.sockh);
		if (umount(bench.cache) == -1 || rmdir(bench.cache) == -1)
			die("umount %s: %s", bench.cache, strerror(errno));
	}
	unlink(bench.file);
	if (rmdir(bench.dir) == -1)
		die("rmdir %s: %s", bench.dir, strerror(errno));
	return 0;
}

/*
 * pagerd-bench: pagerd under load, beside the kernel's own paging and a
 * naive userfaultfd handler, all in one run on one machine, so that the
 * ratios mean something where absolute times do not.
 *
 * usage: pagerd-bench [-h] [--list] [--json FILE] [--repeat N]
 *                     [--size MIB] [--pagerd PATH] [WORKLOAD ...]
 *
 * Every measurement runs in a fresh child process (a fresh address space);
 * the daemon is a real pagerd process started for the run. Each figure is
 * the median of --repeat runs.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include <pagerd.h>

#define PAGE 4096u
#define MAX_SAMPLES 64
#define MAX_CLIENTS 16

/* What one child measures and sends back. */
struct result {
	double seconds;		/* of the touching loop */
	double p50_us;		/* per-touch latency, where measured */
	double p99_us;
	unsigned long touches;
	int ok;
};

enum system {
	SYS_KERNEL_FILE,	/* mmap(MAP_PRIVATE) of the file */
	SYS_KERNEL_ANON,	/* anonymous memory */
	SYS_PAGERD,		/* pagerd, shared page cache where it can */
	SYS_PAGERD_COPY,	/* pagerd with PAGERD_NO_CACHE */
	SYS_NAIVE,		/* one thread: pread 4 KiB, one UFFDIO_COPY */
	SYS_PAGERD_COW,		/* pagerd, PAGERD_MAP_COW: write-protected */
};

static const char *const system_names[] = {
	[SYS_KERNEL_FILE] = "kernel-file",
	[SYS_KERNEL_ANON] = "kernel-anon",
	[SYS_PAGERD] = "pagerd",
	[SYS_PAGERD_COPY] = "pagerd-copy",
	[SYS_NAIVE] = "naive",
	[SYS_PAGERD_COW] = "pagerd-cow",
};

enum pattern { SEQUENTIAL, RANDOM, WRITE_ZERO };

static struct {
	const char *pagerd;
	const char *json;
	int repeat;
	size_t size;
	char dir[256];
	char sock[320];
	char file[320];
	pid_t daemon;
} bench = { .repeat = 5, .size = 256u << 20 };

static FILE *json;
static int json_first = 1;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pagerd-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (bench.daemon > 0)
		kill(bench.daemon, SIGTERM);
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

	if (pat != WRITE_ZERO && (fd = open(bench.file, O_RDONLY |
	    O_CLOEXEC)) == -1)
		die("open %s: %s", bench.file, strerror(errno));
	switch (sys) {
	case SYS_KERNEL_FILE:
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		break;
	case SYS_KERNEL_ANON:
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		    MAP_ANONYMOUS, -1, 0);
		break;
	case SYS_NAIVE:
		return naive_map(fd, size);
	case SYS_PAGERD_COPY:
		setenv("PAGERD_NO_CACHE", "1", 1);
		/* FALLTHROUGH */
	case SYS_PAGERD:
	case SYS_PAGERD_COW:
		if (pagerd_connect(bench.sock, &pd) < 0)
			die("connect: %s", pagerd_errmsg());
		flags = sys == SYS_PAGERD_COW ? PAGERD_MAP_COW : 0;
		error = fd == -1 ? pagerd_map_zero(pd, size, PROT_READ |
		    PROT_WRITE, flags, &p) : pagerd_map_file(pd, fd, 0, size,
		    PROT_READ | PROT_WRITE, flags, &p);
		if (error < 0)
			die("map: %s", pagerd_errmsg());
		*pdp = pd;
		break;
	}
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return p;
}

/* Touch every page of a fresh mapping once; time it, and each touch. */
static void
measure(enum system sys, enum pattern pat, size_t size, int latencies,
    struct result *res)
{
	struct pagerd *pd = NULL;
	size_t npages = size / PAGE, i;
	volatile char *p;
	uint32_t *order;
	double *lat = NULL, t0, t1, t;
	unsigned long sum = 0;

	order = touch_order(npages, pat);
	if (latencies && (lat = malloc(npages * sizeof *lat)) == NULL)
		die("malloc");
	p = map_system(sys, pat, size, &pd);
	t0 = now();
	for (i = 0; i < npages; i++) {
		t = latencies ? now() : 0;
		if (pat == WRITE_ZERO)
			p[(size_t)order[i] * PAGE] = 1;
		else
			sum += (unsigned char)p[(size_t)order[i] * PAGE];
		if (latencies)
			lat[i] = now() - t;
	}
	t1 = now();
	memset(res, 0, sizeof *res);
	res->seconds = t1 - t0;
	res->touches = npages + (sum & 0);
	if (latencies) {
		qsort(lat, npages, sizeof *lat, cmp_double);
		res->p50_us = lat[npages / 2] * 1e6;
		res->p99_us = lat[npages * 99 / 100] * 1e6;
	}
	res->ok = 1;
	free(lat);
	free(order);
	/* Exiting unmaps, and hangs up the daemon's session. */
	(void)pd;
}

/* Run measure() in nclients children at once; collect their results. */
static void
run_children(enum system sys, enum pattern pat, size_t size, int latencies,
    int nclients, struct result *res)
{
	int pfd[MAX_CLIENTS][2], i, status;
	pid_t pids[MAX_CLIENTS];

	for (i = 0; i < nclients; i++) {
		if (pipe(pfd[i]) == -1)
			die("pipe: %s", strerror(errno));
		fflush(NULL);
		if ((pids[i] = fork()) == 0) {
			struct result r;

			measure(sys, pat, size, latencies, &r);
			if (write(pfd[i][1], &r, sizeof r) != sizeof r)
				_exit(1);
			_exit(0);
		}
		close(pfd[i][1]);
	}
	for (i = 0; i < nclients; i++) {
		if (read(pfd[i][0], &res[i], sizeof res[i]) != sizeof res[i])
			res[i].ok = 0;
		close(pfd[i][0]);
		waitpid(pids[i], &status, 0);
		if (!res[i].ok || !WIFEXITED(status) || WEXITSTATUS(status))
			die("%s client %d failed", system_names[sys], i);
	}
}

/* ---- reporting ---- */

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

static void
report(const char *workload, const char *system, const char *metric,
    double value, const char *unit, double baseline)
{
	printf("  %-14s %-12s %-14s %10.3f %-6s", workload, system, metric,
	    value, unit);
	if (baseline > 0)
		printf("  %6.2fx", value / baseline);
	printf("\n");
	if (json != NULL) {
		fprintf(json, "%s\n  {\"workload\": \"%s\", \"system\": \"%s\", "
		    "\"metric\": \"%s\", \"median\": %.6g, \"unit\": \"%s\"}",
		    json_first ? "" : ",", workload, system, metric, value, unit);
		json_first = 0;
	}
}

/*
 * A workload over some systems: us-per-page (and latency percentiles)
 * medians, with the first system as the baseline of the ratios.
 */
static void
workload(const char *name, enum pattern pat, const enum system *systems,
    int nsystems, int latencies)
{
	double us[MAX_SAMPLES], p50[MAX_SAMPLES], p99[MAX_SAMPLES];
	double base_us = 0, base_p50 = 0, base_p99 = 0, m;
	struct result r;
	int s, i;

	for (s = 0; s < nsystems; s++) {
		for (i = 0; i < bench.repeat; i++) {
			run_children(systems[s], pat, bench.size, latencies, 1,
			    &r);
			us[i] = r.seconds * 1e6 / (double)r.touches;
			p50[i] = r.p50_us;
			p99[i] = r.p99_us;
		}
		m = median(us, bench.repeat);
		if (s == 0)
			base_us = m;
		report(name, system_names[systems[s]], "us-per-page", m, "us",
		    s ? base_us : 0);
		if (pat != RANDOM)
			report(name, system_names[systems[s]], "throughput",
			    (double)PAGE / m / 1e3, "GB/s", 0);
		if (!latencies)
			continue;
		report(name, system_names[systems[s]], "faults-per-s", 1e6 / m,
		    "1/s", 0);
		m = median(p50, bench.repeat);
		if (s == 0)
			base_p50 = m;
		report(name, system_names[systems[s]], "p50", m, "us",
		    s ? base_p50 : 0);
		m = median(p99, bench.repeat);
		if (s == 0)
			base_p99 = m;
		report(name, system_names[systems[s]], "p99", m, "us",
		    s ? base_p99 : 0);
	}
}

static void
wl_seq_hot(void)
{
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_PAGERD,
	    SYS_PAGERD_COPY, SYS_NAIVE };

	workload("seq-hot", SEQUENTIAL, s, 4, 0);
}

static void
wl_random(void)
{
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_PAGERD,
	    SYS_PAGERD_COPY, SYS_NAIVE };

	workload("random", RANDOM, s, 4, 1);
}

static void
wl_zero_fill(void)
{
	static const enum system s[] = { SYS_KERNEL_ANON, SYS_PAGERD,
	    SYS_NAIVE };

	workload("zero-fill", WRITE_ZERO, s, 3, 0);
}

/*
 * cow-write: first-touch writes of a copy-on-write zero region, whose pages
 * pagerd installs write-protected and whose writes it records as dirty.
 */
static void
wl_cow_write(void)
{
	static const enum system s[] = { SYS_KERNEL_ANON, SYS_PAGERD,
	    SYS_PAGERD_COW };

	workload("cow-write", WRITE_ZERO, s, 3, 0);
}

/*
 * seq-warm: a client scans the file while another client of the same file
 * still holds it, so pagerd's shared cache is warm.
 */
static void
wl_seq_warm(void)
{
	double us[MAX_SAMPLES], base = 0, m;
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_PAGERD };
	struct pagerd *holder;
	struct result r;
	int i, k, fd;
	void *p;

	/* The holder lives in this process for the whole workload. */
	if (pagerd_connect(bench.sock, &holder) < 0)
		die("connect: %s", pagerd_errmsg());
	if ((fd = open(bench.file, O_RDONLY | O_CLOEXEC)) == -1)
		die("open: %s", strerror(errno));
	if (pagerd_map_file(holder, fd, 0, bench.size, PROT_READ, 0, &p) < 0)
		die("map: %s", pagerd_errmsg());
	close(fd);
	for (i = 0; i < (int)(bench.size / PAGE); i++)
		(void)((volatile char *)p)[(size_t)i * PAGE];
	for (k = 0; k < 2; k++) {
		for (i = 0; i < bench.repeat; i++) {
			run_children(s[k], SEQUENTIAL, bench.size, 0, 1, &r);
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
	pagerd_close(holder);
}

/* load-clients: 1, 4, 16 clients at once, random faults, 64 MiB each. */
static void
wl_load_clients(void)
{
	static const int counts[] = { 1, 4, 16 };
	static const enum system s[] = { SYS_KERNEL_FILE, SYS_PAGERD };
	struct result r[MAX_CLIENTS];
	double agg[MAX_SAMPLES], p99[MAX_SAMPLES], fair[MAX_SAMPLES];
	double mn, mx, worst, rate;
	size_t size = bench.size < (64u << 20) ? bench.size : 64u << 20;
	char name[32];
	int c, k, i, j;

	for (c = 0; c < 3; c++) {
		snprintf(name, sizeof name, "load-clients-%d", counts[c]);
		for (k = 0; k < 2; k++) {
			for (i = 0; i < bench.repeat; i++) {
				run_children(s[k], RANDOM, size, 1, counts[c], r);
				agg[i] = 0;
				mn = 1e300, mx = 0, worst = 0;
				for (j = 0; j < counts[c]; j++) {
					rate = (double)r[j].touches /
					    r[j].seconds;
					agg[i] += rate;
					mn = rate < mn ? rate : mn;
					mx = rate > mx ? rate : mx;
					worst = r[j].p99_us > worst ?
					    r[j].p99_us : worst;
				}
				p99[i] = worst;
				fair[i] = mx / mn;
			}
			report(name, system_names[s[k]], "faults-per-s",
			    median(agg, bench.repeat), "1/s", 0);
			report(name, system_names[s[k]], "p99",
			    median(p99, bench.repeat), "us", 0);
			report(name, system_names[s[k]], "max-min-ratio",
			    median(fair, bench.repeat), "x", 0);
		}
	}
}

static const struct {
	const char *name;
	void (*run)(void);
	const char *what;
} workloads[] = {
	{ "seq-hot", wl_seq_hot, "sequential scan of a page-cache-hot file" },
	{ "seq-warm", wl_seq_warm, "the same while another client holds the "
	    "file (pagerd's cache warm)" },
	{ "random", wl_random, "every page once in random order: faults/s, "
	    "p50/p99 per fault" },
	{ "zero-fill", wl_zero_fill, "first-touch writes of zero-fill "
	    "memory" },
	{ "cow-write", wl_cow_write, "the same in a copy-on-write region "
	    "(dirty tracking)" },
	{ "load-clients", wl_load_clients, "1, 4, 16 clients at once, random "
	    "faults over 64 MiB each: aggregate, p99, max/min per client" },
};
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])

/* ---- the daemon and the file ---- */

static void
start_daemon(void)
{
	int i, fd;

	snprintf(bench.dir, sizeof bench.dir, "/tmp/pagerd-bench.XXXXXX");
	if (mkdtemp(bench.dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	snprintf(bench.sock, sizeof bench.sock, "%s/pagerd.sock", bench.dir);
	fflush(NULL);
	if ((bench.daemon = fork()) == 0) {
		snprintf(bench.file, sizeof bench.file, "%s/pagerd.log",
		    bench.dir);
		if ((fd = open(bench.file, O_WRONLY | O_CREAT, 0644)) != -1)
			dup2(fd, STDERR_FILENO);
		execl(bench.pagerd, bench.pagerd, "-d", "--socket", bench.sock,
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (access(bench.sock, F_OK) == 0)
			return;
		if (waitpid(bench.daemon, NULL, WNOHANG) == bench.daemon)
			die("%s did not start (see %s/pagerd.log)", bench.pagerd,
			    bench.dir);
		usleep(10000);
	}
	die("%s did not listen on %s", bench.pagerd, bench.sock);
}

static void
stop_daemon(void)
{
	char path[400];
	int status;

	kill(bench.daemon, SIGTERM);
	waitpid(bench.daemon, &status, 0);
	bench.daemon = 0;
	snprintf(path, sizeof path, "%s/pagerd.log", bench.dir);
	unlink(path);
	unlink(bench.file);
	rmdir(bench.dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("pagerd did not exit cleanly (status 0x%x)", status);
}

/* A file of bench.size random-looking bytes, read once: hot. */
static void
make_file(void)
{
	uint64_t buf[8192], x = 1;
	size_t done, i;
	int fd;

	snprintf(bench.file, sizeof bench.file, "%s/data", bench.dir);
	if ((fd = open(bench.file, O_RDWR | O_CREAT | O_TRUNC, 0644)) == -1)
		die("create %s: %s", bench.file, strerror(errno));
	for (done = 0; done < bench.size; done += sizeof buf) {
		for (i = 0; i < 8192; i++)
			buf[i] = (x += 0x9E3779B97F4A7C15ull);
		if (write(fd, buf, sizeof buf) != sizeof buf)
			die("write %s: %s", bench.file, strerror(errno));
	}
	fsync(fd);
	close(fd);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: pagerd-bench [-h] [--list] [--json FILE] "
	    "[--repeat N] [--size MIB]\n"
	    "                    [--pagerd PATH] [WORKLOAD ...]\n");
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
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct utsname u;
	size_t i;
	int ch, j, run[NWORKLOADS];

	bench.pagerd = getenv("PAGERD_BIN") ? getenv("PAGERD_BIN") : "./pagerd";
	while ((ch = getopt_long(argc, argv, "hj:lp:r:s:", longopts, NULL)) !=
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

	uname(&u);
	printf("pagerd-bench: %ld CPUs, %ld MiB memory, Linux %s; %zu MiB per "
	    "mapping, median of %d runs\n", sysconf(_SC_NPROCESSORS_ONLN),
	    sysconf(_SC_PHYS_PAGES) / 256, u.release, bench.size >> 20,
	    bench.repeat);
	printf("  %-14s %-12s %-14s %10s %-6s  %s\n", "workload", "system",
	    "metric", "median", "unit", "vs first");
	start_daemon();
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
	stop_daemon();
	return 0;
}

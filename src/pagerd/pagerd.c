/*
 * pagerd: a user-space demand pager. Serves the page faults of client
 * processes' regions, handed over as userfaultfds, from files and zeros.
 * This file: options, start-up and shutdown.
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"

#define PAGERD_DEFAULT_SOCKET "/run/pagerd/pagerd.sock"

struct pagerd_options opts = {
	.workers = 2,
	.readahead = 16,
	.cache_window = 512,
	.queue_depth = 64,
};
size_t page_size;
struct worker *workers;
int nworkers;

static const struct option longopts[] = {
	{ "cache-window", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ "queue-depth", required_argument, NULL, 'q' },
	{ "readahead", required_argument, NULL, 'r' },
	{ "socket", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "workers", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pagerd [-hVv] [-c pages] [-q depth] [-r pages] "
	    "[-s socket] [-w workers]\n"
	    "  -c, --cache-window N   pages mapped per fault from a shared "
	    "page cache\n"
	    "                         (default 512, max %d)\n"
	    "  -h, --help             show this help and exit\n"
	    "  -q, --queue-depth N    backing-file reads in flight per worker "
	    "(default 64)\n"
	    "  -r, --readahead N      pages copied in per fault (default 16, "
	    "max %d)\n"
	    "  -s, --socket PATH      listening socket (default "
	    "$PAGERD_SOCKET or %s)\n"
	    "  -V, --version          show the version and exit\n"
	    "  -v, --verbose          log more (repeat for more)\n"
	    "  -w, --workers N        worker threads (default 2, max %d)\n",
	    PAGERD_MAX_CACHE_WINDOW, PAGERD_MAX_READAHEAD,
	    PAGERD_DEFAULT_SOCKET, PAGERD_MAX_WORKERS);
}

static int
parse_number(const char *name, const char *arg, int min, int max)
{
	const char *errstr;
	long long n;

	n = strtonum(arg, min, max, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "pagerd: %s %s is %s (allowed: %d to %d)\n",
		    name, arg, errstr, min, max);
		exit(1);
	}
	return (int)n;
}

/* Every client brings descriptors: allow as many as the hard limit. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

int
main(int argc, char **argv)
{
	char why[512], names[256];
	uint64_t features;
	sigset_t set;
	int ch, verbose = 0, lfd, i;
	const char *env;

	while ((ch = getopt_long(argc, argv, "c:hq:r:s:Vvw:", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'c':
			opts.cache_window = parse_number("cache window", optarg,
			    1, PAGERD_MAX_CACHE_WINDOW);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'q':
			opts.queue_depth = parse_number("queue depth", optarg,
			    1, 4096);
			break;
		case 'r':
			opts.readahead = parse_number("readahead", optarg, 1,
			    PAGERD_MAX_READAHEAD);
			break;
		case 's':
			opts.socket_path = optarg;
			break;
		case 'V':
			printf("pagerd %s\n", PACKAGE_VERSION);
			return 0;
		case 'v':
			verbose++;
			break;
		case 'w':
			opts.workers = parse_number("workers", optarg, 1,
			    PAGERD_MAX_WORKERS);
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pagerd: unexpected argument %s\n",
		    argv[optind]);
		usage(stderr);
		return 1;
	}
	if (opts.socket_path == NULL) {
		env = getenv("PAGERD_SOCKET");
		opts.socket_path = env != NULL && *env != '\0' ? env :
		    PAGERD_DEFAULT_SOCKET;
	}

	log_init("pagerd", 1, verbose);
	page_size = (size_t)sysconf(_SC_PAGESIZE);

	if (uffd_probe_features(&features, why, sizeof why) != 0)
		fatalx("%s", why);
	uffd_feature_names(features, names, sizeof names);
	log_debug("kernel userfaultfd features: %s", names);
	if (!(features & UFFD_FEATURE_POISON))
		log_warnx("kernel lacks UFFDIO_POISON: pages that cannot be "
		    "served are answered by signalling the thread instead");

	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	/* Signals go to the acceptor's signalfd, never to a worker. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask");

	lfd = server_listen(opts.socket_path);
	fault_init();
	nworkers = opts.workers;
	if ((workers = calloc((size_t)nworkers, sizeof *workers)) == NULL)
		fatal("calloc");
	for (i = 0; i < nworkers; i++)
		worker_init(&workers[i], i);
	server_start(&workers[0], lfd);
	for (i = 1; i < nworkers; i++)
		worker_spawn(&workers[i]);
	log_info("pagerd %s listening on %s, %d workers, readahead %d pages, "
	    "cache window %d pages", PACKAGE_VERSION, opts.socket_path,
	    nworkers, opts.readahead, opts.cache_window);

	/* The main thread is worker 0, until a signal stops every worker. */
	worker_run(&workers[0]);
	for (i = 0; i < nworkers; i++)
		worker_join(&workers[i]);
	free(workers);
	log_info("stopped");
	return 0;
}

/*
 * pagerd: a user-space demand pager. Serves the page faults of client
 * processes' regions, handed over as userfaultfds, from files and zeros.
 * This file: options, start-up and shutdown.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <bsd/libutil.h>

/* The public header, for the default socket its clients also use. */
#include <pagerd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"

#define PAGERD_DEFAULT_PIDFILE "/run/pagerd/pagerd.pid"
#define PAGERD_DEFAULT_STATE_DIR "/var/lib/pagerd"
/* Long options without a letter. */
#define OPT_STATE_DIR 0x100
#ifndef PAGERD_CONFIG_FILE
#define PAGERD_CONFIG_FILE "/etc/pagerd.conf"
#endif

struct pagerd_options opts = {
	.state_dir = PAGERD_DEFAULT_STATE_DIR,
	.workers = 2,
	.queue_depth = 64,
	.tick_us = 1000000,
};
size_t page_size;
struct worker *workers;
int nworkers;

/* What the command line said: it outranks the configuration file. */
static struct {
	const char *config;	/* -f */
	const char *log_file;	/* -l */
	int explicit_config;
	int workers, queue_depth, cache_dir;
	int state_dir;
	int live[CONFIG_NKEYS];	/* a live number said here */
	int verbose;		/* -v count, -1 if none given */
} cli = { .config = PAGERD_CONFIG_FILE, .verbose = -1 };

static const struct option longopts[] = {
	{ "cache-dir", required_argument, NULL, 'C' },
	{ "cache-window", required_argument, NULL, 'c' },
	{ "check", no_argument, NULL, 'n' },
	{ "config", required_argument, NULL, 'f' },
	{ "foreground", no_argument, NULL, 'd' },
	{ "help", no_argument, NULL, 'h' },
	{ "log-file", required_argument, NULL, 'l' },
	{ "pidfile", required_argument, NULL, 'p' },
	{ "queue-depth", required_argument, NULL, 'q' },
	{ "readahead", required_argument, NULL, 'r' },
	{ "socket", required_argument, NULL, 's' },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "workers", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pagerd [-dhnVv] [-C dir] [-c pages] [-f file] [-l logfile] "
	    "[-p pidfile]\n"
	    "              [-q depth] [-r pages] [-s socket] [-w workers] "
	    "[--state-dir dir]\n"
	    "  -C, --cache-dir DIR    keep shared page caches in files on the "
	    "tmpfs at DIR,\n"
	    "                         e.g. one mounted huge=within_size "
	    "(default: a\n"
	    "                         private tmpfs where the daemon may mount, "
	    "else memfds)\n"
	    "  -c, --cache-window N   pages mapped per fault from a shared "
	    "page cache\n"
	    "                         (default 2048, max %d)\n"
	    "  -d, --foreground       stay in the foreground, log to standard "
	    "error\n"
	    "                         (default: detach, write a pidfile, log "
	    "to syslog)\n"
	    "  -f, --config FILE      configuration file (default %s)\n"
	    "  -h, --help             show this help and exit\n"
	    "  -l, --log-file FILE    log to FILE, reopened on SIGHUP "
	    "(default: standard\n"
	    "                         error with -d, else syslog)\n"
	    "  -n, --check            check the configuration file and exit\n"
	    "  -p, --pidfile FILE     pidfile when detached (default %s)\n"
	    "  -q, --queue-depth N    backing-file reads in flight per worker "
	    "(default 64)\n"
	    "  -r, --readahead N      pages copied in per fault (default 16, "
	    "max %d)\n"
	    "  -s, --socket PATH      listening socket (default "
	    "$PAGERD_SOCKET or %s)\n"
	    "      --state-dir DIR    working-set recordings (default "
	    PAGERD_DEFAULT_STATE_DIR ",\n"
	    "                         \"\": none)\n"
	    "  -V, --version          show the version and exit\n"
	    "  -v, --verbose          log more: each session and region\n"
	    "  -w, --workers N        worker threads (default 2, max %d)\n",
	    PAGERD_MAX_CACHE_WINDOW, PAGERD_CONFIG_FILE, PAGERD_DEFAULT_PIDFILE,
	    PAGERD_MAX_READAHEAD, PAGERD_DEFAULT_SOCKET, PAGERD_MAX_WORKERS);
}

/*
 * path in a new string made absolute, or NULL where it is already (or
 * empty): detached, the daemon works in /, where it reopens its log file
 * and removes its socket and pidfile.
 */
static char *
absolute_path(const char *path)
{
	char *cwd, *abs;

	if (path[0] == '/' || path[0] == '\0')
		return NULL;
	if ((cwd = getcwd(NULL, 0)) == NULL)
		fatal("getcwd for %s", path);
	if (asprintf(&abs, "%s/%s", cwd, path) == -1)
		fatal("asprintf");
	free(cwd);
	return abs;
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

/*
 * Every client brings descriptors: allow as many as the hard limit. The
 * read buffers are registered with io_uring, which counts them against
 * RLIMIT_MEMLOCK once CAP_IPC_LOCK is gone: no limit, where root may
 * lift it (the service sets LimitMEMLOCK=infinity itself).
 */
static void
raise_limits(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE to %ju",
			    (uintmax_t)rl.rlim_max);
		else
			log_info("raised RLIMIT_NOFILE to its hard limit, %ju",
			    (uintmax_t)rl.rlim_max);
	}
	rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) == -1)
		log_debug("RLIMIT_MEMLOCK stays as it is: %s", strerror(errno));
}

/*
 * Started as root, the daemon would hold every capability, and one of
 * them, CAP_FSETID, would keep a set-user-ID file's bit through a
 * write-back where a plain write clears it. Once the socket is made
 * (CAP_CHOWN for socket-group), keep only CAP_KILL: signalling a client of
 * another user that the kernel cannot poison a page for (fault.c); and
 * CAP_DAC_READ_SEARCH, permitted but not effective, for cap_mark_raise().
 * The rest it never needs: clients pass the descriptors of their files,
 * the cache directory and /run/pagerd are root's own. Dropped from the
 * bounding set too, and no exec may gain any back. Before any thread
 * starts: capabilities are per thread, and threads inherit them.
 */
static void
drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	const uint64_t keep = 1ull << CAP_KILL | 1ull << CAP_DAC_READ_SEARCH;
	uint64_t permitted;
	int cap;

	if (syscall(SYS_capget, &hdr, data) == -1)
		fatal("capget");
	permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	/* Without CAP_SETPCAP the bounding set stays; nothing is gained. */
	if (permitted & (1ull << CAP_SETPCAP))
		for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
			if (cap >= 64 || !(keep & (1ull << cap)))
				if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1)
					fatal("PR_CAPBSET_DROP %d", cap);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == -1 &&
	    errno != EINVAL)
		fatal("PR_CAP_AMBIENT_CLEAR_ALL");
	permitted &= keep;
	data[0].permitted = (uint32_t)permitted;
	data[1].permitted = (uint32_t)(permitted >> 32);
	data[0].effective = data[0].permitted & (1u << CAP_KILL);
	data[1].effective = 0;
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) == -1)
		fatal("capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	log_debug("capabilities kept: %s%s",
	    permitted & (1ull << CAP_KILL) ? "CAP_KILL" : "none",
	    permitted & (1ull << CAP_DAC_READ_SEARCH) ?
	    ", CAP_DAC_READ_SEARCH (not effective)" : "");
}

/* The calling thread's effective set gains or loses CAP_DAC_READ_SEARCH. */
static int
cap_mark_set(int on)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) == -1 ||
	    !(data[0].permitted & (1u << CAP_DAC_READ_SEARCH)))
		return 0;
	if (on)
		data[0].effective |= 1u << CAP_DAC_READ_SEARCH;
	else
		data[0].effective &= ~(1u << CAP_DAC_READ_SEARCH);
	return syscall(SYS_capset, &hdr, data) == 0;
}

/*
 * Raise CAP_DAC_READ_SEARCH in the calling thread alone, to mark a file
 * for its writes (watch.c): fanotify and inotify ask read permission of
 * whoever marks, and a user's private file (mode 0600) is not the
 * daemon's to read, though the client that passed the descriptor, open
 * for reading, may. Nothing but the mark runs raised: the files the
 * daemon opens, it opens with its own rights or the client's
 * descriptors. Returns whether it was raised, for cap_mark_lower().
 */
int
cap_mark_raise(void)
{
	return cap_mark_set(1);
}

void
cap_mark_lower(int raised)
{
	if (raised && !cap_mark_set(0))
		fatal("capset: CAP_DAC_READ_SEARCH stays effective");
}

/* Where the file says each live number. */
#define LIVE(field) offsetof(struct pagerd_config, field)
static const size_t live_fields[CONFIG_NKEYS] = {
	[CONFIG_READAHEAD] = LIVE(readahead),
	[CONFIG_CACHE_WINDOW] = LIVE(cache_window),
	[CONFIG_MAX_CLIENTS] = LIVE(max_clients),
	[CONFIG_POLL_US] = LIVE(poll_us),
	[CONFIG_CACHE_LINGER] = LIVE(cache_linger),
	[CONFIG_CACHE_LINGER_MIB] = LIVE(cache_linger_mib),
	[CONFIG_WRITEBACK_HOLD_MIB] = LIVE(writeback_hold_mib),
	[CONFIG_HELLO_TIMEOUT] = LIVE(hello_timeout),
	[CONFIG_UID_MAX_SESSIONS] = LIVE(uid_max_sessions),
	[CONFIG_UID_MAX_FDS] = LIVE(uid_max_fds),
	[CONFIG_UID_MAX_CACHE_MIB] = LIVE(uid_max_cache_mib),
	[CONFIG_UID_MAX_WP_MIB] = LIVE(uid_max_wp_mib),
	[CONFIG_READ_TIMEOUT] = LIVE(read_timeout),
	[CONFIG_CACHE_MAX_MIB] = LIVE(cache_max_mib),
	[CONFIG_REPLAY] = LIVE(replay),
	[CONFIG_UID_MAX_RECORDINGS] = LIVE(uid_max_recordings),
	[CONFIG_STORE_CONNECT_TIMEOUT] = LIVE(store_connect_timeout),
	[CONFIG_UID_LOG_RATE] = LIVE(uid_log_rate),
};

/*
 * What a start gives a live number that neither the file nor the command
 * line sets, for a reload to put back when a line goes.
 */
static int
live_default(enum config_key k)
{
	if (k == CONFIG_UID_MAX_FDS)
		return quota_default_fds();
	if (k == CONFIG_CACHE_MAX_MIB)
		return memory_default_budget_mib();
	return config_default(k);
}

/* A live number for the log: -1 of uid-max-cache-mib is a share. */
static const char *
live_words(enum config_key k, int value, char *buf, size_t len)
{
	if (k == CONFIG_UID_MAX_CACHE_MIB && value == -1)
		return "half of cache-max-mib";
	snprintf(buf, len, "%d", value);
	return buf;
}

/* "1 error", "2 errors". */
static const char *
errors_word(int n)
{
	return n == 1 ? "error" : "errors";
}

/* Take what the file says where the command line said nothing. */
static void
apply_config(struct pagerd_config *c, int starting)
{
	char was[32], now[32];
	enum config_key k;
	int value, unset;

	/* The read buffers were made at start for the read-ahead then. */
	if (!starting && c->readahead > opts.readahead_max) {
		log_warnx("%s: readahead %d is more than the %d pages the read "
		    "buffers were made for at start; %d until a restart",
		    cli.config, c->readahead, opts.readahead_max,
		    opts.readahead_max);
		c->readahead = opts.readahead_max;
	}
	for (k = 0; k < CONFIG_NKEYS; k++) {
		if (cli.live[k])
			continue;
		value = *(const int *)(const void *)((const char *)c +
		    live_fields[k]);
		/* At start the defaults are there already. */
		if (value == -1 && starting)
			continue;
		unset = value == -1;
		if (unset)
			value = live_default(k);
		if (!starting && value != config_get(k))
			log_info("reload: %s %s -> %s%s",
			    config_name(live_fields[k]), live_words(k,
			    config_get(k), was, sizeof was), live_words(k, value,
			    now, sizeof now), unset ? ", the default: the file "
			    "no longer sets it" : "");
		config_set(k, value);
	}
	if (cli.verbose == -1)
		log_setverbose(c->log_level == -1 ? 0 : c->log_level - 1);
	config_set_policy(c);
	if (!starting)
		return;
	if (c->socket[0] != '\0' && opts.socket_path == NULL)
		opts.socket_path = strdup(c->socket);
	if (c->cache_dir[0] != '\0' && !cli.cache_dir)
		opts.cache_dir = strdup(c->cache_dir);
	if (c->state_dir[0] != '\0' && !cli.state_dir &&
	    getenv("PAGERD_STATE_DIR") == NULL)
		opts.state_dir = strdup(c->state_dir);
	if (c->workers != -1 && !cli.workers)
		opts.workers = c->workers;
	if (c->queue_depth != -1 && !cli.queue_depth)
		opts.queue_depth = c->queue_depth;
}

static struct pagerd_config running;	/* as read at start-up */

/*
 * SIGHUP: read the file again. What can change live changes (the live
 * numbers of enum config_key, the log level, the allow lists and
 * admin-group); the rest is logged as needing a restart. A file with
 * errors changes nothing.
 */
void
pagerd_reload(void)
{
	struct pagerd_config c;
	char *errs = NULL, *line, *save;
	size_t len = 0;
	FILE *out;
	int n;

	/* A rotated log file is let go of first: the results go to the new. */
	if (log_file() != NULL && log_open_file(log_file()) == -1)
		log_warn("reload: log file %s", log_file());
	config_init(&c);
	if ((out = open_memstream(&errs, &len)) == NULL) {
		log_warn("reload: open_memstream");
		return;
	}
	n = config_parse(cli.config, !cli.explicit_config, &c, out);
	fclose(out);
	if (n > 0) {
		/* A line each: the log escapes a newline in a message. */
		log_warnx("reload: %d %s in %s, configuration kept:", n,
		    errors_word(n), cli.config);
		for (line = strtok_r(errs, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			log_warnx("reload: %s", line);
		free(errs);
		config_free(&c);
		return;
	}
	free(errs);
	if (strcmp(c.socket, running.socket) != 0 || c.workers !=
	    running.workers || c.queue_depth != running.queue_depth ||
	    c.socket_mode != running.socket_mode || c.socket_gid !=
	    running.socket_gid || strcmp(c.cache_dir, running.cache_dir) != 0 ||
	    strcmp(c.log_file, running.log_file) != 0 ||
	    strcmp(c.state_dir, running.state_dir) != 0)
		log_warnx("reload: socket, socket-mode, socket-group, workers, "
		    "queue-depth, cache-dir, log-file and state-dir take effect "
		    "at the next start");
	apply_config(&c, 0);
	config_free(&c);
	log_info("reloaded %s: readahead %d page%s, cache window %d page%s, "
	    "caches linger %d s, at most %d MiB; page caches hold at most %d "
	    "MiB", cli.config, config_get(CONFIG_READAHEAD),
	    config_get(CONFIG_READAHEAD) == 1 ? "" : "s",
	    config_get(CONFIG_CACHE_WINDOW), config_get(CONFIG_CACHE_WINDOW) ==
	    1 ? "" : "s", config_get(CONFIG_CACHE_LINGER),
	    config_get(CONFIG_CACHE_LINGER_MIB),
	    config_get(CONFIG_CACHE_MAX_MIB));
}

/* pagerd -n: which file was checked, or that there was none. */
static void
say_config_ok(FILE *f)
{
	if (!cli.explicit_config && access(cli.config, F_OK) == -1 &&
	    errno == ENOENT)
		fprintf(f, "configuration OK: no %s, the defaults apply\n",
		    cli.config);
	else
		fprintf(f, "configuration OK: %s\n", cli.config);
}

/* Detach from the terminal: fork, a new session, a pidfile, syslog. */
static struct pidfh *
daemonize(const char *pidfile)
{
	struct pidfh *pfh;
	pid_t other;

	if ((pfh = pidfile_open(pidfile, 0644, &other)) == NULL) {
		if (errno == EEXIST)
			fatalx("already running as pid %d (%s)", (int)other,
			    pidfile);
		fatal("pidfile %s", pidfile);
	}
	if (daemon(0, 0) == -1) {
		pidfile_remove(pfh);
		fatal("daemon");
	}
	if (pidfile_write(pfh) == -1)
		log_warn("pidfile %s", pidfile);
	return pfh;
}

int
main(int argc, char **argv)
{
	struct pidfh *pfh = NULL;
	char why[512], names[256];
	const char *env, *pidfile = PAGERD_DEFAULT_PIDFILE;
	uint64_t features;
	sigset_t set;
	int ch, verbose = 0, lfd, i, check = 0, foreground = 0, n, readahead;
	char *abs_log = NULL, *abs_sock = NULL, *abs_pid = NULL;
	char *abs_state = NULL;

	while ((ch = getopt_long(argc, argv, "C:c:df:hl:np:q:r:s:Vvw:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			opts.cache_dir = optarg;
			cli.cache_dir = 1;
			break;
		case 'c':
			config_set(CONFIG_CACHE_WINDOW, parse_number("cache "
			    "window", optarg, 1, PAGERD_MAX_CACHE_WINDOW));
			cli.live[CONFIG_CACHE_WINDOW] = 1;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'f':
			cli.config = optarg;
			cli.explicit_config = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'l':
			cli.log_file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'q':
			opts.queue_depth = parse_number("queue depth", optarg,
			    1, 4096);
			cli.queue_depth = 1;
			break;
		case 'r':
			config_set(CONFIG_READAHEAD, parse_number("readahead",
			    optarg, 1, PAGERD_MAX_READAHEAD));
			cli.live[CONFIG_READAHEAD] = 1;
			break;
		case 's':
			if (*optarg == '\0') {
				fprintf(stderr, "pagerd: -s: an empty socket "
				    "path\n");
				return 1;
			}
			opts.socket_path = optarg;
			break;
		case OPT_STATE_DIR:
			opts.state_dir = optarg;
			cli.state_dir = 1;
			break;
		case 'V':
			printf("pagerd %s\n", PACKAGE_VERSION);
			return 0;
		case 'v':
			verbose++;
			cli.verbose = verbose;
			break;
		case 'w':
			opts.workers = parse_number("workers", optarg, 1,
			    PAGERD_MAX_WORKERS);
			cli.workers = 1;
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

	config_init(&running);
	n = config_parse(cli.config, !cli.explicit_config, &running, stderr);
	if (n > 0) {
		fprintf(stderr, "pagerd: %d %s in %s\n", n, errors_word(n),
		    cli.config);
		return 1;
	}
	if (check) {
		say_config_ok(stdout);
		return 0;
	}
	log_init("pagerd", 1, verbose);
	if (cli.log_file == NULL && running.log_file[0] != '\0')
		cli.log_file = running.log_file;
	if (cli.log_file != NULL &&
	    (abs_log = absolute_path(cli.log_file)) != NULL)
		cli.log_file = abs_log;
	/* Before detaching: a log file that cannot be opened is told here. */
	if (cli.log_file != NULL && log_open_file(cli.log_file) == -1)
		fatal("log file %s", cli.log_file);
	if (!foreground && cli.log_file == NULL &&
	    access(_PATH_LOG, W_OK) == -1)
		log_warnx("no syslog at %s (%s): once detached, nothing is "
		    "logged; give a log file (-l, log-file) or stay in the "
		    "foreground (-d)", _PATH_LOG, strerror(errno));
	/* $PAGERD_SOCKET outranks the file, as $PAGERD_STATE_DIR does. */
	if (opts.socket_path == NULL && (env = getenv("PAGERD_SOCKET")) !=
	    NULL && *env != '\0')
		opts.socket_path = env;
	apply_config(&running, 1);
	if (opts.socket_path == NULL)
		opts.socket_path = PAGERD_DEFAULT_SOCKET;
	if ((env = getenv("PAGERD_STATE_DIR")) != NULL && !cli.state_dir)
		opts.state_dir = env;
	if ((abs_sock = absolute_path(opts.socket_path)) != NULL)
		opts.socket_path = abs_sock;
	if ((abs_pid = absolute_path(pidfile)) != NULL)
		pidfile = abs_pid;
	if (opts.state_dir != NULL &&
	    (abs_state = absolute_path(opts.state_dir)) != NULL)
		opts.state_dir = abs_state;
	page_size = (size_t)sysconf(_SC_PAGESIZE);

	if (uffd_probe_features(&features, why, sizeof why) != 0)
		fatalx("%s", why);
	uffd_feature_names(features, names, sizeof names);
	log_debug("kernel userfaultfd features: %s", names);
	if (!(features & UFFD_FEATURE_POISON))
		log_warnx("kernel lacks UFFDIO_POISON: pages that cannot be "
		    "served are answered by signalling the thread instead");

	raise_limits();
	cache_init();
	signal(SIGPIPE, SIG_IGN);
	/* Signals go to the acceptor's signalfd, never to a worker. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask");

	/* Errors of the socket still reach the terminal. */
	lfd = server_listen(opts.socket_path, running.socket_mode,
	    running.socket_gid);
	if (!foreground) {
		pfh = daemonize(pidfile);
		log_init("pagerd", 0, log_getverbose());
	}
#ifdef HAVE_SYSTEMD
	{
		uint64_t usec;

		/* At least three ticks a watchdog period. */
		if (sd_watchdog_enabled(0, &usec) > 0) {
			opts.watchdog = 1;
			if (usec / 3 < opts.tick_us)
				opts.tick_us = usec / 3;
		}
	}
#endif
	readahead = config_get(CONFIG_READAHEAD);
	opts.readahead_max = readahead > PAGERD_COPY_STREAM ? readahead :
	    PAGERD_COPY_STREAM;
	fault_init();
	nworkers = opts.workers;
	if ((workers = calloc((size_t)nworkers, sizeof *workers)) == NULL)
		fatal("calloc");
	for (i = 0; i < nworkers; i++)
		worker_init(&workers[i], i, &session_hooks);
	for (i = 0; i < nworkers; i++)
		fault_pool_init(&workers[i]);
	/*
	 * After the rings, their buffers and the fill pipes are made: with
	 * CAP_IPC_LOCK and CAP_SYS_RESOURCE gone, a registration would count
	 * against RLIMIT_MEMLOCK and a 1 MiB pipe against the pipe quota
	 * every process of root shares, where the system may not let the
	 * daemon raise either.
	 */
	evict_init();
	replay_init(opts.state_dir);
	wp_init();
	watch_init();
	drop_capabilities();
	watch_start();
	quota_init();
	for (i = 1; i < nworkers; i++)
		worker_spawn(&workers[i]);
	server_start(lfd);
	log_info("pagerd %s listening on %s, %d worker%s, readahead %d page%s, "
	    "cache window %d page%s", PACKAGE_VERSION, opts.socket_path,
	    nworkers, nworkers == 1 ? "" : "s", config_get(CONFIG_READAHEAD),
	    config_get(CONFIG_READAHEAD) == 1 ? "" : "s",
	    config_get(CONFIG_CACHE_WINDOW), config_get(CONFIG_CACHE_WINDOW) ==
	    1 ? "" : "s");
	server_ready_notify();

	/* The main thread is worker 0, until a signal stops every worker. */
	worker_run(&workers[0]);
	server_join();
	for (i = 0; i < nworkers; i++)
		worker_join(&workers[i]);
	for (i = 0; i < nworkers; i++)
		fault_pool_free(&workers[i]);
	free(workers);
	config_free(&running);
	if (pfh != NULL)
		pidfile_remove(pfh);
	log_info("stopped");
	/* The logger keeps the path for SIGHUP until here. */
	free(abs_log);
	free(abs_sock);
	free(abs_pid);
	free(abs_state);
	return 0;
}

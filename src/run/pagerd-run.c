/*
 * pagerd-run: run a command with its mappings served by pagerd, as
 * torsocks or eatmydata do for theirs. Sets the shim's environment,
 * preloads the installed shim, checks that a daemon answers and execs
 * the command, whose exit status and signals are then its own.
 *
 * A C program rather than a script: the daemon check is libpagerd's own
 * connect (socket, hello, the daemon's uid, the kind of userfaultfd), so
 * it refuses exactly what the shim would refuse, and says why in the
 * library's words.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/libutil.h>

#include <pagerd.h>

#ifndef PAGERD_PRELOAD_PATH
#define PAGERD_PRELOAD_PATH "libpagerd-preload.so"
#endif

/* pagerd-run's own failures, as env(1) and timeout(1) report theirs. */
#define RUN_EXIT_FAIL		125
#define RUN_EXIT_CANNOT_EXEC	126
#define RUN_EXIT_NOT_FOUND	127

static const struct option longopts[] = {
	{ "anon", required_argument, NULL, 'a' },
	{ "files", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "log", required_argument, NULL, 'l' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "shared", required_argument, NULL, 'S' },
	{ "shared-write", no_argument, NULL, 'W' },
	{ "socket", required_argument, NULL, 's' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* The shim: the installed one, or the build's that tests name. */
static const char *
run_library(void)
{
	const char *env = getenv("PAGERD_RUN_LIBRARY");

	return env != NULL && *env != '\0' ? env : PAGERD_PRELOAD_PATH;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: pagerd-run [-hqV] [-a size] [-f pattern]... [-l logfile] "
	    "[-s socket]\n"
	    "                  [--shared pattern]... [--shared-write] [--] "
	    "command [arg ...]\n"
	    "  -a, --anon SIZE        serve anonymous mappings and malloc "
	    "blocks of SIZE\n"
	    "                         or more (bytes, or 256k, 1M, 2G)\n"
	    "  -f, --files PATTERN    serve private file mappings whose name "
	    "(or path, if\n"
	    "                         PATTERN has a /) matches; repeatable\n"
	    "  -h, --help             show this help and exit\n"
	    "  -l, --log FILE         the shim logs each routed mapping to "
	    "FILE\n"
	    "  -q, --quiet            say nothing, nor let the shim say "
	    "anything\n"
	    "  -s, --socket PATH      the daemon's socket (default "
	    "$PAGERD_SOCKET or %s)\n"
	    "      --shared PATTERN   serve read-only shared mappings of "
	    "matching files;\n"
	    "                         repeatable\n"
	    "      --shared-write     serve writable shared file mappings "
	    "too\n"
	    "  -V, --version          show the version and exit\n"
	    "The library preloaded: %s\n",
	    PAGERD_DEFAULT_SOCKET, run_library());
}

static void __attribute__((format(printf, 1, 2), noreturn))
run_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("pagerd-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(RUN_EXIT_FAIL);
}

static void
run_set(const char *name, const char *value)
{
	if (setenv(name, value, 1) == -1)
		run_fail("setenv %s: %s", name, strerror(errno));
}

/* name=old<sep>value, or name=value where name is unset or empty. */
static void
run_append(const char *name, const char *value, char sep)
{
	const char *old = getenv(name);
	char *both;

	if (old == NULL || *old == '\0') {
		run_set(name, value);
		return;
	}
	if (asprintf(&both, "%s%c%s", old, sep, value) == -1)
		run_fail("out of memory");
	run_set(name, both);
	free(both);
}

/* A pattern list is colon-separated: a colon in a pattern would split it. */
static void
run_pattern(const char *name, const char *pattern)
{
	if (*pattern == '\0' || strchr(pattern, ':') != NULL)
		run_fail("%s pattern \"%s\": empty or has a colon, which "
		    "separates patterns", name, pattern);
	run_append(name, pattern, ':');
}

/* Is path already one of LD_PRELOAD's entries (colons or spaces)? */
static int
run_preloaded(const char *path)
{
	const char *p = getenv("LD_PRELOAD");
	size_t len = strlen(path), n;

	while (p != NULL && *p != '\0') {
		n = strcspn(p, ": ");
		if (n == len && strncmp(p, path, len) == 0)
			return 1;
		p += n;
		p += strspn(p, ": ");
	}
	return 0;
}

/*
 * Does a daemon answer, and would the shim use it? The same connect the
 * shim makes: socket, hello, the daemon's uid, a userfaultfd that serves
 * faults in system calls too. Fills why when not.
 */
static int
run_daemon_ok(char *why, size_t len)
{
	struct pagerd_info info;
	struct pagerd *pd;

	if (pagerd_connect(NULL, &pd) != 0) {
		strlcpy(why, pagerd_errmsg(), len);
		return 0;
	}
	pagerd_info(pd, &info);
	pagerd_close(pd);
	if (!info.kernel_faults) {
		strlcpy(why, "this user's userfaultfd serves user-mode faults "
		    "only, which the shim does not use (root, CAP_SYS_PTRACE, "
		    "access to /dev/userfaultfd or "
		    "vm.unprivileged_userfaultfd=1 lift that)", len);
		return 0;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	const char *lib;
	char why[512];
	uint64_t size;
	int ch, quiet = 0;

	/* "+": options end at the command, whose own options are its own. */
	while ((ch = getopt_long(argc, argv, "+a:f:hl:qs:V", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (expand_number(optarg, &size) != 0 || size == 0)
				run_fail("-a %s: not a size (bytes, or with "
				    "k, M, G)", optarg);
			run_set("PAGERD_ANON", optarg);
			break;
		case 'f':
			run_pattern("PAGERD_FILES", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'l':
			if (*optarg == '\0')
				run_fail("-l: an empty file name");
			run_set("PAGERD_LOG", optarg);
			break;
		case 'q':
			quiet = 1;
			run_set("PAGERD_QUIET", "1");
			break;
		case 's':
			if (*optarg == '\0')
				run_fail("-s: an empty socket path");
			run_set("PAGERD_SOCKET", optarg);
			break;
		case 'S':
			run_pattern("PAGERD_SHARED", optarg);
			break;
		case 'V':
			printf("pagerd-run %s\n", PACKAGE_VERSION);
			return 0;
		case 'W':
			run_set("PAGERD_SHARED_WRITE", "1");
			break;
		default:
			usage(stderr);
			return RUN_EXIT_FAIL;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "pagerd-run: no command given\n");
		usage(stderr);
		return RUN_EXIT_FAIL;
	}

	lib = run_library();
	if (access(lib, R_OK) == -1)
		run_fail("the shim %s: %s", lib, strerror(errno));
	/*
	 * No daemon, or one the shim would not use: say so once and run the
	 * command under the kernel, without the shim repeating it.
	 */
	if (run_daemon_ok(why, sizeof why)) {
		if (!run_preloaded(lib))
			run_append("LD_PRELOAD", lib, ':');
	} else if (!quiet)
		fprintf(stderr, "pagerd-run: %s; %s runs without pagerd\n",
		    why, argv[optind]);

	execvp(argv[optind], argv + optind);
	fprintf(stderr, "pagerd-run: %s: %s\n", argv[optind], strerror(errno));
	return errno == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC;
}

/*
 * pagerctl: ask a running pagerd how it is doing. Talks to the daemon over
 * its socket as a control session. This file holds the options and the
 * command table; each family of commands has its own ctl-*.c.
 *
 * usage: pagerctl [-hjV] [-s socket] [-w width] [command [argument ...]]
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerctl.h"

const char *ctl_socket;
int ctl_json;			/* -j: output as JSON */
size_t ctl_width;		/* -w: cells of a bar; 0: the default */

/* A process id of the command line, of a process that exists. */
pid_t
ctl_pid(const char *arg)
{
	const char *errstr;
	long long pid = strtonum(arg, 1, INT32_MAX, &errstr);

	if (errstr != NULL)
		errx(1, "process id %s is %s", arg, errstr);
	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		errx(1, "no process %lld", pid);
	return (pid_t)pid;
}

/* An address of the command line: decimal, or hex with 0x. */
uint64_t
ctl_addr(const char *arg)
{
	uint64_t addr;
	char *end;

	errno = 0;
	addr = strtoull(arg, &end, 0);
	if (errno != 0 || *end != '\0' || end == arg || arg[0] == '-')
		errx(1, "address %s is not a number (0x... for hex)", arg);
	return addr;
}

/*
 * The commands, in the order usage() and pagerctl(8) give them. A handler
 * gets the command's arguments, NULL after the last; it exits on failure.
 */
static const struct ctl_command {
	const char *name;
	const char *args;	/* as usage() shows them */
	int min, max;		/* how many arguments */
	void (*run)(char **);
	const char *help;	/* a line each */
} ctl_commands[] = {
	{ "status", "", 0, 0, ctl_status, "version, uptime, workers, "
	    "clients, regions, caches, faults,\npages served, bytes read, "
	    "errors (the default)" },
	{ "violations", "", 0, 0, ctl_violations, "the recent protection "
	    "violations: writes to read-only\nregions, faults the kernel "
	    "caught in preloaded programs" },
	{ "clients", "", 0, 0, ctl_clients, "each client: pid, program, "
	    "regions, faults, pages" },
	{ "regions", "[PID]", 0, 1, ctl_regions, "each region: range, "
	    "backing, permissions, mode,\nresident and dirty pages, faults, "
	    "read-ahead" },
	{ "top", "[COUNT]", 0, 1, ctl_top, "live fault rates per client and "
	    "a bar of each region's\npages, every second (COUNT times; 0 or "
	    "none: until\ninterrupted)" },
	{ "explain", "PID ADDR", 2, 2, ctl_explain, "is ADDR mapped in PID, "
	    "what backs it, what may PID do\nwith it, is it in memory" },
	{ "maps", "PID", 1, 1, ctl_maps, "PID's address space: mappings, "
	    "role, backing,\npermissions, resident pages" },
	{ "snapshot", "PID ADDR FILE", 3, 3, ctl_snapshot, "a live image of "
	    "the write-protected region of PID at ADDR" },
	{ "map", "PID ADDR", 2, 2, ctl_map, "the pages of the pagerd region "
	    "of PID at ADDR as a\nline of cells (-w cells): resident, cached, "
	    "dirty,\nbeing read, untouched" },
	{ "caches", "", 0, 0, ctl_caches, "each shared page cache: file, size, "
	    "resident, users,\nlingering" },
	{ "stores", "", 0, 0, ctl_stores, "each network block store: state, "
	    "export size,\nconnections, reads, errors, URI" },
	{ "recordings", "[forget NAME|all]", 0, 2, ctl_recordings, "working-"
	    "set recordings: file, pages, program;\nforget removes one, or all" },
};

#define CTL_NCOMMANDS (sizeof ctl_commands / sizeof ctl_commands[0])
#define CTL_HELP_COLUMN 22	/* where usage() starts the help text */

static void
usage(FILE *f)
{
	const struct ctl_command *cmd;
	const char *p;
	char left[64];
	size_t i;

	fprintf(f, "usage: pagerctl [-hjV] [-s socket] [-w width] "
	    "[command [argument ...]]\n"
	    "  -h, --help          show this help and exit\n"
	    "  -j, --json          output as JSON, for scripts\n"
	    "  -s, --socket PATH   the daemon's socket (default $PAGERD_SOCKET "
	    "or %s)\n"
	    "  -V, --version       show the version and exit\n"
	    "  -w, --width CELLS   cells of map's and top's bars (default "
	    "%d, top's %d)\n"
	    "commands:\n", PAGERD_DEFAULT_SOCKET, CTL_MAP_WIDTH,
	    CTL_TOP_WIDTH);
	for (i = 0; i < CTL_NCOMMANDS; i++) {
		cmd = &ctl_commands[i];
		snprintf(left, sizeof left, "%s%s%s", cmd->name,
		    cmd->args[0] != '\0' ? " " : "", cmd->args);
		/* Too long to leave two spaces: a line of its own. */
		if (strlen(left) > CTL_HELP_COLUMN - 4)
			fprintf(f, "  %s\n%*s", left, CTL_HELP_COLUMN, "");
		else
			fprintf(f, "  %-*s", CTL_HELP_COLUMN - 2, left);
		for (p = cmd->help; *p != '\0'; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fprintf(f, "%*s", CTL_HELP_COLUMN, "");
		}
		fputc('\n', f);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "width", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_command *cmd;
	const char *env, *errstr;
	int ch, nargs;
	size_t i;

	while ((ch = getopt_long(argc, argv, "hjs:Vw:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case 'j':
			ctl_json = 1;
			break;
		case 's':
			ctl_socket = optarg;
			break;
		case 'V':
			printf("pagerctl %s\n", PACKAGE_VERSION);
			return 0;
		case 'w':
			ctl_width = (size_t)strtonum(optarg, 1,
			    CTL_MAP_MAXWIDTH, &errstr);
			if (errstr != NULL)
				errx(1, "width %s is %s (1 to %d cells)", optarg,
				    errstr, CTL_MAP_MAXWIDTH);
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (ctl_socket == NULL) {
		env = getenv("PAGERD_SOCKET");
		ctl_socket = env != NULL && *env != '\0' ? env :
		    PAGERD_DEFAULT_SOCKET;
	}
	/* No command: status, with no arguments (argv[argc] is NULL). */
	if (optind == argc) {
		ctl_status(argv + argc);
		return 0;
	}
	nargs = argc - optind - 1;
	for (i = 0; i < CTL_NCOMMANDS; i++) {
		cmd = &ctl_commands[i];
		if (strcmp(argv[optind], cmd->name) != 0)
			continue;
		if (nargs >= cmd->min && nargs <= cmd->max) {
			cmd->run(argv + optind + 1);
			return 0;
		}
		if (cmd->args[0] == '\0')
			fprintf(stderr, "pagerctl: %s takes no argument\n",
			    cmd->name);
		else
			fprintf(stderr, "pagerctl: %s takes %s, not %d "
			    "argument%s\n", cmd->name, cmd->args, nargs,
			    nargs == 1 ? "" : "s");
		usage(stderr);
		return 1;
	}
	fprintf(stderr, "pagerctl: unknown command: %s\n", argv[optind]);
	usage(stderr);
	return 1;
}

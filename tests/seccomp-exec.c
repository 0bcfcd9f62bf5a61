/*
 * seccomp-exec [OPTION...] SYSCALL... -- PROGRAM [ARG...]: run PROGRAM
 * allowed only the system calls named, as systemd runs a service whose
 * unit says SystemCallFilter= with those names (an allow list: any other
 * call kills the process with SIGSYS). Names this libseccomp does not
 * know are skipped, as systemd skips them. The options add the argument
 * rules of other directives, as a second filter that fails the calls
 * they refuse with an errno, as systemd's own rules do:
 *   --restrict-namespaces (RestrictNamespaces=yes): unshare and clone
 *     with any CLONE_NEW* flag fail with EPERM, setns always; clone3
 *     with ENOSYS (its flags are out of seccomp's reach; glibc then
 *     falls back to clone).
 *   --deny-write-execute (MemoryDenyWriteExecute=yes, its seccomp form):
 *     mmap of memory both writable and executable, mprotect and
 *     pkey_mprotect to executable, shmat with SHM_EXEC fail with EPERM.
 *   --address-families AF_X[,AF_Y...] (RestrictAddressFamilies=, an allow
 *     list): socket() of any other family fails with EAFNOSUPPORT.
 *   --restrict-realtime (RestrictRealtime=yes): sched_setscheduler to any
 *     policy but SCHED_OTHER, SCHED_BATCH and SCHED_IDLE fails with EPERM.
 *   --lock-personality (LockPersonality=yes): personality() to another
 *     than PER_LINUX fails with EPERM. "seccomp-exec --name NUMBER"
 * prints the name of the call of that number; "seccomp-exec --killed
 * PID" the name of the call that process PID was killed for, from the
 * kernel's last audit line about it (type=1326), if there is one. Run by
 * the tests' daemons under the unit's filter (tests/unit-filter.sh), and
 * by tests/lib.sh and tests/harness.c when a test fails.
 */
#include "config.h"

#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/shm.h>
#include <sys/socket.h>

#include <sched.h>

#include <seccomp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif

/* syslog(2)'s actions, which glibc does not name. */
#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_SIZE_BUFFER 10

/* Print the name of call nr: 0, or 1 if this libseccomp has none. */
static int
print_name(int nr)
{
	char *name;

	if ((name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr)) ==
	    NULL)
		return 1;
	printf("%s\n", name);
	free(name);
	return 0;
}

/*
 * The call of the kernel log's last seccomp audit line about pid
 * ("type=1326 ... pid=PID ... syscall=NR ..."): 0 once printed, 1 if none.
 */
static int
print_killed(const char *pid)
{
	char key[32], *buf, *line, *next, *p;
	int size, n, nr = -1;

	if ((size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0)) <= 0 ||
	    (buf = malloc((size_t)size + 1)) == NULL)
		return 1;
	if ((n = klogctl(SYSLOG_ACTION_READ_ALL, buf, size)) < 0) {
		free(buf);
		return 1;
	}
	buf[n] = '\0';
	snprintf(key, sizeof key, " pid=%s ", pid);
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strstr(line, "type=1326") != NULL &&
		    strstr(line, key) != NULL &&
		    (p = strstr(line, " syscall=")) != NULL)
			nr = atoi(p + 9);
	}
	free(buf);
	return nr == -1 ? 1 : print_name(nr);
}

/* The families socket() may make, by name: AF_UNIX and the network's. */
static const struct {
	const char *name;
	int family;
} families[] = {
	{ "AF_UNIX", AF_UNIX }, { "AF_INET", AF_INET },
	{ "AF_INET6", AF_INET6 }, { "AF_NETLINK", AF_NETLINK },
	{ "AF_PACKET", AF_PACKET },
};

/* Add rule (action if the call's arguments match arg) or exit 127. */
static void
rule(scmp_filter_ctx ctx, uint32_t action, const char *call, unsigned int n,
    struct scmp_arg_cmp arg)
{
	int nr, error;

	if ((nr = seccomp_syscall_resolve_name(call)) == __NR_SCMP_ERROR)
		return;
	if ((error = n == 0 ? seccomp_rule_add(ctx, action, nr, 0) :
	    seccomp_rule_add(ctx, action, nr, 1, arg)) != 0) {
		fprintf(stderr, "seccomp-exec: %s: %s\n", call,
		    strerror(-error));
		exit(127);
	}
}

static void
restrict_namespaces(scmp_filter_ctx ctx)
{
	static const unsigned long flags[] = { CLONE_NEWCGROUP, CLONE_NEWIPC,
	    CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER,
	    CLONE_NEWUTS, CLONE_NEWTIME };
	struct scmp_arg_cmp none = SCMP_A0(SCMP_CMP_EQ, 0);
	size_t i;

	for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		rule(ctx, SCMP_ACT_ERRNO(EPERM), "unshare", 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
		/* x86-64's and arm64's clone take the flags first. */
		rule(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, flags[i], flags[i]));
	}
	rule(ctx, SCMP_ACT_ERRNO(EPERM), "setns", 0, none);
	rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, none);
}

static void
deny_write_execute(scmp_filter_ctx ctx)
{
	rule(ctx, SCMP_ACT_ERRNO(EPERM), "mmap", 1, SCMP_A2(SCMP_CMP_MASKED_EQ,
	    PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC));
	rule(ctx, SCMP_ACT_ERRNO(EPERM), "mprotect", 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
	rule(ctx, SCMP_ACT_ERRNO(EPERM), "pkey_mprotect", 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
	rule(ctx, SCMP_ACT_ERRNO(EPERM), "shmat", 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC));
}

/* list: names of families, comma-separated; any other is refused. */
static void
address_families(scmp_filter_ctx ctx, const char *list)
{
	char allowed[AF_MAX] = { 0 }, *copy, *name, *last;
	size_t i;
	int f;

	if ((copy = strdup(list)) == NULL)
		exit(127);
	for (name = strtok_r(copy, ",", &last); name != NULL;
	    name = strtok_r(NULL, ",", &last)) {
		for (i = 0; i < sizeof families / sizeof families[0]; i++)
			if (strcmp(name, families[i].name) == 0)
				break;
		if (i == sizeof families / sizeof families[0]) {
			fprintf(stderr, "seccomp-exec: unknown family %s\n",
			    name);
			exit(127);
		}
		allowed[families[i].family] = 1;
	}
	free(copy);
	for (f = 0; f < AF_MAX; f++)
		if (!allowed[f])
			rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1,
			    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)f));
	rule(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 1,
	    SCMP_A0(SCMP_CMP_GE, AF_MAX));
}

static void
restrict_realtime(scmp_filter_ctx ctx)
{
	static const int policies[] = { SCHED_FIFO, SCHED_RR };

	rule(ctx, SCMP_ACT_ERRNO(EPERM), "sched_setscheduler", 1,
	    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)policies[0]));
	rule(ctx, SCMP_ACT_ERRNO(EPERM), "sched_setscheduler", 1,
	    SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)policies[1]));
	rule(ctx, SCMP_ACT_ERRNO(EPERM), "sched_setscheduler", 1,
	    SCMP_A1(SCMP_CMP_GE, SCHED_DEADLINE));
}

/*
 * The options' rules (argv[*i] on, until the first that is not one), in a
 * filter of their own that allows what they do not refuse; the kernel
 * applies both filters, the stricter answer winning.
 */
static void
load_options(int argc, char **argv, int *i)
{
	scmp_filter_ctx ctx;
	int error, any = 0;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		exit(127);
	for (; *i < argc && strncmp(argv[*i], "--", 2) == 0 &&
	    argv[*i][2] != '\0'; (*i)++, any = 1) {
		if (strcmp(argv[*i], "--restrict-namespaces") == 0)
			restrict_namespaces(ctx);
		else if (strcmp(argv[*i], "--deny-write-execute") == 0)
			deny_write_execute(ctx);
		else if (strcmp(argv[*i], "--restrict-realtime") == 0)
			restrict_realtime(ctx);
		else if (strcmp(argv[*i], "--lock-personality") == 0)
			rule(ctx, SCMP_ACT_ERRNO(EPERM), "personality", 1,
			    SCMP_A0(SCMP_CMP_NE, PER_LINUX));
		else if (strcmp(argv[*i], "--address-families") == 0 &&
		    *i + 1 < argc)
			address_families(ctx, argv[++*i]);
		else {
			fprintf(stderr, "seccomp-exec: unknown option %s\n",
			    argv[*i]);
			exit(127);
		}
	}
	if (any && (error = seccomp_load(ctx)) != 0) {
		fprintf(stderr, "seccomp-exec: seccomp_load: %s\n",
		    strerror(-error));
		exit(127);
	}
	seccomp_release(ctx);
}

int
main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int i = 1, nr, error;

	if (argc == 3 && strcmp(argv[1], "--name") == 0)
		return print_name(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "--killed") == 0)
		return print_killed(argv[2]);
	load_options(argc, argv, &i);
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		fprintf(stderr, "seccomp-exec: seccomp_init failed\n");
		return 127;
	}
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if ((nr = seccomp_syscall_resolve_name(argv[i])) ==
		    __NR_SCMP_ERROR)
			continue;
		if ((error = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) !=
		    0) {
			fprintf(stderr, "seccomp-exec: %s: %s\n", argv[i],
			    strerror(-error));
			return 127;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: seccomp-exec [OPTION...] SYSCALL... -- "
		    "PROGRAM [ARG...]\n");
		return 127;
	}
	if ((error = seccomp_load(ctx)) != 0) {
		fprintf(stderr, "seccomp-exec: seccomp_load: %s\n",
		    strerror(-error));
		return 127;
	}
	execv(argv[i + 1], argv + i + 1);
	fprintf(stderr, "seccomp-exec: %s: %s\n", argv[i + 1],
	    strerror(errno));
	return 127;
}

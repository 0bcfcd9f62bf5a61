/*
 * seccomp-exec SYSCALL... -- PROGRAM [ARG...]: run PROGRAM allowed only
 * the system calls named, as systemd runs a service whose unit says
 * SystemCallFilter= with those names (an allow list: any other call
 * kills the process with SIGSYS). Names this libseccomp does not know
 * are skipped, as systemd skips them. "seccomp-exec --name NUMBER"
 * prints the name of the call of that number; "seccomp-exec --killed
 * PID" the name of the call that process PID was killed for, from the
 * kernel's last audit line about it (type=1326), if there is one. Run by
 * the tests' daemons under the unit's filter (tests/unit-filter.sh), and
 * by tests/lib.sh and tests/harness.c when a test fails.
 */
#include "config.h"

#include <sys/klog.h>

#include <seccomp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int
main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int i, nr, error;

	if (argc == 3 && strcmp(argv[1], "--name") == 0)
		return print_name(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "--killed") == 0)
		return print_killed(argv[2]);
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		fprintf(stderr, "seccomp-exec: seccomp_init failed\n");
		return 127;
	}
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
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
		fprintf(stderr, "usage: seccomp-exec SYSCALL... -- PROGRAM "
		    "[ARG...]\n");
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

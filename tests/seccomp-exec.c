/*
 * seccomp-exec SYSCALL... -- PROGRAM [ARG...]: run PROGRAM allowed only
 * the system calls named, as systemd runs a service whose unit says
 * SystemCallFilter= with those names (an allow list: any other call
 * kills the process with SIGSYS). Names this libseccomp does not know
 * are skipped, as systemd skips them. "seccomp-exec --name NUMBER"
 * prints the name of the call of that number (of a kernel's audit line).
 * Run by tests/unit-syscalls-test.sh.
 */
#include "config.h"

#include <seccomp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	char *name;
	int i, nr, error;

	if (argc == 3 && strcmp(argv[1], "--name") == 0) {
		if ((name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
		    atoi(argv[2]))) == NULL)
			return 1;
		printf("%s\n", name);
		free(name);
		return 0;
	}
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

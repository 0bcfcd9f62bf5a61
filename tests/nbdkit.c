/*
 * Start and stop nbdkit for the NBD store tests (nbdkit.h).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "nbdkit.h"

/* Skip the test where nbdkit is missing: the one reason it may. */
void
nbdkit_need(void)
{
	if (system("nbdkit --version >/dev/null 2>&1") != 0)
		harness_skip("nbdkit is not installed (Debian: apt-get install "
		    "nbdkit)");
}

/*
 * nbdkit serving on a unix socket dir/name.sock: the arguments after it
 * are nbdkit's (filters, plugin, its parameters), NULL-terminated.
 */
void
nbdkit_start(struct nbdkit *k, const char *dir, ...)
{
	const char *argv[32];
	struct stat st;
	va_list ap;
	int n = 0, i;

	nbdkit_need();
	snprintf(k->sock, sizeof k->sock, "%s/nbd.sock", dir);
	snprintf(k->uri, sizeof k->uri, "nbd+unix:///?socket=%s", k->sock);
	unlink(k->sock);
	argv[n++] = "nbdkit";
	argv[n++] = "-f";
	argv[n++] = "-U";
	argv[n++] = k->sock;
	va_start(ap, dir);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	fflush(NULL);
	CHECK((k->pid = fork()) != -1);
	if (k->pid == 0) {
		execvp("nbdkit", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (i = 0; i < 1000 && stat(k->sock, &st) != 0; i++)
		harness_sleep_ms(10);
	CHECKF(i < 1000, "nbdkit did not make its socket %s", k->sock);
	/* Reachable by the unprivileged test users' daemons too. */
	chmod(k->sock, 0777);
}

void
nbdkit_stop(struct nbdkit *k)
{
	if (k->pid <= 0)
		return;
	kill(k->pid, SIGTERM);
	harness_wait(k->pid);
	k->pid = 0;
	unlink(k->sock);
}

/* kill -9, as a crash of the server or its machine would. */
void
nbdkit_kill(struct nbdkit *k)
{
	kill(k->pid, SIGKILL);
	harness_wait(k->pid);
	k->pid = 0;
	unlink(k->sock);
}

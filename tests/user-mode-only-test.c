/*
 * Description: a session whose userfaultfd serves user-mode faults only
 * says so. A client of the test user pagerd-tb, which gets such a
 * userfaultfd (vm.unprivileged_userfaultfd=0, /dev/userfaultfd for root
 * only), is named so in the daemon's log and by pagerctl clients (text
 * and -j), where a root client reads all-faults; after its read(2) into
 * an untouched page fails with EFAULT, pagerd_errmsg() explains why.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

/* The user-mode-only client: EFAULT explained, then held for pagerctl. */
static void
client(const char *sock, int ready, int done)
{
	struct pagerd_info info;
	struct pagerd *pd;
	int pfd[2];
	char *z, c;

	harness_become_user("pagerd-tb");
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	pagerd_info(pd, &info);
	if (info.kernel_faults)
		_exit(77);
	CHECKF(pagerd_map_zero(pd, 4096, PROT_READ | PROT_WRITE, 0,
	    (void **)&z) == 0, "map zero: %s", pagerd_errmsg());
	CHECK(pipe(pfd) == 0);
	CHECK(write(pfd[1], "data", 4) == 4);
	errno = 0;
	CHECKF(read(pfd[0], z, 4) == -1 && errno == EFAULT, "read(2) into an "
	    "untouched page: %s", strerror(errno));
	CHECKF(strstr(pagerd_errmsg(), "user-mode faults only") != NULL,
	    "pagerd_errmsg() after EFAULT: \"%s\"", pagerd_errmsg());
	CHECK(errno == EFAULT);
	printf("pagerd_errmsg: %s\n", pagerd_errmsg());
	fflush(stdout);
	CHECK(write(ready, "r", 1) == 1);
	CHECK(read(done, &c, 1) >= 0);
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	struct pagerd *pd;
	char out[8192], want[64];
	int ready[2], done[2], status;
	void *p;
	pid_t pid;
	char c;

	harness_need_root();
	harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	CHECK(pipe(ready) == 0 && pipe(done) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(ready[0]);
		close(done[1]);
		client(d.sock, ready[1], done[0]);
	}
	close(ready[1]);
	close(done[0]);
	if (read(ready[0], &c, 1) != 1) {
		status = harness_wait(pid);
		if (status == 77)
			harness_skip("pagerd-tb gets a userfaultfd for kernel "
			    "faults too here (vm.unprivileged_userfaultfd=1)");
		harness_fail(__FILE__, __LINE__, "the client failed (status "
		    "%d)", status);
	}
	/* Connected after the fork, or the child would inherit it. */
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, 4096, PROT_READ, 0, &p) == 0, "map: %s",
	    pagerd_errmsg());

	harness_pagerctl(NULL, d.sock, "clients", out, sizeof out);
	snprintf(want, sizeof want, "%d ", (int)pid);
	CHECKF(strstr(out, want) != NULL && strstr(strstr(out, want),
	    "user-faults\n") != NULL, "clients does not say the client "
	    "serves user-mode faults only");
	snprintf(want, sizeof want, "%d ", (int)getpid());
	CHECKF(strstr(out, want) != NULL && strstr(strstr(out, want),
	    "all-faults\n") != NULL, "clients does not say root's client "
	    "serves all faults");
	harness_pagerctl(NULL, d.sock, "-j clients", out, sizeof out);
	snprintf(want, sizeof want, "\"pid\":%d,", (int)pid);
	CHECKF(strstr(out, want) != NULL && strstr(strstr(out, want),
	    "\"user_mode_only\":true}") != NULL, "clients -j does not say "
	    "user_mode_only");
	CHECKF(strstr(out, "\"user_mode_only\":false}") != NULL, "clients -j "
	    "does not say root's client serves all faults");
	CHECKF(harness_log_count(&d, "user-mode faults only") == 1, "the "
	    "daemon's log does not name the one user-mode-only session once");

	close(done[1]);
	CHECKF(harness_wait(pid) == 0, "the client failed");
	pagerd_close(pd);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	return 0;
}

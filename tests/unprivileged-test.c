/*
 * Description: a client running as an unprivileged user (nobody) either
 * works, or is refused with the reason. On this kind of system
 * (vm.unprivileged_userfaultfd=0, /dev/userfaultfd for root only) it gets
 * a user-mode-only userfaultfd: its file region reads right, and a system
 * call writing into an untouched page fails with EFAULT, as documented.
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

#define SEED 0x5eed0008ull
#define SIZE (4u << 20)

static int
sysctl_unprivileged(void)
{
	FILE *f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "re");
	int v = -1;

	if (f != NULL) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void
client(const char *sock, const char *path)
{
	struct pagerd_info info;
	struct pagerd *pd;
	char *z;
	void *p;
	int fd, pfd[2];

	harness_become_nobody();

	if (pagerd_connect(sock, &pd) != 0) {
		printf("refused: %s\n", pagerd_errmsg());
		CHECKF(strstr(pagerd_errmsg(), "userfaultfd") != NULL,
		    "the refusal does not say why: %s", pagerd_errmsg());
		fflush(stdout);
		_exit(10);
	}
	pagerd_info(pd, &info);
	printf("connected as nobody: %s\n", info.kernel_faults ?
	    "kernel and user faults" : "user-mode faults only");
	fflush(stdout);
	if (sysctl_unprivileged() == 0)
		CHECKF(!info.kernel_faults, "an unprivileged client claims "
		    "kernel faults with vm.unprivileged_userfaultfd=0");

	CHECKF((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1, "open %s: %s",
	    path, strerror(errno));
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);

	if (!info.kernel_faults) {
		CHECKF(pagerd_map_zero(pd, 4096, PROT_READ | PROT_WRITE, 0,
		    (void **)&z) == 0, "map zero: %s", pagerd_errmsg());
		CHECK(pipe(pfd) == 0);
		CHECK(write(pfd[1], "data", 4) == 4);
		errno = 0;
		CHECKF(read(pfd[0], z, 4) == -1 && errno == EFAULT, "read(2) "
		    "into an untouched page of a user-mode-only region: %s",
		    strerror(errno));
	}
	pagerd_close(pd);
	printf("the unprivileged client read its file right\n");
	fflush(stdout);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	char path[512];
	int status;
	pid_t pid;

	harness_need_root();
	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	fflush(NULL);
	if ((pid = fork()) == 0)
		client(d.sock, path);
	status = harness_wait(pid);
	CHECKF(status == 0 || status == 10, "the unprivileged client failed "
	    "(status %d)", status);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	return 0;
}

/*
 * Description: eight client processes at once each map the same 16 MiB
 * file and a zero region through one daemon and check every byte; all
 * succeed, and afterwards the daemon holds no session or region.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed0004ull
#define CLIENTS 8
#define SIZE (16u << 20)

static void
client(const char *sock, const char *path)
{
	struct pagerd *pd;
	unsigned char *z;
	size_t i;
	void *p;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	close(fd);
	CHECKF(pagerd_map_zero(pd, SIZE, PROT_READ | PROT_WRITE, 0,
	    (void **)&z) == 0, "map zero: %s", pagerd_errmsg());
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	for (i = 0; i < SIZE; i += 4096) {
		CHECK(z[i] == 0);
		z[i] = (unsigned char)getpid();
	}
	for (i = 0; i < SIZE; i += 4096)
		CHECK(z[i] == (unsigned char)getpid());
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon d;
	pid_t pids[CLIENTS];
	char path[512];
	int i, failed = 0;

	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	fflush(NULL);
	for (i = 0; i < CLIENTS; i++) {
		if ((pids[i] = fork()) == 0) {
			client(d.sock, path);
			_exit(0);
		}
	}
	for (i = 0; i < CLIENTS; i++)
		if (harness_wait(pids[i]) != 0)
			failed++;
	CHECKF(failed == 0, "%d of %d clients failed", failed, CLIENTS);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	printf("%d clients at once: every byte right\n", CLIENTS);
	return 0;
}

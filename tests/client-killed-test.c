/*
 * Description: clients killed at any moment never disturb the daemon: a
 * client whose four threads are faulting a 256 MiB file region is
 * SIGKILLed mid-flight, five times; a raw client dies between its hello
 * and the reply. Afterwards a fresh client reads a file correctly, the
 * daemon holds no session or region, and it stops cleanly.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "uffd.h"

#define SEED 0x5eed0005ull
#define SIZE (256u << 20)
#define PAGE 4096u
#define THREADS 4

static const volatile unsigned char *region;

static void *
toucher_main(void *arg)
{
	size_t t = (size_t)(uintptr_t)arg, i;
	unsigned sum = 0;

	for (;;)
		for (i = t * PAGE; i < SIZE; i += THREADS * PAGE)
			sum += region[i];
	return (void *)(uintptr_t)sum;
}

/* Fault forever from four threads; say so on the pipe once under way. */
static void
busy_client(const char *sock, const char *path, int started)
{
	struct pagerd_stats st;
	pthread_t th[THREADS];
	struct pagerd *pd;
	void *p;
	int fd;
	size_t t;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	region = p;
	for (t = 0; t < THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, toucher_main,
		    (void *)t) == 0);
	do {
		CHECK(pagerd_stats(pd, &st) == 0);
	} while (st.faults < 64);
	CHECK(write(started, "s", 1) == 1);
	for (;;)
		pause();
}

/* Send a client hello with a real userfaultfd and die without waiting. */
static void
hello_and_die(const char *sock)
{
	struct uffdio_api api = { .api = UFFD_API };
	union pd_msg msg;
	int fd, uffd;

	CHECK((fd = harness_raw_connect(sock)) != -1);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	CHECK(uffd != -1);
	CHECK(ioctl(uffd, UFFDIO_API, &api) == 0);
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	CHECK(harness_raw_send(fd, &msg, msg.hdr.size, &uffd, 1) == 0);
	_exit(0);
}

static void
good_client(const char *sock, const char *path)
{
	struct pagerd *pd;
	void *p;
	int fd;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, 16u << 20, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	harness_check_range(p, 0, 16u << 20, SEED, UINT64_MAX);
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon d;
	char path[512], c;
	int round, pfd[2], status;
	pid_t pid;

	harness_need_root();
	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);

	for (round = 0; round < 5; round++) {
		CHECK(pipe(pfd) == 0);
		fflush(NULL);
		if ((pid = fork()) == 0) {
			close(pfd[0]);
			busy_client(d.sock, path, pfd[1]);
		}
		close(pfd[1]);
		CHECKF(read(pfd[0], &c, 1) == 1, "round %d: the client failed "
		    "before faulting", round);
		close(pfd[0]);
		kill(pid, SIGKILL);
		status = harness_wait(pid);
		CHECKF(status == 128 + SIGKILL, "round %d: status %d", round,
		    status);
		CHECKF(harness_alive(&d), "round %d: pagerd died", round);
	}

	fflush(NULL);
	if ((pid = fork()) == 0)
		hello_and_die(d.sock);
	CHECK(harness_wait(pid) == 0);

	fflush(NULL);
	if ((pid = fork()) == 0) {
		good_client(d.sock, path);
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "a client after the killed ones failed");
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	printf("5 clients killed mid-fault, one mid-hello: daemon unharmed\n");
	return 0;
}

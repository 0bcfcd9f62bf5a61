/*
 * Description: a zero region reads as zeros on every page, keeps what two
 * threads write to it, and takes writes to pages never read (write faults
 * first); the daemon reports the pages it filled with zeros.
 */
#include "config.h"

#include <sys/mman.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define PAGE 4096u
#define SIZE (32u << 20)
#define NPAGES (SIZE / PAGE)

static unsigned char *region;

/* Thread t writes a stamp to the odd pages t, t + 2, ... of the region. */
static void *
writer_main(void *arg)
{
	size_t t = (size_t)(uintptr_t)arg, i;

	for (i = 1 + 2 * t; i < NPAGES; i += 4)
		memset(region + i * PAGE, (int)(i & 0xff) | 1, PAGE);
	return NULL;
}

static void
client(const char *sock)
{
	struct pagerd_stats st;
	struct pagerd *pd;
	pthread_t th[2];
	unsigned char *wo;
	size_t i, j;
	void *p;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s", pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, SIZE, PROT_READ | PROT_WRITE, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	region = p;

	/* Even pages are read first: zeros. */
	for (i = 0; i < NPAGES; i += 2)
		for (j = 0; j < PAGE; j++)
			CHECKF(region[i * PAGE + j] == 0, "page %zu byte %zu "
			    "is 0x%02x", i, j, region[i * PAGE + j]);
	/* Odd pages are written first, from two threads. */
	for (i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, writer_main,
		    (void *)(uintptr_t)i) == 0);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NPAGES; i++) {
		unsigned char want = (i & 1) ? (unsigned char)((i & 0xff) | 1) :
		    0;
		for (j = 0; j < PAGE; j += 511)
			CHECKF(region[i * PAGE + j] == want, "page %zu byte "
			    "%zu is 0x%02x, expected 0x%02x", i, j,
			    region[i * PAGE + j], want);
	}

	/* A write-only first touch of a read-write zero region. */
	CHECKF(pagerd_map_zero(pd, 64 * PAGE, PROT_READ | PROT_WRITE, 0,
	    (void **)&wo) == 0, "map: %s", pagerd_errmsg());
	for (i = 0; i < 64; i++)
		wo[i * PAGE + 7] = 0x42;
	for (i = 0; i < 64 * PAGE; i++)
		CHECK(wo[i] == ((i % PAGE) == 7 ? 0x42 : 0));

	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	CHECKF(st.pages_zero >= NPAGES / 2, "only %llu zero pages",
	    (unsigned long long)st.pages_zero);
	CHECK(st.pages_file == 0);
	CHECK(st.errors == 0);
	CHECK(st.regions == 2);
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon d;
	pid_t pid;

	harness_start(&d, NULL);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		client(d.sock);
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "the client failed");
	harness_wait_idle(d.sock);
	harness_stop(&d);
	printf("zero region: zeros read, writes kept\n");
	return 0;
}

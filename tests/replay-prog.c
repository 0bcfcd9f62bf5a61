/*
 * A program that knows nothing of pagerd, run by the replay tests under
 * the LD_PRELOAD shim: it maps a pattern file privately, waits a moment
 * (as a program does other work first), then reads a quarter of its pages
 * in a fixed random order, checking each. Usage: replay-prog FILE SEED;
 * replay-prog --make FILE SEED [MIB] writes a pattern file first (8 MiB).
 * Built as replay-lib-prog (REPLAY_LIB), it maps the file through
 * libpagerd instead, for users whose faults the shim leaves to the kernel
 * (their userfaultfd serves user-mode faults only): replay-lib-prog FILE
 * SEED SOCKET.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef REPLAY_LIB
#include <pagerd.h>
#endif

#define HARNESS_STANDALONE	/* see harness.h */
#include "harness.h"

#define PAGE 4096u

int
main(int argc, char **argv)
{
	uint64_t seed, npages, i, j, t, x = 0x9e3779b97f4a7c15ull, *order;
	const uint64_t *p;
#ifdef REPLAY_LIB
	struct pagerd *pd;
	void *map;
#endif
	struct timespec pause = { 0, 300000000 };
	struct stat st;
	int fd;

	if (argc >= 4 && strcmp(argv[1], "--make") == 0) {
		seed = strtoull(argv[3], NULL, 0);
		npages = (argc > 4 ? strtoull(argv[4], NULL, 0) : 8) << 20 >> 12;
		CHECK((fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC,
		    0644)) != -1);
		CHECK((order = malloc(PAGE)) != NULL);
		for (i = 0; i < npages; i++) {
			for (j = 0; j < PAGE / 8; j++)
				order[j] = harness_word(i * PAGE + j * 8, seed);
			CHECK(write(fd, order, PAGE) == PAGE);
		}
		close(fd);
		free(order);
		return 0;
	}
#ifdef REPLAY_LIB
	CHECK(argc == 4);
#else
	CHECK(argc == 3);
#endif
	seed = strtoull(argv[2], NULL, 0);
	CHECK((fd = open(argv[1], O_RDONLY)) != -1);
	CHECK(fstat(fd, &st) == 0);
	npages = (uint64_t)st.st_size / PAGE;
#ifdef REPLAY_LIB
	CHECK(pagerd_connect(argv[3], &pd) == 0);
	CHECK(pagerd_map_file(pd, fd, 0, (size_t)st.st_size, PROT_READ, 0,
	    &map) == 0);
	p = map;
#else
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED);
#endif
	close(fd);
	CHECK((order = malloc(npages * sizeof *order)) != NULL);
	for (i = 0; i < npages; i++)
		order[i] = i;
	/* The same shuffle every run: xorshift from a fixed start. */
	for (i = npages - 1; i > 0; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = x % (i + 1);
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	nanosleep(&pause, NULL);
	for (i = 0; i < npages / 4; i++)
		CHECK(p[order[i] * PAGE / 8] == harness_word(order[i] * PAGE,
		    seed));
	printf("ok %" PRIu64 " pages\n", npages / 4);
	free(order);
	return 0;
}

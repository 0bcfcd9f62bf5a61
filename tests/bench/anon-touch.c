/*
 * anon-touch: what pagerd-bench's shim-anon runs, plain or under the
 * shim: an unmodified program that maps MiB of anonymous memory (asking
 * for huge pages with "thp"), writes each 4 KiB page once, and prints the
 * seconds the writes took. It knows nothing of pagerd.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
main(int argc, char **argv)
{
	struct timespec t0, t1;
	size_t size, i;
	char *p;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "thp") != 0)) {
		fprintf(stderr, "usage: anon-touch MiB [thp]\n");
		return 2;
	}
	size = (size_t)strtoul(argv[1], NULL, 10) << 20;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("anon-touch: mmap");
		return 1;
	}
	if (argc == 3 && madvise(p, size, MADV_HUGEPAGE) == -1) {
		perror("anon-touch: madvise MADV_HUGEPAGE");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < size; i += 4096)
		p[i] = 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.9f\n", (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

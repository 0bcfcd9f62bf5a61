/*
 * A process with known pages, for tests/pagerctl-map-test.sh: a pagerd
 * file region of FILE (its shared page cache) with pages 0, 100, 500 and
 * the last read, a second region of the same file (the same cache) with
 * page 300 read, so that the first region's page 300 is in the cache but
 * not mapped, and a copy-on-write zero region of 300 MiB (more pages than
 * one PAGES answer holds) with pages 0, 3583, 3584, 57343, 57344 and the
 * last written. Prints "file ADDR PAGES", "cow ADDR PAGES", "ready",
 * and waits for its standard input to close.
 * Usage: map-prog SOCKET FILE
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <pagerd.h>

#define MAP_PROG_COW (300ul << 20)

int
main(int argc, char **argv)
{
	static const size_t written[] = { 0, 3583, 3584, 57343, 57344,
	    MAP_PROG_COW / 4096 - 1 };
	volatile unsigned char sink;
	unsigned char *file, *file2, *cow;
	size_t i, npages;
	struct pagerd *pd;
	struct stat st;
	int fd;
	char c;

	if (argc != 3) {
		fprintf(stderr, "usage: map-prog SOCKET FILE\n");
		return 2;
	}
	if (pagerd_connect(argv[1], &pd) != 0 ||
	    (fd = open(argv[2], O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 ||
	    pagerd_map_file(pd, fd, 0, (size_t)st.st_size, PROT_READ, 0,
	    (void **)&file) != 0 ||
	    pagerd_map_file(pd, fd, 0, (size_t)st.st_size, PROT_READ, 0,
	    (void **)&file2) != 0 ||
	    pagerd_map_zero(pd, MAP_PROG_COW, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&cow) != 0) {
		fprintf(stderr, "map-prog: %s\n", pagerd_errmsg());
		return 1;
	}
	npages = (size_t)st.st_size / 4096;
	sink = file[0];
	sink = file[100 * 4096];
	sink = file[500 * 4096];
	sink = file[(npages - 1) * 4096];
	sink = file2[300 * 4096];
	(void)sink;
	for (i = 0; i < sizeof written / sizeof written[0]; i++)
		cow[written[i] * 4096] = 1;
	printf("file %p %zu\n", (void *)file, npages);
	printf("cow %p %zu\n", (void *)cow, MAP_PROG_COW / 4096);
	printf("ready\n");
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	pagerd_close(pd);
	return 0;
}

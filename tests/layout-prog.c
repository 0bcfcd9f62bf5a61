/*
 * A process with a known layout, for tests/pagerctl-test.sh: it maps a
 * pagerd file region (one page touched, one not) and a plain file mapping,
 * prints "name address" for its text, read-only data, heap, stack, a
 * shared library, the file mapping, an unmapped hole and the two region
 * pages, and of a copy-on-write region it filled (its bytes also written
 * to FILE.ref), then "ready", and waits for its standard input to close.
 * Usage: layout-prog SOCKET FILE
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

static const char rodata[] = "read-only data of the layout program";

int
main(int argc, char **argv)
{
	volatile unsigned char sink;
	unsigned char *region, *plain, *hole, *cow;
	char ref[4096];
	size_t i;
	struct pagerd *pd;
	char *heap, c;
	int stack = 1, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: layout-prog SOCKET FILE\n");
		return 2;
	}
	if (pagerd_connect(argv[1], &pd) != 0 ||
	    (fd = open(argv[2], O_RDONLY | O_CLOEXEC)) == -1 ||
	    pagerd_map_file(pd, fd, 0, 64 * 4096, PROT_READ, 0,
	    (void **)&region) != 0) {
		fprintf(stderr, "layout-prog: %s\n", pagerd_errmsg());
		return 1;
	}
	plain = mmap(NULL, 4 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	hole = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (plain == MAP_FAILED || hole == MAP_FAILED ||
	    munmap(hole + 4096, 4096) != 0)
		return 1;
	/* The [heap] proper: malloc may not use it (a sanitizer's does not). */
	if ((heap = sbrk(4096)) == (void *)-1)
		return 1;
	heap[0] = 1;
	if (pagerd_map_zero(pd, 1 << 20, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&cow) != 0) {
		fprintf(stderr, "layout-prog: %s\n", pagerd_errmsg());
		return 1;
	}
	for (i = 0; i < (1 << 20); i += 4096 * 3)
		snprintf((char *)cow + i, 64, "page %zu of the cow region", i);
	snprintf(ref, sizeof ref, "%s.ref", argv[2]);
	if ((fd = open(ref, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644))
	    == -1 || write(fd, cow, 1 << 20) != 1 << 20)
		return 1;
	close(fd);
	sink = region[0];
	sink = plain[0];
	(void)sink;
	printf("text %p\n", (void *)(uintptr_t)main);
	printf("rodata %p\n", (void *)rodata);
	printf("heap %p\n", (void *)heap);
	printf("stack %p\n", (void *)&stack);
	printf("library %p\n", (void *)(uintptr_t)strlen);
	printf("file %p\n", (void *)plain);
	printf("hole %p\n", (void *)(hole + 4096));
	printf("region-touched %p\n", (void *)region);
	printf("region-untouched %p\n", (void *)(region + 40 * 4096));
	printf("cow %p\n", (void *)(cow + 5 * 4096));
	printf("ready\n");
	fflush(stdout);
	while (read(STDIN_FILENO, &c, 1) > 0)
		;
	pagerd_close(pd);
	return 0;
}

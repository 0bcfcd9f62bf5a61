/*
 * thp-prog: an unmodified program, run by tests/shim-thp-test.sh under the
 * shim, that maps MiB of anonymous memory, asks huge pages for it with
 * "thp" (MADV_HUGEPAGE), writes a pattern of its own to every other page
 * and reads all of it back. With "late" it writes the odd pages of the
 * first EARLY_MIB MiB before it asks, which must stay. With "trim" it
 * does as allocators that want 2 MiB-aligned memory do: it maps 4 MiB
 * more, unmaps the head and the tail around an aligned MiB and asks huge
 * pages for what is left. With "part" it asks them for PART_MIB MiB in
 * the middle of its mapping only, with "head" for its first PART_MIB. It prints its pid and the mapping's
 * AnonHugePages (from /proc/self/smaps, summed over what the mapping
 * became), then "ready", and exits once its standard input closes, so
 * that the test can ask the daemon about it meanwhile. It knows nothing
 * of pagerd. Exit 0, or 1 with the first wrong byte on stderr.
 */
#include <sys/mman.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096
#define EARLY_MIB 8
#define EARLY_BYTE 0xee
#define HUGE ((size_t)2 << 20)
#define PART_MIB 32

/* What byte i of the mapping holds: early pages written before advice. */
static unsigned int
thp_prog_byte(size_t i, int late)
{
	size_t page = i / PAGE;

	if (page % 2 == 0)
		return (unsigned int)(page % 251) + 1;
	return late && i < (size_t)EARLY_MIB << 20 ? EARLY_BYTE : 0;
}

/* The AnonHugePages of the mappings in [p, p + size), in kB, or -1. */
static long
thp_prog_huge_kb(const unsigned char *p, size_t size)
{
	char line[256];
	uintptr_t start, end;
	long kb = -1, v;
	int in = 0;
	FILE *f;

	if ((f = fopen("/proc/self/smaps", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &start,
		    &end) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = start < (uintptr_t)(p + size) &&
			    (uintptr_t)p < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &v) == 1)
			kb = (kb == -1 ? 0 : kb) + v;
	}
	fclose(f);
	return kb;
}

/*
 * Map size bytes; with trim, 2 MiB-aligned out of a larger mapping whose
 * head and tail are unmapped again, never neither.
 */
static unsigned char *
thp_prog_map(size_t size, int trim)
{
	unsigned char *q, *p;
	size_t more = trim ? 2 * HUGE : 0, head;

	q = mmap(NULL, size + more, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED || !trim)
		return q;
	p = (unsigned char *)(((uintptr_t)q + HUGE) & ~(uintptr_t)(HUGE - 1));
	head = (size_t)(p - q);
	if (munmap(q, head) == -1 || munmap(p + size, more - head) == -1)
		return MAP_FAILED;
	return p;
}

int
main(int argc, char **argv)
{
	unsigned char *p, *ap;
	size_t size, alen, i;
	const char *how;
	char buf[16];
	int late;

	how = argc == 3 ? argv[2] : "";
	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(how, "thp") != 0 &&
	    strcmp(how, "late") != 0 && strcmp(how, "trim") != 0 &&
	    strcmp(how, "part") != 0 && strcmp(how, "head") != 0)) {
		fprintf(stderr, "usage: thp-prog MiB [thp | late | trim | "
		    "part | head]\n");
		return 2;
	}
	late = strcmp(how, "late") == 0;
	size = (size_t)strtoul(argv[1], NULL, 10) << 20;
	if (size < (size_t)(PART_MIB + 2 * EARLY_MIB) << 20) {
		fprintf(stderr, "thp-prog: at least %d MiB\n",
		    PART_MIB + 2 * EARLY_MIB);
		return 2;
	}
	p = thp_prog_map(size, strcmp(how, "trim") == 0);
	if (p == MAP_FAILED) {
		perror("thp-prog: mmap");
		return 1;
	}
	for (i = PAGE; late && i < (size_t)EARLY_MIB << 20; i += 2 * PAGE)
		memset(p + i, EARLY_BYTE, PAGE);
	ap = p;
	alen = size;
	if (strcmp(how, "part") == 0) {
		ap = (unsigned char *)(((uintptr_t)p + ((size_t)EARLY_MIB <<
		    20)) & ~(uintptr_t)(HUGE - 1));
		alen = (size_t)PART_MIB << 20;
	} else if (strcmp(how, "head") == 0)
		alen = (size_t)PART_MIB << 20;
	if (argc == 3 && madvise(ap, alen, MADV_HUGEPAGE) == -1) {
		perror("thp-prog: madvise MADV_HUGEPAGE");
		return 1;
	}
	for (i = 0; i < size; i += 2 * PAGE)
		memset(p + i, (int)thp_prog_byte(i, late), PAGE);
	for (i = 0; i < size; i++)
		if (p[i] != thp_prog_byte(i, late)) {
			fprintf(stderr, "thp-prog: byte %zu is %u\n", i, p[i]);
			return 1;
		}
	printf("pid %d\nhuge %ld\nready\n", (int)getpid(),
	    thp_prog_huge_kb(p, size));
	fflush(stdout);
	while (read(0, buf, sizeof buf) > 0)
		continue;
	return 0;
}

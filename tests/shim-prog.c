/*
 * A program that knows nothing of pagerd, run by tests/shim-test.sh under
 * the LD_PRELOAD shim (and once without it): plain mmap, mremap (move,
 * grow, shrink), munmap of a middle, MADV_DONTNEED and fork on a file
 * mapping and a large anonymous one, checking every byte. Prints one
 * checksum line, which must not depend on whether pagerd served it.
 * Usage: shim-prog FILE, after shim-prog --make FILE wrote the pattern;
 * shim-prog --sum FILE only maps FILE and prints a checksum of it;
 * shim-prog --advise FILE maps it privately, checksums it and prints what
 * madvise(2) answers to each advice on it.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HARNESS_STANDALONE	/* see harness.h */
#include "harness.h"

#define SEED 0x5eed000dull
#define PAGE 4096u
#define SIZE (4u << 20)
#define ANON (16u << 20)

static uint64_t sum;

static void
check_range(const unsigned char *p, uint64_t off, uint64_t len)
{
	uint64_t o, w;

	for (o = 0; o < len; o += 8) {
		memcpy(&w, p + o, 8);
		if (w != harness_word(off + o, SEED)) {
			fprintf(stderr, "FAIL: the word at file offset %" PRIu64
			    " is 0x%" PRIx64 ", the file has 0x%" PRIx64 "\n",
			    off + o, w, harness_word(off + o, SEED));
			exit(1);
		}
	}
}

static void
add(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 64)
		sum = sum * 31 + p[i];
}

/* What madvise(2) answers on a private file mapping, advice by advice. */
static void
advise(const char *path)
{
	static const struct {
		int advice;
		const char *name;
	} advs[] = {
		{ MADV_NORMAL, "normal" }, { MADV_WILLNEED, "willneed" },
		{ MADV_FREE, "free" }, { MADV_REMOVE, "remove" },
		{ MADV_WIPEONFORK, "wipeonfork" }, { MADV_KEEPONFORK,
		"keeponfork" }, { MADV_DONTNEED, "dontneed" },
	};
	unsigned char *f;
	size_t i;
	int fd, ret;

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	f = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(f != MAP_FAILED);
	add(f, SIZE);
	printf("%016" PRIx64 "\n", sum);
	for (i = 0; i < sizeof advs / sizeof advs[0]; i++) {
		errno = 0;
		ret = madvise(f + PAGE, 4 * PAGE, advs[i].advice);
		printf("madvise %s: %d %s\n", advs[i].name, ret, ret == 0 ?
		    "" : strerror(errno));
	}
	check_range(f, 0, SIZE);
}

int
main(int argc, char **argv)
{
	unsigned char *f, *a, *g;
	int fd, status;
	pid_t pid;
	size_t i;

	if (argc == 3 && strcmp(argv[1], "--make") == 0) {
		CHECK((fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644)) != -1);
		for (i = 0; i < SIZE; i += 8)
			CHECK(write(fd, &(uint64_t){ harness_word(i, SEED) },
			    8) == 8);
		close(fd);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--sum") == 0) {
		/* The light mode: map the file, checksum it, done. */
		CHECK((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) != -1);
		f = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
		CHECK(f != MAP_FAILED);
		add(f, SIZE);
		printf("%016" PRIx64 "\n", sum);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--advise") == 0) {
		advise(argv[2]);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: shim-prog [--make | --sum | --advise] "
		    "FILE\n");
		return 2;
	}
	CHECK((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) != -1);
	f = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(f != MAP_FAILED);
	a = mmap(NULL, ANON, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED);
	check_range(f, 0, 64 * PAGE);
	for (i = 0; i < ANON; i += 3 * PAGE)
		a[i] = (unsigned char)(i / PAGE);

	/* fork: both sides write, each sees its own. */
	if ((pid = fork()) == 0) {
		check_range(f, 0, SIZE);
		f[5 * PAGE] ^= 0xff;
		a[7] = 1;
		_exit(a[3 * PAGE] == 3 && f[5 * PAGE] !=
		    harness_word(5 * PAGE, SEED) % 256 ? 0 : 1);
	}
	CHECK(pid != -1);
	a[7] = 2;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	CHECK(a[7] == 2);
	check_range(f, 0, SIZE);

	/* Shrink the file mapping, grow it again (perhaps moved). */
	CHECK(mremap(f, SIZE, SIZE / 2, 0) == f);
	f = mremap(f, SIZE / 2, SIZE, MREMAP_MAYMOVE);
	CHECK(f != MAP_FAILED);
	check_range(f, 0, SIZE);
	add(f, SIZE);

	/* The anonymous one grows, moves, loses its middle and a range. */
	g = mremap(a, ANON, 2 * ANON, MREMAP_MAYMOVE);
	CHECK(g != MAP_FAILED);
	for (i = 0; i < 2 * ANON; i += PAGE)
		CHECK(g[i] == (i < ANON && i % (3 * PAGE) == 0 ?
		    (unsigned char)(i / PAGE) : 0));
	CHECK(munmap(g + ANON / 2, PAGE * 16) == 0);
	CHECK(madvise(g, ANON / 4, MADV_DONTNEED) == 0);
	for (i = 0; i < ANON / 4; i += PAGE)
		CHECK(g[i] == 0);
	add(g + ANON / 2 + PAGE * 16, ANON);
	CHECK(munmap(g, 2 * ANON) == 0);
	CHECK(munmap(f, SIZE) == 0);
	/* Large allocations (the shim serves them with PAGERD_ANON). */
	{
		unsigned char *m = malloc(ANON), *z = calloc(ANON / 4096, 4096);

		CHECK(m != NULL && z != NULL);
		CHECK(malloc_usable_size(m) >= ANON);
		for (i = 0; i < ANON; i += PAGE) {
			CHECK(z[i] == 0);
			m[i] = (unsigned char)(i / PAGE);
		}
		CHECK((m = realloc(m, 2 * ANON)) != NULL);
		for (i = 0; i < ANON; i += PAGE)
			CHECK(m[i] == (unsigned char)(i / PAGE));
		m[2 * ANON - 1] = 7;
		CHECK((m = realloc(m, 100)) != NULL);
		CHECK(m[0] == 0 && m[99] == 0);
		add(z, ANON);
		free(m);
		free(z);
	}
	printf("checksum %016" PRIx64 "\n", sum);
	return 0;
}

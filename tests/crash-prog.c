/*
 * A program that dies of a memory fault, one way per argument, for
 * tests/violation-test.sh: write-literal (a write to a string literal,
 * read-only data), exec-data (a jump into a non-executable page),
 * read-unmapped (a read of an address nothing maps), bus-eof (a read of a
 * mapped file's page past its end). Built without sanitizers, whose
 * handlers would take the signal first.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char data_code[64] = { 0xc3 };	/* ret, in .data */

int
main(int argc, char **argv)
{
	char *literal = (char *)"a string literal";
	volatile unsigned char *p;
	uintptr_t unmapped = 0x10;
	char path[] = "/tmp/crash-prog.XXXXXX";
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: crash-prog write-literal | exec-data | "
		    "read-unmapped | bus-eof\n");
		return 2;
	}
	/* The compiler must not know where the pointers point. */
	__asm__ volatile("" : "+r"(literal), "+r"(unmapped));
	if (strcmp(argv[1], "write-literal") == 0)
		*(volatile char *)literal = 'A';
	else if (strcmp(argv[1], "exec-data") == 0)
		((void (*)(void))(void *)data_code)();
	else if (strcmp(argv[1], "read-unmapped") == 0) {
		p = (volatile unsigned char *)unmapped;
		return *p;
	} else if (strcmp(argv[1], "bus-eof") == 0) {
		if ((fd = mkstemp(path)) == -1 || write(fd, "x", 1) != 1)
			return 3;
		unlink(path);
		p = mmap(NULL, 2 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			return 3;
		return p[4096];
	}
	return 1;
}

/*
 * pagerd-example: map a file and a zero region through pagerd, check every
 * byte, and say what the daemon served. The quick start runs it.
 *
 * usage: pagerd-example [-h] [-s socket] [file]
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pagerd.h>

#define EXAMPLE_FILE_SIZE (16u << 20)
#define EXAMPLE_ZERO_SIZE (4u << 20)

static void
usage(FILE *f)
{
	fprintf(f, "usage: pagerd-example [-h] [-s socket] [file]\n"
	    "Maps file (default: a new 16 MiB file) and a 4 MiB zero region "
	    "through pagerd\nand checks every byte.\n");
}

/* A temporary file whose every 8-byte word says where it is. */
static int
make_file(void)
{
	char path[4096];
	const char *tmp = getenv("TMPDIR");
	uint64_t *buf;
	size_t i;
	int fd;

	snprintf(path, sizeof path, "%s/pagerd-example.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");
	if ((fd = mkstemp(path)) == -1)
		err(1, "mkstemp %s", path);
	unlink(path);
	if ((buf = malloc(EXAMPLE_FILE_SIZE)) == NULL)
		err(1, "malloc");
	for (i = 0; i < EXAMPLE_FILE_SIZE / 8; i++)
		buf[i] = i * 8 * 0x9E3779B97F4A7C15ull;
	if (write(fd, buf, EXAMPLE_FILE_SIZE) != (ssize_t)EXAMPLE_FILE_SIZE)
		err(1, "write %s", path);
	free(buf);
	return fd;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *socket_path = NULL;
	struct pagerd_stats st;
	struct pagerd_info info;
	struct pagerd *pd;
	struct stat sb;
	char *file, *zero, *copy;
	double t0, t1;
	size_t size, i;
	int ch, fd;

	while ((ch = getopt(argc, argv, "hs:")) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case 's':
			socket_path = optarg;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return 1;
	}
	if (optind < argc) {
		if ((fd = open(argv[optind], O_RDONLY | O_CLOEXEC)) == -1)
			err(1, "%s", argv[optind]);
	} else
		fd = make_file();
	if (fstat(fd, &sb) == -1)
		err(1, "fstat");
	if ((size = (size_t)sb.st_size) == 0)
		errx(1, "the file is empty");

	if (pagerd_connect(socket_path, &pd) < 0)
		errx(1, "%s", pagerd_errmsg());
	pagerd_info(pd, &info);
	printf("connected: session %u, %s\n", info.session_id,
	    info.kernel_faults ? "kernel and user faults" :
	    "user-mode faults only (system calls cannot fill regions)");

	if (pagerd_map_file(pd, fd, 0, size, PROT_READ, 0, (void **)&file) < 0)
		errx(1, "map file: %s", pagerd_errmsg());
	if (pagerd_map_zero(pd, EXAMPLE_ZERO_SIZE, PROT_READ | PROT_WRITE, 0,
	    (void **)&zero) < 0)
		errx(1, "map zero region: %s", pagerd_errmsg());

	/* The reference copy comes from read(2), not from any mapping. */
	if ((copy = malloc(size)) == NULL)
		err(1, "malloc");
	if (pread(fd, copy, size, 0) != (ssize_t)size)
		err(1, "pread");

	t0 = now();
	if (memcmp(file, copy, size) != 0) {
		for (i = 0; file[i] == copy[i]; i++)
			;
		errx(1, "MISMATCH at file offset %zu: 0x%02x, expected 0x%02x",
		    i, (unsigned char)file[i], (unsigned char)copy[i]);
	}
	for (i = 0; i < EXAMPLE_ZERO_SIZE; i++)
		if (zero[i] != 0)
			errx(1, "MISMATCH: zero region byte %zu is 0x%02x", i,
			    (unsigned char)zero[i]);
	for (i = 0; i < EXAMPLE_ZERO_SIZE; i += 4096)
		zero[i] = (char)(i >> 12);
	for (i = 0; i < EXAMPLE_ZERO_SIZE; i += 4096)
		if (zero[i] != (char)(i >> 12))
			errx(1, "MISMATCH: write to the zero region lost at %zu",
			    i);
	t1 = now();

	if (pagerd_stats(pd, &st) < 0)
		errx(1, "stats: %s", pagerd_errmsg());
	printf("read %zu bytes of file and %u bytes of zero region: every "
	    "byte right\n", size, EXAMPLE_ZERO_SIZE);
	printf("pagerd served %llu faults: %llu pages from the file (%llu "
	    "bytes read in %llu reads), %llu pages of zeros, %llu failed\n",
	    (unsigned long long)st.faults,
	    (unsigned long long)st.pages_file,
	    (unsigned long long)st.bytes_read, (unsigned long long)st.reads,
	    (unsigned long long)st.pages_zero,
	    (unsigned long long)st.errors);
	printf("time: %.3f s (%.2f us per page)\nOK\n", t1 - t0,
	    (t1 - t0) * 1e6 / (double)((size + EXAMPLE_ZERO_SIZE) / 4096));

	pagerd_unmap(pd, file);
	pagerd_unmap(pd, zero);
	pagerd_close(pd);
	free(copy);
	close(fd);
	return 0;
}

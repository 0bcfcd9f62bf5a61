/*
 * Description: a stream through a file that is not in the kernel's page
 * cache is read with O_DIRECT straight into the daemon's cache: the pages
 * a client maps hold the file's bytes (a file whose end is not page
 * aligned: zeros past it), and the kernel's page cache of the file stays
 * nearly empty (a read through it would fill it whole). A file the kernel
 * holds is read there: its second client's scan makes the daemon read
 * (almost) nothing from the disk (/proc/PID/io). The daemon keeps no cache
 * after a client (cache-linger 0), so each scan fills a new one.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SIZE ((24u << 20) + 1000)
#define SEED 0xc01dd1ec7ull
#define NPAGES ((SIZE + 4095) / 4096)

/* The daemon's bytes read from storage so far (/proc/PID/io). */
static uint64_t
daemon_read_bytes(const struct harness_daemon *d)
{
	char path[64], line[128];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/io", (int)d->pid);
	CHECKF((f = fopen(path, "re")) != NULL, "%s: %s", path,
	    strerror(errno));
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "read_bytes: %" SCNu64, &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Read path whole through the kernel's page cache. */
static void
warm(const char *path)
{
	static char buf[1 << 20];
	ssize_t n;
	int fd;

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	while ((n = read(fd, buf, sizeof buf)) > 0)
		;
	CHECK(n == 0);
	close(fd);
}

/* A client (a child) maps fd and reads every page in order, checked. */
static void
scan(const struct harness_daemon *d, int fd)
{
	struct pagerd *pd;
	const char *p;
	void *map;
	uint64_t i;
	pid_t pid;

	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		CHECKF(pagerd_connect(d->sock, &pd) == 0, "connect: %s",
		    pagerd_errmsg());
		harness_need_shared_cache(pd);
		CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &map) ==
		    0, "map: %s", pagerd_errmsg());
		p = map;
		for (i = 0; i < NPAGES; i++)
			harness_check_range(p + i * 4096, i * 4096, 4096, SEED,
			    SIZE);
		pagerd_close(pd);
		_exit(0);
	}
	CHECKF(harness_wait(pid) == 0, "the client's scan failed");
	harness_wait_idle(d->sock);
}

int
main(void)
{
	struct harness_daemon d;
	char path[512];
	uint64_t before, read;
	size_t cached;
	int fd;

	harness_start_conf(&d, "cache-linger 0\nreplay 0\n");
	harness_make_file(&d, "cold.dat", SIZE, SEED, path, sizeof path);

	/* Cold: read past the page cache, which stays nearly empty. */
	fd = harness_open_cold(&d, path);
	scan(&d, fd);
	cached = harness_kernel_cached(path);
	CHECKF(cached < NPAGES / 10, "the kernel's page cache holds %zu of "
	    "the cold file's %u pages after the daemon read it", cached,
	    (unsigned int)NPAGES);
	CHECK(harness_log_has(&d, "cold windows are read with O_DIRECT"));

	/* Hot: the kernel's pages are copied, not read from the disk again. */
	warm(path);
	CHECK(harness_kernel_cached(path) == NPAGES);
	before = daemon_read_bytes(&d);
	scan(&d, fd);
	read = daemon_read_bytes(&d) - before;
	CHECKF(read < SIZE / 10, "the daemon read %" PRIu64 " bytes from the "
	    "disk for a file the kernel held whole", read);
	close(fd);
	harness_stop(&d);
	return 0;
}

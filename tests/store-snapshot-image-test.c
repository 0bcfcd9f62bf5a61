/*
 * Description: pagerd_snapshot_store writes the point-in-time image of a
 * copy-on-write region into a store's export from an offset while the
 * program writes on: nbdcopy reads the export back as the region's bytes
 * at the instant (a zero region's untouched pages as zeros over what the
 * export held), the rest of the export untouched. A read-only export
 * fails with EROFS, a region that does not fit in the export from the
 * offset with ENOSPC, and the export is not written.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed1318ull
#define EXPORT (16u << 20)
#define FILE_SIZE (4u << 20)
#define ZERO_SIZE (1u << 20)
#define ZERO_AT (8u << 20)	/* where the zero region's image goes */
#define PAGE 4096u

/* What the export holds now, read by nbdcopy into out. */
static unsigned char *
export_read(const char *uri, const char *out)
{
	char cmd[1024];
	unsigned char *back;
	int fd;

	snprintf(cmd, sizeof cmd, "nbdcopy '%s' %s", uri, out);
	CHECKF(system(cmd) == 0, "%s failed", cmd);
	CHECK((back = malloc(EXPORT)) != NULL);
	CHECK((fd = open(out, O_RDONLY)) != -1);
	CHECK(read(fd, back, EXPORT) == EXPORT);
	close(fd);
	return back;
}

static void
check_fill(const unsigned char *b, size_t from, size_t to, unsigned char v)
{
	size_t i;

	for (i = from; i < to; i++)
		CHECKF(b[i] == v, "byte 0x%zx of the export is 0x%02x, not "
		    "0x%02x", i, b[i], v);
}

int
main(void)
{
	struct harness_daemon d, f;
	struct nbdkit k, ro;
	char img[512], out[512], ff[512], rodir[512], conf[2048], cmd[1024];
	unsigned char *m, *z, *want, *back;
	struct pagerd *pd;
	uint32_t id;
	void *addr;
	size_t i;
	int fd;

	nbdkit_need_nbdcopy();
	nbdkit_image(&f, FILE_SIZE, SEED, img, sizeof img);
	snprintf(out, sizeof out, "%s/out", f.dir);
	snprintf(ff, sizeof ff, "%s/ff", f.dir);
	snprintf(rodir, sizeof rodir, "%s/ro", f.dir);
	CHECK(mkdir(rodir, 0755) == 0);
	nbdkit_start(&k, f.dir, "memory", "16M", NULL);
	nbdkit_start(&ro, rodir, "-r", "memory", "16M", NULL);
	/* The export holds 0xff before: the image must replace all of it. */
	CHECK((want = malloc(EXPORT)) != NULL);
	memset(want, 0xff, EXPORT);
	CHECK((fd = open(ff, O_RDWR | O_CREAT | O_TRUNC, 0644)) != -1);
	CHECK(write(fd, want, EXPORT) == EXPORT);
	close(fd);
	snprintf(cmd, sizeof cmd, "nbdcopy %s '%s'", ff, k.uri);
	CHECKF(system(cmd) == 0, "%s failed", cmd);
	snprintf(conf, sizeof conf, "store rw %s\nstore ro %s\n", k.uri,
	    ro.uri);
	harness_start_conf(&d, conf);

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK((fd = open(img, O_RDONLY)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, FILE_SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, &addr) == 0, "map: %s", pagerd_errmsg());
	close(fd);
	m = addr;
	CHECKF(pagerd_map_zero(pd, ZERO_SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, &addr) == 0, "map zero: %s", pagerd_errmsg());
	z = addr;

	/* The instant's content: the file, some pages written. */
	harness_check_range(m, 0, PAGE, SEED, FILE_SIZE);
	memset(m + 8, 0x5a, 8);
	memset(m + 300 * PAGE, 0x5a, PAGE);
	memset(z + 3 * PAGE, 0x77, PAGE);
	memcpy(want, m, FILE_SIZE);		/* every page read: the instant */
	memcpy(want + ZERO_AT, z, ZERO_SIZE);

	/* The program writes every page while the image is written. */
	CHECKF(pagerd_snapshot_store_start(pd, m, "rw", 0, &id) == 0,
	    "snapshot: %s", pagerd_errmsg());
	for (i = 0; i < FILE_SIZE; i += PAGE)
		memset(m + i, 0xc3, 16);
	CHECKF(pagerd_snapshot_wait(pd, id) == 0, "snapshot wait: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_snapshot_store(pd, z, "rw", ZERO_AT) == 0,
	    "snapshot of the zero region: %s", pagerd_errmsg());
	memset(z, 0x11, ZERO_SIZE);		/* after: not in the image */

	back = export_read(k.uri, out);
	CHECK(memcmp(back, want, ZERO_AT + ZERO_SIZE) == 0);
	check_fill(back, FILE_SIZE, ZERO_AT, 0xff);
	check_fill(back, ZERO_AT + ZERO_SIZE, EXPORT, 0xff);
	free(back);

	/* Refused, with the cause; the export stays as it was. */
	CHECK(pagerd_snapshot_store(pd, m, "ro", 0) == -EROFS);
	CHECKF(strstr(pagerd_errmsg(), "read-only") != NULL, "%s",
	    pagerd_errmsg());
	CHECK(pagerd_snapshot_store(pd, m, "rw", EXPORT - FILE_SIZE +
	    PAGE) == -ENOSPC);
	CHECKF(strstr(pagerd_errmsg(), "past the export's end") != NULL, "%s",
	    pagerd_errmsg());
	CHECK(pagerd_snapshot_store(pd, m, "nosuch", 0) == -ENOENT);
	back = export_read(k.uri, out);
	CHECK(memcmp(back, want, ZERO_AT + ZERO_SIZE) == 0);
	check_fill(back, ZERO_AT + ZERO_SIZE, EXPORT, 0xff);
	free(back);
	/* The region can still be snapshotted after the refusals. */
	CHECKF(pagerd_snapshot_store(pd, m, "rw", 0) == 0, "snapshot: %s",
	    pagerd_errmsg());
	pagerd_close(pd);

	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	nbdkit_stop(&k);
	nbdkit_stop(&ro);
	free(want);
	unlink(out);
	unlink(ff);
	unlink(img);
	rmdir(rodir);
	nbdkit_files_remove(f.dir);
	printf("a snapshot into a store: nbdcopy reads the instant's image\n");
	return 0;
}

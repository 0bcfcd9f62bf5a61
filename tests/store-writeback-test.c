/*
 * Description: a PAGERD_MAP_WRITEBACK region of a store writes its dirty
 * pages back with NBD writes and a flush on pagerd_sync: nbdcopy then
 * reads the export as the image with exactly the written bytes changed;
 * pages never written keep the store's bytes. A store whose export is
 * read-only (nbdkit -r) fails the sync with the error, not silently.
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

#define SEED 0x5eed7018ull
#define SIZE (8u << 20)

static const size_t written[] = { 0, 3 * 4096 + 8, 700 * 4096 + 4000,
    SIZE - 8 };

int
main(void)
{
	struct harness_daemon d;
	struct harness_daemon f;
	struct nbdkit k, ro;
	char img[512], out[512], conf[2048], cmd[1400], rodir[300];
	unsigned char *m, *back;
	struct pagerd *pd;
	uint64_t word;
	size_t i, n;
	void *addr;
	int fd, error;

	nbdkit_need_nbdcopy();
	nbdkit_image(&f, SIZE, SEED, img, sizeof img);
	snprintf(out, sizeof out, "%s/out", f.dir);
	snprintf(rodir, sizeof rodir, "%s/ro", f.dir);
	CHECK(mkdir(rodir, 0755) == 0);
	nbdkit_start(&k, f.dir, "file", img, NULL);
	nbdkit_start(&ro, rodir, "-r", "file", img, NULL);
	snprintf(conf, sizeof conf, "store rw %s\nstore ro %s\n", k.uri,
	    ro.uri);
	harness_start_conf(&d, conf);

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "rw", 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, &addr) == 0, "map: %s", pagerd_errmsg());
	m = addr;
	harness_check_range(m + (1 << 20), 1 << 20, 4096, SEED, SIZE);
	for (i = 0; i < sizeof written / sizeof written[0]; i++)
		memset(m + written[i], 0xa5, 8);
	CHECKF(pagerd_sync(pd, m) == 0, "sync: %s", pagerd_errmsg());

	/* What the export holds now, read by another client of NBD. */
	snprintf(cmd, sizeof cmd, "nbdcopy '%s' %s", k.uri, out);
	CHECKF(system(cmd) == 0, "%s failed", cmd);
	CHECK((back = malloc(SIZE)) != NULL);
	CHECK((fd = open(out, O_RDONLY)) != -1);
	CHECK(read(fd, back, SIZE) == SIZE);
	close(fd);
	for (i = 0; i < sizeof written / sizeof written[0]; i++) {
		for (n = 0; n < 8; n++)
			CHECKF(back[written[i] + n] == 0xa5, "byte 0x%zx of "
			    "the export was not written back", written[i] + n);
		/* Put the image's word back: the rest must be the image. */
		word = harness_word(written[i], SEED);
		memcpy(back + written[i], &word, 8);
	}
	harness_check_range(back, 0, SIZE, SEED, SIZE);
	free(back);
	CHECK(pagerd_unmap(pd, m) == 0);

	/* A read-only export: the write-back fails, with the cause. */
	CHECKF(pagerd_map_store(pd, "ro", 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, &addr) == 0, "map ro: %s", pagerd_errmsg());
	m = addr;
	m[5 * 4096] = 1;
	error = pagerd_sync(pd, m);
	CHECKF(error < 0, "a write-back to a read-only export: %d", error);
	printf("sync to a read-only export: %s\n", pagerd_errmsg());
	pagerd_close(pd);

	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	nbdkit_stop(&k);
	nbdkit_stop(&ro);
	unlink(out);
	unlink(img);
	rmdir(rodir);
	nbdkit_files_remove(f.dir);
	printf("write-back to a store: nbdcopy reads what was written\n");
	return 0;
}

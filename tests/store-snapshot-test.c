/*
 * Description: pagerd_snapshot of a copy-on-write store region writes an
 * image that holds the store's bytes for pages never touched and the
 * program's for pages it wrote, while the export stays as it was.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed8018ull
#define SIZE (4u << 20)

int
main(void)
{
	struct harness_daemon d;
	struct harness_daemon f;
	struct nbdkit k;
	char img[512], snap[512], conf[1024];
	struct pagerd *pd;
	unsigned char *m, *back;
	uint64_t word;
	void *addr;
	int fd;

	nbdkit_image(&f, SIZE, SEED, img, sizeof img);
	nbdkit_start(&k, f.dir, "file", img, NULL);
	snprintf(conf, sizeof conf, "store img %s\n", k.uri);
	harness_start_conf(&d, conf);
	snprintf(snap, sizeof snap, "%s/snap", d.dir);

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "img", 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, &addr) == 0, "map: %s", pagerd_errmsg());
	m = addr;
	harness_check_range(m, 0, 4096, SEED, SIZE);
	memset(m + 8, 0x5a, 8);			/* a page read, then written */
	memset(m + 300 * 4096, 0x5a, 8);	/* a page only written */
	CHECK((fd = open(snap, O_RDWR | O_CREAT | O_TRUNC, 0644)) != -1);
	CHECKF(pagerd_snapshot(pd, m, fd) == 0, "snapshot: %s",
	    pagerd_errmsg());
	CHECK((back = malloc(SIZE)) != NULL);
	CHECK(pread(fd, back, SIZE, 0) == SIZE);
	close(fd);
	CHECK(back[8] == 0x5a && back[300 * 4096] == 0x5a);
	word = harness_word(8, SEED);
	memcpy(back + 8, &word, 8);
	word = harness_word(300 * 4096, SEED);
	memcpy(back + 300 * 4096, &word, 8);
	harness_check_range(back, 0, SIZE, SEED, SIZE);
	pagerd_close(pd);
	/* Copy-on-write: the store has not changed. */
	CHECK((fd = open(img, O_RDONLY)) != -1);
	CHECK(pread(fd, back, SIZE, 0) == SIZE);
	close(fd);
	harness_check_range(back, 0, SIZE, SEED, SIZE);
	free(back);

	nbdkit_end(&d, &k, f.dir);
	printf("a snapshot of a store region: the store's bytes and the "
	    "program's writes\n");
	return 0;
}

/*
 * Description: a reload that changes a store's URI, then drops its line,
 * retires the store without disturbing its regions: a region mapped
 * before keeps reading the export it was mapped from; a new map of the
 * name reads the new URI's; once the line is gone the name is refused
 * (ENOENT) while the old region is still served.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED_A 0x5eed5018ull
#define SEED_B 0x5eed6018ull
#define SIZE (4u << 20)

int
main(void)
{
	struct harness_daemon d;
	struct harness_daemon f;
	struct nbdkit ka, kb;
	char img_a[512], img_b[512], conf[512], text[2048], dir_a[300],
	    dir_b[300];
	struct pagerd *pd;
	void *old, *fresh;

	nbdkit_need();
	nbdkit_files(&f);
	harness_make_file(&f, "a", SIZE, SEED_A, img_a, sizeof img_a);
	harness_make_file(&f, "b", SIZE, SEED_B, img_b, sizeof img_b);
	snprintf(dir_a, sizeof dir_a, "%s/a.d", f.dir);
	snprintf(dir_b, sizeof dir_b, "%s/b.d", f.dir);
	CHECK(mkdir(dir_a, 0755) == 0 && mkdir(dir_b, 0755) == 0);
	nbdkit_start(&ka, dir_a, "file", img_a, NULL);
	nbdkit_start(&kb, dir_b, "file", img_b, NULL);
	snprintf(conf, sizeof conf, "%s/pagerd.conf", dir_a);
	snprintf(text, sizeof text, "store s %s\n", ka.uri);
	nbdkit_write_file(conf, text);
	harness_start(&d, "-f", conf, NULL);

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "s", 0, SIZE, PROT_READ, 0, &old) == 0,
	    "map: %s", pagerd_errmsg());
	harness_check_range(old, 0, 4096, SEED_A, SIZE);

	snprintf(text, sizeof text, "store s %s\n", kb.uri);
	nbdkit_reload(&d, conf, text, 1);
	CHECKF(pagerd_map_store(pd, "s", 0, SIZE, PROT_READ, 0, &fresh) == 0,
	    "map after the URI changed: %s", pagerd_errmsg());
	harness_check_range(fresh, 0, SIZE, SEED_B, SIZE);
	/* The region mapped before reads the export it was mapped from. */
	harness_check_range(old, 0, SIZE, SEED_A, SIZE);
	CHECK(pagerd_unmap(pd, fresh) == 0);
	CHECK(pagerd_unmap(pd, old) == 0);

	CHECKF(pagerd_map_store(pd, "s", 0, SIZE, PROT_READ, 0, &old) == 0,
	    "map: %s", pagerd_errmsg());
	nbdkit_reload(&d, conf, "log-level debug\n", 2);
	CHECK(pagerd_map_store(pd, "s", 0, SIZE, PROT_READ, 0, &fresh) ==
	    -ENOENT);
	harness_check_range(old, 0, SIZE, SEED_B, SIZE);
	pagerd_close(pd);

	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	nbdkit_stop(&ka);
	nbdkit_stop(&kb);
	unlink(conf);
	unlink(img_a);
	unlink(img_b);
	rmdir(dir_a);
	rmdir(dir_b);
	nbdkit_files_remove(f.dir);
	printf("a store's line changed and dropped: its regions kept their "
	    "export\n");
	return 0;
}

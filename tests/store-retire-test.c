/*
 * Description: a retired store is freed once its last region goes, not
 * kept until the daemon exits. A reload drops the line of a store with a
 * region and a copy-on-write region mapped: pagerctl stores lists it
 * retired while they are served; once they are unmapped (the client
 * still connected, with a region of another kind) it is gone from the
 * list, its page cache is gone at once rather than lingering, the daemon
 * says it freed it, and its descriptors are back to where they were
 * before the store was used.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed4818ull
#define SIZE (4u << 20)

int
main(void)
{
	struct harness_daemon d, f;
	struct nbdkit k;
	char img[512], conf[512], text[1024], out[8192];
	struct pagerd *pd;
	void *r, *cow, *zero;
	int baseline, i;

	nbdkit_image(&f, SIZE, SEED, img, sizeof img);
	nbdkit_start(&k, f.dir, "file", img, NULL);
	snprintf(conf, sizeof conf, "%s/pagerd.conf", f.dir);
	snprintf(text, sizeof text, "store s %s\n", k.uri);
	nbdkit_write_file(conf, text);
	harness_start(&d, "-f", conf, NULL);
	baseline = harness_settled_fds(d.pid);

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, SIZE, PROT_READ | PROT_WRITE, 0, &zero) ==
	    0, "map zero: %s", pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "s", 0, SIZE, PROT_READ, 0, &r) == 0,
	    "map: %s", pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "s", 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, &cow) == 0, "map copy-on-write: %s",
	    pagerd_errmsg());
	harness_check_range(r, 0, SIZE / 2, SEED, SIZE);
	harness_check_range(cow, 0, 4096, SEED, SIZE);

	/* The line goes: retired, its regions served all the same. */
	nbdkit_reload(&d, conf, "log-level debug\n", 1);
	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"name\":\"s\"") != NULL && strstr(out,
	    "\"state\":\"retired\"") != NULL, "a retired store in use is not "
	    "listed retired: %s", out);
	harness_check_range(r, 0, SIZE, SEED, SIZE);
	harness_check_range(cow, 0, SIZE, SEED, SIZE);

	/* Its last regions go: so does it, and its cache with them. */
	CHECK(pagerd_unmap(pd, r) == 0);
	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"name\":\"s\"") != NULL, "the retired store "
	    "went while its copy-on-write region is mapped: %s", out);
	CHECK(pagerd_unmap(pd, cow) == 0);
	harness_wait_caches(d.sock, 0, "the retired store's regions unmapped");
	for (i = 0; i < 500 && !harness_log_has(&d, "store s: retired, and "
	    "its last region went: freed"); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, "store s: retired, and its last region "
	    "went: freed"), "the daemon did not free the retired store");
	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"name\":\"s\"") == NULL, "a retired store whose "
	    "regions all went is still listed: %s", out);
	CHECK(pagerd_unmap(pd, zero) == 0);
	pagerd_close(pd);
	harness_expect_fds(d.pid, d.sock, baseline, "before the store was "
	    "used");

	nbdkit_end(&d, &k, f.dir);
	printf("a retired store: freed with its last region\n");
	return 0;
}

/*
 * Description: regions of an NBD store (nbdkit's file plugin on a unix
 * socket, named by a store line) read right: four client processes at
 * once map the export, whole and from an offset, and check every byte
 * against the image, in order and scattered; the export's tail past its
 * last whole page reads as the image then zeros; an unknown store name
 * is refused with ENOENT; and the clients share one page cache.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed0018ull
#define CLIENTS 4
#define SIZE ((24u << 20) + 1234)	/* not a whole number of pages */

static struct harness_daemon d;

static void
client(int n)
{
	size_t len = (SIZE + 4095) & ~4095ul, i, pages = len / 4096, p;
	struct pagerd *pd;
	unsigned char *m, *o;
	void *addr;

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "img", 0, len, PROT_READ, 0, &addr) == 0,
	    "map: %s", pagerd_errmsg());
	m = addr;
	if (n % 2 == 0) {
		harness_check_range(m, 0, len, SEED, SIZE);
	} else {
		/* Scattered: every page once, in an order of its own. */
		for (i = 0; i < pages; i++) {
			p = (i * 7919 + (size_t)n * 31) % pages;
			harness_check_range(m + p * 4096, p * 4096, 4096, SEED,
			    SIZE);
		}
	}
	/* A second region of the same store, from 1 MiB on. */
	CHECKF(pagerd_map_store(pd, "img", 1 << 20, 4u << 20, PROT_READ |
	    PROT_WRITE, 0, &addr) == 0, "map at 1 MiB: %s", pagerd_errmsg());
	o = addr;
	harness_check_range(o, 1 << 20, 4u << 20, SEED, SIZE);
	/* Writes stay private. */
	o[0] ^= 0xff;
	harness_check_range(m + (1 << 20), 1 << 20, 4096, SEED, SIZE);
	CHECK(pagerd_unmap(pd, o) == 0);
	CHECK(pagerd_unmap(pd, m) == 0);
	pagerd_close(pd);
}

static int client_n;

static void
one_client(void)
{
	client(__atomic_fetch_add(&client_n, 1, __ATOMIC_RELAXED));
}

int
main(void)
{
	struct pd_stats_reply sr;
	struct harness_daemon f;
	struct nbdkit k;
	struct pagerd *pd;
	char path[512], conf[1024];
	void *addr;
	int i;

	nbdkit_image(&f, SIZE, SEED, path, sizeof path);
	nbdkit_start(&k, f.dir, "file", path, NULL);
	snprintf(conf, sizeof conf, "store img %s\nstore other %s\n", k.uri,
	    k.uri);
	harness_start_conf(&d, conf);

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK(pagerd_map_store(pd, "nosuch", 0, 4096, PROT_READ, 0, &addr) ==
	    -ENOENT);
	CHECKF(strstr(pagerd_errmsg(), "no such store") != NULL, "%s",
	    pagerd_errmsg());
	CHECK(pagerd_map_store(pd, "img", (off_t)SIZE + 4096, 4096, PROT_READ,
	    0, &addr) == -EINVAL);
	pagerd_close(pd);

	/* Clients of one fork share the counter; each its own number. */
	for (i = 0; i < CLIENTS; i++) {
		client_n = i;
		harness_clients(&d, 1, one_client, "");
	}
	harness_clients(&d, CLIENTS, one_client, "");
	harness_control_stats(d.sock, &sr);
	/* One cache for the store and the user, not one per client. */
	CHECKF(sr.caches == 1, "%u page caches for one store", sr.caches);
	nbdkit_end(&d, &k, f.dir);
	printf("%d clients of an NBD store: every byte right\n", CLIENTS);
	return 0;
}

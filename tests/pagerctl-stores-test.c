/*
 * Description: pagerctl stores lists the configuration's stores: idle
 * before use; ready once a client mapped one, with its export's size, a
 * connection and the reads done (also with -j); and to a user a store's
 * allow lists leave out, the store without its URI.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed9018ull
#define SIZE (4u << 20)

static struct harness_daemon d;

int
main(void)
{
	struct harness_daemon f;
	struct nbdkit k;
	char img[512], conf[1024], out[8192];
	struct pagerd *pd;
	void *addr;

	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	nbdkit_image(&f, SIZE, SEED, img, sizeof img);
	nbdkit_start(&k, f.dir, "file", img, NULL);
	snprintf(conf, sizeof conf, "store img %s\nstore locked %s allow-uid "
	    "pagerd-tb\n", k.uri, k.uri);
	harness_start_conf(&d, conf);

	harness_pagerctl(NULL, d.sock, "stores", out, sizeof out);
	CHECKF(strstr(out, "img ") != NULL && strstr(out, " idle ") != NULL,
	    "an unused store is not listed idle");

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "img", 0, SIZE, PROT_READ, 0, &addr) == 0,
	    "map: %s", pagerd_errmsg());
	harness_check_range(addr, 0, 4096, SEED, SIZE);
	harness_pagerctl(NULL, d.sock, "stores", out, sizeof out);
	CHECKF(strstr(out, " ready ") != NULL && strstr(out, "4.0 MiB") !=
	    NULL && strstr(out, k.uri) != NULL, "a store in use is not "
	    "listed ready, with its size and URI");
	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"name\":\"img\"") != NULL && strstr(out,
	    "\"state\":\"ready\"") != NULL && strstr(out, "\"size\":4194304") !=
	    NULL && strstr(out, "\"connections\":1") != NULL, "stores -j "
	    "lacks the store in use");
	CHECKF(strstr(out, "\"reads\":0,") == NULL || strstr(out,
	    "\"reads\":0,") > strstr(out, "\"name\":\"locked\""), "stores -j "
	    "counts no read of the store in use");
	pagerd_close(pd);

	/* pagerd-ta may not map "locked": it does not see its URI. */
	harness_pagerctl("pagerd-ta", d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"name\":\"locked\",\"uri\":\"\"") != NULL &&
	    strstr(out, "\"allowed\":false") != NULL, "a store's URI is shown "
	    "to a user it does not allow");

	nbdkit_end(&d, &k, f.dir);
	printf("pagerctl stores: idle, ready, and private URIs\n");
	return 0;
}

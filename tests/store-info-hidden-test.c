/*
 * Description: pagerctl stores hides a store's size and counters (reads,
 * bytes read, errors, connections) from a user its allow lists leave out,
 * so that pagerd-ta cannot watch when and how much pagerd-tb reads from
 * its store; root and the admin group still see them whole.
 */
#include "config.h"

#include <sys/mman.h>

#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed0b1dull
#define SIZE (4u << 20)
#define ADMIN "nogroup"

static struct harness_daemon d;

/* pagerd-tb reads its whole store. */
static void
victim(void *arg)
{
	struct pagerd *pd;
	void *addr;

	(void)arg;
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "locked", 0, SIZE, PROT_READ, 0, &addr) ==
	    0, "pagerd-tb, its store: %s", pagerd_errmsg());
	harness_check_range(addr, 0, SIZE, SEED, SIZE);
	pagerd_close(pd);
}

/* Does the listing show the store's size and the victim's reads? */
static int
shows_counters(const char *out)
{
	return strstr(out, "\"size\":4194304,") != NULL && strstr(out,
	    "\"reads\":0,") == NULL && strstr(out, "\"bytes_read\":0,") ==
	    NULL && strstr(out, "\"uri\":\"\"") == NULL;
}

int
main(void)
{
	struct harness_daemon f;
	struct nbdkit k;
	char img[512], conf[1024], out[8192], bin[1024];
	const char *pagerctl = getenv("PAGERCTL_BIN");
	struct group *admin;

	nbdkit_need();
	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	if ((admin = getgrnam(ADMIN)) == NULL)
		harness_skip("no group " ADMIN " for admin-group");
	nbdkit_files(&f);
	harness_make_file(&f, "image", SIZE, SEED, img, sizeof img);
	nbdkit_start(&k, f.dir, "file", img, NULL);
	snprintf(conf, sizeof conf, "admin-group " ADMIN "\nstore locked %s "
	    "allow-uid pagerd-tb\n", k.uri);
	harness_start_conf(&d, conf);

	CHECKF(harness_as_user("pagerd-tb", victim, NULL) == 0, "pagerd-tb "
	    "could not read its store");

	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF(shows_counters(out), "root does not see the store's size, "
	    "reads and URI");

	harness_pagerctl("pagerd-ta", d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"allowed\":false") != NULL, "pagerd-ta is "
	    "allowed the store");
	CHECKF(strstr(out, "\"size\":0,\"reads\":0,\"bytes_read\":0,"
	    "\"errors\":0,\"reconnects\":0,\"connections\":0,") != NULL,
	    "pagerd-ta sees the size and counters of pagerd-tb's store");
	harness_pagerctl("pagerd-ta", d.sock, "stores", out, sizeof out);
	CHECKF(strstr(out, "(not allowed)") != NULL, "pagerd-ta sees the "
	    "store's URI");

	/* pagerd-ta in the admin group sees it whole, as root does. */
	snprintf(bin, sizeof bin, "setpriv --reuid=pagerd-ta --regid="
	    "pagerd-ta --groups=%d -- %s", (int)admin->gr_gid,
	    pagerctl != NULL ? pagerctl : "./pagerctl");
	CHECKF(setenv("PAGERCTL_BIN", bin, 1) == 0, "setenv");
	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"allowed\":false") != NULL && shows_counters(out),
	    "the admin group does not see the store whole");

	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	nbdkit_stop(&k);
	nbdkit_files_remove(f.dir);
	printf("stores: size and counters only to who may map, root and "
	    "the admin group\n");
	return 0;
}

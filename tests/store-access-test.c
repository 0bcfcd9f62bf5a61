/*
 * Description: a store's allow-uid and allow-gid lists are checked
 * against the client's credentials: the attacker user pagerd-ta is
 * refused (EACCES) a store listed for pagerd-tb alone and for a group it
 * is not in, and reads a store without lists; pagerd-tb and root map the
 * listed one and read it right.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed4018ull
#define SIZE (4u << 20)

static struct harness_daemon d;

/* Map store name: 0 and its first page checked, or the error. */
static int
map(const char *name)
{
	struct pagerd *pd;
	void *addr;
	int error;

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	if ((error = pagerd_map_store(pd, name, 0, SIZE, PROT_READ, 0,
	    &addr)) == 0)
		harness_check_range(addr, 0, 4096, SEED, SIZE);
	pagerd_close(pd);
	return error;
}

static void
attacker(void *arg)
{
	int error;

	(void)arg;
	error = map("tb-only");
	CHECKF(error == -EACCES, "pagerd-ta mapped tb-only: %d", error);
	CHECKF(strstr(pagerd_errmsg(), "not allowed") != NULL, "%s",
	    pagerd_errmsg());
	error = map("tb-group");
	CHECKF(error == -EACCES, "pagerd-ta mapped tb-group: %d", error);
	CHECKF(map("open") == 0, "pagerd-ta, an open store: %s",
	    pagerd_errmsg());
}

static void
victim(void *arg)
{
	(void)arg;
	CHECKF(map("tb-only") == 0, "pagerd-tb, its store: %s",
	    pagerd_errmsg());
	CHECKF(map("tb-group") == 0, "pagerd-tb, its group's store: %s",
	    pagerd_errmsg());
}

int
main(void)
{
	struct passwd *tb;
	struct harness_daemon f;
	struct nbdkit k;
	char path[512], conf[2048];
	int status;

	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	CHECK((tb = getpwnam("pagerd-tb")) != NULL);
	nbdkit_image(&f, SIZE, SEED, path, sizeof path);
	nbdkit_start(&k, f.dir, "file", path, NULL);
	snprintf(conf, sizeof conf, "store open %s\n"
	    "store tb-only %s allow-uid pagerd-tb\n"
	    "store tb-group %s allow-gid %u\n", k.uri, k.uri, k.uri,
	    (unsigned int)tb->pw_gid);
	harness_start_conf(&d, conf);

	status = harness_as_user("pagerd-ta", attacker, NULL);
	CHECKF(status == 0, "pagerd-ta's client: status %d", status);
	status = harness_as_user("pagerd-tb", victim, NULL);
	CHECKF(status == 0, "pagerd-tb's client: status %d", status);
	CHECKF(map("tb-only") == 0, "root: %s", pagerd_errmsg());
	nbdkit_end(&d, &k, f.dir);
	printf("stores' allow lists: pagerd-ta refused, pagerd-tb and root "
	    "served\n");
	return 0;
}

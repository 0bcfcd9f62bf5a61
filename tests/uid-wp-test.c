/*
 * Description: one user's write-protected regions cannot stop another's.
 * With uid-max-wp-mib 64, pagerd-ta maps 16 MiB copy-on-write regions
 * until it is refused: the fifth is, with EDQUOT naming uid-max-wp-mib;
 * root then maps and writes its own 64 MiB of them, and pagerd-tb its 16.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define REGION (16u << 20)
#define TRIES 64

static struct harness_daemon d;

/* *np copy-on-write zero regions, each written and read back. */
static void
served(void *np)
{
	const char *sock = d.sock;
	int i, n = *(int *)np;
	struct pagerd *pd;
	unsigned char *p;
	size_t off;

	CHECKF(pagerd_connect(sock, &pd) == 0, "uid %d was refused: %s",
	    (int)getuid(), pagerd_errmsg());
	for (i = 0; i < n; i++) {
		CHECKF(pagerd_map_zero(pd, REGION, PROT_READ | PROT_WRITE,
		    PAGERD_MAP_COW, (void **)&p) == 0, "uid %d: region %d: %s",
		    (int)getuid(), i, pagerd_errmsg());
		for (off = 0; off < REGION; off += 1u << 20)
			p[off] = (unsigned char)i;
		for (off = 0; off < REGION; off += 1u << 20)
			CHECK(p[off] == (unsigned char)i);
	}
	pagerd_close(pd);
}

static void
attacker(const char *sock, struct harness_hold *h)
{
	struct pagerd *pd;
	int i, error = 0;
	void *p;

	harness_become_user("pagerd-ta");
	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	for (i = 0; i < TRIES; i++)
		if ((error = pagerd_map_zero(pd, REGION, PROT_READ |
		    PROT_WRITE, PAGERD_MAP_COW, &p)) != 0)
			break;
	if (error == -EOPNOTSUPP) {
		printf("SKIP: %s\n", pagerd_errmsg());
		fflush(stdout);
		_exit(77);
	}
	CHECKF(i < TRIES, "%d write-protected regions of 16 MiB, none "
	    "refused", TRIES);
	CHECKF(i == 4 && error == -EDQUOT && strstr(pagerd_errmsg(),
	    "uid-max-wp-mib") != NULL, "region %d refused with %d: %s", i,
	    error, pagerd_errmsg());
	printf("pagerd-ta: region %d refused: %s\n", i, pagerd_errmsg());
	harness_hold_ready(h);
	_exit(0);
}

int
main(void)
{
	struct harness_hold h;
	int status, root = 4, tb = 1;

	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	harness_start_conf(&d, "uid-max-wp-mib 64\n");
	if (harness_hold_start(&h) == 0)
		attacker(d.sock, &h);
	if ((status = harness_hold_wait(&h)) != 0) {
		harness_stop(&d);
		if (status == 77)
			harness_skip("pagerd-ta has no write-protected "
			    "regions");
		harness_fail(__FILE__, __LINE__, "pagerd-ta failed");
	}
	served(&root);
	printf("root: 64 MiB write-protected\n");
	CHECKF(harness_as_user("pagerd-tb", served, &tb) == 0,
	    "pagerd-tb was not served");
	printf("pagerd-tb: 16 MiB write-protected\n");
	CHECK(harness_hold_end(&h) == 0);
	harness_stop(&d);
	return 0;
}

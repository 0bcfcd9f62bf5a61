/*
 * Description: pagerctl shows the page caches' memory per user and, per
 * page-cache region, its pages resident in the shared cache, with the
 * numbers right. Root reads a 16 MiB file whole through a page cache:
 * `pagerctl -j regions` says 4096 pages cached and `-j status` 16 MiB
 * held by uid 0; pagerd-ta reads an 8 MiB file: its `status` shows its
 * own line (8 MiB) and not root's, root's shows both, as text and JSON.
 * Then, under a daemon of cache-max-mib 8, the 16 MiB file read whole
 * leaves fewer pages cached, and the region's count, root's line and the
 * daemon's held bytes agree.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define BIG (16u << 20)
#define SMALL (8u << 20)

static struct harness_daemon d;
static char paths[2][512];

/* Map file i of size bytes whole, check every page: its address. */
static void *
map(struct pagerd *pd, int i, size_t size)
{
	void *p;
	int fd;

	CHECK((fd = open(paths[i], O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, size, PROT_READ, 0, &p) == 0,
	    "uid %d: map file %d: %s", (int)getuid(), i, pagerd_errmsg());
	close(fd);
	harness_check_range(p, 0, size, 0x5eed0040ull + (uint64_t)i,
	    UINT64_MAX);
	return p;
}

static struct pagerd *
connect_cached(void)
{
	struct pagerd *pd;

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	return pd;
}

/* The number after key in s, or -1 when key is not there. */
static long long
field(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	return p != NULL ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void
other_user(void *arg)
{
	uid_t root_uid = 0, me = getuid();
	char out[8192], want[64];
	struct pagerd *pd;

	(void)arg;
	pd = connect_cached();
	map(pd, 1, SMALL);
	harness_pagerctl(NULL, d.sock, "-j status", out, sizeof out);
	snprintf(want, sizeof want, "{\"uid\":%u,\"cache_held\":", me);
	CHECKF(field(out, want) == SMALL, "pagerd-ta's line: %s", out);
	snprintf(want, sizeof want, "{\"uid\":%u,", root_uid);
	CHECKF(strstr(out, want) == NULL, "pagerd-ta sees root's line: %s",
	    out);
	harness_pagerctl(NULL, d.sock, "status", out, sizeof out);
	snprintf(want, sizeof want, "uid %-6u 8.0 MiB of its", me);
	CHECKF(strstr(out, want) != NULL, "no \"%s\" in: %s", want, out);
	CHECKF(strstr(out, "uid 0 ") == NULL, "pagerd-ta sees root: %s", out);
	/* Its region's count, and none of root's. */
	harness_pagerctl(NULL, d.sock, "-j regions", out, sizeof out);
	CHECKF(field(out, "\"cached\":") == SMALL / 4096 && strstr(out,
	    "},{") == NULL, "pagerd-ta's regions: %s", out);
	pagerd_close(pd);
}

int
main(void)
{
	struct pd_stats_reply sr;
	struct pagerd *pd;
	char out[8192], want[64];
	long long cached, held;
	uid_t ta;
	int status;

	if (sysconf(_SC_PAGESIZE) != 4096)
		harness_skip("the counts assume 4 KiB pages");
	ta = harness_test_user("pagerd-ta");
	harness_start_conf(&d, "cache-max-mib 512\nuid-max-cache-mib 256\n"
	    "cache-linger 30\n");
	harness_make_file(&d, "big", BIG, 0x5eed0040ull, paths[0],
	    sizeof paths[0]);
	harness_make_file(&d, "small", SMALL, 0x5eed0041ull, paths[1],
	    sizeof paths[1]);
	pd = connect_cached();
	map(pd, 0, BIG);
	snprintf(want, sizeof want, "-j regions %d", (int)getpid());
	harness_pagerctl(NULL, d.sock, want, out, sizeof out);
	CHECKF(field(out, "\"cached\":") == BIG / 4096, "regions: %s", out);
	harness_pagerctl(NULL, d.sock, "regions", out, sizeof out);
	CHECKF(strstr(out, " CACHED ") != NULL && strstr(out, " 4096 ") !=
	    NULL, "regions: %s", out);

	status = harness_as_user("pagerd-ta", other_user, NULL);
	if (status == 77) {
		harness_stop(&d);
		harness_skip("pagerd-ta's userfaultfd cannot map a shared page "
		    "cache");
	}
	CHECKF(status == 0, "pagerd-ta's view failed");
	/* Root sees every user; pagerd-ta's cache lingers, still held. */
	harness_pagerctl(NULL, d.sock, "-j status", out, sizeof out);
	CHECKF(field(out, "{\"uid\":0,\"cache_held\":") == BIG,
	    "root's line: %s", out);
	snprintf(want, sizeof want, "{\"uid\":%u,\"cache_held\":", ta);
	CHECKF(field(out, want) == SMALL, "pagerd-ta's line for root: %s", out);
	CHECKF(field(out, "\"cache_share\":") == 256ll << 20, "share: %s",
	    out);
	harness_pagerctl(NULL, d.sock, "status", out, sizeof out);
	CHECKF(strstr(out, "uid 0      16.0 MiB of its 256.0 MiB share") !=
	    NULL, "status: %s", out);
	pagerd_close(pd);
	harness_stop(&d);

	/* A budget of half the file: the region keeps what the budget does. */
	harness_start_conf(&d, "cache-max-mib 8\n");
	harness_make_file(&d, "big", BIG, 0x5eed0040ull, paths[0],
	    sizeof paths[0]);
	pd = connect_cached();
	map(pd, 0, BIG);
	harness_wait_held(d.sock, SMALL, &sr);
	snprintf(want, sizeof want, "-j regions %d", (int)getpid());
	harness_pagerctl(NULL, d.sock, want, out, sizeof out);
	cached = field(out, "\"cached\":");
	harness_pagerctl(NULL, d.sock, "-j status", out, sizeof out);
	held = field(out, "{\"uid\":0,\"cache_held\":");
	printf("cached %lld pages, root holds %lld KiB, evicted %lld KiB\n",
	    cached, held >> 10, field(out, "\"cache_evicted\":") >> 10);
	CHECKF(cached > 0 && cached <= SMALL / 4096, "%lld pages cached of "
	    "a budget of %u", cached, SMALL / 4096);
	CHECKF(held == cached * 4096 && field(out, "\"cache_held\":") == held,
	    "region %lld pages, root's line %lld, held %lld: %s", cached, held,
	    field(out, "\"cache_held\":"), out);
	CHECKF(field(out, "\"cache_evicted\":") >= BIG - SMALL, "evicted: %s",
	    out);
	pagerd_close(pd);
	harness_stop(&d);
	return 0;
}

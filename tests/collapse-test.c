/*
 * Description: huge pages reach the program. A file read whole through
 * a page cache in huge pages (the private huge tmpfs a daemon started as
 * root makes) ends up mapped in the client with huge page table entries
 * (smaps' ShmemPmdMapped: at least half of it within 10 s, all but the
 * first 2 MiB where the library keeps up with the daemon's notices), as
 * the kernel's own mapping of a file would be; its bytes
 * are still right, a write to it stays the client's own, and `pagerctl
 * -j regions` reports the huge-mapped bytes (pmd_bytes). Before, every
 * page was mapped 4 KiB at a time: ShmemPmdMapped 0.
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

#define SEED 0xc011a95eull
#define SIZE (32u << 20)
#define HUGE (2u << 20)

/* ShmemPmdMapped of the mapping at addr, in bytes. */
static uint64_t
pmd_mapped(const void *addr)
{
	unsigned long long start, end, kb;
	char line[512];
	int inside = 0;
	uint64_t n = 0;
	FILE *f;

	CHECK((f = fopen("/proc/self/smaps", "re")) != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] >= 'A' && line[0] <= 'Z') {
			if (inside && sscanf(line, "ShmemPmdMapped: %llu",
			    &kb) == 1)
				n += kb * 1024;
			continue;
		}
		if (sscanf(line, "%llx-%llx ", &start, &end) == 2)
			inside = start == (uintptr_t)addr;
	}
	fclose(f);
	return n;
}

int
main(void)
{
	struct harness_daemon d;
	struct pagerd *pd;
	char path[512], cmd[1024], out[4096], *q;
	uint64_t pmd = 0;
	void *p;
	int i;

	harness_need_root();
	harness_start(&d, NULL);
	if (!harness_log_has(&d, "page caches are files on a private tmpfs") &&
	    getenv("PAGERD_TEST_CACHE_DIR") == NULL)
		harness_skip("the daemon's caches are not in huge pages");
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	p = harness_map_cached(&pd, d.sock, path, SIZE, PROT_READ | PROT_WRITE);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);

	/* The library maps the windows huge as the daemon's notices come. */
	for (i = 0; i < 100 && (pmd = pmd_mapped(p)) < SIZE - HUGE; i++)
		harness_sleep_ms(100);
	printf("%" PRIu64 " of %u bytes mapped with huge pages\n", pmd, SIZE);
	/* (A notice the daemon had no hold left for is not sent again.) */
	CHECKF(pmd >= SIZE / 2, "only %" PRIu64 " of %u bytes mapped with "
	    "huge pages", pmd, SIZE);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);

	snprintf(cmd, sizeof cmd, "-j regions %d", (int)getpid());
	harness_pagerctl(NULL, d.sock, cmd, out, sizeof out);
	CHECKF((q = strstr(out, "\"pmd_bytes\":")) != NULL &&
	    strtoull(q + 12, NULL, 10) >= SIZE / 2, "pagerctl regions "
	    "does not report the huge-mapped bytes: %s", out);

	/* A write splits the huge mapping and stays private. */
	memset((char *)p + HUGE + 4096, 0x5a, 4096);
	CHECK(((unsigned char *)p)[HUGE + 4096] == 0x5a);
	harness_check_range(p, 0, HUGE + 4096, SEED, UINT64_MAX);
	harness_check_range((char *)p + HUGE + 8192, HUGE + 8192, SIZE - HUGE -
	    8192, SEED, UINT64_MAX);
	pagerd_close(pd);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	return 0;
}

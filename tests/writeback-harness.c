/*
 * What the write-back page-out tests share (writeback-harness.h).
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "uffd.h"
#include "writeback-harness.h"

/*
 * A new pattern file of size bytes (seed) in d's directory, at path,
 * mapped as a write-back region through a new connection, *pdp; the
 * file stays open for reading and writing in *fdp. Skips where the
 * daemon has no write-back regions. Where the connection uses WP_ASYNC,
 * the region must too: the daemon did not move it to write faults
 * (a read-only PAGEMAP_SCAN of it fails with EPERM once it has).
 */
void *
harness_map_writeback(const struct harness_daemon *d, size_t size,
    uint64_t seed, struct pagerd **pdp, int *fdp, char *path, size_t len)
{
	struct pagerd_info info;
	int pm, error;
	void *p = NULL;

	harness_make_file(d, "data", size, seed, path, len);
	CHECKF(pagerd_connect(d->sock, pdp) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF((*fdp = open(path, O_RDWR | O_CLOEXEC)) != -1, "open: %s",
	    strerror(errno));
	if (pagerd_map_file(*pdp, *fdp, 0, size, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, &p) != 0 && errno == EOPNOTSUPP)
		harness_skip("no write-back regions here: %s", pagerd_errmsg());
	CHECKF(p != NULL, "map: %s", pagerd_errmsg());
	pagerd_info(*pdp, &info);
	if (!(info.uffd_features & UFFD_FEATURE_WP_ASYNC))
		return p;
	CHECK((pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) != -1);
	error = uffd_scan_written(pm, (uint64_t)(uintptr_t)p,
	    (uint64_t)(uintptr_t)p + size, 0, NULL, NULL);
	close(pm);
	CHECKF(error == 0, "the region's writes are not tracked by the kernel "
	    "(PAGEMAP_SCAN: %s): the daemon moved it to write faults",
	    strerror(-error));
	return p;
}

/*
 * harness_map_writeback for a test of regions whose writes the kernel
 * tracks (WP_ASYNC): it skips where the connection does not use it.
 */
void *
harness_map_writeback_async(const struct harness_daemon *d, size_t size,
    uint64_t seed, struct pagerd **pdp, int *fdp, char *path, size_t len)
{
	struct pagerd_info info;
	void *p;

	if (getenv("PAGERD_NO_WP_ASYNC") != NULL)
		harness_skip("PAGERD_NO_WP_ASYNC is set: this test is of "
		    "regions the kernel tracks");
	p = harness_map_writeback(d, size, seed, pdp, fdp, path, len);
	pagerd_info(*pdp, &info);
	if (!(info.uffd_features & UFFD_FEATURE_WP_ASYNC))
		harness_skip("the connection does not use WP_ASYNC (a kernel "
		    "before 6.7, or no PAGEMAP_SCAN)");
	return p;
}

/*
 * The end of a harness_map_writeback test: the region written back
 * (durably), unmapped and pd closed; then the file of size bytes must
 * read right by check (given a chunk of it and its offset: the offset of
 * the first wrong byte, or -1), and the daemon must be alive; it is
 * stopped and the file removed.
 */
void
harness_writeback_end(struct harness_daemon *d, struct pagerd *pd,
    void *region, int fd, const char *path, size_t size,
    int64_t (*check)(const unsigned char *, uint64_t, size_t))
{
	const size_t chunk = 1 << 20;
	unsigned char *buf;
	uint64_t off;
	size_t n;
	int64_t bad;

	CHECKF(pagerd_sync(pd, region) >= 0, "sync: %s", pagerd_errmsg());
	CHECKF(pagerd_unmap(pd, region) == 0, "unmap: %s", pagerd_errmsg());
	pagerd_close(pd);
	CHECK((buf = malloc(chunk)) != NULL);
	for (off = 0; off < size; off += n) {
		n = size - off < chunk ? size - off : chunk;
		CHECK(pread(fd, buf, n, (off_t)off) == (ssize_t)n);
		bad = check(buf, off, n);
		CHECKF(bad == -1, "the file is wrong at 0x%" PRIx64,
		    (uint64_t)bad);
	}
	free(buf);
	close(fd);
	CHECKF(harness_alive(d), "the daemon died");
	harness_stop(d);
	unlink(path);
}

/* What harness_writeback_stamped checks against (a test's own). */
static const uint32_t *stamps_last;
static uint64_t (*stamps_stamp)(uint64_t, uint32_t);
static uint64_t stamps_seed;
static size_t stamps_page;

/*
 * A test whose writers fill page pg whole with stamp(pg, last[pg]) words
 * (last[pg] 0: never written, the file's pattern of seed) checks with
 * harness_writeback_stamped.
 */
void
harness_writeback_stamps(const uint32_t *last,
    uint64_t (*stamp)(uint64_t, uint32_t), uint64_t seed, size_t page)
{
	stamps_last = last;
	stamps_stamp = stamp;
	stamps_seed = seed;
	stamps_page = page;
}

/*
 * The offset of the first wrong word of len bytes (whole pages) at file
 * offset off, which mem holds, or -1.
 */
int64_t
harness_writeback_stamped(const unsigned char *mem, uint64_t off, size_t len)
{
	uint64_t i, w, pg, want;

	for (i = 0; i < len; i += 8) {
		pg = (off + i) / stamps_page;
		want = stamps_last[pg] != 0 ? stamps_stamp(pg,
		    stamps_last[pg]) : harness_word(off + i, stamps_seed);
		memcpy(&w, mem + i, 8);
		if (w != want)
			return (int64_t)(off + i);
	}
	return -1;
}

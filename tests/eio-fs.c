/*
 * A FUSE file system of one read-only file, "data", whose bytes are the
 * tests' pattern (harness_word) and whose reads fail with EIO wherever
 * they touch a bad range: a backing file on a failing disk, for
 * eio-test, without a failing disk.
 *
 * usage: eio-fs MOUNTPOINT SIZE SEED BAD-OFFSET BAD-LENGTH
 * It stays in the foreground, single-threaded, until unmounted or sent
 * SIGTERM.
 */
#define FUSE_USE_VERSION 31

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fuse.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static uint64_t fs_size, fs_seed, fs_bad_off, fs_bad_len;

static int
eio_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (strcmp(path, "/data") == 0) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)fs_size;
	} else
		return -ENOENT;
	return 0;
}

static int
eio_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "data", NULL, 0, 0);
	return 0;
}

static int
eio_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/data") != 0)
		return -ENOENT;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	return 0;
}

/*
 * A read touching the bad range fails whole: a short read would tell the
 * kernel the file ends there, and it would fill the rest of the page with
 * zeros itself.
 */
static int
eio_read(const char *path, char *buf, size_t len, off_t offset,
    struct fuse_file_info *fi)
{
	uint64_t off = (uint64_t)offset, i, w;

	(void)path;
	(void)fi;
	if (off >= fs_size)
		return 0;
	if (len > fs_size - off)
		len = fs_size - off;
	if (off < fs_bad_off + fs_bad_len && fs_bad_off < off + len)
		return -EIO;
	for (i = 0; i < len; i++) {
		w = harness_word((off + i) & ~7ull, fs_seed);
		buf[i] = (char)(w >> (((off + i) & 7) * 8));
	}
	return (int)len;
}

static const struct fuse_operations eio_ops = {
	.getattr = eio_getattr,
	.readdir = eio_readdir,
	.open = eio_open,
	.read = eio_read,
};

int
main(int argc, char **argv)
{
	char fg[] = "-f", single[] = "-s", o[] = "-o",
	    opts[] = "ro,fsname=pagerd-eio";
	char *fargv[] = { argv[0], fg, single, o, opts, argc > 1 ? argv[1] :
	    NULL, NULL };

	if (argc != 6) {
		fprintf(stderr, "usage: eio-fs MOUNTPOINT SIZE SEED BAD-OFFSET "
		    "BAD-LENGTH\n");
		return 2;
	}
	fs_size = strtoull(argv[2], NULL, 0);
	fs_seed = strtoull(argv[3], NULL, 0);
	fs_bad_off = strtoull(argv[4], NULL, 0);
	fs_bad_len = strtoull(argv[5], NULL, 0);
	return fuse_main(6, fargv, &eio_ops, NULL);
}

/*
 * A FUSE file system of one file, "data", held in memory, first the
 * tests' pattern (harness_word): a backing file on a failing disk, for
 * eio-test and eio-writeback-test, without a failing disk. While the
 * disk is failing (from the start; SIGUSR1 mends it, SIGUSR2 breaks it
 * again), reads and writes that touch a bad range fail with EIO, and so
 * does every fsync. In hang mode (for hung-read-test) a read that touches
 * the bad range of a failing disk does not fail: it waits, and the whole
 * file system with it, until the disk is mended or the file system told
 * to exit, as a FUSE server stuck on a dead network would. In hang-read
 * mode only the hung reads wait: the server is multi-threaded, and serves
 * the other requests (a write of a good range) meanwhile; and an open
 * keeps the file's kernel page cache (keep_cache), so that it does not
 * wait for the pages a hung read has locked (fanotify opens the file to
 * report each event). In hang-open mode the disk is sound until the file
 * is written (the write itself succeeds): from then on, until mended,
 * every open of it waits, with neither a read nor a write held, and the
 * server serves the other requests meanwhile. Mounted allow_other: the
 * tests mount it as root, and clients of other users use it too.
 *
 * usage: eio-fs MOUNTPOINT SIZE SEED BAD-OFFSET BAD-LENGTH
 *        [eio | hang | hang-read | hang-open]
 * It stays in the foreground, single-threaded but in hang-read and
 * hang-open modes, until unmounted or sent SIGTERM.
 */
#define FUSE_USE_VERSION 31

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>	/* fuse_session_exited */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static uint64_t fs_size, fs_bad_off, fs_bad_len;
static char *fs_data;
static volatile sig_atomic_t fs_failing = 1;
static int fs_hang;
static int fs_keep_cache;	/* hang-read mode */
static int fs_hang_open;	/* hang-open mode */

static void
eio_mend(int sig)
{
	fs_failing = sig == SIGUSR2;
}

/* Does [off, off + len) touch the bad range of a failing disk? */
static int
eio_bad(uint64_t off, uint64_t len)
{
	return fs_failing && off < fs_bad_off + fs_bad_len &&
	    fs_bad_off < off + len;
}

static int
eio_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (strcmp(path, "/data") == 0) {
		st->st_mode = S_IFREG | 0644;
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
	fi->keep_cache = fs_keep_cache;
	if (strcmp(path, "/data") != 0)
		return -ENOENT;
	while (fs_hang_open && __atomic_load_n(&fs_failing, __ATOMIC_SEQ_CST) &&
	    !fuse_session_exited(fuse_get_session(fuse_get_context()->fuse)))
		usleep(10000);
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
	uint64_t off = (uint64_t)offset;

	(void)path;
	(void)fi;
	if (off >= fs_size)
		return 0;
	if (len > fs_size - off)
		len = fs_size - off;
	/* Signals wake the sleep: a mend, or fuse's own SIGTERM handler. */
	while (fs_hang && eio_bad(off, len) &&
	    !fuse_session_exited(fuse_get_session(fuse_get_context()->fuse)))
		usleep(10000);
	if (eio_bad(off, len))
		return -EIO;
	memcpy(buf, fs_data + off, len);
	return (int)len;
}

/* Writes stay within the file: write-back never grows it. */
static int
eio_write(const char *path, const char *buf, size_t len, off_t offset,
    struct fuse_file_info *fi)
{
	uint64_t off = (uint64_t)offset;

	(void)path;
	(void)fi;
	if (off > fs_size || len > fs_size - off)
		return -ENOSPC;
	if (eio_bad(off, len))
		return -EIO;
	memcpy(fs_data + off, buf, len);
	/* Before the write returns: the opens after it wait. */
	if (fs_hang_open)
		__atomic_store_n(&fs_failing, 1, __ATOMIC_SEQ_CST);
	return (int)len;
}

static int
eio_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	(void)fi;
	return fs_failing ? -EIO : 0;
}

static const struct fuse_operations eio_ops = {
	.getattr = eio_getattr,
	.readdir = eio_readdir,
	.open = eio_open,
	.read = eio_read,
	.write = eio_write,
	.fsync = eio_fsync,
};

int
main(int argc, char **argv)
{
	char fg[] = "-f", single[] = "-s", o[] = "-o",
	    opts[] = "fsname=pagerd-eio,allow_other";
	const char *mode = argc == 7 ? argv[6] : "eio";
	struct sigaction sa = { .sa_handler = eio_mend,
	    .sa_flags = SA_RESTART };
	uint64_t seed, i;
	char *fargv[7];
	int fargc = 0;

	if ((argc != 6 && argc != 7) || (strcmp(mode, "eio") != 0 &&
	    strcmp(mode, "hang") != 0 && strcmp(mode, "hang-read") != 0 &&
	    strcmp(mode, "hang-open") != 0)) {
		fprintf(stderr, "usage: eio-fs MOUNTPOINT SIZE SEED BAD-OFFSET "
		    "BAD-LENGTH [eio | hang | hang-read | hang-open]\n");
		return 2;
	}
	fs_hang = strcmp(mode, "eio") != 0;
	if ((fs_hang_open = strcmp(mode, "hang-open") == 0))
		fs_failing = 0;
	fargv[fargc++] = argv[0];
	fargv[fargc++] = fg;
	/* Without -s, fuse_main serves requests on threads of their own. */
	fs_keep_cache = strcmp(mode, "hang-read") == 0;
	if (!fs_keep_cache && !fs_hang_open)
		fargv[fargc++] = single;
	fargv[fargc++] = o;
	fargv[fargc++] = opts;
	fargv[fargc++] = argv[1];
	fargv[fargc] = NULL;
	fs_size = strtoull(argv[2], NULL, 0) & ~7ull;
	seed = strtoull(argv[3], NULL, 0);
	fs_bad_off = strtoull(argv[4], NULL, 0);
	fs_bad_len = strtoull(argv[5], NULL, 0);
	if ((fs_data = malloc(fs_size)) == NULL) {
		perror("eio-fs");
		return 1;
	}
	for (i = 0; i < fs_size; i += 8) {
		uint64_t w = harness_word(i, seed);

		memcpy(fs_data + i, &w, 8);
	}
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	return fuse_main(fargc, fargv, &eio_ops, NULL);
}

/*
 * Working-set record and replay. The daemon notes which windows of a file
 * each program faults in through a page cache, in order; at the end of
 * the session the list is kept in the state directory, one file per
 * user, program and file. When the same program maps the same unchanged
 * file again, the recorded windows are read into the page cache in the
 * background, many at once in the order they were faulted, and mapped
 * into the client ahead of its faults (UFFDIO_CONTINUE). A fault on a
 * page a replay read is bringing waits for it; any other is served as
 * always, its read never held back.
 *
 * The state directory and every user's directory in it are the daemon's,
 * 0700: a user's recordings say which files it reads, and only it (root,
 * the admin group) may list them. Nothing in them is followed as a
 * symbolic link; files are written whole under a temporary name and
 * renamed; each is bounded in size and each user in their number.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "fault.h"

/* Ranges one recording keeps: 512 KiB of them at most. */
#define REPLAY_MAX_RANGES 32768
#define REPLAY_FIRST_RANGES 64
/* Pages one replay read brings at most: 1 MiB. */
#define REPLAY_READ_PAGES 256
/*
 * Replay reads out per region: the program's next 32 windows (2 MiB of
 * 64 KiB ones), which a disk reads about as fast as in order.
 */
#define REPLAY_DEPTH 32
/* A replay held back by demand faults looks again this much later. */
#define REPLAY_RETRY_NS 1000000u

#define REPLAY_MAGIC "pagerdR1"
/* A file's pages, the last one partly. */
#define REPLAY_PAGES(size) (((size) + page_size - 1) / page_size)
#define REPLAY_NAME_LEN 20	/* 16 hex digits and ".rec" */

/* One run of file pages. */
struct replay_range {
	uint64_t first;
	uint64_t n;
};

/* A recording file: this head, then nranges ranges. */
struct replay_head {
	char magic[8];
	uint32_t nranges;
	uint32_t reserved;
	uint64_t dev;		/* the file, as it was */
	uint64_t ino;
	uint64_t size;
	int64_t ctime_sec;
	int64_t ctime_nsec;
	uint64_t pages;		/* in all its ranges */
	int64_t recorded;	/* time(2) when written */
	char program[PD_RECORDING_PROGRAM];
	char path[PD_RECORDING_PATH];
};

/* What one session faulted of one file, and what it replays of it. */
struct replay_rec {
	LIST_ENTRY(replay_rec) entry;
	struct worker *w;
	uint64_t dev, ino, size;	/* the file's identity: its cache's */
	struct timespec ctime;
	char path[PD_RECORDING_PATH];
	char name[REPLAY_NAME_LEN + 1];
	struct replay_range *v;	/* the faults, in order */
	size_t n, cap;
	uint64_t dropped;	/* ranges past cap */
	struct timer grow;	/* cap grows off the fault path */
	struct replay_range *plan; /* the recording replayed, or NULL */
	size_t nplan;
	struct replay_range *order; /* its pages once each, in its order */
	size_t norder;
	struct replay_range *sorted; /* its pages by offset, runs joined */
	size_t nsorted;
	int fd;			/* the file, for the replay's reads only */
	LIST_HEAD(, replay_run) runs; /* replaying it now */
};

struct replay_read {
	struct op op;
	LIST_ENTRY(replay_read) entry; /* its run's reads out */
	struct replay_run *run;
	uint64_t first;		/* file pages */
	uint64_t n;
};

/* One region's replay: the plan's pages that fall in it. */
struct replay_run {
	LIST_ENTRY(replay_run) entry;
	LIST_ENTRY(replay_run) rec_entry; /* its record's runs */
	LIST_HEAD(, replay_read) out_reads;
	struct session *s;
	struct region *r;	/* held (refs) until the run ends */
	struct replay_rec *rec;
	uint32_t gen;
	size_t next;		/* the plan's range read next */
	uint64_t skip;		/* of it, pages already taken */
	unsigned int out;	/* reads out */
	uint64_t pages;		/* installed ahead of faults */
	uint64_t reads;		/* bytes read */
	uint64_t started;	/* CLOCK_MONOTONIC ns */
	struct timer retry;
	struct replay_read slots[REPLAY_DEPTH]; /* free: run is NULL */
};


/* A session's recordings and replays. */
struct replay_session {
	char program[PD_RECORDING_PROGRAM];
	LIST_HEAD(, replay_rec) recs;
	LIST_HEAD(, replay_run) runs;
};

static int replay_dir = -1;	/* the state directory, or -1: off */
static unsigned int replay_tmp_seq;

static void replay_pump(struct replay_run *);

/*
 * Open (make) the state directory: the daemon's own, 0700. Anything else
 * there (a symbolic link, another owner) turns recording off, said why.
 */
void
replay_init(const char *path)
{
	struct stat st;
	int fd;

	if (path == NULL || *path == '\0') {
		log_info("working-set recording is off: no state-dir");
		return;
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		log_warn("state-dir %s: working-set recording is off", path);
		return;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("state-dir %s: working-set recording is off", path);
		return;
	}
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid() ||
	    fchmod(fd, 0700) == -1) {
		log_warnx("state-dir %s: not the daemon's own directory "
		    "(owner %u): working-set recording is off", path,
		    (unsigned int)st.st_uid);
		close(fd);
		return;
	}
	replay_dir = fd;
	log_debug("working-set recordings in %s", path);
}

/* A user's directory of recordings, made if asked, or -1. */
static int
replay_user_dir(uid_t uid, int make)
{
	char name[16];
	struct stat st;
	int fd;

	snprintf(name, sizeof name, "%u", (unsigned int)uid);
	if (make && mkdirat(replay_dir, name, 0700) == -1 && errno != EEXIST) {
		log_warn("state-dir: user %s", name);
		return -1;
	}
	if ((fd = openat(replay_dir, name, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("state-dir: user %s (not followed)", name);
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		log_warnx("state-dir: user %s: not the daemon's own 0700 "
		    "directory; not used", name);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The program of s: its executable where the daemon may read the link
 * (its own uid's processes), else its argv[0], which /proc shows anyone.
 */
static void
replay_program(struct session *s, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)s->pid);
	if ((n = readlink(path, buf, len - 1)) > 0) {
		buf[n] = '\0';
		return;
	}
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)s->pid);
	n = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0 || buf[0] == '\0') {
		strlcpy(buf, s->comm, len);
		return;
	}
	buf[n] = '\0';
}

/* The file name of a program's recording of a file. */
static void
replay_name(const char *program, uint64_t dev, uint64_t ino, char *name)
{
	uint64_t h = 0xcbf29ce484222325ull, v[2] = { dev, ino };
	const unsigned char *p;
	size_t i;

	for (p = (const unsigned char *)program; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	for (p = (const unsigned char *)v, i = 0; i < sizeof v; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	snprintf(name, REPLAY_NAME_LEN + 1, "%016" PRIx64 ".rec", h);
}

/* Is name one of ours: 16 hex digits and ".rec"? */
static int
replay_name_ok(const char *name)
{
	size_t i;

	if (strlen(name) != REPLAY_NAME_LEN || strcmp(name + 16, ".rec") != 0)
		return 0;
	for (i = 0; i < 16; i++)
		if (strchr("0123456789abcdef", name[i]) == NULL)
			return 0;
	return 1;
}

/*
 * Read recording name of dir: its head, and its ranges when ranges is
 * not NULL (the caller frees them). 0, or -1 (said why at debug level:
 * a file that is not a sound recording is no error of the client's).
 */
static int
replay_read(int dir, const char *name, struct replay_head *h,
    struct replay_range **ranges)
{
	struct replay_range *v = NULL;
	struct stat st;
	size_t len;
	ssize_t n;
	uint32_t i;
	int fd;

	if ((fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_debug("recording %s: %s (not followed)", name,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid !=
	    geteuid() || (size_t)st.st_size < sizeof *h || (size_t)st.st_size >
	    sizeof *h + REPLAY_MAX_RANGES * sizeof *v)
		goto fail;
	if ((n = pread(fd, h, sizeof *h, 0)) != (ssize_t)sizeof *h ||
	    memcmp(h->magic, REPLAY_MAGIC, sizeof h->magic) != 0 ||
	    h->nranges > REPLAY_MAX_RANGES || (size_t)st.st_size != sizeof *h +
	    h->nranges * sizeof *v)
		goto fail;
	h->program[sizeof h->program - 1] = '\0';
	h->path[sizeof h->path - 1] = '\0';
	if (ranges != NULL) {
		len = h->nranges * sizeof *v;
		if ((v = malloc(len + 1)) == NULL ||
		    pread(fd, v, len, sizeof *h) != (ssize_t)len)
			goto fail;
		for (i = 0; i < h->nranges; i++)
			if (v[i].n == 0 || v[i].first >= REPLAY_PAGES(h->size) ||
			    v[i].n > REPLAY_PAGES(h->size) - v[i].first)
				goto fail;
		*ranges = v;
	}
	close(fd);
	return 0;

fail:
	log_debug("recording %s: not a recording of this daemon; ignored",
	    name);
	free(v);
	close(fd);
	return -1;
}

/*
 * Room for one more recording of a user: past uid-max-recordings, the
 * ones written longest ago go.
 */
static void
replay_make_room(int dir)
{
	int max = config_get(CONFIG_UID_MAX_RECORDINGS), count = 0, fd;
	char oldest[REPLAY_NAME_LEN + 1];
	struct timespec when = { 0, 0 };
	struct dirent *e;
	struct stat st;
	DIR *d;

	do {
		if ((fd = dup(dir)) == -1 || (d = fdopendir(fd)) == NULL) {
			if (fd != -1)
				close(fd);
			return;
		}
		rewinddir(d);
		count = 0;
		oldest[0] = '\0';
		while ((e = readdir(d)) != NULL) {
			if (!replay_name_ok(e->d_name) || fstatat(dir,
			    e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
				continue;
			count++;
			if (oldest[0] == '\0' || st.st_mtim.tv_sec <
			    when.tv_sec || (st.st_mtim.tv_sec == when.tv_sec &&
			    st.st_mtim.tv_nsec < when.tv_nsec)) {
				when = st.st_mtim;
				strlcpy(oldest, e->d_name, sizeof oldest);
			}
		}
		closedir(d);
		if (count < max || oldest[0] == '\0')
			return;
		unlinkat(dir, oldest, 0);
	} while (count - 1 >= max);
}

/* Write a recording: whole, under a temporary name, then renamed. */
static int
replay_write(int dir, const char *name, const struct replay_head *h,
    const struct replay_range *v)
{
	char tmp[64];
	size_t len = h->nranges * sizeof *v;
	int fd;

	snprintf(tmp, sizeof tmp, ".tmp-%d-%u", (int)getpid(),
	    __atomic_fetch_add(&replay_tmp_seq, 1, __ATOMIC_RELAXED));
	if ((fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -errno;
	if (write(fd, h, sizeof *h) != (ssize_t)sizeof *h ||
	    (len > 0 && write(fd, v, len) != (ssize_t)len)) {
		close(fd);
		unlinkat(dir, tmp, 0);
		return -EIO;
	}
	close(fd);
	if (renameat(dir, tmp, dir, name) == -1) {
		unlinkat(dir, tmp, 0);
		return -errno;
	}
	return 0;
}

static int
replay_range_cmp(const void *a, const void *b)
{
	const struct replay_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/*
 * The ranges to keep of rec: its plan, then the faults that the plan did
 * not hold; or, with no plan, the faults. Returns their number (*out:
 * malloc'd), or 0 when there is nothing new to keep.
 */
static size_t
replay_merge(const struct replay_rec *rec, struct replay_range **out)
{
	const struct replay_range *hit;
	struct replay_range *v;
	size_t n = rec->nplan, i, lo, hi;

	if ((v = calloc(rec->nplan + rec->n + 1, sizeof *v)) == NULL)
		return 0;
	if (rec->nplan > 0)
		memcpy(v, rec->plan, rec->nplan * sizeof *v);
	for (i = 0; i < rec->n && n < REPLAY_MAX_RANGES; i++) {
		/* The last plan run starting at or before the fault. */
		for (lo = 0, hi = rec->nsorted; lo < hi;) {
			if (rec->sorted[(lo + hi) / 2].first <= rec->v[i].first)
				lo = (lo + hi) / 2 + 1;
			else
				hi = (lo + hi) / 2;
		}
		hit = lo > 0 ? &rec->sorted[lo - 1] : NULL;
		if (hit != NULL && hit->first + hit->n >= rec->v[i].first +
		    rec->v[i].n)
			continue;
		v[n++] = rec->v[i];
	}
	if (n == rec->nplan && rec->plan != NULL) {
		free(v);
		return 0;
	}
	*out = v;
	return n;
}

/* Keep what the session faulted of rec's file, for its next run. */
static void
replay_save(struct session *s, const char *program, struct replay_rec *rec)
{
	struct replay_range *v = NULL;
	struct replay_head h;
	struct stat st;
	size_t n, i;
	int dir, error;

	if ((n = replay_merge(rec, &v)) == 0)
		return;
	if ((dir = replay_user_dir(s->uid, 1)) == -1)
		goto fail;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, REPLAY_MAGIC, sizeof h.magic);
	h.nranges = (uint32_t)n;
	h.dev = rec->dev;
	h.ino = rec->ino;
	h.size = rec->size;
	h.ctime_sec = rec->ctime.tv_sec;
	h.ctime_nsec = rec->ctime.tv_nsec;
	for (i = 0; i < n; i++)
		h.pages += v[i].n;
	h.recorded = (int64_t)time(NULL);
	strlcpy(h.program, program, sizeof h.program);
	strlcpy(h.path, rec->path, sizeof h.path);
	if (fstatat(dir, rec->name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		replay_make_room(dir);
	if ((error = replay_write(dir, rec->name, &h, v)) != 0)
		log_warnx("session %u: pid %d (%s): recording of %s: %s",
		    s->id, (int)s->pid, s->comm, rec->path, strerror(-error));
	else
		log_debug("session %u: pid %d (%s): recorded %zu ranges, %"
		    PRIu64 " pages of %s%s", s->id, (int)s->pid, s->comm, n,
		    h.pages, rec->path, rec->dropped > 0 ? " (cut short)" :
		    "");
	close(dir);
fail:
	free(v);
}

/*
 * The plan's pages once each, in its order: the windows of a stream's
 * faults overlap (a fault's window is recorded, which a read ahead of it
 * may have covered in part), and a page is read once. Where the file is
 * too large for a bitmap of its pages (past 64 GiB), the plan as it is.
 */
static void
replay_order(struct replay_rec *rec)
{
	uint64_t npages = REPLAY_PAGES(rec->size), p, start;
	struct replay_range *v = NULL, *nv;
	size_t i, n = 0, cap = 0;
	unsigned long *seen;

	if (npages > (64ull << 30) / page_size ||
	    (seen = calloc(BITMAP_WORDS(npages), sizeof *seen)) == NULL) {
		rec->order = rec->plan;
		rec->norder = rec->nplan;
		return;
	}
	for (i = 0; i < rec->nplan; i++) {
		for (p = rec->plan[i].first; p < rec->plan[i].first +
		    rec->plan[i].n;) {
			while (p < rec->plan[i].first + rec->plan[i].n &&
			    bit_test(seen, p))
				p++;
			for (start = p; p < rec->plan[i].first + rec->plan[i].n &&
			    !bit_test(seen, p); p++)
				bit_set(seen, p);
			if (p == start)
				break;
			if (n == cap) {
				cap = cap == 0 ? rec->nplan + 16 : cap * 2;
				if ((nv = reallocarray(v, cap, sizeof *v)) ==
				    NULL) {
					free(v);
					free(seen);
					rec->order = rec->plan;
					rec->norder = rec->nplan;
					return;
				}
				v = nv;
			}
			v[n].first = start;
			v[n++].n = p - start;
		}
	}
	free(seen);
	rec->order = v;
	rec->norder = n;
}

/* The plan's pages by offset, runs that meet joined: for look-ups. */
static void
replay_sort(struct replay_rec *rec)
{
	struct replay_range *v;
	size_t i, n = 0;

	if ((v = malloc(rec->nplan * sizeof *v + 1)) == NULL)
		return;
	memcpy(v, rec->plan, rec->nplan * sizeof *v);
	qsort(v, rec->nplan, sizeof *v, replay_range_cmp);
	for (i = 0; i < rec->nplan; i++) {
		if (n > 0 && v[i].first <= v[n - 1].first + v[n - 1].n) {
			if (v[i].first + v[i].n > v[n - 1].first + v[n - 1].n)
				v[n - 1].n = v[i].first + v[i].n - v[n - 1].first;
			continue;
		}
		v[n++] = v[i];
	}
	rec->sorted = v;
	rec->nsorted = n;
}

/*
 * A reading of the file of its own for the replay: the kernel follows
 * each open file's reads to size its read-ahead, and the client's
 * descriptor (which the cache holds) sees its faults' reads at random
 * places, which would cut the replay's in-order reads down to small ones
 * (8 MiB of read-ahead here against 1 MiB reads). Reopened through the
 * cache's descriptor, read-only: the same file, no more rights. Held
 * while the file replays, charged to the user's descriptors; where either
 * fails, the cache's descriptor serves.
 */
static void
replay_open(struct session *s, struct replay_rec *rec, const struct cache *c)
{
	char path[64], why[PD_REASON_MAX];
	struct stat st;
	int fd;

	if (quota_charge(&s->quota, QUOTA_FDS, 1, "working-set replay", why,
	    sizeof why) != 0) {
		log_debug("session %u: %s", s->id, why);
		return;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", c->file_fd);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1 || fstat(fd, &st) == -1 || st.st_dev != c->dev ||
	    st.st_ino != c->ino) {
		if (fd != -1)
			close(fd);
		quota_uncharge(&s->quota, QUOTA_FDS, 1);
		return;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rec->fd = fd;
}

/* rec's replays are over: its descriptor goes. */
static void
replay_close(struct session *s, struct replay_rec *rec)
{
	if (rec->fd == -1)
		return;
	close(rec->fd);
	rec->fd = -1;
	quota_uncharge(&s->quota, QUOTA_FDS, 1);
}

/*
 * The recording of rec's file for this program, if there is one and the
 * file has not changed since; a stale one is removed.
 */
static void
replay_load(struct session *s, const char *program, struct replay_rec *rec)
{
	struct replay_range *v = NULL;
	struct replay_head h;
	int dir;

	if ((dir = replay_user_dir(s->uid, 0)) == -1)
		return;
	if (replay_read(dir, rec->name, &h, &v) != 0)
		goto out;
	if (strcmp(h.program, program) != 0 || h.dev != rec->dev ||
	    h.ino != rec->ino) {
		free(v);	/* another pair with the same name: kept */
		goto out;
	}
	if (h.size != rec->size || h.ctime_sec != rec->ctime.tv_sec ||
	    h.ctime_nsec != rec->ctime.tv_nsec) {
		log_info("session %u: pid %d (%s): %s changed since its "
		    "working set was recorded: recording removed", s->id,
		    (int)s->pid, s->comm, rec->path);
		unlinkat(dir, rec->name, 0);
		free(v);
		goto out;
	}
	rec->plan = v;
	rec->nplan = h.nranges;
	replay_sort(rec);
	replay_order(rec);
out:
	close(dir);
}

/* rec's list has filled three quarters: more room, off the fault path. */
static void
replay_grow(struct worker *w, struct timer *t)
{
	struct replay_rec *rec = container_of(t, struct replay_rec, grow);
	size_t cap = rec->cap * 2 > REPLAY_MAX_RANGES ? REPLAY_MAX_RANGES :
	    rec->cap * 2;
	struct replay_range *v;

	(void)w;
	if (cap > rec->cap && (v = reallocarray(rec->v, cap, sizeof *v)) !=
	    NULL) {
		rec->v = v;
		rec->cap = cap;
	}
}

/*
 * A fault of r read (or mapped) the window at file offset off: noted, in
 * order, next to the last window when it follows it. The fault path's:
 * it allocates nothing.
 */
void
replay_note(struct region *r, uint64_t off, uint64_t len)
{
	struct replay_rec *rec = r->rec;
	struct replay_range *last;
	uint64_t first = off / page_size, n = (len + page_size - 1) / page_size;

	if (rec == NULL || first >= REPLAY_PAGES(rec->size))
		return;
	if (n > REPLAY_PAGES(rec->size) - first)
		n = REPLAY_PAGES(rec->size) - first;
	last = rec->n > 0 ? &rec->v[rec->n - 1] : NULL;
	if (last != NULL && last->first + last->n == first) {
		last->n += n;
		return;
	}
	if (rec->n == rec->cap) {
		rec->dropped++;
		return;
	}
	rec->v[rec->n].first = first;
	rec->v[rec->n].n = n;
	rec->n++;
	if (rec->n >= rec->cap - rec->cap / 4 && rec->cap <
	    REPLAY_MAX_RANGES && !rec->grow.pending) {
		rec->grow.run = replay_grow;
		worker_timer_add(rec->w, &rec->grow, 0);
	}
}

/* The session's record of c's file, made (and its recording read). */
static struct replay_rec *
replay_rec_get(struct session *s, struct cache *c)
{
	struct replay_session *rs = s->replay;
	struct replay_rec *rec;
	char path[64];
	ssize_t n;

	LIST_FOREACH(rec, &rs->recs, entry)
		if (rec->dev == (uint64_t)c->dev && rec->ino == (uint64_t)c->ino)
			return rec;
	if ((rec = calloc(1, sizeof *rec)) == NULL ||
	    (rec->v = calloc(REPLAY_FIRST_RANGES, sizeof *rec->v)) == NULL) {
		free(rec);
		return NULL;
	}
	rec->w = s->worker;
	rec->cap = REPLAY_FIRST_RANGES;
	rec->dev = (uint64_t)c->dev;
	rec->ino = (uint64_t)c->ino;
	rec->size = c->file_size;
	rec->ctime = c->ctime;
	snprintf(path, sizeof path, "/proc/self/fd/%d", c->file_fd);
	if ((n = readlink(path, rec->path, sizeof rec->path - 1)) <= 0)
		n = 0;
	rec->path[n] = '\0';
	replay_name(rs->program, rec->dev, rec->ino, rec->name);
	rec->fd = -1;
	LIST_INIT(&rec->runs);
	replay_load(s, rs->program, rec);
	LIST_INSERT_HEAD(&rs->recs, rec, entry);
	return rec;
}

/* The run is over: its region and session let go. */
static void
replay_run_end(struct replay_run *run)
{
	struct session *s = run->s;

	worker_timer_del(s->worker, &run->retry);
	if (run->pages > 0 && !s->closing)
		log_info("session %u: pid %d (%s): region %u: %" PRIu64
		    " pages of %s replayed ahead of faults (%" PRIu64 " MiB "
		    "read, %" PRIu64 " ms)", s->id, (int)s->pid, s->comm,
		    run->r->id, run->pages, run->rec->path, run->reads >> 20,
		    (monotonic_ns() - run->started) / 1000000);
	LIST_REMOVE(run, entry);
	LIST_REMOVE(run, rec_entry);
	if (LIST_EMPTY(&run->rec->runs))
		replay_close(s, run->rec);
	region_unref(run->r);
	free(run);
	session_unref(s);
}

/*
 * Is a replay read of r's file page out? Then the fault on it waits for
 * that read's install (which wakes it) rather than read the page again.
 * Not on a file system whose reads may hang (FUSE, NFS: not read
 * inline): there a fault's own read is the one read-timeout watches.
 * The fault path's: a look at the few reads out, only while r replays.
 */
int
replay_pending(const struct region *r, uint64_t page)
{
	const struct replay_run *run;
	const struct replay_read *rd;

	if (r->rec == NULL || !r->read_inline)
		return 0;
	LIST_FOREACH(run, &r->rec->runs, rec_entry) {
		if (run->r != r || run->gen != r->gen)
			continue;
		LIST_FOREACH(rd, &run->out_reads, entry)
			if (page >= rd->first && page < rd->first + rd->n)
				return 1;
	}
	return 0;
}

/* Should the run stop: its session or region gone, or moved? */
static int
replay_stopped(const struct replay_run *run)
{
	return run->s->closing || run->r->dead || run->r->gen != run->gen ||
	    !config_get(CONFIG_REPLAY);
}

/* Map the cache's pages [first, first + n) into the run's region. */
static void
replay_install(struct replay_run *run, uint64_t first, uint64_t n)
{
	struct region *r = run->r;
	int64_t done;

	done = fault_install(run->s, r, FILL_CONTINUE, r->start + first *
	    page_size - r->offset, NULL, n * page_size);
	fault_count(run->s, done, 1);
	if (done > 0)
		run->pages += (uint64_t)done;
}

static void
replay_read_cqe(struct op *op, const struct io_uring_cqe *cqe)
{
	struct replay_read *rd = container_of(op, struct replay_read, op);
	struct replay_run *run = rd->run;
	struct cache *c = run->r->cache;
	uint64_t good = 0;

	LIST_REMOVE(rd, entry);
	if (cqe->res > 0 && !replay_stopped(run)) {
		STAT_COUNT(run->s, bytes_read, cqe->res);
		run->reads += (uint64_t)cqe->res;
		/* Whole pages, and the file's last, partly, at its end. */
		if (rd->first * page_size + (uint64_t)cqe->res >= c->file_size)
			good = rd->n;
		else
			good = (uint64_t)cqe->res / page_size;
		if (good > 0) {
			cache_mark_filled(c, rd->first, good);
			replay_install(run, rd->first, good);
		}
	}
	/* Faults that waited for it and got nothing fault again. */
	if (good < rd->n && !run->r->dead && run->r->gen == run->gen &&
	    !run->s->closing)
		fault_wake(run->s, run->r->start + (rd->first + good) *
		    page_size - run->r->offset, (rd->n - good) * page_size);
	cache_unuse(c, rd->first, rd->n);
	run->out--;
	rd->run = NULL;
	replay_pump(run);
}

/*
 * The next pages to bring, within the region, in the order the program
 * faulted them: consecutive runs joined, up to a read's worth. 0 when
 * the plan is done.
 */
static int
replay_next(struct replay_run *run, uint64_t *first, uint64_t *n)
{
	const struct replay_rec *rec = run->rec;
	const struct region *r = run->r;
	uint64_t lo = r->offset / page_size, hi = lo + (r->end - r->start) /
	    page_size, a, b;

	*n = 0;
	while (run->next < rec->norder) {
		a = rec->order[run->next].first + run->skip;
		b = rec->order[run->next].first + rec->order[run->next].n;
		if (a < lo)
			a = lo;
		if (b > hi)
			b = hi;
		if (a >= b || (*n > 0 && a != *first + *n)) {
			if (*n > 0 && a < b)
				return 1;
			run->next++;
			run->skip = 0;
			continue;
		}
		if (*n == 0)
			*first = a;
		if (b - a > REPLAY_READ_PAGES - *n)
			b = a + REPLAY_READ_PAGES - *n;
		*n += b - a;
		run->skip = b - rec->order[run->next].first;
		if (*n == REPLAY_READ_PAGES)
			return 1;
	}
	return *n > 0;
}

static void
replay_retry(struct worker *w, struct timer *t)
{
	(void)w;
	replay_pump(container_of(t, struct replay_run, retry));
}

/*
 * Keep the run's reads out (REPLAY_DEPTH), none while any session on the
 * worker waits for a read buffer. Pages the cache holds already are
 * mapped at once.
 */
static void
replay_pump(struct replay_run *run)
{
	struct session *s = run->s;
	struct worker *w = s->worker;
	struct cache *c = run->r->cache;
	struct io_uring_sqe *sqe;
	struct replay_read *rd;
	uint64_t first, n;
	unsigned int depth;

	while (!replay_stopped(run)) {
		depth = REPLAY_DEPTH;
		if (!TAILQ_EMPTY(&w->starved))
			depth = 0;
		if (run->out >= depth) {
			if (run->out == 0)
				worker_timer_add(w, &run->retry, monotonic_ns() +
				    REPLAY_RETRY_NS);
			return;
		}
		if (!replay_next(run, &first, &n))
			break;
		cache_use(c, first, n);
		if (cache_filled(c, first, n)) {
			replay_install(run, first, n);
			cache_unuse(c, first, n);
			continue;
		}
		/* Fewer than REPLAY_DEPTH are out: one is free. */
		for (rd = run->slots; rd->run != NULL; rd++)
			;
		STAT_COUNT(s, reads, 1);
		rd->op.done = replay_read_cqe;
		LIST_INSERT_HEAD(&run->out_reads, rd, entry);
		rd->run = run;
		rd->first = first;
		rd->n = n;
		sqe = worker_sqe(w);
		io_uring_prep_read(sqe, run->rec->fd != -1 ? run->rec->fd :
		    c->file_fd, c->map + first * page_size,
		    (unsigned int)(n * page_size), first * page_size);
		io_uring_sqe_set_data(sqe, &rd->op);
		/*
		 * On io_uring's threads, not inline: filling a cache through
		 * its mapping costs a page allocation a page, which both CPUs
		 * share out that way (0.7 s instead of 0.94 for 253 MiB).
		 */
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		run->out++;
	}
	if (run->out == 0)
		replay_run_end(run);
}

/*
 * A region of a page cache was added: its faults are noted from now on,
 * and what the recording of its file holds of it is brought in ahead.
 */
void
replay_region_added(struct session *s, struct region *r)
{
	struct replay_run *run;
	struct replay_rec *rec;

	if (replay_dir == -1 || r->cache == NULL || r->wp != NULL ||
	    !config_get(CONFIG_REPLAY))
		return;
	if (s->replay == NULL) {
		if ((s->replay = calloc(1, sizeof *s->replay)) == NULL)
			return;
		LIST_INIT(&s->replay->recs);
		LIST_INIT(&s->replay->runs);
		replay_program(s, s->replay->program,
		    sizeof s->replay->program);
	}
	if ((rec = replay_rec_get(s, r->cache)) == NULL)
		return;
	r->rec = rec;
	if (rec->order == NULL || (run = calloc(1, sizeof *run)) == NULL)
		return;
	if (rec->fd == -1)
		replay_open(s, rec, r->cache);
	run->s = s;
	run->r = r;
	run->rec = rec;
	run->gen = r->gen;
	run->started = monotonic_ns();
	LIST_INIT(&run->out_reads);
	LIST_INSERT_HEAD(&rec->runs, run, rec_entry);
	run->retry.run = replay_retry;
	run->retry.at_stop = 1;
	r->refs++;
	s->inflight++;
	LIST_INSERT_HEAD(&s->replay->runs, run, entry);
	log_debug("session %u: region %u: replaying %zu ranges of %s", s->id,
	    r->id, rec->nplan, rec->path);
	replay_pump(run);
}

/* The session closes: what it faulted is kept. */
void
replay_session_close(struct session *s)
{
	struct replay_rec *rec;

	if (s->replay == NULL || !config_get(CONFIG_REPLAY))
		return;
	LIST_FOREACH(rec, &s->replay->recs, entry)
		replay_save(s, s->replay->program, rec);
}

/* The session's memory goes: its runs have all ended (they hold it). */
void
replay_session_free(struct session *s)
{
	struct replay_rec *rec;

	if (s->replay == NULL)
		return;
	while ((rec = LIST_FIRST(&s->replay->recs)) != NULL) {
		LIST_REMOVE(rec, entry);
		worker_timer_del(rec->w, &rec->grow);
		free(rec->v);
		if (rec->order != rec->plan)
			free(rec->order);
		free(rec->plan);
		free(rec->sorted);
		replay_close(s, rec);
		free(rec);
	}
	free(s->replay);
	s->replay = NULL;
}

/* One user's recordings: each listed to c, or forgotten. Their number. */
static uint32_t
replay_control_user(struct session *c, const struct pd_recordings *q,
    uid_t uid)
{
	int dir, fd, forget = (q->flags & PD_RECORDINGS_FORGET) != 0;
	struct replay_head h;
	struct dirent *e;
	union pd_msg msg;
	uint32_t n = 0;
	DIR *d;

	if ((dir = replay_user_dir(uid, 0)) == -1)
		return 0;
	if (forget && q->name[0] != '\0') {
		if (replay_name_ok(q->name) && unlinkat(dir, q->name, 0) == 0)
			n++;
		close(dir);
		return n;
	}
	if ((fd = dup(dir)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		close(dir);
		return 0;
	}
	while ((e = readdir(d)) != NULL && !c->closing) {
		if (!replay_name_ok(e->d_name))
			continue;
		if (forget) {
			n += unlinkat(dir, e->d_name, 0) == 0;
			continue;
		}
		if (replay_read(dir, e->d_name, &h, NULL) != 0)
			continue;
		proto_init(&msg, PD_MSG_RECORDING_INFO, q->hdr.seq);
		msg.recording_info.uid = (uint32_t)uid;
		msg.recording_info.ranges = h.nranges;
		msg.recording_info.pages = h.pages;
		msg.recording_info.file_size = h.size;
		msg.recording_info.recorded = h.recorded;
		strlcpy(msg.recording_info.name, e->d_name,
		    sizeof msg.recording_info.name);
		strlcpy(msg.recording_info.program, h.program,
		    sizeof msg.recording_info.program);
		strlcpy(msg.recording_info.path, h.path,
		    sizeof msg.recording_info.path);
		session_send(c, &msg);
		n++;
	}
	closedir(d);
	close(dir);
	return n;
}

/*
 * A control session's RECORDINGS: its own uid's recordings, listed or
 * forgotten; root and the admin group may name any uid, and list every
 * uid's.
 */
void
replay_control(struct session *c, const union pd_msg *msg, int *fds)
{
	const struct pd_recordings *q = &msg->recordings;
	int all = control_sees_all(c), fd = -1;
	const char *errstr;
	struct dirent *e;
	uint32_t n = 0;
	long long uid;
	DIR *d;

	(void)fds;
	if (replay_dir == -1) {
		session_reply(c, q->hdr.seq, -EOPNOTSUPP, 0, 0, "working-set "
		    "recording is off: the daemon has no state-dir (see its "
		    "log)");
		return;
	}
	if ((q->flags & PD_RECORDINGS_UID) && q->uid != (uint32_t)c->uid &&
	    !all) {
		session_reply(c, q->hdr.seq, -EPERM, 0, 0, "only root and the "
		    "admin group may see another user's recordings");
		return;
	}
	if (q->flags & PD_RECORDINGS_UID)
		n = replay_control_user(c, q, (uid_t)q->uid);
	else if (!all || (q->flags & PD_RECORDINGS_FORGET))
		n = replay_control_user(c, q, c->uid);
	else if ((fd = dup(replay_dir)) != -1 && (d = fdopendir(fd)) != NULL) {
		rewinddir(d);
		while ((e = readdir(d)) != NULL && !c->closing) {
			uid = strtonum(e->d_name, 0, UINT32_MAX - 1, &errstr);
			if (errstr == NULL)
				n += replay_control_user(c, q, (uid_t)uid);
		}
		closedir(d);
	} else if (fd != -1)
		close(fd);
	session_reply(c, q->hdr.seq, 0, n, 0, NULL);
}

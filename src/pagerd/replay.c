/*
 * Working-set record and replay. The daemon notes which windows of a file
 * each program faults in through a page cache (of a cold file, which
 * pages); at the end of the session the list is kept in the state
 * directory, one file per user, program and file. When the same program
 * maps the same unchanged file again, the recorded pages are read into
 * the page cache in the background, many at once in the file's order,
 * and mapped
 * into the client ahead of its faults (UFFDIO_CONTINUE). A fault on a
 * page a replay read is bringing waits for it; any other is served as
 * always, its read never held back.
 *
 * This file holds the state directory, the recordings in it (written,
 * read, bounded) and each session's record of its faults; a recording's
 * replay is replay-run.c's, pagerctl's view of them replay-control.c's.
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
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "replay.h"

#define REPLAY_FIRST_RANGES 64
/* What a new record takes of its user's memory (QUOTA_REPLAY). */
#define REPLAY_REC_BYTES (sizeof(struct replay_rec) + REPLAY_FIRST_RANGES * \
	sizeof(struct replay_range))
#define REPLAY_MAGIC "pagerdR1"

int replay_dir = -1;	/* the state directory, or -1: off */
static unsigned int replay_tmp_seq;

/*
 * Open (make) the state directory: the daemon's own, 0700. Anything else
 * there (a symbolic link, another owner, a directory the daemon cannot
 * write) turns recording off, said why: each cause in its own words.
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
		log_warn("state-dir %s: missing and cannot be made; working-set "
		    "recording is off", path);
		return;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("state-dir %s: working-set recording is off", path);
		return;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("state-dir %s: working-set recording is off", path);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		log_warnx("state-dir %s: owned by uid %u, not the daemon's uid "
		    "%u: working-set recording is off", path,
		    (unsigned int)st.st_uid, (unsigned int)geteuid());
		goto fail;
	}
	/* A read-only mount refuses a chmod too: that cause first. */
	if (fchmod(fd, 0700) == -1) {
		if (errno == EROFS)
			log_warnx("state-dir %s: on a read-only file system: "
			    "working-set recording is off", path);
		else if ((st.st_mode & 022) != 0)
			log_warn("state-dir %s: mode %04o lets others write, and "
			    "the daemon cannot make it 0700; working-set "
			    "recording is off", path,
			    (unsigned int)(st.st_mode & 07777));
		else
			log_warn("state-dir %s: the daemon cannot make it 0700; "
			    "working-set recording is off", path);
		goto fail;
	}
	replay_dir = fd;
	log_debug("working-set recordings in %s", path);
	return;
fail:
	close(fd);
}

/* A user's directory of recordings, made if asked, or -1. */
int
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
int
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
 * not NULL (the caller frees them). 0; -1 where dir holds no file of
 * ours by that name (said why at debug level: no error of the client's);
 * REPLAY_DAMAGED where it holds one that is not a sound recording (cut
 * short, of another format, a range past the file's end), *why saying
 * which where why is not NULL.
 */
int
replay_read(int dir, const char *name, struct replay_head *h,
    struct replay_range **ranges, const char **why)
{
	struct replay_range *v = NULL;
	const char *bad = NULL;
	struct stat st;
	size_t len;
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
	    geteuid()) {
		log_debug("recording %s: not a file of this daemon; ignored",
		    name);
		close(fd);
		return -1;
	}
	if ((size_t)st.st_size < sizeof *h || pread(fd, h, sizeof *h, 0) !=
	    (ssize_t)sizeof *h)
		bad = "cut short in its head";
	else if (memcmp(h->magic, REPLAY_MAGIC, sizeof h->magic) != 0)
		bad = "not of this version's format";
	else if (h->nranges > REPLAY_MAX_RANGES || (size_t)st.st_size !=
	    sizeof *h + h->nranges * sizeof *v)
		bad = "its length is not its ranges'";
	if (bad != NULL)
		goto fail;
	h->program[sizeof h->program - 1] = '\0';
	h->path[sizeof h->path - 1] = '\0';
	if (ranges != NULL) {
		len = h->nranges * sizeof *v;
		if ((v = malloc(len + 1)) == NULL) {
			close(fd);
			return -1;
		}
		if (pread(fd, v, len, sizeof *h) != (ssize_t)len) {
			bad = "cut short in its ranges";
			goto fail;
		}
		for (i = 0; i < h->nranges; i++)
			if (v[i].n == 0 || v[i].first >= REPLAY_PAGES(h->size) ||
			    v[i].n > REPLAY_PAGES(h->size) - v[i].first) {
				bad = "a range past the file's end";
				goto fail;
			}
		*ranges = v;
	}
	close(fd);
	return 0;

fail:
	log_debug("recording %s: %s; not used", name, bad);
	if (why != NULL)
		*why = bad;
	free(v);
	close(fd);
	return REPLAY_DAMAGED;
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
	/* Nothing faulted, or nothing the plan did not hold. */
	if (n == 0 || (n == rec->nplan && rec->plan != NULL)) {
		free(v);
		return 0;
	}
	*out = v;
	return n;
}

/* Sort v's n ranges by offset and join those that meet or overlap. */
void
replay_join(struct replay_range *v, size_t *n)
{
	size_t i, m = 0;

	qsort(v, *n, sizeof *v, replay_range_cmp);
	for (i = 0; i < *n; i++) {
		if (m > 0 && v[i].first <= v[m - 1].first + v[m - 1].n) {
			if (v[i].first + v[i].n > v[m - 1].first + v[m - 1].n)
				v[m - 1].n = v[i].first + v[i].n - v[m - 1].first;
			continue;
		}
		v[m++] = v[i];
	}
	*n = m;
}

/*
 * Keep what the session faulted of rec's file, for its next run: by
 * offset, as it is replayed (replay_order), which also makes the pages
 * of a program's random faults fewer ranges.
 */
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
	replay_join(v, &n);
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
	if ((error = replay_write(dir, rec->name, &h, v)) != 0) {
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d (%s): recording of %s: "
			    "%s", s->id, (int)s->pid, s->comm, rec->path,
			    strerror(-error));
	} else
		log_debug("session %u: pid %d (%s): recorded %zu ranges, %"
		    PRIu64 " pages of %s%s", s->id, (int)s->pid, s->comm, n,
		    h.pages, rec->path, rec->dropped > 0 ? " (cut short)" :
		    "");
	close(dir);
fail:
	free(v);
}

/* The plan's pages by offset, runs that meet joined: for look-ups. */
static void
replay_sort(struct replay_rec *rec)
{
	struct replay_range *v;
	size_t n = rec->nplan;

	if ((v = malloc(rec->nplan * sizeof *v + 1)) == NULL)
		return;
	memcpy(v, rec->plan, rec->nplan * sizeof *v);
	replay_join(v, &n);
	rec->sorted = v;
	rec->nsorted = n;
}

/*
 * The recording of rec's file for this program, if there is one and the
 * file has not changed since; a stale one is removed. -1 where the user's
 * memory has no room for it: then the session neither replays nor records
 * the file, whose recording a record of its faults alone would replace.
 */
static int
replay_load(struct session *s, const char *program, struct replay_rec *rec)
{
	struct replay_range *v = NULL;
	struct replay_head h;
	const char *damage;
	char why[PD_REASON_MAX];
	int dir, error = 0, got;

	if ((dir = replay_user_dir(s->uid, 0)) == -1)
		return 0;
	if ((got = replay_read(dir, rec->name, &h, &v, &damage)) != 0) {
		if (got == REPLAY_DAMAGED) {
			if (session_log_allow(s->uid, LOG_WARNING))
				log_warnx("session %u: pid %d (%s): recording "
				    "%s of %s is damaged (%s): removed", s->id,
				    (int)s->pid, s->comm, rec->name, rec->path,
				    damage);
			unlinkat(dir, rec->name, 0);
		}
		goto out;
	}
	if (strcmp(h.program, program) != 0 || h.dev != rec->dev ||
	    h.ino != rec->ino) {
		free(v);	/* another pair with the same name: kept */
		goto out;
	}
	if (h.size != rec->size || h.ctime_sec != rec->ctime.tv_sec ||
	    h.ctime_nsec != rec->ctime.tv_nsec) {
		if (session_log_allow(s->uid, LOG_INFO))
			log_info("session %u: pid %d (%s): %s changed since "
			    "its working set was recorded: recording removed",
			    s->id, (int)s->pid, s->comm, rec->path);
		unlinkat(dir, rec->name, 0);
		free(v);
		goto out;
	}
	/* The plan, by offset and in its order: three copies at most. */
	if (quota_charge(rec->quota, QUOTA_REPLAY, 3 * (uint64_t)h.nranges *
	    sizeof *v, "working-set replay", why, sizeof why) != 0) {
		if (session_log_allow(s->uid, LOG_DEBUG))
			log_debug("session %u: %s: neither replayed nor "
			    "recorded: %s", s->id, rec->path, why);
		free(v);
		error = -1;
		goto out;
	}
	rec->plan = v;
	rec->nplan = h.nranges;
	replay_sort(rec);
	replay_order(rec);
out:
	close(dir);
	return error;
}

/* rec's list has filled three quarters: more room, off the fault path. */
static void
replay_grow(struct worker *w, struct timer *t)
{
	struct replay_rec *rec = container_of(t, struct replay_rec, grow);
	size_t cap = rec->cap * 2 > REPLAY_MAX_RANGES ? REPLAY_MAX_RANGES :
	    rec->cap * 2;
	struct replay_range *v;

	char why[PD_REASON_MAX];

	(void)w;
	if (cap <= rec->cap)
		return;
	/* Past the user's memory, the record keeps what it has room for. */
	if (quota_charge(rec->quota, QUOTA_REPLAY, (cap - rec->cap) *
	    sizeof *v, "working-set record", why, sizeof why) != 0) {
		rec->capped = 1;
		if (session_log_allow(rec->quota->uid, LOG_DEBUG))
			log_debug("%s: %s: recorded no further", rec->path, why);
		return;
	}
	if ((v = reallocarray(rec->v, cap, sizeof *v)) == NULL) {
		quota_uncharge(rec->quota, QUOTA_REPLAY, (cap - rec->cap) *
		    sizeof *v);
		return;
	}
	rec->v = v;
	rec->cap = cap;
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
	    REPLAY_MAX_RANGES && !rec->capped && !rec->grow.pending) {
		rec->grow.run = replay_grow;
		worker_timer_add(rec->w, &rec->grow, 0);
	}
}

/*
 * A random fault of r at file page `page`, its window [*first, *first +
 * *n): 1 when its page is to be mapped alone, a page the recording does
 * not hold (a first run's, or one new since) of a file that was cold: a
 * window mapped whole would be recorded whole, and a program that touches
 * a quarter of each 64 KiB at random would have all of its file replayed
 * the next time. A fault a page at a time costs little beside the disk's
 * reads, but much where the file is in the page cache (4 KiB touches of
 * a whole hot file at random: 16-60 against 2-3 us each). Else the
 * window is cut to the recorded run that holds the page: a fault ahead of
 * a replay reads only what the program will touch, and leaves the disk
 * to the replay.
 */
int
replay_window(const struct region *r, uint64_t page, uint64_t *first,
    uint64_t *n)
{
	const struct replay_rec *rec = r->rec;
	const struct replay_range *hit;
	size_t lo, hi;
	uint64_t a, b;

	if (rec->sorted == NULL)
		return rec->one;
	for (lo = 0, hi = rec->nsorted; lo < hi;) {
		if (rec->sorted[(lo + hi) / 2].first <= page)
			lo = (lo + hi) / 2 + 1;
		else
			hi = (lo + hi) / 2;
	}
	hit = lo > 0 ? &rec->sorted[lo - 1] : NULL;
	if (hit == NULL || page >= hit->first + hit->n)
		return rec->one;
	a = hit->first > *first ? hit->first : *first;
	b = hit->first + hit->n < *first + *n ? hit->first + hit->n :
	    *first + *n;
	*first = a;
	*n = b - a;
	return 0;
}

/* The session's record of r's file, made (and its recording read). */
static struct replay_rec *
replay_rec_get(struct session *s, const struct region *r)
{
	struct replay_session *rs = s->replay;
	const struct cache *c = r->cache;
	struct replay_rec *rec;
	char path[64], why[PD_REASON_MAX];
	ssize_t n;
	int fd;

	LIST_FOREACH(rec, &rs->recs, entry)
		if (rec->dev == (uint64_t)c->dev && rec->ino == (uint64_t)c->ino)
			return rec;
	/*
	 * Past what the user may keep, records would only push each other
	 * out at the end, and each holds memory until then and a write
	 * (with a scan of the user's directory) on the worker at the end.
	 */
	if (rs->nrecs >= config_get(CONFIG_UID_MAX_RECORDINGS))
		return NULL;
	if (quota_charge(&rs->quota, QUOTA_REPLAY, REPLAY_REC_BYTES,
	    "working-set record", why, sizeof why) != 0) {
		if (session_log_allow(s->uid, LOG_DEBUG))
			log_debug("session %u: not recorded: %s", s->id, why);
		return NULL;
	}
	if ((rec = calloc(1, sizeof *rec)) == NULL ||
	    (rec->v = calloc(REPLAY_FIRST_RANGES, sizeof *rec->v)) == NULL) {
		free(rec);
		quota_uncharge(&rs->quota, QUOTA_REPLAY, REPLAY_REC_BYTES);
		return NULL;
	}
	rec->quota = &rs->quota;
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
	if (replay_load(s, rs->program, rec) != 0) {
		free(rec->v);
		free(rec);
		quota_uncharge(&rs->quota, QUOTA_REPLAY, REPLAY_REC_BYTES);
		return NULL;
	}
	/* A first run's pages recorded one each where it reads the disk. */
	if (rec->plan == NULL && !r->read_inline)
		rec->one = replay_cold_quiet(c->file_fd,
		    REPLAY_PAGES(rec->size));
	else if (rec->plan == NULL && (fd = replay_reopen(r)) != -1) {
		rec->one = replay_cold(fd, REPLAY_PAGES(rec->size), NULL, 0);
		close(fd);
	}
	LIST_INSERT_HEAD(&rs->recs, rec, entry);
	rs->nrecs++;
	return rec;
}

/*
 * A region of a page cache was added: its faults are noted from now on,
 * and what the recording of its file holds of it is brought in ahead.
 */
void
replay_region_added(struct session *s, struct region *r)
{
	struct replay_rec *rec;

	if (replay_dir == -1 || r->cache == NULL || r->wp != NULL ||
	    !config_get(CONFIG_REPLAY))
		return;
	if (s->replay == NULL) {
		if ((s->replay = calloc(1, sizeof *s->replay)) == NULL)
			return;
		LIST_INIT(&s->replay->recs);
		LIST_INIT(&s->replay->runs);
		quota_hold_init(&s->replay->quota, s->uid);
		replay_program(s, s->replay->program,
		    sizeof s->replay->program);
	}
	if ((rec = replay_rec_get(s, r)) == NULL)
		return;
	r->rec = rec;
	if (rec->order != NULL)
		replay_start(s, r, rec);
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
	quota_release(&s->replay->quota);
	free(s->replay);
	s->replay = NULL;
}

/*
 * libFuzzer target: a working-set recording as the daemon reads it back
 * from its state directory (replay.c's replay_read, replay_load), damaged
 * or not. The input is the file, written under the name the daemon looks
 * for; the file it belongs to is the one its head names (where the input
 * holds a head), so that a sound-looking head is taken as far as a replay.
 * What a recording loads to is checked: its plan, the plan by offset and
 * in the replay's order lie within the file's pages, sorted and disjoint;
 * a replay's reads (replay_next) stay in the file and the region, its
 * cold-file samples (replay_cold) in the file, and a fault's window
 * (replay_window) within the one asked. The session then ends: what it
 * saves (replay_save) must read back.
 *
 * replay.c and replay-run.c are compiled in (their static functions are
 * what is fuzzed); the worker, the caches, faults and quotas are stubbed:
 * no read goes out and nothing is installed.
 */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/pagerd/replay.c"
#include "../../src/pagerd/replay-run.c"

size_t page_size = 4096;
struct pagerd_options opts;
int config_live[CONFIG_NKEYS] = { [CONFIG_REPLAY] = 1,
    [CONFIG_UID_MAX_RECORDINGS] = 4 };

static uint64_t fuzz_pages;	/* of the file the recording is of */

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "recording-fuzz: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

int
session_log_allow(uid_t uid, int priority)
{
	(void)uid, (void)priority;
	return 1;
}

void
session_unref(struct session *s)
{
	(void)s;
}

void
region_unref(struct region *r)
{
	(void)r;
}

void
worker_timer_add(struct worker *w, struct timer *t, uint64_t at)
{
	(void)w, (void)t, (void)at;
}

void
worker_timer_del(struct worker *w, struct timer *t)
{
	(void)w, (void)t;
}

struct io_uring_sqe *
worker_sqe(struct worker *w)
{
	(void)w;
	abort();		/* no replay is started */
}

int
quota_charge(struct quota_hold *q, enum quota_kind k, uint64_t n,
    const char *what, char *why, size_t len)
{
	(void)q, (void)k, (void)n, (void)what, (void)why, (void)len;
	return 0;
}

void
quota_uncharge(struct quota_hold *q, enum quota_kind k, uint64_t n)
{
	(void)q, (void)k, (void)n;
}

void
quota_hold_init(struct quota_hold *q, uid_t uid)
{
	(void)q, (void)uid;
}

void
quota_release(struct quota_hold *q)
{
	(void)q;
}

int
region_stat(int fd, struct stat *st)
{
	(void)fd, (void)st;
	return -1;
}

int
cache_reopen(const struct cache *c)
{
	(void)c;
	return -1;
}

/* Every page asked of the cold-file test lies in the file. */
int
cache_page_cold(int fd, uint64_t off)
{
	(void)fd;
	FUZZ_CHECK(off / page_size < fuzz_pages);
	return (off / page_size) & 1;
}

void
cache_use(struct cache *c, uint64_t first, uint64_t n)
{
	(void)c, (void)first, (void)n;
}

void
cache_unuse(struct cache *c, uint64_t first, uint64_t n)
{
	(void)c, (void)first, (void)n;
}

int
cache_filled(const struct cache *c, uint64_t first, uint64_t n)
{
	(void)c, (void)first, (void)n;
	return 0;
}

void
cache_mark_filled(struct cache *c, uint64_t first, uint64_t n)
{
	(void)c, (void)first, (void)n;
}

char *
cache_fill_map(const struct cache *c, int huge)
{
	(void)c, (void)huge;
	return NULL;
}

uint64_t
evict_window_pages(void)
{
	return 512;
}

int
evict_fits(uint64_t size)
{
	(void)size;
	return 0;
}

int64_t
fault_install(struct session *s, struct region *r, enum fault_fill mode,
    uint64_t dst, const char *src, uint64_t len)
{
	(void)s, (void)r, (void)mode, (void)dst, (void)src, (void)len;
	abort();		/* no replay is started */
}

int
fault_install_broken(int64_t n)
{
	(void)n;
	return 0;
}

void
fault_wake(struct session *s, uint64_t addr, uint64_t len)
{
	(void)s, (void)addr, (void)len;
}

void
fault_count(struct session *s, int64_t done, int ahead)
{
	(void)s, (void)done, (void)ahead;
}

/*
 * The state directory, in $TMPDIR: libFuzzer ends with _Exit(), and its
 * two empty directories stay (fuzz-test.sh's TMPDIR is its own).
 */
static char fuzz_dir[512];
static int fuzz_user = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	/*
	 * The daemon's lines are made (their arguments are fuzzed too) and
	 * go to /dev/null; PAGERD_FUZZ_VERBOSE=1 shows them, debug ones too.
	 */
	if (getenv("PAGERD_FUZZ_VERBOSE") == NULL &&
	    log_open_file("/dev/null") == -1)
		abort();
	log_init("recording-fuzz", 1, getenv("PAGERD_FUZZ_VERBOSE") != NULL ?
	    1 : 0);
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/pagerd-recording-fuzz.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL)
		abort();

	replay_init(fuzz_dir);
	if (replay_dir == -1 || (fuzz_user = replay_user_dir(geteuid(),
	    1)) == -1)
		abort();
	return 0;
}

/* Sorted, disjoint, within the file's pages: the plan's look-up lists. */
static void
check_sorted(const struct replay_range *v, size_t n, int apart)
{
	size_t i;

	for (i = 0; i < n; i++) {
		FUZZ_CHECK(v[i].n > 0 && v[i].first < fuzz_pages &&
		    v[i].n <= fuzz_pages - v[i].first);
		if (i > 0)
			FUZZ_CHECK(v[i].first >= v[i - 1].first + v[i - 1].n +
			    (apart ? 1 : 0));
	}
}

/* A replay of rec into r, its reads taken and dropped, none sent. */
static void
check_run(struct session *s, struct region *r, struct replay_rec *rec)
{
	struct replay_run run;
	uint64_t first, n, lo = r->offset / page_size,
	    hi = lo + (r->end - r->start) / page_size, steps = 0;

	memset(&run, 0, sizeof run);
	run.s = s;
	run.r = r;
	run.rec = rec;
	while (replay_next(&run, &first, &n)) {
		FUZZ_CHECK(n > 0 && n <= REPLAY_READ_PAGES);
		FUZZ_CHECK(first >= lo && first + n <= hi);
		FUZZ_CHECK(first < fuzz_pages && n <= fuzz_pages - first);
		(void)replay_dense(&run, first);
		FUZZ_CHECK(++steps <= rec->norder + (hi - lo));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_head h0, h;
	struct replay_range *v = NULL;
	struct replay_session *rs;
	struct replay_rec *rec;
	struct session s;
	struct cache c;
	struct region r;
	uint64_t first, n, k;
	size_t i;
	int fd, saved;

	memset(&h0, 0, sizeof h0);
	memcpy(&h0, data, size < sizeof h0 ? size : sizeof h0);
	h0.program[sizeof h0.program - 1] = '\0';

	memset(&s, 0, sizeof s);
	s.id = 1;
	s.pid = getpid();
	s.uid = geteuid();
	strlcpy(s.comm, "fuzz", sizeof s.comm);
	if ((rs = calloc(1, sizeof *rs)) == NULL ||
	    (rec = calloc(1, sizeof *rec)) == NULL ||
	    (rec->v = calloc(REPLAY_FIRST_RANGES, sizeof *rec->v)) == NULL)
		abort();
	s.replay = rs;
	LIST_INIT(&rs->recs);
	LIST_INIT(&rs->runs);
	strlcpy(rs->program, h0.program, sizeof rs->program);
	rec->quota = &rs->quota;
	rec->cap = REPLAY_FIRST_RANGES;
	rec->fd = -1;
	LIST_INIT(&rec->runs);
	/* The file as its head says, or (reserved's bit 0) changed since. */
	rec->dev = h0.dev;
	rec->ino = h0.ino;
	rec->size = h0.size ^ (h0.reserved & 1);
	rec->ctime.tv_sec = h0.ctime_sec;
	rec->ctime.tv_nsec = h0.ctime_nsec;
	strlcpy(rec->path, "/fuzzed", sizeof rec->path);
	replay_name(rs->program, rec->dev, rec->ino, rec->name);
	LIST_INSERT_HEAD(&rs->recs, rec, entry);
	rs->nrecs = 1;
	fuzz_pages = REPLAY_PAGES(rec->size);

	if ((fd = openat(fuzz_user, rec->name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1 || (size > 0 && write(fd, data, size) !=
	    (ssize_t)size) || close(fd) == -1)
		abort();

	(void)replay_load(&s, rs->program, rec);	/* the quota lets all in */

	/* A region of the file: from a page the head picks, 1 GiB at most. */
	memset(&c, 0, sizeof c);
	c.file_size = rec->size;
	c.size = fuzz_pages * page_size;
	c.huge = (h0.reserved & 2) != 0;
	memset(&r, 0, sizeof r);
	r.cache = &c;
	r.read_inline = 1;
	r.rec = rec;
	r.offset = (fuzz_pages > 0 ? (uint64_t)h0.recorded % fuzz_pages : 0) *
	    page_size;
	r.start = 0x100000000000ull;
	n = fuzz_pages - r.offset / page_size;
	r.end = r.start + (n < 262144 ? n : 262144) * page_size;

	if (rec->plan != NULL) {
		FUZZ_CHECK(rec->nplan <= REPLAY_MAX_RANGES);
		for (i = 0; i < rec->nplan; i++)
			check_sorted(&rec->plan[i], 1, 0);
		check_sorted(rec->sorted, rec->nsorted, 1);
		check_sorted(rec->order, rec->norder, 1);
		(void)replay_cold(-1, fuzz_pages, rec->order, rec->norder);
		check_run(&s, &r, rec);
		/* A fault's window is cut within itself, never grown. */
		for (i = 0; i < rec->nsorted && i < 64; i++) {
			k = rec->sorted[i].first + rec->sorted[i].n / 2;
			first = k > 8 ? k - 8 : 0;
			n = 16;
			if (replay_window(&r, k, &first, &n) == 0)
				FUZZ_CHECK(first >= (k > 8 ? k - 8 : 0) &&
				    first + n <= (k > 8 ? k - 8 : 0) + 16 &&
				    first <= k && k < first + n);
		}
	} else
		FUZZ_CHECK(rec->order == NULL && rec->sorted == NULL);

	/* The session faults the plan's first runs and one page more. */
	for (i = 0; i < rec->norder && i < 64; i++)
		replay_note(&r, rec->order[i].first * page_size,
		    rec->order[i].n * page_size);
	if (fuzz_pages > 0)
		replay_note(&r, ((uint64_t)h0.recorded % fuzz_pages) *
		    page_size, page_size);
	unlinkat(fuzz_user, rec->name, 0);
	replay_session_close(&s);
	/* What the daemon writes, it reads back whole. */
	saved = faccessat(fuzz_user, rec->name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	if (saved) {
		FUZZ_CHECK(replay_read(fuzz_user, rec->name, &h, &v, NULL) == 0);
		FUZZ_CHECK(h.size == rec->size && h.nranges > 0);
		fuzz_pages = REPLAY_PAGES(h.size);
		check_sorted(v, h.nranges, 1);
		for (k = 0, i = 0; i < h.nranges; i++)
			k += v[i].n;
		FUZZ_CHECK(k == h.pages);
		free(v);
		unlinkat(fuzz_user, rec->name, 0);
	}
	replay_session_free(&s);
	return 0;
}

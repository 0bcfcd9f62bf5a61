/*
 * What the shared page caches hold resident: each cache's fill bitmap,
 * which the fault path reads and sets with atomic operations and no lock,
 * and the memory each holds, per cache, per user and in all. That is
 * counted from the cache file's blocks, not from its bitmap: on a huge
 * tmpfs a 4 KiB fill may take a 2 MiB page, and a punch frees what the
 * kernel could split off, so only the file system knows. Their memory
 * is bounded by eviction (evict.c), which punches windows out of caches:
 * a fill or a mapping of a window holds it (cache_use), so that a window
 * is never punched out under a read that fills it, nor between a fault's
 * look at its filled bits and its UFFDIO_CONTINUE.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "cache.h"

/*
 * The pages a uid's caches hold, against its share. Made with its first
 * cache and kept: there are no more of them than users.
 */
struct cache_user {
	LIST_ENTRY(cache_user) entry;
	uid_t uid;
	uint64_t held;		/* atomic */
};
static LIST_HEAD(, cache_user) cache_users =
    LIST_HEAD_INITIALIZER(cache_users);

static uint64_t cache_held;		/* pages held, every cache (atomic) */

/* The uid's entry, made if it is new; NULL out of memory. Under the lock. */
struct cache_user *
cache_user(uid_t uid)
{
	struct cache_user *u;

	LIST_FOREACH(u, &cache_users, entry)
		if (u->uid == uid)
			return u;
	if ((u = calloc(1, sizeof *u)) == NULL)
		return NULL;
	u->uid = uid;
	LIST_INSERT_HEAD(&cache_users, u, entry);
	return u;
}

/* Count n pages resident in c, by its bitmap or not; n may be negative. */
static void
cache_count_resident(struct cache *c, int64_t n)
{
	__atomic_fetch_add(&c->resident, (uint64_t)n, __ATOMIC_RELAXED);
}

/*
 * Count what c holds anew, from its file's blocks; returns the change in
 * pages. Threads that count one cache at once may leave it a moment
 * behind (the last to store its count wins), but its user's and the
 * whole's always add up to the caches' own: the next count puts it right.
 */
static int64_t
cache_recount(struct cache *c)
{
	uint64_t now, was;
	struct stat st;
	int64_t delta;

	if (fstat(c->memfd, &st) == -1)
		return 0;
	now = (uint64_t)st.st_blocks * 512 / page_size;
	was = __atomic_exchange_n(&c->held, now, __ATOMIC_RELAXED);
	delta = (int64_t)(now - was);
	if (delta != 0) {
		__atomic_fetch_add(&c->user->held, (uint64_t)delta,
		    __ATOMIC_RELAXED);
		__atomic_fetch_add(&cache_held, (uint64_t)delta,
		    __ATOMIC_RELAXED);
	}
	return delta;
}

static void
cache_recount_one(struct cache *c, void *arg)
{
	(void)arg;
	cache_recount(c);
}

/*
 * Count every cache anew (the evictor's tick): pages came and went that
 * no fill counted, a fill cut short, a client's punch, a range dropped
 * for a writer outside (watch.c), a window khugepaged made huge.
 */
void
cache_recount_all(void)
{
	cache_walk(cache_recount_one, NULL);
}

/* Uncount the pages a cache being freed holds. */
void
cache_forget_resident(struct cache *c)
{
	uint64_t held = __atomic_load_n(&c->held, __ATOMIC_RELAXED);

	__atomic_fetch_sub(&cache_held, held, __ATOMIC_RELAXED);
	if (c->user != NULL)
		__atomic_fetch_sub(&c->user->held, held, __ATOMIC_RELAXED);
}

/*
 * A cache adopted after a restart holds the pages the old daemon filled,
 * which its bitmap, new and empty, does not know (nor whether a fill was
 * cut short: they are read again before they are mapped). They are
 * counted resident, as stale, per window, so that eviction punches them
 * out first; the budget sees them in the file's blocks.
 */
void
cache_adopted_pages(struct cache *c)
{
	uint64_t wbytes = PAGERD_EVICT_WINDOW, w, pages;
	off_t data, hole = 0;

	while ((data = lseek(c->memfd, hole, SEEK_DATA)) != -1 &&
	    (uint64_t)data < c->size) {
		if ((hole = lseek(c->memfd, data, SEEK_HOLE)) == -1)
			break;
		/* Each window's share of [data, hole). */
		for (w = (uint64_t)data / wbytes; w * wbytes < (uint64_t)hole &&
		    w < c->nwindows; w++) {
			pages = ((uint64_t)hole < (w + 1) * wbytes ?
			    (uint64_t)hole : (w + 1) * wbytes) - ((uint64_t)data >
			    w * wbytes ? (uint64_t)data : w * wbytes);
			pages /= page_size;
			c->stale[w] += (uint32_t)pages;
			cache_count_resident(c, (int64_t)pages);
		}
	}
	cache_recount(c);
}

/* How many of the pages [first, first + n) are filled, from first on. */
uint64_t
cache_filled_run(const struct cache *c, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		if (!(__atomic_load_n(&c->filled[i / BITMAP_WORD_BITS],
		    __ATOMIC_ACQUIRE) & (1ul << (i % BITMAP_WORD_BITS))))
			break;
	return i - first;
}

/* Are the pages [first, first + n) of the memfd filled from the file? */
int
cache_filled(const struct cache *c, uint64_t first, uint64_t n)
{
	return cache_filled_run(c, first, n) == n;
}

/*
 * Set or clear the bits of [first, first + n); returns how many changed,
 * which the cache's and the daemon's resident counts follow.
 */
static uint64_t
cache_mark(struct cache *c, uint64_t first, uint64_t n, int fill)
{
	unsigned long bit, old;
	uint64_t i, changed = 0;

	for (i = first; i < first + n; i++) {
		bit = 1ul << (i % BITMAP_WORD_BITS);
		if (fill)
			old = __atomic_fetch_or(&c->filled[i / BITMAP_WORD_BITS],
			    bit, __ATOMIC_RELEASE);
		else
			old = __atomic_fetch_and(&c->filled[i /
			    BITMAP_WORD_BITS], ~bit, __ATOMIC_RELEASE);
		changed += fill ? !(old & bit) : !!(old & bit);
	}
	if (changed == 0)
		return 0;
	cache_count_resident(c, fill ? (int64_t)changed : -(int64_t)changed);
	return changed;
}

/*
 * A fill of [first, first + n) is whole: counted by what it took, eviction
 * may follow (evict.c).
 */
void
cache_mark_filled(struct cache *c, uint64_t first, uint64_t n)
{
	if (cache_mark(c, first, n, 1) > 0) {
		cache_recount(c);
		evict_filled(c, first, n);
	}
}

/*
 * The pages [first, first + n) are gone from the memfd, or about to be:
 * fill them again. Returns how many were filled.
 */
uint64_t
cache_mark_unfilled(struct cache *c, uint64_t first, uint64_t n)
{
	return cache_mark(c, first, n, 0);
}

/* Pages every cache of c's user holds. */
uint64_t
cache_user_pages(const struct cache *c)
{
	return __atomic_load_n(&c->user->held, __ATOMIC_RELAXED);
}

/*
 * Call fn with each user's uid and the pages its caches hold, under the
 * cache lock (users are added under it).
 */
void
cache_walk_users(void (*fn)(uid_t, uint64_t, void *), void *arg)
{
	struct cache_user *u;

	pthread_mutex_lock(&cache_lock);
	LIST_FOREACH(u, &cache_users, entry)
		fn(u->uid, __atomic_load_n(&u->held, __ATOMIC_RELAXED), arg);
	pthread_mutex_unlock(&cache_lock);
}

/*
 * Pages of [first, first + n) set in c's filled bitmap, the part past the
 * memfd's end counting none; a snapshot, as fills and eviction go on.
 */
uint64_t
cache_count_filled(const struct cache *c, uint64_t first, uint64_t n)
{
	uint64_t i, end, count = 0;
	unsigned long word;

	end = c->size / page_size;
	if (first >= end)
		return 0;
	if (n < end - first)
		end = first + n;
	for (i = first; i < end; i += BITMAP_WORD_BITS - i % BITMAP_WORD_BITS) {
		word = __atomic_load_n(&c->filled[i / BITMAP_WORD_BITS],
		    __ATOMIC_RELAXED) >> (i % BITMAP_WORD_BITS);
		/* The last word's bits at and past end are not ours. */
		if (end - i < BITMAP_WORD_BITS - i % BITMAP_WORD_BITS)
			word &= (1ul << (end - i)) - 1;
		count += (uint64_t)__builtin_popcountl(word);
	}
	return count;
}

/* Pages every cache holds. */
uint64_t
cache_held_pages(void)
{
	return __atomic_load_n(&cache_held, __ATOMIC_RELAXED);
}

/*
 * Hold the windows of [first, first + n) against eviction while a fill
 * writes them or a fault maps them, and mark them referenced for CLOCK.
 * A window being punched out is waited for: that takes one fallocate,
 * and the evictor never waits for a fill, so this cannot deadlock.
 */
void
cache_use(struct cache *c, uint64_t first, uint64_t n)
{
	uint64_t w, wp = evict_window_pages();

	for (w = first / wp; w <= (first + n - 1) / wp && w < c->nwindows;
	    w++) {
		while (__atomic_fetch_add(&c->busy[w], 1, __ATOMIC_ACQUIRE) &
		    CACHE_EVICTING) {
			__atomic_fetch_sub(&c->busy[w], 1, __ATOMIC_RELAXED);
			while (__atomic_load_n(&c->busy[w], __ATOMIC_ACQUIRE) &
			    CACHE_EVICTING)
				sched_yield();
		}
		if (__atomic_load_n(&c->referenced[w], __ATOMIC_RELAXED) == 0)
			__atomic_store_n(&c->referenced[w], 1,
			    __ATOMIC_RELAXED);
	}
}

void
cache_unuse(struct cache *c, uint64_t first, uint64_t n)
{
	uint64_t w, wp = evict_window_pages();

	for (w = first / wp; w <= (first + n - 1) / wp && w < c->nwindows;
	    w++)
		__atomic_fetch_sub(&c->busy[w], 1, __ATOMIC_RELEASE);
}

/*
 * Punch window w out of c, unless a fill or a mapping holds it. Its
 * filled bits are cleared first: a fault that looks after maps nothing
 * stale, and one that looked before holds the window (cache_use). With
 * all, the window is punched even where no bit says a page is there (a
 * lingering cache, an adopted one). Returns whether it was punched, and
 * in *freed the pages that gave back, by the file's blocks (fewer where
 * another window was filled meanwhile). The evictor's, under the cache
 * lock.
 */
int
cache_evict_window(struct cache *c, uint64_t w, int all, uint64_t *freed)
{
	uint64_t wp = evict_window_pages(), first = w * wp, n, pages;
	uint32_t idle = 0, stale;
	int64_t delta;

	*freed = 0;
	if (w >= c->nwindows || !__atomic_compare_exchange_n(&c->busy[w],
	    &idle, CACHE_EVICTING, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return 0;
	n = c->size / page_size - first < wp ? c->size / page_size - first :
	    wp;
	pages = cache_mark_unfilled(c, first, n);
	if ((stale = __atomic_exchange_n(&c->stale[w], 0, __ATOMIC_RELAXED)) !=
	    0) {
		cache_count_resident(c, -(int64_t)stale);
		pages += stale;
		all = 1;
	}
	if (pages == 0 && !all) {
		__atomic_fetch_and(&c->busy[w], ~CACHE_EVICTING,
		    __ATOMIC_RELEASE);
		return 0;
	}
	if (fallocate(c->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)(first * page_size), (off_t)(n * page_size)) == -1)
		log_warn("cache: file %ju:%ju: punching out 0x%" PRIx64 "+0x%"
		    PRIx64, (uintmax_t)c->dev, (uintmax_t)c->ino,
		    first * page_size, n * page_size);
	__atomic_fetch_and(&c->busy[w], ~CACHE_EVICTING, __ATOMIC_RELEASE);
	if ((delta = cache_recount(c)) < 0)
		*freed = (uint64_t)-delta;
	return 1;
}

/*
 * Of n pages of c from page first, set bit i of filled where page first +
 * i is read in, else of reading where a fill or a mapping holds its window
 * (pagerctl map). Pages past the file's end are neither. A moment's truth:
 * the bits change as they are read.
 */
void
cache_pages(const struct cache *c, uint64_t first, uint64_t n,
    uint8_t *filled, uint8_t *reading)
{
	uint64_t i, p, w, wp = evict_window_pages();

	for (i = 0; i < n && (p = first + i) < c->size / page_size; i++) {
		if (cache_filled(c, p, 1))
			filled[i / 8] |= (uint8_t)(1u << (i % 8));
		else if ((w = p / wp) < c->nwindows &&
		    (__atomic_load_n(&c->busy[w], __ATOMIC_RELAXED) &
		    ~CACHE_EVICTING) != 0)
			reading[i / 8] |= (uint8_t)(1u << (i % 8));
	}
}

/*
 * Page-out: the page caches' memory is bounded by a budget (cache-max-mib)
 * and each user's share of it (uid-max-cache-mib), and shrinks under
 * memory pressure. What a cache holds is what its file's blocks say
 * (cache-resident.c), a huge page whole however little of it was read. Eviction punches windows out of cache files; the pages
 * leave every client's mapping at once and the next touch faults and is
 * read again (fault.c: a UFFDIO_CONTINUE that finds no page marks it
 * unfilled and the fault reads it anew).
 *
 * The policy: lingering caches (nobody maps them) go first, whole; then a
 * CLOCK over the windows of mapped caches, whose referenced count a fill
 * or a fault's mapping of the window sets (cache_use); a window filled
 * again soon after it was punched out (a refault: fewer windows evicted
 * since than the budget holds) gets a longer life, so that a scan through
 * a big file does not flush a hot set.
 *
 * Who evicts: one thread at a time, whichever claims it (an atomic flag):
 * the worker whose fill took the caches past their budget or its user
 * past its share, and the acceptor's thread on its tick (a budget made
 * smaller by a reload) and on a pressure event. The worker's claim is
 * back-pressure: a client's fills cannot outrun eviction, as they could
 * if another thread were only woken, so the daemon stays within its
 * budget. A worker that finds the claim taken goes on: the holder frees
 * memory for everyone.
 *
 * Pages held elsewhere (a pool: write-back regions' memfds, wp-pageout.c)
 * count against the same budget; the pool gives back its part of what
 * must go, in proportion to what it holds, by itself and on its own
 * threads. Not against a user's share, which is the caches' alone.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"

/* Windows each cache's hand moves a round: caches take turns. */
#define EVICT_ROUND 8
/* A refaulted window's life: sweeps of the hand it survives unused. */
#define EVICT_REFAULT_LIFE 3

static int evict_psi_fd = -1;		/* a PSI trigger, or -1 */
static int evict_psi_machine;		/* it is the whole machine's */
static int evict_running;		/* the claim */
static uint64_t evict_seq;		/* windows punched out, ever */
static uint64_t evict_pages;		/* pages punched out, ever */
static uint64_t evict_refaults;
static uint64_t evict_pressure_events;
static uint64_t evict_pressure_logged;	/* when, ns */
static const struct evict_pool *evict_pool;	/* or NULL */

/* One pass: what it frees, from which caches, and how far it got. */
struct evict_pass {
	uint64_t want;		/* pages to free */
	uint64_t freed;
	int uid_only;		/* only caches of uid */
	uid_t uid;
	int changed;		/* the round evicted or aged a window */
	uint64_t most;		/* windows of the biggest cache seen */
};

static uint64_t evict_share_pages(void);

/* Pages beyond the caches' that count against the budget: the pool's. */
void
evict_add_pool(const struct evict_pool *pool)
{
	evict_pool = pool;
}

/* Pages resident against the budget: the caches' and the pool's. */
static uint64_t
evict_held_pages(void)
{
	return cache_held_pages() + (evict_pool != NULL ? evict_pool->pages() :
	    0);
}

/*
 * At start, before the capabilities go (a PSI trigger's window): the
 * budget, if the configuration did not say it, and the pressure trigger.
 */
void
evict_init(void)
{
	if (config_get(CONFIG_CACHE_MAX_MIB) == -1)
		config_set(CONFIG_CACHE_MAX_MIB, memory_default_budget_mib());
	log_info("page caches: at most %d MiB resident, %" PRIu64 " MiB of it "
	    "per uid", config_get(CONFIG_CACHE_MAX_MIB), evict_share_pages() *
	    page_size >> 20);
	evict_psi_fd = memory_psi_open(&evict_psi_machine);
}

/* What the acceptor polls for POLLPRI: pressure; or -1. */
int
evict_pressure_fd(void)
{
	return evict_psi_fd;
}

uint64_t
evict_window_pages(void)
{
	return PAGERD_EVICT_WINDOW / page_size;
}

static uint64_t
evict_budget_pages(void)
{
	return ((uint64_t)config_get(CONFIG_CACHE_MAX_MIB) << 20) / page_size;
}

/* A user's share, in pages: uid-max-cache-mib, or half the budget. */
static uint64_t
evict_share_pages(void)
{
	int mib = config_get(CONFIG_UID_MAX_CACHE_MIB);

	if (mib < 0)
		return evict_budget_pages() / 2;
	return ((uint64_t)mib << 20) / page_size;
}

/*
 * Room to hold n more pages of c against eviction for a while (collapse.c)
 * and still leave eviction as much as it needs: the caches and c's user
 * below three quarters of the budget and of the share.
 */
int
evict_room(const struct cache *c, uint64_t n)
{
	return cache_held_pages() + n <= evict_budget_pages() / 4 * 3 &&
	    cache_user_pages(c) + n <= evict_share_pages() / 4 * 3;
}

/*
 * Would bytes of one user's cache fit in its share (and the budget)? A
 * file that does is read in huge pages however scattered: it holds at
 * most its size, and what a read took the next fills without a page
 * allocation (cache_fill_map).
 */
int
evict_fits(uint64_t bytes)
{
	uint64_t pages = bytes / page_size;

	return pages <= evict_share_pages() && pages <= evict_budget_pages();
}

/* Below a limit by a sixteenth: eviction does not run on every fill. */
static uint64_t
evict_low(uint64_t limit)
{
	uint64_t slack = limit / 16 > evict_window_pages() ? limit / 16 :
	    evict_window_pages();

	return limit > slack ? limit - slack : 0;
}

/* Does window w of c hold a page, by its bitmap or as stale? */
static int
evict_window_resident(const struct cache *c, uint64_t w)
{
	uint64_t wp = evict_window_pages(), i, end = (w + 1) * wp;

	if (__atomic_load_n(&c->stale[w], __ATOMIC_RELAXED) != 0)
		return 1;
	if (end > c->size / page_size)
		end = c->size / page_size;
	for (i = w * wp; i < end; i += BITMAP_WORD_BITS - i % BITMAP_WORD_BITS)
		if (__atomic_load_n(&c->filled[i / BITMAP_WORD_BITS],
		    __ATOMIC_RELAXED) != 0)
			return 1;
	return 0;
}

static void
evict_punched(struct evict_pass *p, struct cache *c, uint64_t w,
    uint64_t pages)
{
	uint64_t seq = __atomic_add_fetch(&evict_seq, 1, __ATOMIC_RELAXED);

	__atomic_store_n(&c->evicted[w], seq, __ATOMIC_RELAXED);
	__atomic_fetch_add(&evict_pages, pages, __ATOMIC_RELAXED);
	p->freed += pages;
	p->changed = 1;
}

static int
evict_mine(const struct evict_pass *p, const struct cache *c)
{
	return !p->uid_only || c->uid == p->uid;
}

/* Lingering caches go whole, every window, however their bits say. */
static void
evict_lingering(struct cache *c, void *arg)
{
	struct evict_pass *p = arg;
	uint64_t w, pages;

	if (c->refs != 0 || !evict_mine(p, c) ||
	    __atomic_load_n(&c->held, __ATOMIC_RELAXED) == 0)
		return;
	for (w = 0; w < c->nwindows && p->freed < p->want; w++)
		if (cache_evict_window(c, w, 1, &pages))
			evict_punched(p, c, w, pages);
}

/*
 * A round of CLOCK on a cache: its hand looks at EVICT_ROUND windows that
 * hold pages.
 */
static void
evict_clock(struct cache *c, void *arg)
{
	struct evict_pass *p = arg;
	uint64_t i, w, pages, looked = 0;
	uint8_t ref;

	if (!evict_mine(p, c) || __atomic_load_n(&c->held,
	    __ATOMIC_RELAXED) == 0)
		return;
	if (c->nwindows > p->most)
		p->most = c->nwindows;
	/* Windows with no page are passed over, but not counted. */
	for (i = 0; i < c->nwindows && looked < EVICT_ROUND && p->freed <
	    p->want; i++) {
		w = c->hand;
		c->hand = (c->hand + 1) % c->nwindows;
		if (!evict_window_resident(c, w))
			continue;
		looked++;
		if ((ref = __atomic_load_n(&c->referenced[w],
		    __ATOMIC_RELAXED)) > 0) {
			__atomic_store_n(&c->referenced[w], ref - 1,
			    __ATOMIC_RELAXED);
			p->changed = 1;
			continue;
		}
		if (cache_evict_window(c, w, 0, &pages))
			evict_punched(p, c, w, pages);
	}
}

/*
 * Free p->want pages: lingering caches first, then CLOCK rounds until
 * enough, or until a round changes nothing (what is left is in use), or
 * the hand has gone round the biggest cache more often than a window can
 * be referenced.
 */
static void
evict_run(struct evict_pass *p)
{
	uint64_t rounds = 0;

	cache_walk(evict_lingering, p);
	while (p->freed < p->want) {
		p->changed = 0;
		cache_walk(evict_clock, p);
		if (!p->changed || ++rounds > (p->most / EVICT_ROUND + 1) *
		    (EVICT_REFAULT_LIFE + 2))
			break;
	}
}

/* The first user found past its share, and what it must give back. */
struct evict_over {
	int found;
	uid_t uid;
	uint64_t want;
};

static void
evict_user(struct cache *c, void *arg)
{
	struct evict_over *o = arg;
	uint64_t share = evict_share_pages(), held = cache_user_pages(c);

	if (!o->found && held > share) {
		o->found = 1;
		o->uid = c->uid;
		o->want = held - evict_low(share);
	}
}

/*
 * Free want of the held pages: the pool its part, in proportion to what
 * it holds (it gives them back by itself, soon), the caches the rest.
 */
static void
evict_free(uint64_t want, uint64_t held)
{
	uint64_t pool = evict_pool != NULL ? evict_pool->pages() : 0, part;
	struct evict_pass p;

	part = held == 0 ? 0 : (uint64_t)((unsigned __int128)want * pool /
	    held);
	if (part > 0)
		evict_pool->shrink(part);
	memset(&p, 0, sizeof p);
	p.want = want - part;
	evict_run(&p);
}

/* Evict down to the budget and each user's share; the claim held. */
static void
evict_enforce(void)
{
	uint64_t held = evict_held_pages(), budget = evict_budget_pages();
	struct evict_over o;
	struct evict_pass p;
	int users;

	if (held > budget)
		evict_free(held - evict_low(budget), held);
	/* A user at a time; each pass leaves it under its share. */
	for (users = 0; users < 64; users++) {
		memset(&o, 0, sizeof o);
		cache_walk(evict_user, &o);
		if (!o.found)
			break;
		memset(&p, 0, sizeof p);
		p.uid_only = 1;
		p.uid = o.uid;
		p.want = o.want;
		evict_run(&p);
		if (p.freed == 0)
			break;
	}
}

static int
evict_claim(void)
{
	return !__atomic_exchange_n(&evict_running, 1, __ATOMIC_ACQUIRE);
}

static void
evict_release(void)
{
	__atomic_store_n(&evict_running, 0, __ATOMIC_RELEASE);
}

/*
 * Pages [first, first + n) of c were filled: a window filled again soon
 * after it was punched out is a refault and lives longer; then, past the
 * budget or the user's share, evict.
 */
void
evict_filled(struct cache *c, uint64_t first, uint64_t n)
{
	uint64_t wp = evict_window_pages(), w, when, seq;

	seq = __atomic_load_n(&evict_seq, __ATOMIC_RELAXED);
	for (w = first / wp; w <= (first + n - 1) / wp && w < c->nwindows;
	    w++) {
		when = __atomic_exchange_n(&c->evicted[w], 0, __ATOMIC_RELAXED);
		if (when != 0 && seq - when <= evict_budget_pages() / wp) {
			__atomic_fetch_add(&evict_refaults, 1,
			    __ATOMIC_RELAXED);
			__atomic_store_n(&c->referenced[w], EVICT_REFAULT_LIFE,
			    __ATOMIC_RELAXED);
		}
	}
	if (evict_held_pages() > evict_budget_pages() ||
	    cache_user_pages(c) > evict_share_pages())
		evict_check();
}

/* The pool punched pages out: they count as evicted. */
void
evict_pool_freed(uint64_t pages)
{
	__atomic_fetch_add(&evict_pages, pages, __ATOMIC_RELAXED);
}

/*
 * The pool's pages grew. Its dirty pages are written back before they
 * go, which takes a while: it starts giving back below the budget, where
 * the caches' eviction would start, so that the budget holds meanwhile.
 */
void
evict_added(void)
{
	uint64_t held = evict_held_pages(), budget = evict_budget_pages();
	uint64_t low = evict_low(budget), pool;

	if (held > budget)
		evict_check();
	else if (held > low && evict_pool != NULL &&
	    (pool = evict_pool->pages()) > 0)
		evict_pool->shrink((uint64_t)((unsigned __int128)(held -
		    evict_low(low)) * pool / held));
}

/* Is what is held close to the budget (where eviction keeps it)? */
int
evict_tight(void)
{
	return evict_held_pages() > evict_low(evict_budget_pages());
}

/* Evict if over the budget or a share, unless another thread does. */
void
evict_check(void)
{
	if (!evict_claim())
		return;
	evict_enforce();
	evict_release();
}

/*
 * The acceptor's tick: a reload may have made the budget or a share
 * smaller, a user's pages may have stopped filling just past it, and
 * the caches' files may hold what no fill counted (cache_recount_all).
 */
void
evict_tick(void)
{
	cache_recount_all();
	evict_check();
}

/*
 * Memory pressure (a PSI event): give back a quarter of what the caches
 * hold, lingering ones first, while it lasts (a trigger fires each window
 * the stalls go on).
 */
void
evict_pressure(void)
{
	uint64_t held = evict_held_pages(), now = monotonic_ns();

	__atomic_fetch_add(&evict_pressure_events, 1, __ATOMIC_RELAXED);
	/* Another cgroup's stalls at its own limit are not ours to ease. */
	if (evict_psi_machine && !memory_machine_short()) {
		log_debug("memory pressure on the machine, a tenth of its "
		    "memory still available: caches kept");
		return;
	}
	if (now - evict_pressure_logged > 10000000000ull)
		log_info("memory pressure: page caches and write-back regions "
		    "hold %" PRIu64 " MiB of %" PRIu64 "; giving back a "
		    "quarter", held * page_size >> 20,
		    evict_budget_pages() * page_size >> 20);
	evict_pressure_logged = now;
	if (!evict_claim())
		return;
	evict_free(held / 4, held);
	evict_enforce();
	evict_release();
}

/*
 * The trigger failed (its cgroup removed, say): polling it again would
 * spin the acceptor. The budget alone bounds the caches from now on.
 */
void
evict_pressure_gone(void)
{
	log_warnx("memory: the pressure trigger failed; page caches shrink "
	    "only to their budget (cache-max-mib) from now on");
	close(evict_psi_fd);
	evict_psi_fd = -1;
}

void
evict_get_stats(struct evict_stats *st)
{
	st->budget = evict_budget_pages() * page_size;
	st->held = evict_held_pages() * page_size;
	st->evicted = __atomic_load_n(&evict_pages, __ATOMIC_RELAXED) *
	    page_size;
	st->refaults = __atomic_load_n(&evict_refaults, __ATOMIC_RELAXED);
	st->pressure = __atomic_load_n(&evict_pressure_events,
	    __ATOMIC_RELAXED);
	st->share = evict_share_pages() * page_size;
}

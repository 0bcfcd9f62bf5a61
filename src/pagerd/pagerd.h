/*
 * The daemon's internal interfaces: one header, prototypes grouped by the
 * file that defines them.
 */
#ifndef PAGERD_PAGERD_H
#define PAGERD_PAGERD_H

#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <liburing.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "proto.h"

/* Limits that keep one client from exhausting the daemon. */
#define PAGERD_MAX_REGIONS 65536	/* per session */
#define PAGERD_MAX_CACHES 1024	/* page caches opened per session */
/* Seconds a session keeps a page cache it opened and put in no region. */
#define PAGERD_CACHE_HOLD_S 10
/* Write-protected pages per session: bounds the daemon's bitmaps (64 MiB). */
#define PAGERD_MAX_WP_PAGES (1ull << 28)	/* 1 TiB of 4 KiB pages */
#define PAGERD_MAX_CLIENTS 4096	/* sessions at once, by default */
#define PAGERD_MAX_WORKERS 64
#define PAGERD_MAX_READAHEAD 512	/* pages */
#define PAGERD_COPY_STREAM 64		/* pages a copied stream grows to */
#define PAGERD_MAX_CACHE_WINDOW 4096	/* pages: 16 MiB */
/* What eviction punches out of a page cache at once (a huge page's). */
#define PAGERD_EVICT_WINDOW (2u << 20)

#include "config-opts.h"
extern size_t page_size;


struct worker;
struct io_uring_cqe;

/*
 * What an io_uring request is for: every user_data points at one, and
 * its completion goes to done, set by the module that submitted it (which
 * finds its own object around the op with container_of). The worker knows
 * no module.
 */
struct op {
	void (*done)(struct op *, const struct io_uring_cqe *);
	int armed;		/* a multishot poll is in the ring */
} __attribute__((aligned(8)));

/*
 * Work a worker runs at or after a time (worker_timer_add), on its own
 * thread, after the completions of that round.
 */
struct timer {
	TAILQ_ENTRY(timer) entry;
	uint64_t due;		/* CLOCK_MONOTONIC ns; 0: this round */
	int pending;		/* on the worker's list */
	int at_stop;		/* runs at once when the worker stops */
	void (*run)(struct worker *, struct timer *);
};

/* What a worker's events mean to its owner (worker_init). */
struct worker_hooks {
	void (*accept)(struct worker *, int);	/* a session socket came */
	void (*stop)(struct worker *);	/* close everything: it stops */
	void (*tick)(struct worker *);	/* every tick */
};

/* What a user holds, counted against its uid-max-* limits (quota.c). */
enum quota_kind {
	QUOTA_SESSIONS,
	QUOTA_FDS,		/* descriptors the daemon holds for it */
	QUOTA_WP,		/* bytes of write-protected regions */
	QUOTA_REPLAY,		/* bytes of working-set records in memory */
	QUOTA_NKINDS
};

/* What one object (session, region, cache) has charged to its uid. */
struct quota_hold {
	uid_t uid;
	uint64_t held[QUOTA_NKINDS];
};

/* A file's shared page cache (cache.c). */
struct cache {
	LIST_ENTRY(cache) entry;
	uid_t uid;		/* the clients that may share it */
	dev_t dev;		/* the backing file */
	ino_t ino;
	uint64_t file_size;	/* when the cache was made */
	struct timespec ctime;	/* of the file then: a change makes it stale */
	int file_fd;
	int memfd;
	dev_t memfd_dev;
	ino_t memfd_ino;
	uint64_t size;		/* of the memfd: file_size in whole pages */
	char *map;		/* the daemon's shared mapping of the memfd */
	char *map_small;	/* another, in small pages only (or map) */
	unsigned long *filled;	/* pages read in; atomic bit operations */
	uint64_t resident;	/* of them, set in filled (atomic) */
	uint64_t held;		/* pages its file holds, by its blocks
				   (atomic): more than resident where a
				   4 KiB fill took a huge page */
	struct cache_user *user; /* its uid's pages in every cache */
	/*
	 * Per eviction window (PAGERD_EVICT_WINDOW), for evict.c: fills and
	 * mappings in progress, CACHE_EVICTING while it is punched out
	 * (cache_use); CLOCK's referenced count; the eviction sequence when
	 * it was last punched out, for refaults. Atomic all.
	 */
	uint32_t *busy;
	uint8_t *referenced;
	uint64_t *evicted;
	uint32_t *stale;	/* pages an adopted cache had, unknown to
				   its bitmap: counted resident until the
				   window is punched out */
	uint64_t nwindows;
	uint64_t hand;		/* CLOCK's next window (the evictor's) */
	unsigned int refs;	/* under the cache lock */
	uint64_t idle_since;	/* CLOCK_MONOTONIC ns when refs fell to 0 */
	struct quota_hold quota; /* its size and descriptors */
	int huge;		/* on a tmpfs that gives it huge pages */
	struct store *store;	/* a store's cache (file_fd -1), or NULL */
	/* Its streams' reads (cache-direct.c): set once, then atomic. */
	int direct;		/* untried, open, buffered only, none */
	int direct_fd;		/* the file with O_DIRECT, or -1 */
	int stream_fd;		/* the file without read-ahead, or -1 */
};

struct fault_stream;
struct wp_region;
struct replay_rec;
struct replay_session;

/*
 * A region of a client's address space the daemon serves: an entry in
 * its session's table (region.c). What the fault path and write
 * protection keep of it is theirs, opaque here.
 */
struct region {
	uint32_t id;
	uint32_t backing;	/* enum pd_backing */
	uint64_t start;
	uint64_t end;		/* exclusive */
	uint32_t prot;		/* PD_PROT_* */
	uint32_t mode;		/* PD_MODE_* */
	int fd;			/* backing file, or -1 */
	int read_inline;	/* its reads may be tried inline */
	struct cache *cache;	/* a page cache region's cache */
	uint64_t offset;	/* file offset of start */
	uint64_t file_size;	/* at map time: bytes below it are promised */
	uint64_t faults;
	struct fault_stream *stream; /* its read-ahead (fault-read.c) */
	unsigned int refs;	/* reads in flight */
	int dead;		/* removed from its session, freed at refs 0 */
	uint32_t gen;		/* bumped when its addresses change: a read
				   started before installs nothing after */
	uint32_t flags;		/* PD_REGION_* */
	struct wp_region *wp;	/* a write-protected region's (wp.c), or
				   NULL */
	struct store *store;	/* a write-protected store region's store
				   (read by copies, written back), or NULL */
	struct quota_hold quota; /* its descriptors, write-protected bytes */
	struct replay_rec *rec;	/* its faults' record (replay.c), or NULL */
};

struct iovec;

/* io_uring, or its stand-in where the system refuses it (ring.c). */
struct ring {
	struct io_uring uring;
	unsigned int features;	/* IORING_FEAT_* */
	int poll_wait;		/* waits in poll(2) on the ring (valgrind) */
	struct compat *compat;	/* non-NULL: the fallback */
};

/*
 * A task one worker hands another, run on the target worker's thread
 * (worker_post): what one worker owns is never touched by another.
 */
struct job {
	STAILQ_ENTRY(job) entry;
	void (*run)(struct worker *, struct job *);
};

/* Where a snapshot a control session asked for reports its end. */
struct snapshot_tell {
	void (*done)(struct snapshot_tell *);
	int status;		/* 0 or a negative errno */
	uint64_t pages;
};

/* CLOCK_MONOTONIC in nanoseconds: fault latencies, cache ages, polls. */
static inline uint64_t
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Bitmaps of pages, one bit a page. */
#define BITMAP_WORD_BITS (8 * sizeof(unsigned long))
#define BITMAP_WORDS(n) (((n) + BITMAP_WORD_BITS - 1) / BITMAP_WORD_BITS)

static inline int
bit_test(const unsigned long *map, uint64_t i)
{
	return (map[i / BITMAP_WORD_BITS] >> (i % BITMAP_WORD_BITS)) & 1;
}

static inline void
bit_set(unsigned long *map, uint64_t i)
{
	map[i / BITMAP_WORD_BITS] |= 1ul << (i % BITMAP_WORD_BITS);
}

static inline void
bit_clear(unsigned long *map, uint64_t i)
{
	map[i / BITMAP_WORD_BITS] &= ~(1ul << (i % BITMAP_WORD_BITS));
}

/*
 * A window hinted to a client for mapping huge, held against eviction
 * until it says it is done (collapse.c): a punched and half-refilled
 * window mapped huge would show the program zeros.
 */
#define COLLAPSE_HOLDS 32
struct collapse_hold {
	struct region *region;	/* a reference, or NULL: the slot is free */
	uint64_t first;		/* pages in the region's cache */
	uint64_t npages;
	uint32_t id;
	uint64_t since;		/* CLOCK_MONOTONIC ns when hinted */
};

/* A page cache a session opened and put in no region yet. */
struct session_cache {
	struct cache *cache;
	uint64_t since;		/* CLOCK_MONOTONIC ns it was last given */
};

struct session {
	TAILQ_ENTRY(session) entry;
	TAILQ_ENTRY(session) starved_entry;
	struct worker *worker;
	uint32_t id;
	uint32_t role;		/* enum pd_role, 0 before hello */
	int sock;
	int uffd;
	pid_t pid;
	int pidfd;		/* SO_PEERPIDFD: the peer, never a reused pid;
				   -1 where the kernel has none */
	uid_t uid;
	gid_t gid;
	char comm[17];
	uint64_t features;
	uint32_t caps;		/* PD_CAP_* agreed in the hello */
	struct quota_hold quota; /* the session and its own descriptors */
	uint64_t created;	/* CLOCK_MONOTONIC ns: the hello timeout */

	struct session_cache *caches; /* opened, not yet in a region */
	size_t ncaches;

	struct region **regions; /* sorted by start, non-overlapping */
	size_t nregions;
	size_t regions_cap;
	uint32_t next_region_id;
	uint64_t wp_pages;	/* of its write-protected regions */
	size_t mapped_chunks;	/* its regions' mapped hints cover (fault.c) */

	struct pd_counters counters;

	struct op sock_op;
	struct op uffd_op;
	struct op pidfd_op;
	unsigned int inflight;	/* reads and polls still in the ring */
	int closing;
	int detached;		/* its socket closed while its process lives:
				   faults still served, sock is -1 */
	int starved;		/* on the worker's starved list */
	unsigned int reads;	/* ios it holds: its reads out */
	unsigned int stuck;	/* of them, out past read-timeout */
	int throttled;		/* at its share of the ios: waits for one of
				   its own */
	int uid_stuck;		/* its user's share of the ios is all out
				   past read-timeout: faults fail at once */
	int reattaching;	/* regions still coming after a restart */
	int user_mode_only;	/* PD_HELLO_USER_MODE_ONLY */
	int invalidating;	/* an INVALIDATE waits for a held window */
	unsigned int store_waits; /* its requests waiting for a store's
				   connection (store.c) */
	int auffd;		/* the WP_ASYNC userfaultfd of its
				   PD_REGION_ASYNC regions, or -1 */
	int pagemap;		/* the client's pagemap, to scan them */
	struct op auffd_op;
	struct collapse_hold collapse[COLLAPSE_HOLDS];
	uint32_t collapse_seq;
	struct replay_session *replay; /* its recordings (replay.c) */
};

/*
 * A pipe that carries a page cache fill from the backing file into the
 * cache's memfd (splice): empty between fills.
 */
struct fill_pipe {
	int fd[2];		/* read end, write end */
	struct fill_pipe *next_free;
};

/* A backing-file read and the fault window it fills. */
struct fault_io {
	struct op op;		/* the read's, or a fill's last splice's */
	struct op fill_op;	/* the fill's other splices' */
	struct fill_pipe *pipe;	/* a fill by splice through it, or NULL */
	uint64_t fill_bytes;	/* what the fill splices in all */
	uint32_t fill_last;	/* what its last splice moves */
	struct session *s;
	struct region *r;
	uint64_t addr;		/* window start */
	uint64_t len;		/* window length */
	uint64_t off;		/* its file offset, when the read started */
	uint64_t fault_addr;	/* the page that faulted */
	struct cache *used;	/* the cache whose windows it holds, or NULL */
	uint64_t used_first;	/* those pages (cache_use) */
	uint64_t used_n;
	uint32_t tid;
	uint32_t gen;		/* the region's, when the read started */
	uint64_t t0;		/* when the fault's message was read, ns */
	uint64_t started;	/* when the read was submitted, ns */
	int prefetch;		/* fills the page cache only; no fault yet */
	int one;		/* maps the faulting page only (replay_window) */
	int sequential;		/* a stream's window: huge pages may hold it */
	int read_fd;		/* a page cache's window is read from it */
	int direct;		/* with O_DIRECT: the file was cold */
	int expired;		/* out past read-timeout: its fault failed,
				   its completion installs nothing */
	unsigned int buf_index;
	char *buf;
	struct fault_io *next_free;
	/*
	 * Faults of the same page cache window that came while this read
	 * was out take its result (fault-read.c), and so read nothing.
	 */
	struct fault_io *joined;
	struct fault_io *next_joined;
	int shared;		/* waits for, or took, another io's read */
};

struct worker {
	int index;
	pthread_t thread;
	struct ring ring;
	int handoff[2];		/* session sockets from the acceptor */
	struct op handoff_op;
	TAILQ_HEAD(, session) sessions;
	TAILQ_HEAD(, session) starved;	/* faults waiting for a free read */
	const struct worker_hooks *hooks;
	TAILQ_HEAD(timer_list, timer) timers;	/* by due */
	/*
	 * Held by the worker while it changes its session list or a region
	 * table, and by a control session listing them from another thread.
	 * Faults only read the tables: the fault path takes no lock.
	 */
	pthread_mutex_t table_lock;
	/* Jobs other workers posted; the handoff pipe wakes the worker. */
	pthread_mutex_t jobs_lock;
	STAILQ_HEAD(, job) jobs;

	/* The fault path's pool (fault-pool.c), read buffers and pipes. */
	struct fault_io *ios;
	struct fault_io *free_ios;
	struct timer fault_check; /* reads past read-timeout (fault-read.c) */
	struct timer fault_feed; /* the starved get freed ios (fault-read.c) */
	unsigned int nfree;
	char *bufs;
	size_t buf_size;
	int bufs_registered;	/* else plain reads into them */
	struct fill_pipe *pipes;
	struct fill_pipe *free_pipes;
	size_t pipe_size;	/* of each; 0: caches fill by reads */

	/* Written by this worker only, read by others with atomic loads. */
	struct pd_counters totals;
	uint64_t latency[PD_LATENCY_BUCKETS];	/* see pd_stats_reply */
	uint32_t nsessions;	/* client sessions past hello */
	uint32_t nregions;
	unsigned int sessions_alive; /* allocated, closed or not */
	int stop;

	/* With a watchdog: a timeout every tick, counted by heartbeat. */
	struct op tick_op;
	struct __kernel_timespec tick;
	uint64_t heartbeat;
};

extern struct worker *workers;
extern int nworkers;

/* The struct that holds a member, from the member's address. */
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Single-writer counters: owners add, anyone reads. */
#define STAT_ADD(field, n) \
	__atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
/* A session's counter and its worker's total of it, which stats sums. */
#define STAT_COUNT(s, name, n) do {					\
	uint64_t stat_n_ = (uint64_t)(n);				\
									\
	STAT_ADD((s)->counters.name, stat_n_);				\
	STAT_ADD((s)->worker->totals.name, stat_n_);			\
} while (0)

/* Add each of a worker's counters, as STAT_GET reads them, into sum. */
static inline void
stat_sum(struct pd_counters *sum, const struct pd_counters *from)
{
	const uint64_t *f = (const uint64_t *)(const void *)from;
	uint64_t *s = (uint64_t *)(void *)sum;
	size_t i;

	_Static_assert(sizeof *from % sizeof *f == 0,
	    "struct pd_counters holds only uint64_t counters");
	for (i = 0; i < sizeof *from / sizeof *f; i++)
		s[i] += __atomic_load_n(&f[i], __ATOMIC_RELAXED);
}

/* server.c */
int server_listen(const char *, int, int);
void server_start(int);
void server_join(void);
uint64_t server_uptime_ms(void);
void server_ready_notify(void);
void server_tick(void);

/* ring.c */
int ring_init(struct ring *, unsigned int, char *, size_t);
int ring_compat(const struct ring *);
int ring_can_splice_chain(struct ring *);
void ring_io_threads(struct ring *, unsigned int);
unsigned int ring_sq_space(struct ring *);
int ring_register_buffers(struct ring *, const struct iovec *, unsigned int);
struct io_uring_sqe *ring_get_sqe(struct ring *);
int ring_submit(struct ring *);
int ring_wait(struct ring *, const struct __kernel_timespec *);
int ring_poll(struct ring *, unsigned int);
unsigned int ring_peek(struct ring *, struct io_uring_cqe *, unsigned int);
void ring_advance(struct ring *, unsigned int);
void ring_exit(struct ring *);

/* worker.c */
void worker_init(struct worker *, int, const struct worker_hooks *);
void worker_spawn(struct worker *);
void worker_run(struct worker *);
void worker_stop(struct worker *);
void worker_join(struct worker *);
void worker_handoff(struct worker *, int);
void worker_post(struct worker *, struct job *);
struct io_uring_sqe *worker_sqe(struct worker *);
void worker_arm_poll(struct worker *, struct op *, int);
void worker_cancel_poll(struct worker *, struct op *);
void worker_cancel_io(struct worker *, struct op *);
void worker_timer_add(struct worker *, struct timer *, uint64_t);
void worker_timer_del(struct worker *, struct timer *);

/* session.c */
extern const struct worker_hooks session_hooks;
void session_close(struct session *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
void session_unref(struct session *);
void session_send(struct session *, const union pd_msg *);
void session_reply(struct session *, uint32_t, int, uint32_t, uint64_t,
    const char *);
void session_notice(struct session *, struct pd_notice *);
void session_send_fd(struct session *, const union pd_msg *, int);
void session_refuse(struct session *, uint32_t, int, int, const char *);
int session_log_allow(uid_t, int);

/* session-msg.c */
void session_dispatch(struct session *, const union pd_msg *, int *);
void session_stats_total(struct pd_stats_reply *);
void session_cache_give(struct session *, uint32_t, struct cache *);
void session_cache_drop(struct session *, size_t);

/* detach.c */
void detach_hangup(struct session *, const char *);
void detach_tick(struct worker *);
void detach_resume(struct session *, const struct pd_hello *);

/* quota.c */
void quota_init(void);
int quota_default_fds(void);
void quota_hold_init(struct quota_hold *, uid_t);
int quota_charge(struct quota_hold *, enum quota_kind, uint64_t,
    const char *, char *, size_t);
void quota_uncharge(struct quota_hold *, enum quota_kind, uint64_t);
void quota_release(struct quota_hold *);

/* cache.c, cache-resident.c */
#define CACHE_EVICTING (1u << 31)	/* in struct cache's busy */
void cache_init(void);
const char *cache_fill_by_reads(void);
int cache_open(int, int, uid_t, struct cache **, char *, size_t);
int cache_open_store(struct store *, uint64_t, int, uid_t, struct cache **,
    char *, size_t);
struct cache *cache_find_memfd(int, uid_t);
void cache_store_retired(struct store *);
void cache_ref(struct cache *);
void cache_unref(struct cache *);
void cache_expire(void);
unsigned int cache_count(void);
int cache_filled(const struct cache *, uint64_t, uint64_t);
uint64_t cache_filled_run(const struct cache *, uint64_t, uint64_t);
int cache_reopen(const struct cache *);
int cache_page_cold(int, uint64_t);
int cache_stream_fd(struct cache *, uint64_t, uint64_t, int *);
int cache_direct_refused(struct cache *, int);
int cache_direct_check(const struct cache *, const int *, char *, size_t);
void cache_direct_give(struct cache *, int *);
void cache_mark_filled(struct cache *, uint64_t, uint64_t);
uint64_t cache_mark_unfilled(struct cache *, uint64_t, uint64_t);
void cache_use(struct cache *, uint64_t, uint64_t);
void cache_unuse(struct cache *, uint64_t, uint64_t);
void cache_walk(void (*)(struct cache *, void *), void *);
int cache_evict_window(struct cache *, uint64_t, int, uint64_t *);
void cache_recount_all(void);
uint64_t cache_held_pages(void);
uint64_t cache_user_pages(const struct cache *);
void cache_walk_users(void (*)(uid_t, uint64_t, void *), void *);
uint64_t cache_count_filled(const struct cache *, uint64_t, uint64_t);
void cache_pages(const struct cache *, uint64_t, uint64_t, uint8_t *,
    uint8_t *);
void cache_describe(const struct cache *, uint64_t, struct pd_cache_info *);
char *cache_fill_map(const struct cache *, int);

/* watch.c */
void watch_init(void);
void watch_start(void);
void watch_add(int, dev_t, ino_t, uid_t);
void watch_forget(int, dev_t, ino_t);
void watch_invalidate(struct session *, const struct pd_invalidate *, int *);
/* collapse.c */
uint64_t collapse_trim(const struct region *, uint64_t, uint64_t);
void collapse_hint(struct session *, struct region *, uint64_t, uint64_t);
void collapse_done(struct session *, uint32_t);
void collapse_release_all(struct session *);
void collapse_tick(struct worker *);

/* store.c */
struct store;
enum store_kind { STORE_READ, STORE_WRITE, STORE_FLUSH };
void store_configure(struct pagerd_config *);
int store_check_uri(const char *, char *, size_t);
void store_request(struct session *, const struct pd_store *, int *);
void store_snapshot(struct session *, const struct pd_snapshot_store *);
void store_read(struct worker *, struct fault_io *, struct store *, char *,
    uint64_t, uint64_t);
void store_io(struct session *, struct store *, enum store_kind, struct op *,
    char *, uint64_t, uint64_t);
const char *store_name(const struct store *);
int store_is_retired(const struct store *);
void store_ref(struct store *);
void store_unref(struct store *);

/* store-conn.c */
void store_conn_stop(void);

/* evict.c */
struct evict_stats {
	uint64_t budget;	/* bytes */
	uint64_t held;		/* bytes resident in page caches and pools */
	uint64_t evicted;	/* bytes punched out, ever */
	uint64_t refaults;	/* windows faulted again soon after */
	uint64_t pressure;	/* pressure events */
	uint64_t share;		/* bytes, a user's share of budget */
};
void evict_init(void);
/* Pages held outside the caches, against their budget (evict_add_pool). */
struct evict_pool {
	uint64_t (*pages)(void);	/* held now; any thread */
	void (*shrink)(uint64_t);	/* give back that many, soon */
};
void evict_add_pool(const struct evict_pool *);
void evict_added(void);
void evict_pool_freed(uint64_t);
int evict_tight(void);
int evict_pressure_fd(void);
void evict_filled(struct cache *, uint64_t, uint64_t);
void evict_check(void);
void evict_pressure(void);
void evict_pressure_gone(void);
void evict_tick(void);
void evict_get_stats(struct evict_stats *);
uint64_t evict_window_pages(void);
int evict_room(const struct cache *, uint64_t);
int evict_fits(uint64_t);

/* memory.c */
int memory_default_budget_mib(void);
int memory_psi_open(int *);
int memory_machine_short(void);

/* region.c */
/*
 * A module's part of every region (the fault path's stream, write
 * protection's tracking), through which region.c calls it. attach makes
 * it for a new region, or one cut from another (from; else NULL), with a
 * write-protected region's memfd (or -1): 0, or -errno with why. detach
 * frees it, and must leave alone a region it has no part of.
 */
struct region_part {
	int (*attach)(struct session *, struct region *, const struct region *,
	    int, char *, size_t);
	void (*detach)(struct region *);
	void (*closing)(struct session *, struct region *); /* it leaves */
	void (*moved)(struct region *);	/* its addresses changed */
};
void region_add_part(const struct region_part *);
int region_stat(int, struct stat *);
int region_check_backing(int, struct stat *, char *, size_t);
int region_add(struct session *, const struct pd_region_add *, int *,
    char *, size_t, struct region **);
int region_del(struct session *, uint32_t);
int region_del_range(struct session *, uint64_t, uint64_t, const char *);
struct region *region_find(struct session *, uint64_t);
void region_unref(struct region *);
void region_clear(struct session *);
void region_unmapped(struct session *, uint64_t, uint64_t);
void region_moved(struct session *, uint64_t, uint64_t, uint64_t);
void region_backing_name(const struct region *, char *, size_t);

/* wp.c */
void wp_init(void);
void wp_region_counts(const struct session *, const struct region *,
    uint64_t *, uint64_t *);
void wp_region_pages(const struct session *, const struct region *,
    uint64_t, uint64_t, uint8_t *, uint8_t *);
void wp_installed(struct region *, uint64_t, uint64_t);
void wp_removed(struct region *, uint64_t, uint64_t);
void wp_fault(struct session *, struct region *, uint64_t, uint32_t);
void wp_dirty(struct session *, const struct pd_dirty *);

/* wp-snapshot.c */
void wp_snapshot(struct session *, const struct pd_region_req *, int *);
struct region *wp_snapshot_region(struct session *, uint32_t, uint32_t);
int wp_snapshot_start_store(struct session *, struct region *,
    struct store *, uint64_t, uint32_t *, char *, size_t);
int wp_snapshot_start(struct session *, struct region *, int *,
    struct snapshot_tell *, uint32_t *, char *, size_t);

/* The userfaultfd r is registered with: the session's, or its WP_ASYNC one. */
static inline int
region_uffd(const struct session *s, const struct region *r)
{
	return (r->flags & PD_REGION_ASYNC) ? s->auffd : s->uffd;
}

/* wp-async.c */
void wp_async_attach(struct session *, const struct pd_wp_async *, int *);
int wp_async_check(struct session *, struct region *, char *, size_t);
int wp_async_scan(struct session *, struct region *);
int wp_async_scan_range(struct session *, struct region *, uint64_t,
    uint64_t);
int wp_async_to_sync(struct session *, struct region *, char *, size_t);
void wp_async_closing(struct session *, struct region *);
int wp_async_uffd(struct session *, struct region *, uint64_t);
uint64_t wp_async_unseen(const struct session *, const struct region *);
void wp_async_unseen_pages(const struct session *, const struct region *,
    uint64_t, uint64_t, uint8_t *);

/* wp-writeback.c */
void wp_sync(struct session *, const struct pd_region_req *);
uint64_t wp_retry_pages(void);

/* wp-pageout.c */
int wp_pageout_wait(struct session *, struct region *);

/* pagerd.c */
void pagerd_reload(void);
int cap_mark_raise(void);
void cap_mark_lower(int);

/* control.c */
int control_sees_all(struct session *);
void control_clients(struct session *, uint32_t);
void control_regions(struct session *, const struct pd_list *);
void control_users(struct session *, const struct pd_stats *);
void control_snapshot(struct session *, const struct pd_snapshot_of *, int *);
void control_pages(struct session *, const struct pd_pages *);
void control_caches(struct session *, uint32_t);

/* violation.c */
void violation_record(struct session *, uint32_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void violation_report(struct session *, const struct pd_report *);
void violation_list(struct session *, uint32_t);
void violation_flush(int);

/* ratelimit.c: a per-uid rate of log lines, a burst then a steady rate. */
/* Uids followed at once; the idlest gives way. */
#define RATELIMIT_UIDS 64
struct ratelimit_uid {
	uid_t uid;
	int used;
	uint64_t next;		/* CLOCK_MONOTONIC ns paid up to */
	uint64_t dropped;	/* since the last line let through */
};
struct ratelimit {
	const char *what;	/* "violations": what is counted */
	const char *fate;	/* "not logged": what becomes of the dropped */
	int rate;		/* a second, after ... (ratelimit_allow) */
	int burst;
	pthread_mutex_t lock;
	struct ratelimit_uid uids[RATELIMIT_UIDS];
};
#define RATELIMIT_INIT(what, fate, rate, burst)				\
	{ (what), (fate), (rate), (burst), PTHREAD_MUTEX_INITIALIZER,	\
	    { { 0 } } }
int ratelimit_allow_rate(struct ratelimit *, uid_t, int, int);
int ratelimit_allow(struct ratelimit *, uid_t);
void ratelimit_flush(struct ratelimit *, int);

/* fault-pool.c */
void fault_pool_init(struct worker *);
void fault_pool_free(struct worker *);

/* fault.c */
void fault_init(void);
void fault_uffd_ready(struct session *);
void fault_wake(struct session *, uint64_t, uint64_t);

/* fault-read.c */
uint64_t fault_stream_window(const struct region *);

/* replay.c */
void replay_init(const char *);
void replay_note(struct region *, uint64_t, uint64_t);
int replay_window(const struct region *, uint64_t, uint64_t *, uint64_t *);
void replay_region_added(struct session *, struct region *);
void replay_session_close(struct session *);
void replay_session_free(struct session *);

/* replay-run.c */
int replay_pending(const struct region *, uint64_t);

/* replay-control.c */
void replay_control(struct session *, const union pd_msg *, int *);

#endif /* PAGERD_PAGERD_H */

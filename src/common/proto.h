/*
 * The wire protocol between pagerd and its clients (libpagerd, the shim,
 * pagerctl): one message per SOCK_SEQPACKET datagram, descriptors travel
 * beside it with SCM_RIGHTS.
 *
 * How it grows. A message type's struct only ever gains fields at its end,
 * and a new field means "absent" at 0. A receiver takes a message longer
 * than it knows (the tail is ignored) and one shorter, down to the type's
 * size in the first release that had it (proto.c's table, "min"): the
 * missing fields read as zero. What a peer may do beyond that (a new flag,
 * a new message) is agreed as a capability in the hello and its reply,
 * each side ANDing the other's caps with its own. A peer that predates
 * this (protocol 2 of the first release, its caps absent: zero) checks
 * exact sizes, so it is sent every message cut to its type's minimum.
 */
#ifndef PAGERD_PROTO_H
#define PAGERD_PROTO_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/*
 * Bump this only for a change an older peer would misread: a field whose
 * meaning changes, a struct that is reordered. Appended fields and new
 * capabilities do not bump it. A receiver refuses a version above its own
 * (EPROTONOSUPPORT, "protocol version N, this side speaks M"): so an old
 * side refuses the peer that bumped it, by design, and the new side, which
 * reads the refusal (a reply, whose first release's fields never move),
 * may say so or speak the old version. Every side sends PD_PROTO_VERSION
 * and reads PD_PROTO_VERSION_MIN up to its own.
 */
#define PD_PROTO_VERSION 2
#define PD_PROTO_VERSION_MIN 2

#define PD_PROTO_MAGIC 0x72676170u /* "pagr" little-endian */

/*
 * The most descriptors any message sends (a page cache region with its
 * file's own descriptions: three); more is a protocol error.
 */
#define PD_MAX_FDS 3

/*
 * The longest datagram of any version: room for every struct to grow. A
 * receiver reads this much and refuses more (EMSGSIZE).
 */
#define PD_MSG_MAX 2048

/*
 * Capabilities, in the hello (what the client can) and its reply (what the
 * daemon can, ANDed with the client's: what the session uses).
 * EXTENSIBLE: this side reads longer and shorter messages as above; to a
 * peer without it every message goes at its type's first size.
 */
#define PD_CAP_EXTENSIBLE 0x1u
/*
 * STORES: the daemon pages from network block stores the administrator
 * named (PD_MSG_STORE, PD_BACKING_STORE); a client without it never
 * sends either.
 */
#define PD_CAP_STORES 0x2u
/* INVALIDATE: the daemon drops written ranges from its page caches. */
#define PD_CAP_INVALIDATE 0x4u
/*
 * WP_ASYNC: the daemon takes a second userfaultfd with
 * UFFD_FEATURE_WP_ASYNC and the client's pagemap (PD_MSG_WP_ASYNC),
 * regions registered with it (PD_REGION_ASYNC) and the PD_SYNC_FINAL flag.
 */
#define PD_CAP_WP_ASYNC 0x8u
/*
 * COLLAPSE: the client takes PD_NOTICE_COLLAPSE notices (it maps the
 * windows they name with huge pages, MADV_COLLAPSE).
 */
#define PD_CAP_COLLAPSE 0x10u
/*
 * STORE_IMAGES: snapshots written to a store (SNAPSHOT_STORE), and a
 * store's page cache a daemon before gave the client adopted after a
 * restart (STORE_ADOPT).
 */
#define PD_CAP_STORE_IMAGES 0x20u
/*
 * OWN_FDS: the daemon takes a page cache region's file opened again by
 * the client, twice, for the daemon's own reads (PD_REGION_OWN_FDS).
 */
#define PD_CAP_OWN_FDS 0x40u
#define PD_CAPS_ALL (PD_CAP_EXTENSIBLE | PD_CAP_STORES | PD_CAP_INVALIDATE | \
	PD_CAP_WP_ASYNC | PD_CAP_COLLAPSE | PD_CAP_STORE_IMAGES | \
	PD_CAP_OWN_FDS)

/* Largest reason text in a reply, NUL included. */
#define PD_REASON_MAX 256

enum pd_msg_type {
	PD_MSG_HELLO = 1,	/* C->D first message; fd: the userfaultfd */
	PD_MSG_REGION_ADD = 2,	/* C->D; fd: backing file for file regions
				   (and PD_REGION_OWN_FDS's two) */
	PD_MSG_REGION_DEL = 3,	/* C->D */
	PD_MSG_STATS = 4,	/* C->D: this session's counters, or the
				   daemon's totals for a control session */
	PD_MSG_REPLY = 5,	/* D->C: status of any request */
	PD_MSG_STATS_REPLY = 6,	/* D->C: answer to PD_MSG_STATS */
	PD_MSG_REATTACHED = 7,	/* C->D: every region re-sent after a
				   re-attaching hello: serve them now */
	PD_MSG_CACHE_OPEN = 8,	/* C->D: the shared page cache of a file;
				   fds: the file (and its memfd to adopt) */
	PD_MSG_CACHE_REPLY = 9,	/* D->C: fd: the cache's memfd */
	PD_MSG_DIRTY = 10,	/* C->D: which pages of a region were written */
	PD_MSG_DIRTY_REPLY = 11, /* D->C: answer to PD_MSG_DIRTY */
	PD_MSG_SYNC = 12,	/* C->D: write a region's dirty pages back */
	PD_MSG_SNAPSHOT = 13,	/* C->D: fd: the image file; the reply comes
				   at the snapshot's instant */
	PD_MSG_NOTICE = 14,	/* D->C, unasked (seq 0): a violation, a
				   finished snapshot; or one answer of many */
	PD_MSG_REPORT = 15,	/* C->D: a fault the kernel caught in the
				   client (SIGSEGV, SIGBUS); no reply */
	PD_MSG_VIOLATIONS = 16,	/* control->D: the recent violations, as
				   NOTICEs, then a REPLY with their number */
	PD_MSG_CLIENTS = 17,	/* control->D: CLIENT_INFOs, then a REPLY */
	PD_MSG_CLIENT_INFO = 18,
	PD_MSG_REGIONS = 19,	/* control->D: REGION_INFOs, then a REPLY */
	PD_MSG_REGION_INFO = 20,
	PD_MSG_SNAPSHOT_OF = 21, /* control->D: fd: the image; snapshot another
				   process's region: a REPLY at the instant,
				   a SNAPSHOT_DONE notice at the end */
	PD_MSG_USER_INFO = 22,	/* D->control: one user's page cache memory,
				   before a STATS_REPLY asked with
				   PD_STATS_USERS */
	PD_MSG_PAGES = 23,	/* control->D: one region's pages as the
				   daemon knows them: PAGES_CHUNKs, then a
				   REPLY with their number */
	PD_MSG_PAGES_CHUNK = 24,
	PD_MSG_CACHES = 25,	/* control->D: CACHE_INFOs, then a REPLY */
	PD_MSG_CACHE_INFO = 26,
	PD_MSG_STORE = 27,	/* C->D: a store's page cache, by name (a
				   CACHE_REPLY with its memfd); control->D
				   with PD_STORE_LIST: STORE_INFOs, a REPLY */
	PD_MSG_STORE_INFO = 28,	/* D->control: one store and its state */
	PD_MSG_INVALIDATE = 29,	/* C->D: fd: a file the client wrote, open
				   for writing: drop the range from every
				   page cache of it; the REPLY comes after */
	PD_MSG_RECORDINGS = 31,	/* control->D: working-set recordings, as
				   RECORDING_INFOs then a REPLY with their
				   number; or forget them */
	PD_MSG_RECORDING_INFO = 32,
	PD_MSG_WP_ASYNC = 33,	/* C->D, with PD_CAP_WP_ASYNC; fds: a second
				   userfaultfd, with UFFD_FEATURE_WP_ASYNC, and
				   the client's /proc/PID/pagemap */
	PD_MSG_COLLAPSED = 34,	/* C->D, PD_CAP_COLLAPSE: a COLLAPSE notice's
				   windows are mapped (or not): the daemon
				   may evict them again; no reply */
	PD_MSG_SNAPSHOT_STORE = 35, /* C->D, PD_CAP_STORE_IMAGES: snapshot a
				   region into a store's export: a REPLY at
				   the instant, a SNAPSHOT_DONE notice once
				   written and flushed */
	PD_MSG_STORE_ADOPT = 36, /* C->D, PD_CAP_STORE_IMAGES; fd: the page
				   cache of the store named that a daemon
				   before gave: adopt it (a CACHE_REPLY) */
	PD_MSG_TYPE_MAX = PD_MSG_STORE_ADOPT
};

struct pd_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t size;	/* of the whole message, header included */
	uint32_t seq;	/* chosen by the sender of a request, echoed in its reply */
};

/* Session roles: a client hands over memory, a control peer only asks. */
enum pd_role {
	PD_ROLE_CLIENT = 1,
	PD_ROLE_CONTROL = 2,
};

/*
 * HELLO flags. A re-attaching client (its daemon died and a new one runs)
 * sends its hello, then every region, then PD_MSG_REATTACHED; the daemon
 * serves the userfaultfd from then on and wakes every region, so that
 * threads whose faults the dead daemon had read fault again.
 */
#define PD_HELLO_REATTACH 0x1u
/*
 * The userfaultfd serves user-mode faults only (UFFD_USER_MODE_ONLY, which
 * the daemon cannot read off it): a system call into an untouched page of
 * a region fails with EFAULT. The client's word, used for reports only.
 */
#define PD_HELLO_USER_MODE_ONLY 0x2u
/*
 * A client process whose connection closed (it closed its descriptors)
 * while its session lived on, detached, takes the session up again on a
 * new connection: the hello names it in resume and carries no descriptor;
 * the daemon answers with a reply that carries a copy of the session's
 * userfaultfd (the one reply with a descriptor: the client, which asked
 * for it, takes it off before proto_check). Only the very process of the
 * session may resume it.
 */
#define PD_HELLO_RESUME 0x4u
#define PD_HELLO_FLAGS_ALL (PD_HELLO_REATTACH | PD_HELLO_USER_MODE_ONLY | \
	PD_HELLO_RESUME)

struct pd_hello {
	struct pd_hdr hdr;
	uint32_t role;		/* enum pd_role */
	uint32_t flags;		/* PD_HELLO_* */
	uint64_t uffd_features;	/* features negotiated on the passed userfaultfd */
	uint32_t page_size;	/* the client's page size, must match the daemon's */
	uint32_t resume;	/* PD_HELLO_RESUME: the session, else zero */
	/* The first release ends here. */
	uint32_t caps;		/* PD_CAP_*: what the client can */
	uint32_t pad;		/* ignored */
};

/* What backs a region's pages. */
enum pd_backing {
	PD_BACKING_ZERO = 1,	/* zero-fill on demand */
	PD_BACKING_FILE = 2,	/* a file the client opened; fd attached */
	PD_BACKING_CACHE = 3,	/* a private mapping of a file's shared
				   page cache; fd attached: the memfd */
	PD_BACKING_STORE = 4,	/* a private mapping of a store's shared
				   page cache (PD_MSG_STORE); fd: its memfd */
};

/* How the client mapped the region. */
#define PD_PROT_READ 0x1u
#define PD_PROT_WRITE 0x2u
#define PD_PROT_ALL (PD_PROT_READ | PD_PROT_WRITE)

/* The userfaultfd modes the client registered the range with. */
#define PD_MODE_MISSING 0x1u
#define PD_MODE_WP 0x2u
#define PD_MODE_MINOR 0x4u
#define PD_MODE_ALL (PD_MODE_MISSING | PD_MODE_WP | PD_MODE_MINOR)

/*
 * REGION_ADD flags. A write-protected region's memory is a memfd the
 * client maps shared and sends as the message's last descriptor; the
 * daemon maps it too, so that it can read what the client wrote (write
 * back, snapshots) without touching the client's address space. Its pages
 * are installed write-protected (mode must include PD_MODE_WP), and the
 * first write to each is a fault the daemon sees.
 */
#define PD_REGION_WP 0x1u	/* copy-on-write: dirty tracking, snapshots */
#define PD_REGION_WRITEBACK 0x2u /* dirty pages go back to the backing file,
				   which must be open for writing */
#define PD_REGION_READONLY 0x4u	/* a write is a protection violation */
#define PD_REGION_REPORT 0x8u	/* READONLY: report it and let the write
				   through, instead of SIGSEGV */
/*
 * (PD_CAP_WP_ASYNC) A copy-on-write or write-back region registered with
 * the session's WP_ASYNC userfaultfd: the kernel resolves its write faults
 * itself and the daemon learns the pages written from the pagemap. Not
 * for read-only regions, whose writes the daemon must see.
 */
#define PD_REGION_ASYNC 0x20u
/*
 * (PD_CAP_OWN_FDS) A page cache region (PD_BACKING_CACHE) whose message
 * carries, after the cache's memfd, two new open file descriptions of the
 * file the client opened the cache with (open of /proc/self/fd/N,
 * read-only; the client keeps no copy): the daemon reads the file's
 * streams through them, one set to O_DIRECT and one without read-ahead,
 * where it would else open the file again itself, which it may not do
 * for a file only the client may read (another user's, mode 0600). Each
 * must be a regular file open for reading (not O_PATH), the cache's file
 * (st_dev, st_ino), else the region is refused (EINVAL). They go to the
 * cache, charged to the user's descriptors, where it has none of its own
 * yet and its file is on a block device; else they are closed.
 */
#define PD_REGION_OWN_FDS 0x40u
#define PD_REGION_FLAGS_ALL (PD_REGION_WP | PD_REGION_WRITEBACK | \
	PD_REGION_READONLY | PD_REGION_REPORT | PD_REGION_ASYNC | \
	PD_REGION_OWN_FDS)

/* The largest region: bounds every offset computation below 2^63. */
#define PD_REGION_MAX_LENGTH (1ull << 46)

struct pd_region_add {
	struct pd_hdr hdr;
	uint64_t start;		/* page aligned address in the client */
	uint64_t length;	/* page aligned, non-zero */
	uint64_t offset;	/* page aligned offset in the backing file */
	uint32_t backing;	/* enum pd_backing */
	uint32_t prot;		/* PD_PROT_* */
	uint32_t mode;		/* PD_MODE_* */
	uint32_t flags;		/* PD_REGION_* */
};

struct pd_region_del {
	struct pd_hdr hdr;
	uint32_t region_id;	/* as returned in the REGION_ADD reply */
	uint32_t reserved;	/* must be zero: else EINVAL */
	/*
	 * With region_id 0: the session's regions in [start, start +
	 * length), pages, cut where they straddle its ends, as on munmap.
	 * A daemon before answers ENOENT (no region 0). With another
	 * region_id both are zero (a 24-byte message reads so): else
	 * EINVAL. Both refusals keep the session.
	 */
	uint64_t start;
	uint64_t length;
};

/*
 * STATS flags. USERS (control): a USER_INFO per user holding page cache
 * memory before the reply; a caller is told of its own uid only, unless
 * it is root or in the admin group. An older daemon ignores the flag and
 * sends the reply alone.
 */
#define PD_STATS_USERS 0x1u
#define PD_STATS_FLAGS_ALL PD_STATS_USERS

struct pd_stats {
	struct pd_hdr hdr;
	/* The first release ends here. */
	uint32_t flags;		/* PD_STATS_* */
	uint32_t reserved;	/* must be zero */
};

struct pd_reattached {
	struct pd_hdr hdr;
};

/*
 * The shared page cache: one daemon-owned memfd per backing file holds
 * its pages for every client. A client maps the memfd privately,
 * registers it for missing and minor faults and adds it as a
 * PD_BACKING_CACHE region; the daemon fills the memfd from the file and
 * answers with UFFDIO_CONTINUE, so pages are mapped, never copied.
 */
#define PD_CACHE_ADOPT 0x1u	/* re-attach: adopt the memfd sent along */
#define PD_CACHE_FLAGS_ALL PD_CACHE_ADOPT

struct pd_cache_open {
	struct pd_hdr hdr;
	uint32_t flags;		/* PD_CACHE_* */
	uint32_t reserved;	/* must be zero */
};

struct pd_cache_reply {
	struct pd_hdr hdr;
	uint64_t size;		/* of the memfd: the file, in whole pages */
};

/*
 * A client wrote [offset, offset + length) of the file it sends (a
 * length of 0 means to its end): the daemon punches those pages out of
 * every page cache of the file, so that every client's next touch reads
 * them again. Sent only where the daemon agreed to PD_CAP_INVALIDATE.
 */
struct pd_invalidate {
	struct pd_hdr hdr;
	uint64_t offset;
	uint64_t length;
};

/* Pages covered by one PD_MSG_DIRTY_REPLY. */
#define PD_DIRTY_BITS 4096

struct pd_dirty {
	struct pd_hdr hdr;
	uint32_t region_id;
	uint32_t reserved;	/* must be zero */
	uint64_t first;		/* page index in the region, PD_DIRTY_BITS
				   aligned */
};

struct pd_dirty_reply {
	struct pd_hdr hdr;
	uint64_t first;		/* as asked */
	uint64_t npages;	/* pages of the region */
	uint64_t ndirty;	/* dirty pages in the whole region */
	uint8_t bits[PD_DIRTY_BITS / 8]; /* bit i: page first + i is dirty */
};

/* SYNC and SNAPSHOT name a write-protected region. */
struct pd_region_req {
	struct pd_hdr hdr;
	uint32_t region_id;
	uint32_t reserved;	/* must be zero; a SYNC's: PD_SYNC_* */
};

/*
 * (PD_CAP_WP_ASYNC) The last sync before the region goes (unmap, close,
 * exit): what the program writes after it is its own race, so the daemon
 * need not write every page back when the region goes.
 */
#define PD_SYNC_FINAL 0x1u

/*
 * The session's second userfaultfd, for PD_REGION_ASYNC regions, and the
 * client's pagemap to scan them with; uffd_features are the kernel's for
 * it, UFFD_FEATURE_WP_ASYNC among them.
 */
struct pd_wp_async {
	struct pd_hdr hdr;
	uint64_t uffd_features;
	uint32_t flags;		/* must be zero */
	uint32_t reserved;	/* must be zero */
};

enum pd_notice_kind {
	PD_NOTICE_VIOLATION = 1,
	PD_NOTICE_SNAPSHOT_DONE = 2,
	PD_NOTICE_RECORD = 3,	/* one line of a VIOLATIONS answer */
	PD_NOTICE_COLLAPSE = 4,	/* PD_CAP_COLLAPSE: value 2 MiB windows from
				   addr of region_id are mapped whole from
				   a huge-page cache; map them huge, then
				   send COLLAPSED with tid, its number */
};

/* What the daemon did about a violation. */
enum pd_violation_action {
	PD_VIOLATION_KILL = 1,	/* the client makes the page read-only and
				   wakes the thread, which gets SIGSEGV */
	PD_VIOLATION_ALLOWED = 2, /* reported, and the write went through */
};

struct pd_notice {
	struct pd_hdr hdr;
	uint32_t kind;		/* enum pd_notice_kind */
	int32_t status;		/* SNAPSHOT_DONE: 0 or a negative errno */
	uint32_t region_id;
	uint32_t value;		/* VIOLATION: action; SNAPSHOT_DONE: its id */
	uint64_t addr;		/* VIOLATION: the page written */
	uint32_t tid;		/* VIOLATION: the writing thread, 0 unknown */
	uint32_t reserved;
	char reason[PD_REASON_MAX]; /* what happened, for people */
};

/* Where a REPORT's fault was, as /proc/PID/maps said. */
#define PD_MAPPING_MAX 160

struct pd_report {
	struct pd_hdr hdr;
	uint32_t signo;		/* SIGSEGV or SIGBUS */
	int32_t code;		/* si_code */
	uint64_t addr;		/* si_addr */
	uint64_t ip;		/* the faulting instruction, 0 unknown */
	uint32_t tid;
	uint32_t access;	/* PD_ACCESS_*, 0 unknown */
	char mapping[PD_MAPPING_MAX]; /* the maps line holding addr, or "" */
};

#define PD_ACCESS_READ 1u
#define PD_ACCESS_WRITE 2u
#define PD_ACCESS_EXEC 3u

struct pd_reply {
	struct pd_hdr hdr;
	int32_t status;		/* 0, or a negative errno */
	uint32_t value;		/* HELLO: session id; REGION_ADD: region id */
	uint64_t features;	/* HELLO: the uffd features the daemon will use */
	char reason[PD_REASON_MAX]; /* why, when status is not 0 */
	/* The first release ends here. */
	uint32_t caps;		/* HELLO: PD_CAP_* agreed for the session */
	uint32_t pad;		/* ignored */
};

/* One session's counters; also the unit the daemon totals. */
struct pd_counters {
	uint64_t faults;	/* fault messages handled */
	uint64_t pages_file;	/* pages installed with file bytes */
	uint64_t pages_zero;	/* pages installed as zeros */
	uint64_t pages_poisoned; /* pages answered with a signal */
	uint64_t bytes_read;	/* read from backing files */
	uint64_t reads;		/* backing-file reads submitted */
	uint64_t eexist;	/* installs that found the page present */
	uint64_t errors;	/* faults that could not be served */
	uint64_t pages_dirtied;	/* first writes to write-protected pages */
	uint64_t pages_written;	/* dirty pages written back to files */
	uint64_t violations;	/* writes to read-only regions */
	uint64_t snapshots;	/* snapshots completed */
};

#define PD_LATENCY_BUCKETS 32

struct pd_stats_reply {
	struct pd_hdr hdr;
	uint32_t regions;	/* live regions: the session's, or all (control) */
	uint32_t sessions;	/* 1, or all client sessions (control) */
	struct pd_counters counters;
	uint64_t uptime_ms;	/* of the daemon */
	uint32_t workers;
	uint32_t caches;	/* shared page caches open (control) */
	char version[16];	/* the daemon's, NUL terminated */
	/*
	 * How long missing faults took from their message being read to
	 * their page being installed (control): bucket 0 under 1 us, bucket
	 * b from 2^(b-1) to 2^b us, the last one everything longer.
	 */
	uint64_t latency[PD_LATENCY_BUCKETS];
	/* The first release ends here: new fields go below, 0 absent. */
	/* The page caches' memory (control); a daemon without page-out: 0. */
	uint64_t cache_budget;	/* bytes they may hold (cache-max-mib) */
	uint64_t cache_held;	/* bytes resident */
	uint64_t cache_evicted;	/* bytes punched out, ever */
	uint64_t cache_refaults; /* windows filled again soon after */
	uint64_t pressure_events; /* memory pressure seen (PSI) */
};

/* One user's pages in the page caches (STATS with PD_STATS_USERS). */
struct pd_user_info {
	struct pd_hdr hdr;
	uint32_t uid;
	uint32_t reserved;
	uint64_t cache_held;	/* bytes resident in its caches */
	uint64_t cache_share;	/* bytes it may hold (uid-max-cache-mib) */
};

/* CLIENTS and REGIONS: of one process, or (pid 0) of all. */
struct pd_list {
	struct pd_hdr hdr;
	int32_t pid;
	uint32_t reserved;	/* must be zero */
};

struct pd_client_info {
	struct pd_hdr hdr;
	uint32_t session;
	int32_t pid;
	uint32_t uid;
	uint32_t regions;
	char comm[16];
	struct pd_counters counters;
	/* The first release ends here. */
	uint32_t flags;		/* PD_CLIENT_* */
	uint32_t reserved;
};

/* The session's userfaultfd serves user-mode faults only (the hello said). */
#define PD_CLIENT_USER_MODE_ONLY 0x1u
/* Its process closed its connection and lives on, served (a resume takes
   it up again). */
#define PD_CLIENT_DETACHED 0x2u

/* Pages of a region the daemon cannot count (not write-protected). */
#define PD_PAGES_UNKNOWN UINT64_MAX

struct pd_region_info {
	struct pd_hdr hdr;
	uint32_t session;
	int32_t pid;
	uint32_t region;
	uint32_t backing;	/* enum pd_backing */
	uint64_t start;
	uint64_t length;
	uint64_t offset;
	uint32_t prot;		/* PD_PROT_* */
	uint32_t flags;		/* PD_REGION_* */
	uint64_t faults;
	uint64_t present;	/* pages installed, or PD_PAGES_UNKNOWN */
	uint64_t dirty;		/* or PD_PAGES_UNKNOWN */
	uint64_t readahead;	/* the current window, pages */
	char path[128];		/* the backing file, "" for zero-fill */
	/* The first release ends here. */
	uint32_t known;		/* PD_REGION_INFO_*: which fields below say */
	uint32_t reserved;
	uint64_t cached;	/* CACHED: pages of the region's range resident
				   in its shared page cache (its bitmap) */
};

#define PD_REGION_INFO_CACHED 0x1u

struct pd_collapsed {
	struct pd_hdr hdr;
	uint32_t id;		/* the notice's tid */
	uint32_t reserved;	/* must be zero */
};

struct pd_snapshot_of {
	struct pd_hdr hdr;
	int32_t pid;
	uint32_t reserved;	/* must be zero */
	uint64_t addr;		/* any address in the region */
};

/*
 * Network block stores (NBD exports) the administrator declares in
 * pagerd.conf by name. A client names one, never an address: the daemon
 * connects for it only where the configuration says it may.
 */
#define PD_STORE_NAME_MAX 64	/* NUL included */
#define PD_STORE_LIST 0x1u	/* control: list the stores instead */
#define PD_STORE_FLAGS_ALL PD_STORE_LIST

struct pd_store {
	struct pd_hdr hdr;
	uint32_t flags;		/* PD_STORE_* */
	uint32_t reserved;	/* must be zero */
	char name[PD_STORE_NAME_MAX]; /* NUL terminated; "" with LIST */
};

/* SNAPSHOT_STORE: the image of a region goes to a store at offset. */
struct pd_snapshot_store {
	struct pd_hdr hdr;
	uint32_t region_id;
	uint32_t reserved;	/* must be zero */
	uint64_t offset;	/* in the export, page aligned */
	char name[PD_STORE_NAME_MAX]; /* NUL terminated */
};

/* A store's connections, as the daemon's workers hold them. */
enum pd_store_state {
	PD_STORE_IDLE = 0,	/* no connection: made on first use */
	PD_STORE_CONNECTING = 1,
	PD_STORE_READY = 2,	/* at least one worker connected */
	PD_STORE_FAILING = 3,	/* the last connection attempt failed */
	PD_STORE_RETIRED = 4,	/* its line changed or went: serves only
				   the regions mapped before */
};

/*
 * A caller the store does not allow (neither root nor the admin group)
 * gets only name, state and allowed: uri, size, the counters and error
 * come zero, so that it cannot watch another user's reads.
 */
struct pd_store_info {
	struct pd_hdr hdr;
	char name[PD_STORE_NAME_MAX];
	char uri[256];		/* cut to fit; "" for a caller not allowed */
	uint32_t state;		/* enum pd_store_state */
	uint32_t allowed;	/* 1: the caller may map it */
	uint64_t size;		/* of the export; 0 unknown or hidden */
	uint64_t reads;		/* reads completed, every worker */
	uint64_t bytes_read;
	uint64_t errors;	/* reads failed */
	uint64_t reconnects;	/* connections lost and made again */
	uint32_t connections;	/* open now, every worker */
	uint32_t reserved;
	char error[128];	/* the last failure, "" none */
};

/*
 * PAGES: the pages of the region of pid holding addr, from page first (an
 * index in the region) on, in at most PD_PAGES_CHUNKS chunks of
 * PD_PAGES_BITS pages: a large region takes several requests, so that no
 * answer outgrows the socket. Only of a process the caller may see.
 */
struct pd_pages {
	struct pd_hdr hdr;
	int32_t pid;
	uint32_t reserved;	/* must be zero */
	uint64_t addr;		/* any address in the region */
	uint64_t first;		/* page index in the region */
};

#define PD_PAGES_BITS 3584
#define PD_PAGES_CHUNKS 16

/* What the daemon knows of a region's pages: a bitmap each. */
#define PD_PAGES_FILLED 0x1u	/* in the shared page cache (cache regions) */
#define PD_PAGES_READING 0x2u	/* not yet filled, a fill or mapping of its
				   cache window under way (cache regions) */
#define PD_PAGES_INSTALLED 0x4u	/* installed in the client (write-protected
				   regions) */
#define PD_PAGES_DIRTY 0x8u	/* written, not yet written back (write-
				   protected regions) */

struct pd_pages_chunk {
	struct pd_hdr hdr;
	uint32_t session;
	uint32_t region;
	uint64_t start;		/* the region's */
	uint64_t length;
	uint64_t first;		/* page index of bit 0 */
	uint32_t npages;	/* pages this chunk tells of */
	uint32_t known;		/* PD_PAGES_*: the bitmaps that say */
	/* Bit i of each: page first + i. */
	uint8_t filled[PD_PAGES_BITS / 8];
	uint8_t reading[PD_PAGES_BITS / 8];
	uint8_t installed[PD_PAGES_BITS / 8];
	uint8_t dirty[PD_PAGES_BITS / 8];
};

/*
 * CACHES (a struct pd_stats, flags 0): one CACHE_INFO per shared page
 * cache: a caller sees the caches of its own uid's clients, root and the
 * admin group every one.
 */
struct pd_cache_info {
	struct pd_hdr hdr;
	uint32_t uid;		/* whose clients share it */
	uint32_t refs;		/* regions and sessions using it; 0: it
				   lingers, unused */
	uint64_t size;		/* of the file when the cache was made */
	uint64_t resident;	/* bytes of it in memory */
	uint64_t idle_ms;	/* lingering: since its last user went */
	uint64_t dev;		/* the file's */
	uint64_t ino;
	char path[256];		/* the file, as the daemon's descriptor
				   names it; "" unknown */
};

/*
 * RECORDINGS: the working-set recordings of the caller's uid; root and the
 * admin group get every uid's, or with PD_RECORDINGS_UID those of uid.
 * With FORGET they are removed instead (name: that one, "" all of them;
 * the caller's own, or uid's), and the REPLY says how many.
 */
#define PD_RECORDINGS_FORGET 0x1u
#define PD_RECORDINGS_UID 0x2u
#define PD_RECORDINGS_FLAGS_ALL (PD_RECORDINGS_FORGET | PD_RECORDINGS_UID)
#define PD_RECORDING_NAME 32
#define PD_RECORDING_PROGRAM 256
#define PD_RECORDING_PATH 256

struct pd_recordings {
	struct pd_hdr hdr;
	uint32_t flags;		/* PD_RECORDINGS_* */
	uint32_t uid;		/* PD_RECORDINGS_UID: whose */
	char name[PD_RECORDING_NAME]; /* FORGET: one recording, "" all */
};

struct pd_recording_info {
	struct pd_hdr hdr;
	uint32_t uid;
	uint32_t ranges;	/* runs of pages, in fault order */
	uint64_t pages;		/* in all of them */
	uint64_t file_size;	/* of the file when recorded */
	int64_t recorded;	/* when written, seconds since the epoch */
	char name[PD_RECORDING_NAME]; /* what forget takes */
	char program[PD_RECORDING_PROGRAM];
	char path[PD_RECORDING_PATH]; /* the file, as it was then */
};

/* A buffer that holds any message. */
union pd_msg {
	struct pd_hdr hdr;
	struct pd_hello hello;
	struct pd_region_add region_add;
	struct pd_region_del region_del;
	struct pd_stats stats;
	struct pd_reattached reattached;
	struct pd_cache_open cache_open;
	struct pd_cache_reply cache_reply;
	struct pd_dirty dirty;
	struct pd_dirty_reply dirty_reply;
	struct pd_region_req region_req;
	struct pd_notice notice;
	struct pd_report report;
	struct pd_list list;
	struct pd_client_info client_info;
	struct pd_region_info region_info;
	struct pd_snapshot_of snapshot_of;
	struct pd_collapsed collapsed;
	struct pd_reply reply;
	struct pd_stats_reply stats_reply;
	struct pd_user_info user_info;
	struct pd_store store;
	struct pd_snapshot_store snapshot_store;
	struct pd_store_info store_info;
	struct pd_pages pages;
	struct pd_pages_chunk pages_chunk;
	struct pd_cache_info cache_info;
	struct pd_invalidate invalidate;
	struct pd_recordings recordings;
	struct pd_recording_info recording_info;
	struct pd_wp_async wp_async;
};

_Static_assert(sizeof(union pd_msg) <= PD_MSG_MAX, "PD_MSG_MAX too small");

/* Which way a message goes, and which sessions may send it. */
#define PD_TO_DAEMON 0x1u
#define PD_TO_PEER 0x2u		/* to a client or control peer */
#define PD_FROM_NEW 0x1u	/* a session before its hello */
#define PD_FROM_CLIENT 0x2u
#define PD_FROM_CONTROL 0x4u
#define PD_FROM_ANY (PD_FROM_CLIENT | PD_FROM_CONTROL)

/* One row per message type: everything the framing knows of it. */
struct proto_type {
	const char *name;
	size_t size;		/* this side's struct */
	size_t min;		/* the struct in the first release with it */
	unsigned int to;	/* PD_TO_* */
	unsigned int from;	/* PD_FROM_*: who may send it to the daemon */
	int fds;		/* descriptors it carries, -1: fds_of says */
	int (*fds_of)(const union pd_msg *);
	/* The fields' check, or NULL; 0 or -errno and why. */
	int (*check)(const union pd_msg *, uint32_t, char *, size_t);
	int soft;		/* a failed check refuses the request, the
				   session stays */
};

/* Descriptors a receiver takes in one datagram before it is hostile. */
#define PROTO_RECV_FDS 8

/* One message off a socket. */
struct proto_in {
	union pd_msg msg;	/* zeroed past what arrived */
	size_t len;		/* of the datagram, 0 when none came */
	int fds[PROTO_RECV_FDS]; /* close-on-exec; -1 once taken */
	int nfds;
};

/* The most a raw send passes: the kernel's SCM_MAX_FD. */
#define PROTO_SEND_FDS 253

/* proto_recv flags: a reply may carry a descriptor (a resume's). */
#define PROTO_REPLY_FD 0x1

/* proto.c */
int proto_send(int, const union pd_msg *, const int *, int, uint32_t, int);
int proto_send_raw(int, const void *, size_t, const int *, int, int);
int proto_recv(int, struct proto_in *, unsigned int, int, int, char *,
    size_t);
void proto_close_fds(struct proto_in *);
const char *proto_connect_hint(int);
const struct proto_type *proto_type(uint32_t);
const char *proto_type_name(uint32_t);
size_t proto_size(uint32_t);
size_t proto_min(uint32_t);
int proto_fds(const union pd_msg *);
void proto_init(union pd_msg *, uint32_t, uint32_t);
int proto_check(const void *, size_t, int, unsigned int, int, char *,
    size_t);
int proto_allowed(uint32_t, uint32_t, char *, size_t);
int proto_check_hello(const struct pd_hello *, uint32_t, char *, size_t);
int proto_check_region_add(const struct pd_region_add *, uint32_t, char *,
    size_t);
int proto_check_cache_open(const struct pd_cache_open *, char *, size_t);
int proto_check_region_req(const struct pd_region_req *, char *, size_t);
int proto_check_store(const struct pd_store *, char *, size_t);
int proto_check_snapshot_store(const struct pd_snapshot_store *, uint32_t,
    char *, size_t);

#endif /* PAGERD_PROTO_H */

/*
 * Message sizes, descriptor counts and validation for the wire protocol.
 * Everything a peer sends passes proto_check() before any field is used.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

/* Highest user address plus one on x86-64 with 5-level paging. */
#define PD_ADDR_LIMIT (1ull << 57)

/* A struct's size up to and with its field last: its first release. */
#define PROTO_UPTO(type, last) \
	(offsetof(struct type, last) + sizeof(((struct type *)0)->last))

static int proto_fds_hello(const union pd_msg *);
static int proto_fds_region_add(const union pd_msg *);
static int proto_fds_cache_open(const union pd_msg *);
static int proto_check_hello_msg(const union pd_msg *, uint32_t, char *,
    size_t);
static int proto_check_region_add_msg(const union pd_msg *, uint32_t, char *,
    size_t);
static int proto_check_cache_open_msg(const union pd_msg *, uint32_t, char *,
    size_t);
static int proto_check_reserved(const union pd_msg *, uint32_t, char *,
    size_t);
static int proto_check_store_msg(const union pd_msg *, uint32_t, char *,
    size_t);

#define PROTO_REQ(type, from, fds, fds_of, check, soft) \
	sizeof(struct type), PROTO_UPTO_##type, PD_TO_DAEMON, from, fds, \
	fds_of, check, soft
#define PROTO_ANSWER(type, fds) \
	sizeof(struct type), PROTO_UPTO_##type, PD_TO_PEER, 0, fds, NULL, \
	NULL, 0

/*
 * Where each type's first release ended. A field appended to a struct
 * changes nothing here: the minimum stays.
 */
#define PROTO_UPTO_pd_hello PROTO_UPTO(pd_hello, resume)
#define PROTO_UPTO_pd_region_add PROTO_UPTO(pd_region_add, flags)
#define PROTO_UPTO_pd_region_del PROTO_UPTO(pd_region_del, reserved)
#define PROTO_UPTO_pd_stats sizeof(struct pd_hdr)
#define PROTO_UPTO_pd_reattached sizeof(struct pd_hdr)
#define PROTO_UPTO_pd_reply PROTO_UPTO(pd_reply, reason)
#define PROTO_UPTO_pd_stats_reply PROTO_UPTO(pd_stats_reply, latency)
#define PROTO_UPTO_pd_cache_open PROTO_UPTO(pd_cache_open, reserved)
#define PROTO_UPTO_pd_cache_reply PROTO_UPTO(pd_cache_reply, size)
#define PROTO_UPTO_pd_dirty PROTO_UPTO(pd_dirty, first)
#define PROTO_UPTO_pd_dirty_reply PROTO_UPTO(pd_dirty_reply, bits)
#define PROTO_UPTO_pd_region_req PROTO_UPTO(pd_region_req, reserved)
#define PROTO_UPTO_pd_notice PROTO_UPTO(pd_notice, reason)
#define PROTO_UPTO_pd_report PROTO_UPTO(pd_report, mapping)
#define PROTO_UPTO_pd_list PROTO_UPTO(pd_list, reserved)
#define PROTO_UPTO_pd_client_info PROTO_UPTO(pd_client_info, counters)
#define PROTO_UPTO_pd_region_info PROTO_UPTO(pd_region_info, path)
#define PROTO_UPTO_pd_snapshot_of PROTO_UPTO(pd_snapshot_of, addr)
#define PROTO_UPTO_pd_user_info PROTO_UPTO(pd_user_info, cache_share)
#define PROTO_UPTO_pd_store PROTO_UPTO(pd_store, name)
#define PROTO_UPTO_pd_store_info PROTO_UPTO(pd_store_info, error)
#define PROTO_UPTO_pd_pages PROTO_UPTO(pd_pages, first)
#define PROTO_UPTO_pd_pages_chunk PROTO_UPTO(pd_pages_chunk, dirty)
#define PROTO_UPTO_pd_cache_info PROTO_UPTO(pd_cache_info, path)
#define PROTO_UPTO_pd_invalidate PROTO_UPTO(pd_invalidate, length)
#define PROTO_UPTO_pd_recordings PROTO_UPTO(pd_recordings, name)
#define PROTO_UPTO_pd_recording_info PROTO_UPTO(pd_recording_info, path)
#define PROTO_UPTO_pd_wp_async PROTO_UPTO(pd_wp_async, reserved)
#define PROTO_UPTO_pd_collapsed PROTO_UPTO(pd_collapsed, reserved)
#define PROTO_UPTO_pd_snapshot_store PROTO_UPTO(pd_snapshot_store, name)

static const struct proto_type proto_types[PD_MSG_TYPE_MAX + 1] = {
	[PD_MSG_HELLO] = { "hello", PROTO_REQ(pd_hello, PD_FROM_NEW, -1,
	    proto_fds_hello, proto_check_hello_msg, 0) },
	[PD_MSG_REGION_ADD] = { "region-add", PROTO_REQ(pd_region_add,
	    PD_FROM_CLIENT, -1, proto_fds_region_add,
	    proto_check_region_add_msg, 1) },
	/* Refused, the session stays: a later peer may fall back. */
	[PD_MSG_REGION_DEL] = { "region-del", PROTO_REQ(pd_region_del,
	    PD_FROM_CLIENT, 0, NULL, proto_check_reserved, 1) },
	[PD_MSG_STATS] = { "stats", PROTO_REQ(pd_stats, PD_FROM_ANY, 0, NULL,
	    proto_check_reserved, 0) },
	[PD_MSG_REPLY] = { "reply", PROTO_ANSWER(pd_reply, 0) },
	[PD_MSG_STATS_REPLY] = { "stats-reply", PROTO_ANSWER(pd_stats_reply,
	    0) },
	[PD_MSG_REATTACHED] = { "reattached", PROTO_REQ(pd_reattached,
	    PD_FROM_CLIENT, 0, NULL, NULL, 0) },
	[PD_MSG_CACHE_OPEN] = { "cache-open", PROTO_REQ(pd_cache_open,
	    PD_FROM_CLIENT, -1, proto_fds_cache_open,
	    proto_check_cache_open_msg, 1) },
	[PD_MSG_CACHE_REPLY] = { "cache-reply", PROTO_ANSWER(pd_cache_reply,
	    1) },
	/* wp_dirty() checks its fields: a refusal that keeps the session. */
	[PD_MSG_DIRTY] = { "dirty", PROTO_REQ(pd_dirty, PD_FROM_CLIENT, 0,
	    NULL, NULL, 0) },
	[PD_MSG_DIRTY_REPLY] = { "dirty-reply", PROTO_ANSWER(pd_dirty_reply,
	    0) },
	[PD_MSG_SYNC] = { "sync", PROTO_REQ(pd_region_req, PD_FROM_CLIENT, 0,
	    NULL, proto_check_reserved, 0) },
	[PD_MSG_SNAPSHOT] = { "snapshot", PROTO_REQ(pd_region_req,
	    PD_FROM_CLIENT, 1, NULL, proto_check_reserved, 0) },
	[PD_MSG_NOTICE] = { "notice", PROTO_ANSWER(pd_notice, 0) },
	[PD_MSG_REPORT] = { "report", PROTO_REQ(pd_report, PD_FROM_CLIENT, 0,
	    NULL, NULL, 0) },
	[PD_MSG_VIOLATIONS] = { "violations", PROTO_REQ(pd_stats, PD_FROM_ANY,
	    0, NULL, NULL, 0) },
	[PD_MSG_CLIENTS] = { "clients", PROTO_REQ(pd_list, PD_FROM_CONTROL, 0,
	    NULL, proto_check_reserved, 0) },
	[PD_MSG_CLIENT_INFO] = { "client-info", PROTO_ANSWER(pd_client_info,
	    0) },
	[PD_MSG_REGIONS] = { "regions", PROTO_REQ(pd_list, PD_FROM_CONTROL, 0,
	    NULL, proto_check_reserved, 0) },
	[PD_MSG_REGION_INFO] = { "region-info", PROTO_ANSWER(pd_region_info,
	    0) },
	[PD_MSG_SNAPSHOT_OF] = { "snapshot-of", PROTO_REQ(pd_snapshot_of,
	    PD_FROM_CONTROL, 1, NULL, proto_check_reserved, 0) },
	[PD_MSG_USER_INFO] = { "user-info", PROTO_ANSWER(pd_user_info, 0) },
	[PD_MSG_STORE] = { "store", PROTO_REQ(pd_store, PD_FROM_ANY, 0, NULL,
	    proto_check_store_msg, 1) },
	[PD_MSG_STORE_INFO] = { "store-info", PROTO_ANSWER(pd_store_info, 0) },
	[PD_MSG_PAGES] = { "pages", PROTO_REQ(pd_pages, PD_FROM_CONTROL, 0,
	    NULL, proto_check_reserved, 0) },
	[PD_MSG_PAGES_CHUNK] = { "pages-chunk", PROTO_ANSWER(pd_pages_chunk,
	    0) },
	[PD_MSG_CACHES] = { "caches", PROTO_REQ(pd_stats, PD_FROM_CONTROL, 0,
	    NULL, proto_check_reserved, 0) },
	[PD_MSG_CACHE_INFO] = { "cache-info", PROTO_ANSWER(pd_cache_info,
	    0) },
	[PD_MSG_INVALIDATE] = { "invalidate", PROTO_REQ(pd_invalidate,
	    PD_FROM_CLIENT, 1, NULL, NULL, 0) },
	[PD_MSG_RECORDINGS] = { "recordings", PROTO_REQ(pd_recordings,
	    PD_FROM_CONTROL, 0, NULL, proto_check_reserved, 0) },
	[PD_MSG_RECORDING_INFO] = { "recording-info",
	    PROTO_ANSWER(pd_recording_info, 0) },
	[PD_MSG_WP_ASYNC] = { "wp-async", PROTO_REQ(pd_wp_async,
	    PD_FROM_CLIENT, 2, NULL, proto_check_reserved, 0) },
	[PD_MSG_COLLAPSED] = { "collapsed", PROTO_REQ(pd_collapsed,
	    PD_FROM_CLIENT, 0, NULL, proto_check_reserved, 0) },
	[PD_MSG_SNAPSHOT_STORE] = { "snapshot-store",
	    PROTO_REQ(pd_snapshot_store, PD_FROM_CLIENT, 0, NULL,
	    proto_check_store_msg, 1) },
	[PD_MSG_STORE_ADOPT] = { "store-adopt", PROTO_REQ(pd_store,
	    PD_FROM_CLIENT, 1, NULL, proto_check_store_msg, 1) },
};

/* The row of a type, or NULL for an unknown one. */
const struct proto_type *
proto_type(uint32_t type)
{
	/* Numbers left free for other messages are unknown too. */
	if (type == 0 || type > PD_MSG_TYPE_MAX ||
	    proto_types[type].name == NULL)
		return NULL;
	return &proto_types[type];
}

const char *
proto_type_name(uint32_t type)
{
	const struct proto_type *t = proto_type(type);

	return t != NULL ? t->name : "unknown";
}

/* This side's size of a message of this type, or 0 for an unknown type. */
size_t
proto_size(uint32_t type)
{
	const struct proto_type *t = proto_type(type);

	return t != NULL ? t->size : 0;
}

/* The shortest message of this type a receiver takes, 0 if unknown. */
size_t
proto_min(uint32_t type)
{
	const struct proto_type *t = proto_type(type);

	return t != NULL ? t->min : 0;
}

static int
proto_fds_hello(const union pd_msg *msg)
{
	return msg->hello.role == PD_ROLE_CLIENT &&
	    !(msg->hello.flags & PD_HELLO_RESUME) ? 1 : 0;
}

/*
 * The backing file unless zero-fill, the file's own two descriptions,
 * then a write-protected memfd.
 */
static int
proto_fds_region_add(const union pd_msg *msg)
{
	return (msg->region_add.backing == PD_BACKING_ZERO ? 0 : 1) +
	    ((msg->region_add.flags & PD_REGION_OWN_FDS) ? 2 : 0) +
	    ((msg->region_add.flags & PD_REGION_WP) ? 1 : 0);
}

static int
proto_fds_cache_open(const union pd_msg *msg)
{
	return (msg->cache_open.flags & PD_CACHE_ADOPT) ? 2 : 1;
}

/* How many descriptors must travel with this (size-checked) message. */
int
proto_fds(const union pd_msg *msg)
{
	const struct proto_type *t = proto_type(msg->hdr.type);

	if (t == NULL)
		return 0;
	return t->fds_of != NULL ? t->fds_of(msg) : t->fds;
}

/*
 * A message of this side's protocol. A hello says what this side reads
 * (PD_CAPS_ALL): proto_recv takes longer and shorter messages.
 */
void
proto_init(union pd_msg *msg, uint32_t type, uint32_t seq)
{
	memset(msg, 0, proto_size(type));
	msg->hdr.magic = PD_PROTO_MAGIC;
	msg->hdr.version = PD_PROTO_VERSION;
	msg->hdr.type = (uint16_t)type;
	msg->hdr.size = (uint32_t)proto_size(type);
	msg->hdr.seq = seq;
	if (type == PD_MSG_HELLO)
		msg->hello.caps = PD_CAPS_ALL;
}

/*
 * Check the framing of a received datagram of len bytes that came with
 * nfds descriptors, for a receiver on side to (PD_TO_*): header, version,
 * type and direction, size from the type's first release's up, descriptor
 * count (a reply may carry one more with PROTO_REPLY_FD in flags). buf
 * holds the whole datagram, or at least the type's size of it, zeroed
 * past len. Returns 0 or -errno with the reason in why.
 */
int
proto_check(const void *buf, size_t len, int nfds, unsigned int to,
    int flags, char *why, size_t whylen)
{
	const union pd_msg *msg = buf;
	const struct proto_type *t;
	int fds;

	if (len < sizeof(struct pd_hdr)) {
		snprintf(why, whylen, "truncated message: %zu bytes, the header "
		    "alone is %zu", len, sizeof(struct pd_hdr));
		return -EBADMSG;
	}
	if (msg->hdr.magic != PD_PROTO_MAGIC) {
		snprintf(why, whylen, "bad magic 0x%08" PRIx32 ": not a pagerd "
		    "peer", msg->hdr.magic);
		return -EPROTO;
	}
	if (msg->hdr.version < PD_PROTO_VERSION_MIN ||
	    msg->hdr.version > PD_PROTO_VERSION) {
		snprintf(why, whylen, "protocol version %u, this side speaks "
		    "%u to %u", msg->hdr.version,
		    (unsigned int)PD_PROTO_VERSION_MIN,
		    (unsigned int)PD_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	if ((t = proto_type(msg->hdr.type)) == NULL) {
		snprintf(why, whylen, "unknown message type %u",
		    msg->hdr.type);
		return -EBADMSG;
	}
	if (msg->hdr.size != len) {
		snprintf(why, whylen, "%s message: header says %" PRIu32
		    " bytes, datagram has %zu", t->name, msg->hdr.size, len);
		return -EBADMSG;
	}
	if (len < t->min || len > PD_MSG_MAX) {
		snprintf(why, whylen, "%s message is %zu bytes, expected %zu "
		    "to %d", t->name, len, t->min, PD_MSG_MAX);
		return -EBADMSG;
	}
	if (!(t->to & to)) {
		snprintf(why, whylen, to == PD_TO_DAEMON ? "%s is not a "
		    "request" : "%s is a request, not an answer", t->name);
		return -EPROTO;
	}
	fds = proto_fds(msg);
	if (nfds != fds && !((flags & PROTO_REPLY_FD) &&
	    msg->hdr.type == PD_MSG_REPLY && nfds == 1)) {
		snprintf(why, whylen, "%s message came with %d descriptors, "
		    "expected %d", t->name, nfds, fds);
		return -EBADMSG;
	}
	return 0;
}

/*
 * May a session of role (0 before its hello) send this (checked) type?
 * 0, or -EPROTO and why.
 */
int
proto_allowed(uint32_t type, uint32_t role, char *why, size_t whylen)
{
	const struct proto_type *t = proto_type(type);
	unsigned int from = role == 0 ? PD_FROM_NEW : 1u << role;

	if (t == NULL || (t->from & from))
		return 0;
	if (type == PD_MSG_HELLO)
		snprintf(why, whylen, "second hello");
	else if (role == 0)
		snprintf(why, whylen, "%s before hello", t->name);
	else
		snprintf(why, whylen, "%s on a %s session", t->name,
		    role == PD_ROLE_CLIENT ? "client" : "control");
	return -EPROTO;
}

static int
proto_check_hello_msg(const union pd_msg *msg, uint32_t page_size,
    char *why, size_t whylen)
{
	return proto_check_hello(&msg->hello, page_size, why, whylen);
}

static int
proto_check_region_add_msg(const union pd_msg *msg, uint32_t page_size,
    char *why, size_t whylen)
{
	return proto_check_region_add(&msg->region_add, page_size, why,
	    whylen);
}

static int
proto_check_store_msg(const union pd_msg *msg, uint32_t page_size,
    char *why, size_t whylen)
{
	if (msg->hdr.type == PD_MSG_SNAPSHOT_STORE)
		return proto_check_snapshot_store(&msg->snapshot_store,
		    page_size, why, whylen);
	/* Adopting names one store, as mapping it does. */
	if (msg->hdr.type == PD_MSG_STORE_ADOPT && msg->store.flags != 0) {
		snprintf(why, whylen, "store-adopt: flags are not zero");
		return -EINVAL;
	}
	return proto_check_store(&msg->store, why, whylen);
}

static int
proto_check_cache_open_msg(const union pd_msg *msg, uint32_t page_size,
    char *why, size_t whylen)
{
	(void)page_size;
	return proto_check_cache_open(&msg->cache_open, why, whylen);
}

/* The requests with a reserved word (it must be zero) or flags. */
static int
proto_check_reserved(const union pd_msg *msg, uint32_t page_size,
    char *why, size_t whylen)
{
	(void)page_size;
	switch (msg->hdr.type) {
	case PD_MSG_REGION_DEL:
		if (msg->region_del.reserved != 0) {
			snprintf(why, whylen, "region-del: reserved field is "
			    "not zero");
			return -EINVAL;
		}
		/* A region by number, or a range with number 0: not both. */
		if (msg->region_del.region_id != 0 && (msg->region_del.start |
		    msg->region_del.length) != 0) {
			snprintf(why, whylen, "region-del: region %u and a "
			    "range: a range is given with region 0",
			    msg->region_del.region_id);
			return -EINVAL;
		}
		return 0;
	case PD_MSG_SYNC:
	case PD_MSG_SNAPSHOT:
		return proto_check_region_req(&msg->region_req, why, whylen);
	case PD_MSG_WP_ASYNC:
		if (msg->wp_async.flags == 0 && msg->wp_async.reserved == 0)
			return 0;
		snprintf(why, whylen, "wp-async: flags or reserved field not "
		    "zero");
		return -EINVAL;
	case PD_MSG_CLIENTS:
	case PD_MSG_REGIONS:
		if (msg->list.reserved == 0)
			return 0;
		snprintf(why, whylen, "list: reserved field is not zero");
		return -EINVAL;
	case PD_MSG_COLLAPSED:
		if (msg->collapsed.reserved == 0)
			return 0;
		snprintf(why, whylen, "collapsed: reserved field is not zero");
		return -EINVAL;
	case PD_MSG_SNAPSHOT_OF:
		if (msg->snapshot_of.reserved == 0)
			return 0;
		snprintf(why, whylen, "snapshot-of: reserved field is not "
		    "zero");
		return -EINVAL;
	case PD_MSG_PAGES:
		if (msg->pages.reserved == 0)
			return 0;
		snprintf(why, whylen, "pages: reserved field is not zero");
		return -EINVAL;
	case PD_MSG_CACHES:
		if (msg->stats.flags == 0 && msg->stats.reserved == 0)
			return 0;
		snprintf(why, whylen, "caches: flags or reserved field is not "
		    "zero");
		return -EINVAL;
	case PD_MSG_RECORDINGS:
		if (msg->recordings.flags & ~PD_RECORDINGS_FLAGS_ALL) {
			snprintf(why, whylen, "recordings: unknown flags 0x%"
			    PRIx32, msg->recordings.flags &
			    ~PD_RECORDINGS_FLAGS_ALL);
			return -EINVAL;
		}
		if (memchr(msg->recordings.name, '\0',
		    sizeof msg->recordings.name) != NULL)
			return 0;
		snprintf(why, whylen, "recordings: name is not terminated");
		return -EINVAL;
	case PD_MSG_STATS:
		if (msg->stats.flags & ~PD_STATS_FLAGS_ALL) {
			snprintf(why, whylen, "stats: unknown flags 0x%" PRIx32,
			    msg->stats.flags & ~PD_STATS_FLAGS_ALL);
			return -EINVAL;
		}
		if (msg->stats.reserved == 0)
			return 0;
		snprintf(why, whylen, "stats: reserved field is not zero");
		return -EINVAL;
	}
	return 0;
}

int
proto_check_hello(const struct pd_hello *h, uint32_t page_size, char *why,
    size_t whylen)
{
	if (h->role != PD_ROLE_CLIENT && h->role != PD_ROLE_CONTROL) {
		snprintf(why, whylen, "hello: unknown role %" PRIu32, h->role);
		return -EINVAL;
	}
	if (h->flags & ~PD_HELLO_FLAGS_ALL) {
		snprintf(why, whylen, "hello: unknown flags 0x%" PRIx32,
		    h->flags & ~PD_HELLO_FLAGS_ALL);
		return -EINVAL;
	}
	if ((h->flags & PD_HELLO_RESUME) && (h->role != PD_ROLE_CLIENT ||
	    (h->flags & PD_HELLO_REATTACH) || h->resume == 0)) {
		snprintf(why, whylen, "hello: resume is for a client, names a "
		    "session and does not re-attach");
		return -EINVAL;
	}
	if (!(h->flags & PD_HELLO_RESUME) && h->resume != 0) {
		snprintf(why, whylen, "hello: a session to resume without the "
		    "resume flag");
		return -EINVAL;
	}
	if (h->page_size != page_size) {
		snprintf(why, whylen, "hello: page size %" PRIu32 ", daemon's is "
		    "%" PRIu32, h->page_size, page_size);
		return -EINVAL;
	}
	return 0;
}

/* Field checks of a region: alignment, bounds, overflow, known values. */
int
proto_check_region_add(const struct pd_region_add *r, uint32_t page_size,
    char *why, size_t whylen)
{
	uint64_t mask = page_size - 1;

	if (r->backing != PD_BACKING_ZERO && r->backing != PD_BACKING_FILE &&
	    r->backing != PD_BACKING_CACHE && r->backing != PD_BACKING_STORE) {
		snprintf(why, whylen, "region: unknown backing %" PRIu32,
		    r->backing);
		return -EINVAL;
	}
	if ((r->prot & PD_PROT_READ) == 0 || (r->prot & ~PD_PROT_ALL)) {
		snprintf(why, whylen, "region: bad protection 0x%" PRIx32
		    " (must include read, only read and write known)", r->prot);
		return -EINVAL;
	}
	if ((r->mode & PD_MODE_MISSING) == 0 || (r->mode & ~PD_MODE_ALL)) {
		snprintf(why, whylen, "region: bad mode 0x%" PRIx32 " (must "
		    "include missing)", r->mode);
		return -EINVAL;
	}
	if (r->flags & ~PD_REGION_FLAGS_ALL) {
		snprintf(why, whylen, "region: unknown flags 0x%" PRIx32,
		    r->flags & ~PD_REGION_FLAGS_ALL);
		return -EINVAL;
	}
	if ((r->start & mask) || (r->length & mask) || (r->offset & mask)) {
		snprintf(why, whylen, "region: start 0x%" PRIx64 ", length 0x%"
		    PRIx64 " and offset 0x%" PRIx64 " must be multiples of the "
		    "page size %" PRIu32, r->start, r->length, r->offset,
		    page_size);
		return -EINVAL;
	}
	if (r->length == 0 || r->length > PD_REGION_MAX_LENGTH) {
		snprintf(why, whylen, "region: length 0x%" PRIx64 " is not in "
		    "1 page .. 0x%llx", r->length, PD_REGION_MAX_LENGTH);
		return -EINVAL;
	}
	if (r->start == 0 || r->start >= PD_ADDR_LIMIT ||
	    r->length > PD_ADDR_LIMIT - r->start) {
		snprintf(why, whylen, "region: range 0x%" PRIx64 "+0x%" PRIx64
		    " is outside the user address space", r->start, r->length);
		return -EINVAL;
	}
	if (r->offset > INT64_MAX - r->length) {
		snprintf(why, whylen, "region: file offset 0x%" PRIx64 " + "
		    "length overflows", r->offset);
		return -EOVERFLOW;
	}
	if (r->backing == PD_BACKING_ZERO && r->offset != 0) {
		snprintf(why, whylen, "region: a zero region has no offset");
		return -EINVAL;
	}
	if ((r->backing == PD_BACKING_CACHE || (r->backing ==
	    PD_BACKING_STORE && !(r->flags & PD_REGION_WP))) !=
	    ((r->mode & PD_MODE_MINOR) != 0)) {
		snprintf(why, whylen, "region: minor mode goes with a mapping "
		    "of a page cache (a file's, or a store's not "
		    "write-protected), and only with it");
		return -EINVAL;
	}
	if (((r->flags & PD_REGION_WP) != 0) != ((r->mode & PD_MODE_WP) !=
	    0)) {
		snprintf(why, whylen, "region: write-protect mode goes with a "
		    "write-protected region, and only with it");
		return -EINVAL;
	}
	if ((r->flags & PD_REGION_WP) && r->backing == PD_BACKING_CACHE) {
		snprintf(why, whylen, "region: a write-protected region is "
		    "its own memfd, not a page cache");
		return -EINVAL;
	}
	if ((r->flags & (PD_REGION_WRITEBACK | PD_REGION_READONLY)) &&
	    !(r->flags & PD_REGION_WP)) {
		snprintf(why, whylen, "region: write-back and read-only "
		    "regions must be write-protected");
		return -EINVAL;
	}
	if ((r->flags & PD_REGION_WRITEBACK) && ((r->backing !=
	    PD_BACKING_FILE && r->backing != PD_BACKING_STORE) ||
	    (r->flags & PD_REGION_READONLY))) {
		snprintf(why, whylen, "region: write-back needs a file or "
		    "store region that is not read-only");
		return -EINVAL;
	}
	if ((r->flags & PD_REGION_REPORT) && !(r->flags & PD_REGION_READONLY)) {
		snprintf(why, whylen, "region: the report policy is for "
		    "read-only regions");
		return -EINVAL;
	}
	if ((r->flags & PD_REGION_OWN_FDS) && r->backing != PD_BACKING_CACHE) {
		snprintf(why, whylen, "region: a file's own descriptions go "
		    "with a region of its page cache, and only with it");
		return -EINVAL;
	}
	if ((r->flags & PD_REGION_ASYNC) && (!(r->flags & PD_REGION_WP) ||
	    (r->flags & PD_REGION_READONLY))) {
		snprintf(why, whylen, "region: asynchronous write tracking is "
		    "for copy-on-write and write-back regions");
		return -EINVAL;
	}
	return 0;
}

int
proto_check_region_req(const struct pd_region_req *r, char *why,
    size_t whylen)
{
	uint32_t allowed = r->hdr.type == PD_MSG_SYNC ? PD_SYNC_FINAL : 0;

	if (r->reserved & ~allowed) {
		snprintf(why, whylen, "%s: reserved field is not zero",
		    proto_type_name(r->hdr.type));
		return -EINVAL;
	}
	return 0;
}

int
proto_check_cache_open(const struct pd_cache_open *c, char *why,
    size_t whylen)
{
	if (c->flags & ~PD_CACHE_FLAGS_ALL) {
		snprintf(why, whylen, "cache-open: unknown flags 0x%" PRIx32,
		    c->flags & ~PD_CACHE_FLAGS_ALL);
		return -EINVAL;
	}
	if (c->reserved != 0) {
		snprintf(why, whylen, "cache-open: reserved field is not zero");
		return -EINVAL;
	}
	return 0;
}

/* A store request: a NUL-terminated name, or none with LIST. */
int
proto_check_store(const struct pd_store *st, char *why, size_t whylen)
{
	size_t len = strnlen(st->name, sizeof st->name);

	if (st->flags & ~PD_STORE_FLAGS_ALL) {
		snprintf(why, whylen, "store: unknown flags 0x%" PRIx32,
		    st->flags & ~PD_STORE_FLAGS_ALL);
		return -EINVAL;
	}
	if (st->reserved != 0) {
		snprintf(why, whylen, "store: reserved field is not zero");
		return -EINVAL;
	}
	if (len == sizeof st->name) {
		snprintf(why, whylen, "store: the name is not terminated "
		    "within %d bytes", PD_STORE_NAME_MAX);
		return -EINVAL;
	}
	if (!(st->flags & PD_STORE_LIST) && len == 0) {
		snprintf(why, whylen, "store: no name");
		return -EINVAL;
	}
	return 0;
}

/* A snapshot into a store: a region, a page-aligned offset, a name. */
int
proto_check_snapshot_store(const struct pd_snapshot_store *ss,
    uint32_t page_size, char *why, size_t whylen)
{
	size_t len = strnlen(ss->name, sizeof ss->name);

	if (ss->reserved != 0) {
		snprintf(why, whylen, "snapshot-store: reserved field is not "
		    "zero");
		return -EINVAL;
	}
	if (page_size == 0 || ss->offset % page_size != 0) {
		snprintf(why, whylen, "snapshot-store: offset %" PRIu64 " is "
		    "not a multiple of the page size %" PRIu32, ss->offset,
		    page_size);
		return -EINVAL;
	}
	if (len == 0 || len == sizeof ss->name) {
		snprintf(why, whylen, "snapshot-store: the store's name is "
		    "not 1 to %d bytes, terminated", PD_STORE_NAME_MAX - 1);
		return -EINVAL;
	}
	return 0;
}

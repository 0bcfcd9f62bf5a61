/*
 * Message sizes, descriptor counts and validation for the wire protocol.
 * Everything a peer sends passes proto_check() before any field is used.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

/*
 * Send msg on sock with the descriptor fd (none when -1); sendmsg's
 * result. Async-signal-safe: the shim's fault handler sends with it.
 */
ssize_t
proto_send_fd(int sock, const union pd_msg *msg, int fd, int flags)
{
	union {
		struct cmsghdr align;
		char raw[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)msg,
	    .iov_len = msg->hdr.size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd != -1) {
		memset(&cbuf, 0, sizeof cbuf);
		mh.msg_control = &cbuf;
		mh.msg_controllen = sizeof cbuf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	return sendmsg(sock, &mh, flags);
}

/* Highest user address plus one on x86-64 with 5-level paging. */
#define PD_ADDR_LIMIT (1ull << 57)

static const struct {
	const char *name;
	size_t size;
	size_t older;		/* a shorter size also taken (fields since
				   appended read as zeros), or 0 */
} proto_types[PD_MSG_TYPE_MAX + 1] = {
	[PD_MSG_HELLO] = { "hello", sizeof(struct pd_hello) },
	[PD_MSG_REGION_ADD] = { "region-add", sizeof(struct pd_region_add) },
	[PD_MSG_REGION_DEL] = { "region-del", sizeof(struct pd_region_del) },
	[PD_MSG_STATS] = { "stats", sizeof(struct pd_stats),
	    offsetof(struct pd_stats, flags) },
	[PD_MSG_REPLY] = { "reply", sizeof(struct pd_reply) },
	[PD_MSG_STATS_REPLY] = { "stats-reply", sizeof(struct pd_stats_reply),
	    offsetof(struct pd_stats_reply, cache_budget) },
	[PD_MSG_REATTACHED] = { "reattached", sizeof(struct pd_reattached) },
	[PD_MSG_CACHE_OPEN] = { "cache-open", sizeof(struct pd_cache_open) },
	[PD_MSG_CACHE_REPLY] = { "cache-reply", sizeof(struct pd_cache_reply) },
	[PD_MSG_DIRTY] = { "dirty", sizeof(struct pd_dirty) },
	[PD_MSG_DIRTY_REPLY] = { "dirty-reply", sizeof(struct pd_dirty_reply) },
	[PD_MSG_SYNC] = { "sync", sizeof(struct pd_region_req) },
	[PD_MSG_SNAPSHOT] = { "snapshot", sizeof(struct pd_region_req) },
	[PD_MSG_NOTICE] = { "notice", sizeof(struct pd_notice) },
	[PD_MSG_REPORT] = { "report", sizeof(struct pd_report) },
	[PD_MSG_VIOLATIONS] = { "violations", sizeof(struct pd_hdr) },
	[PD_MSG_CLIENTS] = { "clients", sizeof(struct pd_list) },
	[PD_MSG_CLIENT_INFO] = { "client-info", sizeof(struct pd_client_info) },
	[PD_MSG_REGIONS] = { "regions", sizeof(struct pd_list) },
	[PD_MSG_REGION_INFO] = { "region-info", sizeof(struct pd_region_info) },
	[PD_MSG_SNAPSHOT_OF] = { "snapshot-of", sizeof(struct pd_snapshot_of) },
};

const char *
proto_type_name(uint32_t type)
{
	if (type == 0 || type > PD_MSG_TYPE_MAX)
		return "unknown";
	return proto_types[type].name;
}

/* The exact size of a message of this type, or 0 for an unknown type. */
size_t
proto_size(uint32_t type)
{
	if (type == 0 || type > PD_MSG_TYPE_MAX)
		return 0;
	return proto_types[type].size;
}

/*
 * The size an older peer sends of a type that grew, or the size: a
 * sender gives it for a message without the appended fields.
 */
size_t
proto_size_older(uint32_t type)
{
	if (type == 0 || type > PD_MSG_TYPE_MAX || proto_types[type].older ==
	    0)
		return proto_size(type);
	return proto_types[type].older;
}

/* How many descriptors must travel with this (size-checked) message. */
int
proto_fds(const union pd_msg *msg)
{
	switch (msg->hdr.type) {
	case PD_MSG_HELLO:
		return msg->hello.role == PD_ROLE_CLIENT ? 1 : 0;
	case PD_MSG_REGION_ADD:
		return (msg->region_add.backing == PD_BACKING_ZERO ? 0 : 1) +
		    ((msg->region_add.flags & PD_REGION_WP) ? 1 : 0);
	case PD_MSG_SNAPSHOT:
	case PD_MSG_SNAPSHOT_OF:
		return 1;
	case PD_MSG_CACHE_OPEN:
		return (msg->cache_open.flags & PD_CACHE_ADOPT) ? 2 : 1;
	case PD_MSG_CACHE_REPLY:
		return 1;
	default:
		return 0;
	}
}

void
proto_init(union pd_msg *msg, uint32_t type, uint32_t seq)
{
	memset(msg, 0, proto_size(type));
	msg->hdr.magic = PD_PROTO_MAGIC;
	msg->hdr.version = PD_PROTO_VERSION;
	msg->hdr.type = (uint16_t)type;
	msg->hdr.size = (uint32_t)proto_size(type);
	msg->hdr.seq = seq;
}

/*
 * Check the framing of a received datagram of len bytes that came with
 * nfds descriptors: header, version, type, size (its own, or an older
 * one), descriptor count.
 * Returns 0 or -errno with the reason in why.
 */
int
proto_check(const void *buf, size_t len, int nfds, char *why, size_t whylen)
{
	const union pd_msg *msg = buf;
	size_t want;
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
	if (msg->hdr.version != PD_PROTO_VERSION) {
		snprintf(why, whylen, "protocol version %u, this side speaks %u",
		    msg->hdr.version, (unsigned int)PD_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	want = proto_size(msg->hdr.type);
	if (want == 0) {
		snprintf(why, whylen, "unknown message type %u",
		    msg->hdr.type);
		return -EBADMSG;
	}
	if (msg->hdr.size != len) {
		snprintf(why, whylen, "%s message: header says %" PRIu32
		    " bytes, datagram has %zu", proto_type_name(msg->hdr.type),
		    msg->hdr.size, len);
		return -EBADMSG;
	}
	if (len != want && len != proto_size_older(msg->hdr.type)) {
		snprintf(why, whylen, "%s message is %zu bytes, expected %zu",
		    proto_type_name(msg->hdr.type), len, want);
		return -EBADMSG;
	}
	fds = proto_fds(msg);
	if (nfds != fds) {
		snprintf(why, whylen, "%s message came with %d descriptors, "
		    "expected %d", proto_type_name(msg->hdr.type), nfds, fds);
		return -EBADMSG;
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
	if (h->reserved != 0) {
		snprintf(why, whylen, "hello: reserved field is not zero");
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
	    r->backing != PD_BACKING_CACHE) {
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
	if ((r->backing == PD_BACKING_CACHE) != ((r->mode & PD_MODE_MINOR) !=
	    0)) {
		snprintf(why, whylen, "region: minor mode goes with a page "
		    "cache region, and only with it");
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
	if ((r->flags & PD_REGION_WRITEBACK) && (r->backing !=
	    PD_BACKING_FILE || (r->flags & PD_REGION_READONLY))) {
		snprintf(why, whylen, "region: write-back needs a file region "
		    "that is not read-only");
		return -EINVAL;
	}
	if ((r->flags & PD_REGION_REPORT) && !(r->flags & PD_REGION_READONLY)) {
		snprintf(why, whylen, "region: the report policy is for "
		    "read-only regions");
		return -EINVAL;
	}
	return 0;
}

int
proto_check_region_req(const struct pd_region_req *r, char *why,
    size_t whylen)
{
	if (r->reserved != 0) {
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

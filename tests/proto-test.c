/*
 * Description: the protocol's checks on their own, without a daemon: every
 * framing error of proto_check() and every field error of the hello,
 * region and region-del checks gets its errno and a reason (region-del's,
 * a reserved field not zero or a region number with a range, refuse the
 * request and keep the session); valid messages pass,
 * including the boundaries: each type from its first release's size up to
 * PD_MSG_MAX, and no shorter nor longer; each only in its direction.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define PAGE 4096u

static int cases;

static void
expect(int got, int want, const char *why, const char *what)
{
	cases++;
	CHECKF(got == want, "%s: got %d, expected %d (%s)", what, got, want,
	    why);
	CHECKF(want == 0 || why[0] != '\0', "%s: no reason given", what);
}

/* proto_check for the side the type goes to. */
static int
check(const union pd_msg *msg, size_t len, int nfds, char *why)
{
	const struct proto_type *t = proto_type(msg->hdr.type);

	return proto_check(msg, len, nfds, t != NULL ? t->to : PD_TO_DAEMON,
	    0, why, PD_REASON_MAX);
}

static void
framing(void)
{
	union pd_msg msg;
	char why[PD_REASON_MAX];
	uint32_t type;
	size_t size;
	int fds;

	proto_init(&msg, PD_MSG_STATS, 7);
	why[0] = '\0';
	expect(check(&msg, sizeof msg.stats, 0, why), 0, why,
	    "valid stats");
	why[0] = '\0';
	expect(check(&msg, 0, 0, why), -EBADMSG, why,
	    "empty");
	why[0] = '\0';
	expect(check(&msg, sizeof msg.hdr - 1, 0, why),
	    -EBADMSG, why, "truncated header");
	msg.hdr.magic ^= 1;
	expect(check(&msg, sizeof msg.stats, 0, why),
	    -EPROTO, why, "bad magic");
	msg.hdr.magic ^= 1;
	msg.hdr.version++;
	expect(check(&msg, sizeof msg.stats, 0, why),
	    -EPROTONOSUPPORT, why, "bad version");
	msg.hdr.version = PD_PROTO_VERSION_MIN - 1;
	expect(check(&msg, sizeof msg.stats, 0, why), -EPROTONOSUPPORT, why,
	    "version before the oldest");
	msg.hdr.version = PD_PROTO_VERSION;
	msg.hdr.type = 0;
	expect(check(&msg, sizeof msg.stats, 0, why),
	    -EBADMSG, why, "type 0");
	msg.hdr.type = PD_MSG_TYPE_MAX + 1;
	expect(check(&msg, sizeof msg.stats, 0, why),
	    -EBADMSG, why, "type past the last");

	for (type = 1; type <= PD_MSG_TYPE_MAX; type++) {
		/* A number between the types is as unknown as one past. */
		if (proto_type(type) == NULL) {
			proto_init(&msg, PD_MSG_STATS, 1);
			msg.hdr.type = (uint16_t)type;
			expect(check(&msg, sizeof msg.stats, 0, why), -EBADMSG,
			    why, "a number between the types");
			continue;
		}
		size = proto_size(type);
		CHECK(size >= sizeof(struct pd_hdr));
		proto_init(&msg, type, 1);
		if (type == PD_MSG_HELLO)
			msg.hello.role = PD_ROLE_CONTROL;
		if (type == PD_MSG_REGION_ADD)
			msg.region_add.backing = PD_BACKING_ZERO;
		fds = proto_fds(&msg);
		expect(check(&msg, size, fds, why), 0, why,
		    proto_type_name(type));
		/* The header and the datagram disagree. */
		expect(check(&msg, size - 1, fds, why), -EBADMSG, why,
		    "datagram a byte short");
		/* Longer than this side knows: the tail is ignored. */
		msg.hdr.size = (uint32_t)size + 1;
		expect(check(&msg, size + 1, fds, why), 0, why, "a byte long");
		msg.hdr.size = PD_MSG_MAX;
		expect(check(&msg, PD_MSG_MAX, fds, why), 0, why,
		    "the longest message");
		msg.hdr.size = PD_MSG_MAX + 1;
		expect(check(&msg, PD_MSG_MAX + 1, fds, why), -EBADMSG, why,
		    "longer than the longest message");
		/* Down to its first release's size, not below. */
		CHECK(proto_min(type) >= sizeof(struct pd_hdr) &&
		    proto_min(type) <= size);
		msg.hdr.size = (uint32_t)proto_min(type);
		expect(check(&msg, proto_min(type), fds, why), 0, why,
		    "the first release's size");
		if (proto_min(type) > sizeof(struct pd_hdr)) {
			msg.hdr.size = (uint32_t)proto_min(type) - 1;
			expect(check(&msg, proto_min(type) - 1, fds, why),
			    -EBADMSG, why, "a byte below the first size");
		}
		msg.hdr.size = (uint32_t)size;
		expect(check(&msg, size, fds + 1, why), -EBADMSG, why,
		    "an unexpected descriptor");
		/* Each type goes one way only. */
		expect(proto_check(&msg, size, fds, proto_type(type)->to ==
		    PD_TO_DAEMON ? PD_TO_PEER : PD_TO_DAEMON, 0, why,
		    sizeof why), -EPROTO, why, "the wrong direction");
	}
	/* A reply carries a descriptor only where one is asked for. */
	proto_init(&msg, PD_MSG_REPLY, 1);
	expect(proto_check(&msg, sizeof msg.reply, 1, PD_TO_PEER, 0, why,
	    sizeof why), -EBADMSG, why, "a reply with a descriptor");
	expect(proto_check(&msg, sizeof msg.reply, 1, PD_TO_PEER,
	    PROTO_REPLY_FD, why, sizeof why), 0, why,
	    "a resume's reply with its descriptor");
	/* A cache needs its file, and the memfd too when adopting one. */
	proto_init(&msg, PD_MSG_CACHE_OPEN, 1);
	expect(check(&msg, sizeof msg.cache_open, 0, why),
	    -EBADMSG, why, "cache-open without the file");
	msg.cache_open.flags = PD_CACHE_ADOPT;
	expect(check(&msg, sizeof msg.cache_open, 1, why),
	    -EBADMSG, why, "adopting cache-open without the memfd");
	expect(check(&msg, sizeof msg.cache_open, 2, why), 0,
	    why, "adopting cache-open");
	expect(proto_check_cache_open(&msg.cache_open, why, sizeof why), 0, why,
	    "adopt flag");
	msg.cache_open.flags = 0x10;
	expect(proto_check_cache_open(&msg.cache_open, why, sizeof why),
	    -EINVAL, why, "unknown cache flag");
	/* Descriptors: a client hello and a file region need exactly one. */
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CLIENT;
	expect(check(&msg, sizeof msg.hello, 1, why), 0, why,
	    "client hello with its userfaultfd");
	expect(check(&msg, sizeof msg.hello, 0, why),
	    -EBADMSG, why, "client hello without a descriptor");
	expect(check(&msg, sizeof msg.hello, 2, why),
	    -EBADMSG, why, "client hello with two descriptors");
	proto_init(&msg, PD_MSG_REGION_ADD, 1);
	msg.region_add.backing = PD_BACKING_FILE;
	expect(check(&msg, sizeof msg.region_add, 0, why),
	    -EBADMSG, why, "file region without a descriptor");
	msg.region_add.backing = PD_BACKING_ZERO;
	expect(check(&msg, sizeof msg.region_add, 1, why),
	    -EBADMSG, why, "zero region with a descriptor");
	/* A page cache region with its file's own two: three, exactly. */
	msg.region_add.backing = PD_BACKING_CACHE;
	msg.region_add.flags = PD_REGION_OWN_FDS;
	expect(check(&msg, sizeof msg.region_add, 3, why), 0, why,
	    "page cache region with its file's own descriptions");
	expect(check(&msg, sizeof msg.region_add, 1, why), -EBADMSG, why,
	    "own descriptions flagged, none sent");
	expect(check(&msg, sizeof msg.region_add, 4, why), -EBADMSG, why,
	    "own descriptions flagged, three sent");
	msg.region_add.flags = 0;
	expect(check(&msg, sizeof msg.region_add, 3, why), -EBADMSG, why,
	    "own descriptions sent, not flagged");
}

static void
hello(void)
{
	struct pd_hello h;
	char why[PD_REASON_MAX];

	proto_init((union pd_msg *)&h, PD_MSG_HELLO, 1);
	h.role = PD_ROLE_CLIENT;
	h.page_size = PAGE;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), 0, why, "hello");
	h.role = 3;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), -EINVAL, why,
	    "unknown role");
	h.role = PD_ROLE_CONTROL;
	h.flags = 0x80;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), -EINVAL, why,
	    "unknown hello flag");
	h.flags = 0;
	h.resume = 1;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), -EINVAL, why,
	    "a session to resume without the flag");
	h.flags = PD_HELLO_RESUME;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), -EINVAL, why,
	    "a control session resuming");
	h.role = PD_ROLE_CLIENT;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), 0, why,
	    "a client resuming");
	h.flags = PD_HELLO_RESUME | PD_HELLO_REATTACH;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), -EINVAL, why,
	    "resuming and re-attaching");
	h.resume = 0;
	h.flags = PD_HELLO_RESUME;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), -EINVAL, why,
	    "resuming no session");
	h.flags = 0;
	h.role = PD_ROLE_CONTROL;
	h.page_size = 2 * PAGE;
	expect(proto_check_hello(&h, PAGE, why, sizeof why), -EINVAL, why,
	    "page size mismatch");
}

static void
region_case(struct pd_region_add r, int want, const char *what)
{
	char why[PD_REASON_MAX] = "";

	expect(proto_check_region_add(&r, PAGE, why, sizeof why), want, why,
	    what);
}

static void
region(void)
{
	struct pd_region_add ok, r;

	proto_init((union pd_msg *)&ok, PD_MSG_REGION_ADD, 1);
	ok.start = 0x7f0000000000ull;
	ok.length = 16 * PAGE;
	ok.offset = 4 * PAGE;
	ok.backing = PD_BACKING_FILE;
	ok.prot = PD_PROT_READ | PD_PROT_WRITE;
	ok.mode = PD_MODE_MISSING;
	region_case(ok, 0, "valid file region");

	r = ok, r.start += 1;
	region_case(r, -EINVAL, "unaligned start");
	r = ok, r.length += 100;
	region_case(r, -EINVAL, "unaligned length");
	r = ok, r.offset += 8;
	region_case(r, -EINVAL, "unaligned offset");
	r = ok, r.length = 0;
	region_case(r, -EINVAL, "zero length");
	r = ok, r.start = 0x1000, r.length = PD_REGION_MAX_LENGTH;
	region_case(r, 0, "the longest region");
	r.length += PAGE;
	region_case(r, -EINVAL, "a page longer than the longest");
	r = ok, r.start = 0;
	region_case(r, -EINVAL, "start at address 0");
	r = ok, r.start = (1ull << 57) - PAGE, r.length = 2 * PAGE;
	region_case(r, -EINVAL, "past the user address space");
	r = ok, r.start = UINT64_MAX & ~(uint64_t)(PAGE - 1);
	region_case(r, -EINVAL, "start + length wraps");
	r = ok, r.offset = (uint64_t)INT64_MAX & ~(uint64_t)(PAGE - 1);
	region_case(r, -EOVERFLOW, "offset + length overflows");
	r = ok, r.backing = 9;
	region_case(r, -EINVAL, "unknown backing");
	r = ok, r.prot = PD_PROT_WRITE;
	region_case(r, -EINVAL, "write without read");
	r = ok, r.prot = 0x10 | PD_PROT_READ;
	region_case(r, -EINVAL, "unknown protection bit");
	r = ok, r.mode = PD_MODE_WP;
	region_case(r, -EINVAL, "mode without missing");
	r = ok, r.mode = 0x100 | PD_MODE_MISSING;
	region_case(r, -EINVAL, "unknown mode bit");
	r = ok, r.flags = 0x100;
	region_case(r, -EINVAL, "unknown region flag");
	r = ok, r.mode |= PD_MODE_MINOR;
	region_case(r, -EINVAL, "minor mode on a file region");
	r = ok, r.backing = PD_BACKING_CACHE;
	region_case(r, -EINVAL, "a cache region without minor mode");
	r.mode |= PD_MODE_MINOR;
	region_case(r, 0, "valid cache region");
	r.flags = PD_REGION_OWN_FDS;
	region_case(r, 0, "a cache region with its file's own descriptions");
	r = ok, r.flags = PD_REGION_OWN_FDS;
	region_case(r, -EINVAL, "own descriptions with a file region");
	r = ok, r.backing = PD_BACKING_ZERO;
	region_case(r, -EINVAL, "zero region with an offset");
	r.offset = 0;
	region_case(r, 0, "valid zero region");
}

static void
region_del_case(uint32_t id, uint32_t reserved, uint64_t start,
    uint64_t length, int want, const char *what)
{
	const struct proto_type *t = proto_type(PD_MSG_REGION_DEL);
	char why[PD_REASON_MAX] = "";
	union pd_msg msg;

	proto_init(&msg, PD_MSG_REGION_DEL, 1);
	msg.region_del.region_id = id;
	msg.region_del.reserved = reserved;
	msg.region_del.start = start;
	msg.region_del.length = length;
	expect(t->check(&msg, PAGE, why, sizeof why), want, why, what);
}

static void
region_del(void)
{
	CHECKF(proto_type(PD_MSG_REGION_DEL)->soft, "a refused region-del "
	    "closes the session");
	region_del_case(7, 0, 0, 0, 0, "region-del by number");
	region_del_case(0, 0, 0x10000, PAGE, 0, "region-del of a range");
	region_del_case(0, 0, 0, 0, 0, "region-del of region 0, no range");
	region_del_case(7, 1, 0, 0, -EINVAL, "reserved field not zero");
	region_del_case(0, 0x80000000u, 0x10000, PAGE, -EINVAL, "a range, "
	    "reserved field not zero");
	region_del_case(7, 0, 0x10000, PAGE, -EINVAL, "a number and a range");
	region_del_case(7, 0, 0x10000, 0, -EINVAL, "a number and a start");
	region_del_case(7, 0, 0, PAGE, -EINVAL, "a number and a length");
}

int
main(void)
{
	framing();
	hello();
	region();
	region_del();
	printf("%d protocol cases behave\n", cases);
	return 0;
}

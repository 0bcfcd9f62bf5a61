/*
 * libFuzzer target: the daemon's input parsing. The first byte picks what
 * the rest feeds: a datagram to proto_check(), then to proto_allowed() for
 * each role and to its type's field check (proto.c's table), or a
 * sequence of region additions, deletions and lookups on a session's
 * region table, whose invariants (sorted, disjoint, lookups
 * agreeing with a linear scan) are checked after every step.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pagerd.h"

size_t page_size = 4096;

/*
 * No module registers its part of a region (region_add_part): the fuzzed
 * regions are zero-fill, not write-protected, and never fault. watch.c's
 * file watching is stubbed: the fuzzed table makes no caches.
 */
/* Logging is not what is fuzzed: region.c's lines are let through. */
int
session_log_allow(uid_t uid, int priority)
{
	(void)uid, (void)priority;
	return 1;
}

void
watch_add(int fd, dev_t dev, ino_t ino, uid_t uid)
{
	(void)fd, (void)dev, (void)ino, (void)uid;
}

void
watch_forget(int fd, dev_t dev, ino_t ino)
{
	(void)fd, (void)dev, (void)ino;
}

/* store.c's: the fuzzed table opens no store (its caches are none). */
const char *
store_name(const struct store *st)
{
	(void)st;
	return "store";
}

int
store_is_retired(const struct store *st)
{
	(void)st;
	return 0;
}

void
store_ref(struct store *st)
{
	(void)st;
}

void
store_unref(struct store *st)
{
	(void)st;
}

struct pagerd_options opts;
int config_live[CONFIG_NKEYS] = { [CONFIG_READAHEAD] = 16,
    [CONFIG_CACHE_WINDOW] = 256 };

static void
check_table(struct session *s, uint64_t probe)
{
	struct region *found = NULL;
	size_t i;

	for (i = 0; i < s->nregions; i++) {
		if (s->regions[i]->start >= s->regions[i]->end)
			abort();
		if (i > 0 && s->regions[i - 1]->end > s->regions[i]->start)
			abort();
		if (s->regions[i]->start <= probe && probe < s->regions[i]->end)
			found = s->regions[i];
	}
	if (region_find(s, probe) != found)
		abort();
}

static void
fuzz_datagram(const uint8_t *data, size_t size)
{
	const struct proto_type *t;
	union pd_msg msg;
	char why[PD_REASON_MAX];
	uint32_t role;
	int nfds;

	if (size < 1)
		return;
	nfds = data[0] % 3;
	data++, size--;
	memset(&msg, 0, sizeof msg);
	memcpy(&msg, data, size < sizeof msg ? size : sizeof msg);
	if (proto_check(&msg, size, nfds, PD_TO_DAEMON, 0, why,
	    sizeof why) != 0)
		return;
	if (memchr(why, '\0', sizeof why) == NULL)
		abort();
	/* Who may send it, then its fields, as a session does. */
	for (role = 0; role <= PD_ROLE_CONTROL; role++)
		if (proto_allowed(msg.hdr.type, role, why, sizeof why) != 0 &&
		    memchr(why, '\0', sizeof why) == NULL)
			abort();
	t = proto_type(msg.hdr.type);
	if (t->check != NULL)
		t->check(&msg, (uint32_t)page_size, why, sizeof why);
}

/* Records of 12 bytes: op, then page number (5 bytes), pages (4), id. */
static void
fuzz_regions(const uint8_t *data, size_t size)
{
	struct worker w;
	struct session s;
	struct pd_region_add ra;
	struct region *r;
	char why[PD_REASON_MAX];
	uint64_t page, pages;
	int fds[2] = { -1, -1 };

	memset(&w, 0, sizeof w);
	memset(&s, 0, sizeof s);
	s.worker = &w;
	for (; size >= 12; data += 12, size -= 12) {
		page = 0;
		memcpy(&page, data + 1, 5);
		pages = 0;
		memcpy(&pages, data + 6, 4);
		switch (data[0] % 4) {
		case 0:
		case 1:
			proto_init((union pd_msg *)&ra, PD_MSG_REGION_ADD, 1);
			ra.start = page * page_size;
			ra.length = (pages % 4096) * page_size;
			ra.backing = PD_BACKING_ZERO;
			ra.prot = PD_PROT_READ;
			ra.mode = PD_MODE_MISSING;
			region_add(&s, &ra, fds, why, sizeof why, &r);
			break;
		case 2:
			region_del(&s, data[11] % 64);
			break;
		case 3:
			break;
		}
		check_table(&s, page * page_size + (pages % 8192) * 512);
		if (w.nregions != s.nregions)
			abort();
	}
	region_clear(&s);
	free(s.regions);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_regions(data + 1, size - 1);
	else
		fuzz_datagram(data + 1, size - 1);
	return 0;
}

/*
 * Listings for control sessions (pagerctl): every client and region of
 * every worker, read under each worker's table lock, one record message
 * each, then a reply with their number.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pagerd.h"

void
control_clients(struct session *c, uint32_t seq)
{
	struct session *s;
	union pd_msg msg;
	uint32_t n = 0;
	int i;

	for (i = 0; i < nworkers && !c->closing; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry) {
			if (s->role != PD_ROLE_CLIENT || s->closing)
				continue;
			proto_init(&msg, PD_MSG_CLIENT_INFO, seq);
			msg.client_info.session = s->id;
			msg.client_info.pid = (int32_t)s->pid;
			msg.client_info.uid = (uint32_t)s->uid;
			msg.client_info.regions = (uint32_t)s->nregions;
			strlcpy(msg.client_info.comm, s->comm,
			    sizeof msg.client_info.comm);
			memcpy(&msg.client_info.counters, &s->counters,
			    sizeof s->counters);
			session_send(c, &msg);
			n++;
		}
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	session_reply(c, seq, 0, n, 0, NULL);
}

static void
control_region(struct session *c, uint32_t seq, const struct session *s,
    const struct region *r)
{
	union pd_msg msg;
	uint64_t p;

	proto_init(&msg, PD_MSG_REGION_INFO, seq);
	msg.region_info.session = s->id;
	msg.region_info.pid = (int32_t)s->pid;
	msg.region_info.region = r->id;
	msg.region_info.backing = r->backing;
	msg.region_info.start = r->start;
	msg.region_info.length = r->end - r->start;
	msg.region_info.offset = r->offset;
	msg.region_info.prot = r->prot;
	msg.region_info.flags = r->flags;
	msg.region_info.faults = STAT_GET(r->faults);
	msg.region_info.readahead = r->ra_pages;
	msg.region_info.present = msg.region_info.dirty = PD_PAGES_UNKNOWN;
	if (r->mem != NULL) {
		msg.region_info.present = 0;
		for (p = 0; p < r->npages; p++)
			msg.region_info.present += (uint64_t)bit_test(r->present,
			    p);
		msg.region_info.dirty = r->ndirty;
	}
	if (r->backing != PD_BACKING_ZERO)
		region_backing_name(r, msg.region_info.path,
		    sizeof msg.region_info.path);
	session_send(c, &msg);
}

void
control_regions(struct session *c, const struct pd_list *l)
{
	struct session *s;
	uint32_t n = 0;
	size_t k;
	int i;

	for (i = 0; i < nworkers && !c->closing; i++) {
		pthread_mutex_lock(&workers[i].table_lock);
		TAILQ_FOREACH(s, &workers[i].sessions, entry) {
			if (s->role != PD_ROLE_CLIENT || s->closing ||
			    (l->pid != 0 && l->pid != (int32_t)s->pid))
				continue;
			for (k = 0; k < s->nregions && !c->closing; k++, n++)
				control_region(c, l->hdr.seq, s, s->regions[k]);
		}
		pthread_mutex_unlock(&workers[i].table_lock);
	}
	session_reply(c, l->hdr.seq, 0, n, 0, NULL);
}

/*
 * The daemon's listings: recent violations, its clients and their
 * regions, as tables or JSON.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerctl.h"
#include "procmaps.h"

void
ctl_violations(char **args)
{
	union pd_msg msg, reply;
	int fd, n = 0;

	fd = ctl_connect();
	proto_init(&msg, PD_MSG_VIOLATIONS, 2);
	ctl_exchange(fd, &msg, &reply, PD_MSG_NOTICE, PD_MSG_REPLY);
	if (ctl_json)
		printf("[");
	while (reply.hdr.type == PD_MSG_NOTICE) {
		reply.notice.reason[sizeof reply.notice.reason - 1] = '\0';
		if (ctl_json) {
			printf("%s", n ? "," : "");
			json_str(reply.notice.reason);
		} else
			printf("%s\n", reply.notice.reason);
		n++;
		ctl_receive(fd, &reply, PD_MSG_NOTICE, PD_MSG_REPLY);
	}
	close(fd);
	if (ctl_json)
		printf("]\n");
	else if (n == 0)
		printf("no violations\n");
}

void
ctl_clients(char **args)
{
	union pd_msg *recs;
	struct pd_client_info *c;
	size_t n, i;

	n = ctl_list(PD_MSG_CLIENTS, PD_MSG_CLIENT_INFO, 0, &recs);
	if (ctl_json)
		printf("[");
	else
		printf("%7s %-16s %6s %7s %10s %10s %10s %7s %s\n", "PID",
		    "PROGRAM", "UID", "REGIONS", "FAULTS", "FILE-PAGES",
		    "ZERO-PAGES", "ERRORS", "SERVES");
	for (i = 0; i < n; i++) {
		c = &recs[i].client_info;
		c->comm[sizeof c->comm - 1] = '\0';
		if (!ctl_json) {
			printf("%7d %-16s %6u %7u %10" PRIu64 " %10" PRIu64
			    " %10" PRIu64 " %7" PRIu64 " %s\n", c->pid, c->comm,
			    c->uid, c->regions, c->counters.faults,
			    c->counters.pages_file, c->counters.pages_zero,
			    c->counters.errors, (c->flags &
			    PD_CLIENT_USER_MODE_ONLY) ? "user-faults" :
			    "all-faults");
			continue;
		}
		printf("%s{\"session\":%u,\"pid\":%d,\"program\":", i ? "," : "",
		    c->session, c->pid);
		json_str(c->comm);
		printf(",\"uid\":%u,\"regions\":%u,\"faults\":%" PRIu64
		    ",\"pages_file\":%" PRIu64 ",\"pages_zero\":%" PRIu64
		    ",\"pages_dirtied\":%" PRIu64 ",\"violations\":%" PRIu64
		    ",\"errors\":%" PRIu64 ",\"user_mode_only\":%s}", c->uid,
		    c->regions, c->counters.faults, c->counters.pages_file,
		    c->counters.pages_zero, c->counters.pages_dirtied,
		    c->counters.violations, c->counters.errors, (c->flags &
		    PD_CLIENT_USER_MODE_ONLY) ? "true" : "false");
	}
	if (ctl_json)
		printf("]\n");
	free(recs);
}

void
ctl_regions(char **args)
{
	int32_t pid = args[0] != NULL ? (int32_t)ctl_pid(args[0]) : 0;
	union pd_msg *recs;
	struct pd_region_info *r;
	char res[24], dirty[24], cached[24];
	int64_t resident;
	size_t n, i;

	n = ctl_list(PD_MSG_REGIONS, PD_MSG_REGION_INFO, pid, &recs);
	if (ctl_json)
		printf("[");
	else
		printf("%7s %-29s %5s %-10s %-16s %8s %8s %7s %7s %4s %s\n",
		    "PID", "RANGE", "PERMS", "BACKING", "MODE", "RESIDENT",
		    "CACHED", "DIRTY", "FAULTS", "RA", "FILE");
	for (i = 0; i < n; i++) {
		r = &recs[i].region_info;
		r->path[sizeof r->path - 1] = '\0';
		/* Resident from the kernel's page table, as far as allowed. */
		resident = pagemap_resident(r->pid, r->start, r->start +
		    r->length);
		ctl_count(res, sizeof res, resident);
		ctl_count(dirty, sizeof dirty, (int64_t)r->dirty);
		/* In the shared cache: a page cache region's, by the daemon. */
		ctl_count(cached, sizeof cached, (r->known &
		    PD_REGION_INFO_CACHED) ? (int64_t)r->cached : -1);
		if (!ctl_json) {
			printf("%7d %014" PRIx64 "-%014" PRIx64 " %c%c%c  "
			    "%-10s %-16s %8s %8s %7s %7" PRIu64 " %4" PRIu64
			    " %s\n", r->pid, r->start, r->start + r->length,
			    'r', (r->prot & PD_PROT_WRITE) ? 'w' : '-', 'p',
			    ctl_backing(r), ctl_mode(r), res, cached, dirty,
			    r->faults, r->readahead, r->path);
			continue;
		}
		printf("%s{\"pid\":%d,\"region\":%u,\"start\":%" PRIu64
		    ",\"length\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"write\":%s"
		    ",\"backing\":\"%s\",\"mode\":\"%s\",\"resident\":%s"
		    ",\"cached\":%s,\"dirty\":%s,\"faults\":%" PRIu64
		    ",\"readahead\":%" PRIu64 ",\"file\":", i ? "," : "",
		    r->pid, r->region, r->start, r->length, r->offset,
		    (r->prot & PD_PROT_WRITE) ? "true" : "false",
		    ctl_backing(r), ctl_mode(r), res[0] == '-' ? "null" : res,
		    cached[0] == '-' ? "null" : cached, dirty[0] == '-' ?
		    "null" : dirty, r->faults, r->readahead);
		json_str(r->path);
		printf("}");
	}
	if (ctl_json)
		printf("]\n");
	free(recs);
}

/*
 * The daemon's listings: recent violations, its clients and their
 * regions, as tables or JSON.
 */
#include "config.h"

#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerctl.h"
#include "procmaps.h"

/*
 * violations -j: a kept line, "DATE TIME pid N (PROGRAM) tid T: WHAT", as
 * an object with those fields (and a caught fault's signal, address and
 * mapping); a line of another form keeps what only.
 */
static void
ctl_violation_json(const char *line)
{
	char date[11], time[9], sig[8], *comm = NULL;
	const char *end, *what, *mapping;
	uint64_t addr;
	unsigned int tid;
	int pid, n = 0;

	if (sscanf(line, "%10s %8s pid %d (%n", date, time, &pid, &n) != 3 ||
	    n == 0 || (end = strstr(line + n, ") tid ")) == NULL ||
	    sscanf(end, ") tid %u: %n", &tid, &n) != 1 || n == 0) {
		printf("{\"what\":");
		json_str(line);
		printf("}");
		return;
	}
	what = end + n;
	n = (int)(strstr(line, " (") + 2 - line);
	if ((comm = strndup(line + n, (size_t)(end - line - n))) == NULL)
		err(1, "strndup");
	printf("{\"time\":\"%s %s\",\"pid\":%d,\"program\":", date, time,
	    pid);
	json_str(comm);
	printf(",\"tid\":%u,\"what\":", tid);
	json_str(what);
	/* A fault the kernel caught: its signal, address and mapping. */
	if (sscanf(what, "%7[A-Z] at 0x%" SCNx64, sig, &addr) == 2)
		printf(",\"signal\":\"%s\",\"address\":%" PRIu64, sig, addr);
	if ((mapping = strstr(what, "; mapping ")) != NULL) {
		printf(",\"mapping\":");
		json_str(mapping + 10);
	}
	printf("}");
	free(comm);
}

void
ctl_violations(char **args)
{
	union pd_msg msg, reply;
	int fd, n = 0;

	(void)args;
	fd = ctl_connect();
	proto_init(&msg, PD_MSG_VIOLATIONS, 2);
	ctl_exchange(fd, &msg, &reply, PD_MSG_NOTICE, PD_MSG_REPLY);
	if (ctl_json)
		printf("[");
	while (reply.hdr.type == PD_MSG_NOTICE) {
		reply.notice.reason[sizeof reply.notice.reason - 1] = '\0';
		if (ctl_json) {
			printf("%s", n ? "," : "");
			ctl_violation_json(reply.notice.reason);
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
	char comm[4 * 16];
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
			ctl_escape(c->comm, comm, sizeof comm);
			printf("%7d %-16s %6u %7u %10" PRIu64 " %10" PRIu64
			    " %10" PRIu64 " %7" PRIu64 " %s%s\n", c->pid, comm,
			    c->uid, c->regions, c->counters.faults,
			    c->counters.pages_file, c->counters.pages_zero,
			    c->counters.errors, (c->flags &
			    PD_CLIENT_USER_MODE_ONLY) ? "user-faults" :
			    "all-faults", (c->flags & PD_CLIENT_DETACHED) ?
			    " detached" : "");
			continue;
		}
		printf("%s{\"session\":%u,\"pid\":%d,\"program\":", i ? "," : "",
		    c->session, c->pid);
		json_str(c->comm);
		printf(",\"uid\":%u,\"regions\":%u,\"faults\":%" PRIu64
		    ",\"pages_file\":%" PRIu64 ",\"pages_zero\":%" PRIu64
		    ",\"pages_dirtied\":%" PRIu64 ",\"violations\":%" PRIu64
		    ",\"errors\":%" PRIu64 ",\"detached\":%s,"
		    "\"user_mode_only\":%s}", c->uid,
		    c->regions, c->counters.faults, c->counters.pages_file,
		    c->counters.pages_zero, c->counters.pages_dirtied,
		    c->counters.violations, c->counters.errors, (c->flags &
		    PD_CLIENT_DETACHED) ? "true" : "false", (c->flags &
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
	char res[24], dirty[24], cached[24], path[4 * 128], pmd[24], pmdmb[24];
	int64_t resident, pmdb;
	size_t n, i;

	n = ctl_list(PD_MSG_REGIONS, PD_MSG_REGION_INFO, pid, &recs);
	if (ctl_json)
		printf("[");
	else
		printf("%7s %-29s %5s %-10s %-16s %8s %8s %7s %7s %4s %6s "
		    "%s\n", "PID", "RANGE", "PERMS", "BACKING", "MODE",
		    "RESIDENT", "CACHED", "DIRTY", "FAULTS", "RA", "PMD-MB",
		    "FILE");
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
		/* Mapped with huge pages, from smaps, as far as allowed. */
		pmdb = smaps_pmd_bytes(r->pid, r->start, r->start + r->length);
		ctl_count(pmd, sizeof pmd, pmdb);
		ctl_count(pmdmb, sizeof pmdmb, pmdb < 0 ? -1 : pmdb >> 20);
		if (!ctl_json) {
			ctl_escape(r->path, path, sizeof path);
			printf("%7d %014" PRIx64 "-%014" PRIx64 " %c%c%c  "
			    "%-10s %-16s %8s %8s %7s %7" PRIu64 " %4" PRIu64
			    " %6s %s\n", r->pid, r->start, r->start +
			    r->length, 'r', (r->prot & PD_PROT_WRITE) ? 'w' :
			    '-', 'p', ctl_backing(r), ctl_mode(r), res, cached,
			    dirty, r->faults, r->readahead, pmdmb, path);
			continue;
		}
		printf("%s{\"pid\":%d,\"region\":%u,\"start\":%" PRIu64
		    ",\"length\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"write\":%s"
		    ",\"backing\":\"%s\",\"mode\":\"%s\",\"resident\":%s"
		    ",\"cached\":%s,\"dirty\":%s,\"faults\":%" PRIu64
		    ",\"readahead\":%" PRIu64, i ? "," : "",
		    r->pid, r->region, r->start, r->length, r->offset,
		    (r->prot & PD_PROT_WRITE) ? "true" : "false",
		    ctl_backing(r), ctl_mode(r), res[0] == '-' ? "null" : res,
		    cached[0] == '-' ? "null" : cached, dirty[0] == '-' ?
		    "null" : dirty, r->faults, r->readahead);
		printf(",\"pmd_bytes\":%s,\"file\":", pmd[0] == '-' ? "null" :
		    pmd);
		json_str(r->path);
		printf("}");
	}
	if (ctl_json)
		printf("]\n");
	free(recs);
}

/* By uid, then file: a user's caches together. */
static int
ctl_cache_cmp(const void *a, const void *b)
{
	const struct pd_cache_info *ca = &((const union pd_msg *)a)->cache_info;
	const struct pd_cache_info *cb = &((const union pd_msg *)b)->cache_info;

	if (ca->uid != cb->uid)
		return ca->uid < cb->uid ? -1 : 1;
	return strcmp(ca->path, cb->path);
}

/*
 * The shared page caches, as fincore(1) shows files: each file's size,
 * what of it is in memory, how many regions use it or how long it has
 * lingered unused; then each user's total.
 */
void
ctl_caches(char **args)
{
	union pd_msg *recs;
	struct pd_cache_info *c;
	char size[32], res[32], idle[32], path[4 * 256];
	uint64_t total = 0;
	size_t n, i, ncaches = 0;

	(void)args;
	/* (A CACHES request is a pd_stats: where ctl_list puts pid 0, flags 0.) */
	n = ctl_list(PD_MSG_CACHES, PD_MSG_CACHE_INFO, 0, &recs);
	if (n > 0)
		qsort(recs, n, sizeof *recs, ctl_cache_cmp);
	if (ctl_json)
		printf("[");
	else
		printf("%6s %5s %10s %10s %10s  %s\n", "UID", "USERS", "SIZE",
		    "RESIDENT", "LINGERING", "FILE");
	for (i = 0; i < n; i++) {
		c = &recs[i].cache_info;
		c->path[sizeof c->path - 1] = '\0';
		if (ctl_json) {
			printf("%s{\"uid\":%u,\"users\":%u,\"size\":%" PRIu64
			    ",\"resident\":%" PRIu64 ",\"lingering\":%s,"
			    "\"idle_ms\":%" PRIu64 ",\"dev\":%" PRIu64
			    ",\"inode\":%" PRIu64 ",\"file\":", i ? "," : "",
			    c->uid, c->refs, c->size, c->resident, c->refs ==
			    0 ? "true" : "false", c->idle_ms, c->dev, c->ino);
			json_str(c->path);
			printf("}");
			continue;
		}
		ctl_bytes(size, sizeof size, c->size);
		ctl_bytes(res, sizeof res, c->resident);
		if (c->refs == 0)
			snprintf(idle, sizeof idle, "%" PRIu64 " s",
			    c->idle_ms / 1000);
		else
			strlcpy(idle, "-", sizeof idle);
		ctl_escape(c->path, path, sizeof path);
		printf("%6u %5u %10s %10s %10s  %s\n", c->uid, c->refs, size,
		    res, idle, path[0] != '\0' ? path : "?");
		total += c->resident;
		ncaches++;
		/* The user's total after its last cache. */
		if (i + 1 == n || recs[i + 1].cache_info.uid != c->uid) {
			ctl_bytes(res, sizeof res, total);
			printf("%6u total: %s resident in %zu cache%s\n",
			    c->uid, res, ncaches, ncaches == 1 ? "" : "s");
			total = 0;
			ncaches = 0;
		}
	}
	if (ctl_json)
		printf("]\n");
	else if (n == 0)
		printf("no page caches\n");
	free(recs);
}

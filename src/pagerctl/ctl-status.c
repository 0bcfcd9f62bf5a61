/*
 * The daemon as a whole: status (its counters, memory and fault latency)
 * and top (each client's fault rate, every second).
 */
#include "config.h"

#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerctl.h"

/* The bucket's upper bound in words: "4 us", "2 ms", "1 s". */
static void
ctl_bound(char *buf, size_t len, int b)
{
	uint64_t us = 1ull << b;

	if (b == PD_LATENCY_BUCKETS - 1)
		snprintf(buf, len, "more");
	else if (us < 1000)
		snprintf(buf, len, "%" PRIu64 " us", us);
	else if (us < 1000000)
		snprintf(buf, len, "%" PRIu64 " ms", us / 1000);
	else
		snprintf(buf, len, "%" PRIu64 " s", us / 1000000);
}

/* Percentiles of fault service time, as bounds of log2 buckets. */
static void
ctl_latency(const uint64_t *h)
{
	static const int pct[] = { 50, 90, 99 };
	char bound[3][16];
	uint64_t total = 0, run;
	int b, k;

	for (b = 0; b < PD_LATENCY_BUCKETS; b++)
		total += h[b];
	if (total == 0) {
		printf("  latency   no faults served yet\n");
		return;
	}
	for (k = 0; k < 3; k++) {
		for (b = 0, run = 0; b < PD_LATENCY_BUCKETS; b++) {
			run += h[b];
			if (run * 100 >= total * (uint64_t)pct[k])
				break;
		}
		ctl_bound(bound[k], sizeof bound[k], b);
	}
	printf("  latency   p50 < %s, p90 < %s, p99 < %s (fault read to page "
	    "installed)\n", bound[0], bound[1], bound[2]);
}

/* The memory line of status and top: the page caches against budget. */
static void
ctl_memory_line(const struct pd_stats_reply *sr)
{
	char held[32], budget[32], bytes[32];

	ctl_bytes(held, sizeof held, sr->cache_held);
	ctl_bytes(budget, sizeof budget, sr->cache_budget);
	ctl_bytes(bytes, sizeof bytes, sr->cache_evicted);
	printf("  memory    %s of %s held in page caches, %s evicted, "
	    "%" PRIu64 " refaults, %" PRIu64 " pressure events\n", held,
	    budget, bytes, sr->cache_refaults, sr->pressure_events);
}

/* The memory figures as JSON members, with the users' lines. */
static void
ctl_memory_json(const struct ctl_stats *st)
{
	const struct pd_stats_reply *sr = &st->sr;
	size_t i;

	printf("\"cache_budget\":%" PRIu64 ",\"cache_held\":%" PRIu64
	    ",\"cache_evicted\":%" PRIu64 ",\"cache_refaults\":%" PRIu64
	    ",\"pressure_events\":%" PRIu64, sr->cache_budget, sr->cache_held,
	    sr->cache_evicted, sr->cache_refaults, sr->pressure_events);
	printf(",\"cache_users\":[");
	for (i = 0; i < st->nusers; i++)
		printf("%s{\"uid\":%u,\"cache_held\":%" PRIu64
		    ",\"cache_share\":%" PRIu64 "}", i ? "," : "",
		    st->users[i].uid, st->users[i].cache_held,
		    st->users[i].cache_share);
	printf("]");
}

/* status -j: the same numbers, as one JSON object. */
static void
ctl_status_json(const struct ctl_stats *st, int memory)
{
	const struct pd_stats_reply *sr = &st->sr;
	const struct pd_counters *c = &sr->counters;
	int b;

	printf("{\"version\":");
	json_str(sr->version);
	printf(",\"uptime_ms\":%" PRIu64 ",\"workers\":%u,\"sessions\":%u,"
	    "\"regions\":%u,\"caches\":%u,\"faults\":%" PRIu64 ","
	    "\"errors\":%" PRIu64 ",\"pages_file\":%" PRIu64 ","
	    "\"pages_zero\":%" PRIu64 ",\"pages_poisoned\":%" PRIu64 ","
	    "\"eexist\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"bytes_read\":%"
	    PRIu64 ",\"pages_dirtied\":%" PRIu64 ",\"pages_written\":%"
	    PRIu64 ",\"snapshots\":%" PRIu64 ",\"violations\":%" PRIu64,
	    sr->uptime_ms, sr->workers, sr->sessions, sr->regions, sr->caches,
	    c->faults, c->errors, c->pages_file, c->pages_zero,
	    c->pages_poisoned, c->eexist, c->reads, c->bytes_read,
	    c->pages_dirtied, c->pages_written, c->snapshots, c->violations);
	if (memory) {
		printf(",");
		ctl_memory_json(st);
	}
	printf(",\"latency\":[");
	for (b = 0; b < PD_LATENCY_BUCKETS; b++)
		printf("%s%" PRIu64, b ? "," : "", sr->latency[b]);
	printf("]}\n");
}

void
ctl_status(char **args)
{
	struct ctl_stats st;
	struct pd_stats_reply *sr = &st.sr;
	struct pd_counters *c = &sr->counters;
	char bytes[32], held[32], share[32];
	uint64_t up;
	size_t i;
	int memory;

	ctl_stats(&st, 1);
	/* A daemon without page-out sent none of its numbers: 0. */
	memory = sr->cache_budget != 0;
	if (ctl_json) {
		ctl_status_json(&st, memory);
		free(st.users);
		return;
	}
	up = sr->uptime_ms / 1000;
	ctl_bytes(bytes, sizeof bytes, c->bytes_read);
	printf("pagerd %s on %s\n", sr->version, ctl_socket);
	printf("  up        %" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64
	    ", %u workers\n", up / 86400, up / 3600 % 24, up / 60 % 60,
	    up % 60, sr->workers);
	printf("  clients   %u sessions, %u regions, %u shared page caches\n",
	    sr->sessions, sr->regions, sr->caches);
	printf("  faults    %" PRIu64 " handled, %" PRIu64 " failed\n",
	    c->faults, c->errors);
	printf("  pages     %" PRIu64 " from files, %" PRIu64 " zero, %" PRIu64
	    " poisoned, %" PRIu64 " already present\n", c->pages_file,
	    c->pages_zero, c->pages_poisoned, c->eexist);
	printf("  reads     %" PRIu64 " of backing files, %s\n", c->reads,
	    bytes);
	printf("  writes    %" PRIu64 " pages dirtied, %" PRIu64 " written "
	    "back, %" PRIu64 " snapshots\n", c->pages_dirtied,
	    c->pages_written, c->snapshots);
	printf("  violations %" PRIu64 " writes to read-only regions\n",
	    c->violations);
	if (memory) {
		ctl_memory_line(sr);
		for (i = 0; i < st.nusers; i++) {
			ctl_bytes(held, sizeof held, st.users[i].cache_held);
			ctl_bytes(share, sizeof share,
			    st.users[i].cache_share);
			printf("  uid %-6u %s of its %s share held\n",
			    st.users[i].uid, held, share);
		}
	}
	ctl_latency(sr->latency);
	free(st.users);
}

/*
 * Each region of the client with session id: a bar of its pages, as
 * pagerctl map draws it. A region gone since the listing is left out.
 */
static void
ctl_top_regions(const union pd_msg *regs, size_t nregs, uint32_t session,
    int json)
{
	const struct pd_region_info *r;
	struct ctl_map m;
	char bar[CTL_MAP_MAXWIDTH + 1], path[4 * 128];
	size_t i;
	int n = 0;

	for (i = 0; i < nregs; i++) {
		r = &regs[i].region_info;
		if (r->session != session)
			continue;
		memset(&m, 0, sizeof m);
		if (ctl_map_read(&m, r->pid, r->start, ctl_width != 0 ?
		    ctl_width : CTL_TOP_WIDTH, 1) != 0)
			continue;
		ctl_map_bar(&m, bar);
		if (json) {
			printf("%s{\"region\":%u,\"start\":%" PRIu64
			    ",\"length\":%" PRIu64 ",\"backing\":\"%s\","
			    "\"file\":", n++ ? "," : "", r->region, r->start,
			    r->length, ctl_backing(r));
			json_str(r->path);
			printf(",\"bar\":\"%s\",\"counts\":{", bar);
			ctl_map_json_counts(&m);
			printf("}}");
		} else {
			ctl_escape(r->path, path, sizeof path);
			printf("%7s %014" PRIx64 " [%s] %s\n", "", r->start,
			    bar, r->backing == PD_BACKING_ZERO ? "zero-fill" :
			    path);
		}
		ctl_map_free(&m);
	}
}

/* One round of top -j: a JSON object on a line of its own. */
static void
ctl_top_json(long round, const struct ctl_stats *st, union pd_msg *now,
    size_t n, const uint64_t *df, const uint64_t *dp, const union pd_msg *regs,
    size_t nregs)
{
	struct pd_client_info *c;
	size_t i;

	printf("{\"round\":%ld,\"uptime_ms\":%" PRIu64 ",\"memory\":",
	    round, st->sr.uptime_ms);
	if (st->sr.cache_budget != 0) {
		printf("{");
		ctl_memory_json(st);
		printf("}");
	} else
		printf("null");
	printf(",\"clients\":[");
	for (i = 0; i < n; i++) {
		c = &now[i].client_info;
		printf("%s{\"session\":%u,\"pid\":%d,\"program\":",
		    i ? "," : "", c->session, c->pid);
		json_str(c->comm);
		printf(",\"uid\":%u,\"faults_per_s\":%" PRIu64
		    ",\"pages_per_s\":%" PRIu64 ",\"faults\":%" PRIu64
		    ",\"regions\":[", c->uid, df[i], dp[i], c->counters.faults);
		ctl_top_regions(regs, nregs, c->session, 1);
		printf("]}");
	}
	printf("]}\n");
}

/*
 * One round of top: the clients now, their rates since before, and a bar
 * of each of their regions.
 */
static void
ctl_top_round(long round, union pd_msg *now, size_t n, union pd_msg *before,
    size_t nb)
{
	union pd_msg *regs;
	struct pd_client_info *c, *b;
	struct ctl_stats st;
	size_t nregs, i, k;
	uint64_t *df, *dp;
	char comm[4 * 16];

	nregs = ctl_list(PD_MSG_REGIONS, PD_MSG_REGION_INFO, 0, &regs);
	ctl_stats(&st, ctl_json);
	if ((df = calloc(n + 1, sizeof *df)) == NULL ||
	    (dp = calloc(n + 1, sizeof *dp)) == NULL)
		err(1, "calloc");
	for (i = 0; i < n; i++) {
		c = &now[i].client_info;
		c->comm[sizeof c->comm - 1] = '\0';
		for (k = 0; k < nb; k++) {
			b = &before[k].client_info;
			if (b->session != c->session)
				continue;
			df[i] = c->counters.faults - b->counters.faults;
			dp[i] = c->counters.pages_file +
			    c->counters.pages_zero - b->counters.pages_file -
			    b->counters.pages_zero;
		}
	}
	for (i = 0; i < nregs; i++)
		regs[i].region_info.path[sizeof regs[i].region_info.path - 1] =
		    '\0';
	if (ctl_json)
		ctl_top_json(round, &st, now, n, df, dp, regs, nregs);
	else {
		if (isatty(STDOUT_FILENO))
			printf("\033[H\033[J");
		printf("pagerd on %s: %zu client%s\n", ctl_socket, n, n == 1 ?
		    "" : "s");
		if (st.sr.cache_budget != 0)
			ctl_memory_line(&st.sr);
		printf("%7s %-16s %12s %12s %10s\n", "PID", "PROGRAM",
		    "FAULTS/S", "PAGES/S", "FAULTS");
		for (i = 0; i < n; i++) {
			c = &now[i].client_info;
			ctl_escape(c->comm, comm, sizeof comm);
			printf("%7d %-16s %12" PRIu64 " %12" PRIu64 " %10"
			    PRIu64 "\n", c->pid, comm, df[i], dp[i],
			    c->counters.faults);
			ctl_top_regions(regs, nregs, c->session, 0);
		}
	}
	fflush(stdout);
	free(st.users);
	free(df);
	free(dp);
	free(regs);
}

/*
 * Live fault rates, every second, COUNT times (0 or none: until
 * interrupted): each client and a bar of each of its regions' pages.
 */
void
ctl_top(char **args)
{
	union pd_msg *now, *before = NULL;
	size_t n, nb = 0;
	const char *errstr;
	long count = 0, round;

	if (args[0] != NULL) {
		count = (long)strtonum(args[0], 0, 1000000, &errstr);
		if (errstr != NULL)
			errx(1, "count %s is %s (0: until interrupted)",
			    args[0], errstr);
	}
	for (round = 0; count == 0 || round <= count; round++) {
		n = ctl_list(PD_MSG_CLIENTS, PD_MSG_CLIENT_INFO, 0, &now);
		if (round > 0)
			ctl_top_round(round, now, n, before, nb);
		free(before);
		before = now;
		nb = n;
		if (count == 0 || round < count)
			sleep(1);
	}
	free(before);
}

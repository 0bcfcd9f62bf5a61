/*
 * pagerctl: ask a running pagerd how it is doing. Talks to the daemon over
 * its socket as a control session.
 *
 * usage: pagerctl [-hjV] [-s socket] [command [argument ...]]
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pagerd.h"
#include "procmaps.h"
#include "proto.h"
#include "ctl-recordings.h"

static const char *ctl_socket;
int ctl_json;			/* -j: listings as JSON */

static uint32_t ctl_caps;	/* PD_CAP_* the daemon agreed to */
static int ctl_greeted;		/* the daemon took our hello */

/* One answer of type (or of also, when not 0); exits on any failure. */
void
ctl_receive(int fd, union pd_msg *reply, uint32_t type, uint32_t also)
{
	char why[PD_REASON_MAX];
	struct proto_in in;
	int error;

	error = proto_recv(fd, &in, PD_TO_PEER, 0, 0, why, sizeof why);
	/* A refusal's reset comes before the reply that says why. */
	if (error == -ECONNRESET && (error = proto_recv(fd, &in, PD_TO_PEER,
	    MSG_DONTWAIT, 0, why, sizeof why)) < 0 && in.len == 0)
		error = -ECONNRESET;
	if (error == 0)
		errx(1, "%s: pagerd closed the connection", ctl_socket);
	if (error < 0 && in.len == 0)
		errx(1, "%s: %s", ctl_socket, strerror(-error));
	if (error < 0)
		errx(1, "%s: %s (a pagerd of another version?)", ctl_socket,
		    why);
	*reply = in.msg;
	if (reply->hdr.type == PD_MSG_REPLY && reply->reply.status != 0) {
		reply->reply.reason[sizeof reply->reply.reason - 1] = '\0';
		/* Only an older daemon finds our hello malformed. */
		if (!ctl_greeted && (reply->reply.status == -EBADMSG ||
		    reply->reply.status == -EPROTONOSUPPORT))
			errx(1, "pagerd refused the hello: %s (pagerd is older "
			    "than pagerctl %s and does not speak its protocol)",
			    reply->reply.reason, PACKAGE_VERSION);
		errx(1, "pagerd refused: %s", reply->reply.reason);
	}
	if (reply->hdr.type != type && (also == 0 || reply->hdr.type != also))
		errx(1, "pagerd answered %s, expected %s",
		    proto_type_name(reply->hdr.type), proto_type_name(type));
}

/* One request with nfds descriptors, then its answer. */
static void
ctl_exchange_fds(int fd, union pd_msg *msg, const int *fds, int nfds,
    union pd_msg *reply, uint32_t type, uint32_t also)
{
	int error;

	/*
	 * A daemon that refused the connection may have hung up before the
	 * hello went out: its reply, saying why, waits to be read all the
	 * same. Before the daemon's caps are known, the hello goes whole.
	 */
	error = proto_send(fd, msg, fds, nfds, msg->hdr.type == PD_MSG_HELLO ?
	    PD_CAP_EXTENSIBLE : ctl_caps, MSG_NOSIGNAL);
	if (error != 0 && error != -EPIPE && error != -ECONNRESET)
		errx(1, "send to %s: %s", ctl_socket, strerror(-error));
	ctl_receive(fd, reply, type, also);
}

void
ctl_exchange(int fd, union pd_msg *msg, union pd_msg *reply, uint32_t type,
    uint32_t also)
{
	ctl_exchange_fds(fd, msg, NULL, 0, reply, type, also);
}

int
ctl_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	union pd_msg msg, reply;
	int fd;

	if (strlen(ctl_socket) >= sizeof sun.sun_path)
		errx(1, "socket path %s is too long", ctl_socket);
	strcpy(sun.sun_path, ctl_socket);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		errx(1, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		errx(1, "connect %s: %s%s", ctl_socket, strerror(errno),
		    errno == ENOENT || errno == ECONNREFUSED ?
		    " (is pagerd running?)" : "");
	proto_init(&msg, PD_MSG_HELLO, 1);
	msg.hello.role = PD_ROLE_CONTROL;
	msg.hello.page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	ctl_greeted = 0;
	ctl_exchange(fd, &msg, &reply, PD_MSG_REPLY, 0);
	ctl_greeted = 1;
	/* An older daemon's reply ends before caps: they read 0. */
	ctl_caps = reply.reply.caps & PD_CAPS_ALL;
	return fd;
}

static void
ctl_bytes(char *buf, size_t len, uint64_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

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

/* A JSON string: quotes, backslashes and control characters escaped. */
void
json_str(const char *str)
{
	const unsigned char *c;

	putchar('"');
	for (c = (const unsigned char *)str; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

/* The daemon's totals, and (users) its users' page cache lines. */
struct ctl_stats {
	struct pd_stats_reply sr;
	struct pd_user_info *users;
	size_t nusers;
};

static void
ctl_stats(struct ctl_stats *st, int users)
{
	union pd_msg msg, reply;
	struct pd_user_info *v;
	size_t cap = 0;
	int fd;

	memset(st, 0, sizeof *st);
	fd = ctl_connect();
	proto_init(&msg, PD_MSG_STATS, 2);
	/* An older daemon takes the request cut to its size, no flags. */
	if (users && (ctl_caps & PD_CAP_EXTENSIBLE))
		msg.stats.flags = PD_STATS_USERS;
	ctl_exchange(fd, &msg, &reply, PD_MSG_STATS_REPLY, PD_MSG_USER_INFO);
	while (reply.hdr.type == PD_MSG_USER_INFO) {
		if (st->nusers == cap) {
			cap = cap ? cap * 2 : 16;
			if ((v = reallocarray(st->users, cap, sizeof *v)) ==
			    NULL)
				err(1, "reallocarray");
			st->users = v;
		}
		st->users[st->nusers++] = reply.user_info;
		ctl_receive(fd, &reply, PD_MSG_STATS_REPLY, PD_MSG_USER_INFO);
	}
	close(fd);
	st->sr = reply.stats_reply;
	st->sr.version[sizeof st->sr.version - 1] = '\0';
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

/* status -j: the same numbers, as one JSON object. */
static void
ctl_status_json(const struct ctl_stats *st, int memory)
{
	const struct pd_stats_reply *sr = &st->sr;
	const struct pd_counters *c = &sr->counters;
	size_t i;
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
		printf(",\"cache_budget\":%" PRIu64 ",\"cache_held\":%" PRIu64
		    ",\"cache_evicted\":%" PRIu64 ",\"cache_refaults\":%"
		    PRIu64 ",\"pressure_events\":%" PRIu64, sr->cache_budget,
		    sr->cache_held, sr->cache_evicted, sr->cache_refaults,
		    sr->pressure_events);
		printf(",\"cache_users\":[");
		for (i = 0; i < st->nusers; i++)
			printf("%s{\"uid\":%u,\"cache_held\":%" PRIu64
			    ",\"cache_share\":%" PRIu64 "}", i ? "," : "",
			    st->users[i].uid, st->users[i].cache_held,
			    st->users[i].cache_share);
		printf("]");
	}
	printf(",\"latency\":[");
	for (b = 0; b < PD_LATENCY_BUCKETS; b++)
		printf("%s%" PRIu64, b ? "," : "", sr->latency[b]);
	printf("]}\n");
}

static void
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

static void
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

/* Every record of a listing request, until the reply that ends it. */
static size_t
ctl_list(uint32_t type, uint32_t record, int32_t pid, union pd_msg **out)
{
	union pd_msg msg, reply, *recs = NULL, *n;
	size_t nrecs = 0, cap = 0;
	int fd;

	fd = ctl_connect();
	proto_init(&msg, type, 2);
	msg.list.pid = pid;
	ctl_exchange(fd, &msg, &reply, record, PD_MSG_REPLY);
	while (reply.hdr.type == record) {
		if (nrecs == cap) {
			cap = cap ? cap * 2 : 16;
			if ((n = reallocarray(recs, cap, sizeof *recs)) == NULL)
				err(1, "reallocarray");
			recs = n;
		}
		recs[nrecs++] = reply;
		ctl_receive(fd, &reply, record, PD_MSG_REPLY);
	}
	close(fd);
	*out = recs;
	return nrecs;
}

static void
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

static const char *
ctl_backing(const struct pd_region_info *r)
{
	return r->backing == PD_BACKING_ZERO ? "zero-fill" :
	    r->backing == PD_BACKING_CACHE ? "page-cache" : "file";
}

/* The mode of a region in words: "cow", "write-back", "read-only"... */
static const char *
ctl_mode(const struct pd_region_info *r)
{
	if (r->flags & PD_REGION_READONLY)
		return (r->flags & PD_REGION_REPORT) ? "read-only/report" :
		    "read-only/kill";
	if (r->flags & PD_REGION_WRITEBACK)
		return "write-back";
	if (r->flags & PD_REGION_WP)
		return "copy-on-write";
	return "missing";
}

static void
ctl_count(char *buf, size_t len, int64_t v)
{
	if (v < 0 || (uint64_t)v == PD_PAGES_UNKNOWN)
		strlcpy(buf, "-", len);
	else
		snprintf(buf, len, "%" PRId64, v);
}

static pid_t
ctl_pid(const char *arg)
{
	const char *errstr;
	long long pid = strtonum(arg, 1, INT32_MAX, &errstr);

	if (errstr != NULL)
		errx(1, "process id %s is %s", arg, errstr);
	if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
		errx(1, "no process %lld", pid);
	return (pid_t)pid;
}

static void
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

/* Live fault rates: the clients every second, COUNT times (0: forever). */
static void
ctl_top(char **args)
{
	/* (A count that is not a number is 0: forever.) */
	long count = args[0] != NULL ? (long)strtonum(args[0], 1, 1000000,
	    NULL) : 0;
	union pd_msg *now, *before = NULL;
	struct pd_client_info *c, *b;
	struct ctl_stats st;
	size_t n, nb = 0, i, k;
	uint64_t df, dp;
	long round;
	int tty = isatty(STDOUT_FILENO);

	for (round = 0; count == 0 || round <= count; round++) {
		n = ctl_list(PD_MSG_CLIENTS, PD_MSG_CLIENT_INFO, 0, &now);
		if (round > 0) {
			ctl_stats(&st, 0);
			if (tty)
				printf("\033[H\033[J");
			printf("pagerd on %s: %zu clients\n", ctl_socket, n);
			if (st.sr.cache_budget != 0)
				ctl_memory_line(&st.sr);
			printf("%7s %-16s %12s %12s %10s\n", "PID", "PROGRAM",
			    "FAULTS/S", "PAGES/S", "FAULTS");
			for (i = 0; i < n; i++) {
				c = &now[i].client_info;
				c->comm[sizeof c->comm - 1] = '\0';
				df = dp = 0;
				for (k = 0; k < nb; k++) {
					b = &before[k].client_info;
					if (b->session != c->session)
						continue;
					df = c->counters.faults -
					    b->counters.faults;
					dp = c->counters.pages_file +
					    c->counters.pages_zero -
					    b->counters.pages_file -
					    b->counters.pages_zero;
				}
				printf("%7d %-16s %12" PRIu64 " %12" PRIu64
				    " %10" PRIu64 "\n", c->pid, c->comm, df, dp,
				    c->counters.faults);
			}
			fflush(stdout);
		}
		free(before);
		before = now;
		nb = n;
		if (count == 0 || round < count)
			sleep(1);
	}
	free(before);
}

/* The daemon's region of pid holding addr, if any. */
static int
ctl_find_region(int32_t pid, uint64_t addr, struct pd_region_info *out)
{
	union pd_msg *recs;
	size_t n, i;
	int found = 0;

	n = ctl_list(PD_MSG_REGIONS, PD_MSG_REGION_INFO, pid, &recs);
	for (i = 0; i < n && !found; i++)
		if (recs[i].region_info.start <= addr && addr <
		    recs[i].region_info.start + recs[i].region_info.length) {
			*out = recs[i].region_info;
			found = 1;
		}
	free(recs);
	return found;
}

static void
ctl_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, buf, len - 1)) < 0)
		n = 0;
	buf[n] = '\0';
}

/*
 * The three questions for one address of any process: is it mapped (by
 * which mapping), what backs it, what may the process do with it; and is
 * it in memory now.
 */
static void
ctl_explain(char **args)
{
	const char *pidarg = args[0], *addrarg = args[1];
	struct pd_region_info reg;
	struct mapping *maps, *m = NULL;
	char exe[PATH_MAX], *end;
	uint64_t addr, entry = 0, page;
	size_t n, i;
	pid_t pid = ctl_pid(pidarg);
	int error, inreg, pm;

	errno = 0;
	addr = strtoull(addrarg, &end, 0);
	if (errno != 0 || *end != '\0' || end == addrarg)
		errx(1, "address %s is not a number (0x... for hex)", addrarg);
	if ((error = maps_read(pid, &maps, &n)) != 0)
		errx(1, "/proc/%d/maps: %s", (int)pid, strerror(-error));
	ctl_exe(pid, exe, sizeof exe);
	page = addr & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
	for (i = 0; i < n; i++)
		if (maps[i].start <= addr && addr < maps[i].end)
			m = &maps[i];
	inreg = ctl_find_region((int32_t)pid, addr, &reg);
	pm = m != NULL ? pagemap_entry(pid, page, &entry) : -ENOENT;

	if (ctl_json) {
		printf("{\"pid\":%d,\"address\":%" PRIu64 ",\"mapped\":%s",
		    (int)pid, addr, m != NULL ? "true" : "false");
		if (m != NULL) {
			printf(",\"mapping\":{\"start\":%" PRIu64 ",\"end\":%"
			    PRIu64 ",\"perms\":\"%s\",\"offset\":%" PRIu64
			    ",\"role\":\"%s\",\"path\":", m->start, m->end,
			    m->perms, m->offset, mapping_role(m, exe));
			json_str(m->path);
			printf("},\"read\":%s,\"write\":%s,\"execute\":%s,"
			    "\"private\":%s", m->perms[0] == 'r' ? "true" :
			    "false", m->perms[1] == 'w' ? "true" : "false",
			    m->perms[2] == 'x' ? "true" : "false",
			    m->perms[3] == 'p' ? "true" : "false");
		}
		printf(",\"pagerd\":%s", inreg ? "true" : "false");
		if (inreg)
			printf(",\"region\":{\"id\":%u,\"backing\":\"%s\","
			    "\"mode\":\"%s\",\"offset\":%" PRIu64 "}",
			    reg.region, ctl_backing(&reg), ctl_mode(&reg),
			    reg.offset + (addr - reg.start));
		if (pm == 0)
			printf(",\"resident\":%s,\"swapped\":%s,"
			    "\"write_protected\":%s", (entry & PM_PRESENT) ?
			    "true" : "false", (entry & PM_SWAPPED) ? "true" :
			    "false", (entry & PM_UFFD_WP) ? "true" : "false");
		printf("}\n");
		free(maps);
		return;
	}

	printf("address 0x%" PRIx64 " in process %d (%s)\n", addr, (int)pid,
	    exe[0] != '\0' ? exe : "?");
	if (m == NULL) {
		printf("  mapped:      no: nothing is mapped there; any access "
		    "gets SIGSEGV (SEGV_MAPERR)\n");
		free(maps);
		return;
	}
	printf("  mapped:      yes, by %" PRIx64 "-%" PRIx64 " %s %s (%s)\n",
	    m->start, m->end, m->perms, m->path[0] != '\0' ? m->path :
	    "[anonymous]", inreg ? "a pagerd region" : mapping_role(m, exe));
	if (inreg) {
		printf("  backed by:   pagerd region %u of session %u: %s",
		    reg.region, reg.session, ctl_backing(&reg));
		if (reg.backing != PD_BACKING_ZERO)
			printf(" %s offset 0x%" PRIx64, reg.path, reg.offset +
			    (addr - reg.start));
		printf(", served by pagerd (%s)\n",
		    reg.backing == PD_BACKING_CACHE ? "mapped from its shared "
		    "page cache" : reg.backing == PD_BACKING_ZERO ?
		    "zero-filled on first touch" : "copied in on first touch");
	} else if (m->path[0] == '\0' || m->path[0] == '[')
		printf("  backed by:   anonymous memory, zero-filled by the "
		    "kernel on first touch\n");
	else if (strncmp(m->path, "/memfd:", 7) == 0 || m->perms[3] == 's')
		printf("  backed by:   shared memory %s offset 0x%" PRIx64
		    ", paged by the kernel\n", m->path, m->offset +
		    (addr - m->start));
	else
		printf("  backed by:   file %s offset 0x%" PRIx64 ", paged by "
		    "the kernel\n", m->path, m->offset + (addr - m->start));
	printf("  may:         %s%s%s%s", m->perms[0] == 'r' ? "read " : "",
	    m->perms[1] == 'w' ? "write " : "", m->perms[2] == 'x' ?
	    "execute " : "", m->perms[0] == '-' && m->perms[1] == '-' &&
	    m->perms[2] == '-' ? "nothing (a guard or reservation) " : "");
	printf("(%s%s)\n", m->perms[3] == 'p' ? "private: writes are "
	    "copied on write" : "shared: writes reach the backing",
	    inreg && (reg.flags & PD_REGION_READONLY) ? "; pagerd treats "
	    "writes as violations" : inreg && (reg.flags & PD_REGION_WP) ?
	    "; pagerd tracks writes" : "");
	if (pm != 0)
		printf("  resident:    unknown: /proc/%d/pagemap: %s\n", (int)pid,
		    strerror(-pm));
	else
		printf("  resident:    %s%s\n", (entry & PM_PRESENT) ? "yes, "
		    "in memory" : (entry & PM_SWAPPED) ? "no, swapped out" :
		    inreg ? "no: the next touch faults to pagerd" : "no: the "
		    "next touch faults it in", (entry & PM_PRESENT) &&
		    (entry & PM_UFFD_WP) ? "; write-protected by userfaultfd" :
		    "");
	free(maps);
}

/* The whole address space as a table of mappings. */
static void
ctl_maps(char **args)
{
	const char *pidarg = args[0];
	union pd_msg *recs;
	struct mapping *maps, *m;
	char exe[PATH_MAX], res[24];
	const char *backing, *role;
	size_t n, nregs, i, k;
	pid_t pid = ctl_pid(pidarg);
	int64_t resident;
	int error;

	if ((error = maps_read(pid, &maps, &n)) != 0)
		errx(1, "/proc/%d/maps: %s", (int)pid, strerror(-error));
	ctl_exe(pid, exe, sizeof exe);
	nregs = ctl_list(PD_MSG_REGIONS, PD_MSG_REGION_INFO, (int32_t)pid,
	    &recs);
	if (ctl_json)
		printf("[");
	else
		printf("%-29s %5s %-22s %-10s %9s %9s  %s\n", "RANGE", "PERMS",
		    "ROLE", "BACKING", "RESIDENT", "PAGES", "PATH");
	for (i = 0; i < n; i++) {
		m = &maps[i];
		backing = m->path[0] == '\0' || m->path[0] == '[' ?
		    "anonymous" : m->perms[3] == 's' ? "shared" : "file";
		role = mapping_role(m, exe);
		for (k = 0; k < nregs; k++)
			if (recs[k].region_info.start < m->end && m->start <
			    recs[k].region_info.start +
			    recs[k].region_info.length) {
				backing = "pagerd";
				role = "pagerd region";
			}
		resident = pagemap_resident(pid, m->start, m->end);
		ctl_count(res, sizeof res, resident);
		if (!ctl_json) {
			printf("%014" PRIx64 "-%014" PRIx64 " %s  %-22s %-10s "
			    "%9s %9" PRIu64 "  %s\n", m->start, m->end, m->perms,
			    role, backing, res, (m->end -
			    m->start) / (uint64_t)sysconf(_SC_PAGESIZE),
			    m->path);
			continue;
		}
		printf("%s{\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"perms\":"
		    "\"%s\",\"role\":\"%s\",\"backing\":\"%s\",\"resident\":%s"
		    ",\"path\":", i ? "," : "", m->start, m->end, m->perms,
		    role, backing, res[0] == '-' ? "null" :
		    res);
		json_str(m->path);
		printf("}");
	}
	if (ctl_json)
		printf("]\n");
	free(recs);
	free(maps);
}

/*
 * A point-in-time image of another process's write-protected region,
 * written by the daemon to FILE while the process runs on.
 */
static void
ctl_snapshot(char **args)
{
	const char *pidarg = args[0], *addrarg = args[1], *file = args[2];
	union pd_msg msg, reply;
	pid_t pid = ctl_pid(pidarg);
	uint64_t addr;
	char *end;
	int fd, img;

	errno = 0;
	addr = strtoull(addrarg, &end, 0);
	if (errno != 0 || *end != '\0' || end == addrarg)
		errx(1, "address %s is not a number (0x... for hex)", addrarg);
	/*
	 * A new file only: run by root, following a user's symlink or
	 * truncating what is there would let the user have root's snapshot
	 * overwrite a file the user cannot write.
	 */
	if ((img = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		if (errno == EEXIST || errno == ELOOP)
			errx(1, "%s exists: a snapshot is written to a new file "
			    "only (never over a file, nor through a symbolic "
			    "link)", file);
		err(1, "%s", file);
	}
	fd = ctl_connect();
	proto_init(&msg, PD_MSG_SNAPSHOT_OF, 2);
	msg.snapshot_of.pid = (int32_t)pid;
	msg.snapshot_of.addr = addr;
	ctl_exchange_fds(fd, &msg, &img, 1, &reply, PD_MSG_REPLY, 0);
	close(img);
	printf("snapshot %u of pid %d at 0x%" PRIx64 ": the instant taken, "
	    "copying\n", reply.reply.value, (int)pid, addr);
	fflush(stdout);
	ctl_receive(fd, &reply, PD_MSG_NOTICE, 0);
	close(fd);
	reply.notice.reason[sizeof reply.notice.reason - 1] = '\0';
	if (reply.notice.status != 0)
		errx(1, "%s", reply.notice.reason);
	printf("%s, written to %s\n", reply.notice.reason, file);
}

/*
 * The commands, in the order usage() and pagerctl(8) give them. A handler
 * gets the command's arguments, NULL after the last; it exits on failure.
 */
static const struct ctl_command {
	const char *name;
	const char *args;	/* as usage() shows them */
	int min, max;		/* how many arguments */
	void (*run)(char **);
	const char *help;	/* a line each */
} ctl_commands[] = {
	{ "status", "", 0, 0, ctl_status, "version, uptime, workers, "
	    "clients, regions, caches, faults,\npages served, bytes read, "
	    "errors (the default)" },
	{ "violations", "", 0, 0, ctl_violations, "the recent protection "
	    "violations: writes to read-only\nregions, faults the kernel "
	    "caught in preloaded programs" },
	{ "clients", "", 0, 0, ctl_clients, "each client: pid, program, "
	    "regions, faults, pages" },
	{ "regions", "[PID]", 0, 1, ctl_regions, "each region: range, "
	    "backing, permissions, mode,\nresident and dirty pages, faults, "
	    "read-ahead" },
	{ "top", "[COUNT]", 0, 1, ctl_top, "live fault rates per client, "
	    "every second (COUNT times)" },
	{ "explain", "PID ADDR", 2, 2, ctl_explain, "is ADDR mapped in PID, "
	    "what backs it, what may PID do\nwith it, is it in memory" },
	{ "maps", "PID", 1, 1, ctl_maps, "PID's address space: mappings, "
	    "role, backing,\npermissions, resident pages" },
	{ "snapshot", "PID ADDR FILE", 3, 3, ctl_snapshot, "a live image of "
	    "the write-protected region of PID at ADDR" },
	{ "recordings", "[forget NAME|all]", 0, 2, ctl_recordings, "working-"
	    "set recordings: file, pages, program;\nforget removes one, or all" },
};

#define CTL_NCOMMANDS (sizeof ctl_commands / sizeof ctl_commands[0])
#define CTL_HELP_COLUMN 22	/* where usage() starts the help text */

static void
usage(FILE *f)
{
	const struct ctl_command *cmd;
	const char *p;
	char left[64];
	size_t i;

	fprintf(f, "usage: pagerctl [-hjV] [-s socket] [command [argument ...]]\n"
	    "  -h, --help          show this help and exit\n"
	    "  -j, --json          listings as JSON, for scripts\n"
	    "  -s, --socket PATH   the daemon's socket (default $PAGERD_SOCKET "
	    "or %s)\n"
	    "  -V, --version       show the version and exit\n"
	    "commands:\n", PAGERD_DEFAULT_SOCKET);
	for (i = 0; i < CTL_NCOMMANDS; i++) {
		cmd = &ctl_commands[i];
		snprintf(left, sizeof left, "%s%s%s", cmd->name,
		    cmd->args[0] != '\0' ? " " : "", cmd->args);
		/* Too long to leave two spaces: a line of its own. */
		if (strlen(left) > CTL_HELP_COLUMN - 4)
			fprintf(f, "  %s\n%*s", left, CTL_HELP_COLUMN, "");
		else
			fprintf(f, "  %-*s", CTL_HELP_COLUMN - 2, left);
		for (p = cmd->help; *p != '\0'; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fprintf(f, "%*s", CTL_HELP_COLUMN, "");
		}
		fputc('\n', f);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_command *cmd;
	const char *env;
	int ch, nargs;
	size_t i;

	while ((ch = getopt_long(argc, argv, "hjs:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case 'j':
			ctl_json = 1;
			break;
		case 's':
			ctl_socket = optarg;
			break;
		case 'V':
			printf("pagerctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (ctl_socket == NULL) {
		env = getenv("PAGERD_SOCKET");
		ctl_socket = env != NULL && *env != '\0' ? env :
		    PAGERD_DEFAULT_SOCKET;
	}
	/* No command: status, with no arguments (argv[argc] is NULL). */
	if (optind == argc) {
		ctl_status(argv + argc);
		return 0;
	}
	nargs = argc - optind - 1;
	for (i = 0; i < CTL_NCOMMANDS; i++) {
		cmd = &ctl_commands[i];
		if (strcmp(argv[optind], cmd->name) == 0 &&
		    nargs >= cmd->min && nargs <= cmd->max) {
			cmd->run(argv + optind + 1);
			return 0;
		}
	}
	fprintf(stderr, "pagerctl: unknown command or wrong arguments: %s\n",
	    argv[optind]);
	usage(stderr);
	return 1;
}

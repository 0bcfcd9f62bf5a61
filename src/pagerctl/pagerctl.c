/*
 * pagerctl: ask a running pagerd how it is doing. Talks to the daemon over
 * its socket as a control session.
 *
 * usage: pagerctl [-hV] [-s socket] [status]
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

#define PAGERD_DEFAULT_SOCKET "/run/pagerd/pagerd.sock"

static const char *ctl_socket;

static void
usage(FILE *f)
{
	fprintf(f, "usage: pagerctl [-hV] [-s socket] [command]\n"
	    "  -h, --help          show this help and exit\n"
	    "  -s, --socket PATH   the daemon's socket (default $PAGERD_SOCKET "
	    "or %s)\n"
	    "  -V, --version       show the version and exit\n"
	    "commands:\n"
	    "  status              version, uptime, workers, clients, regions, "
	    "caches, faults,\n"
	    "                      pages served, bytes read, errors (the "
	    "default)\n"
	    "  violations          the recent protection violations: writes "
	    "to read-only\n"
	    "                      regions, faults the kernel caught in "
	    "preloaded programs\n", PAGERD_DEFAULT_SOCKET);
}

/* One answer of type (or of also, when not 0); exits on any failure. */
static void
ctl_receive(int fd, union pd_msg *reply, uint32_t type, uint32_t also)
{
	char why[PD_REASON_MAX];
	ssize_t n;
	int error;

	n = recv(fd, reply, sizeof *reply, MSG_TRUNC);
	if (n <= 0)
		errx(1, "%s: %s", ctl_socket, n == 0 ? "pagerd closed the "
		    "connection" : strerror(errno));
	if ((size_t)n > sizeof *reply)
		errx(1, "%s: oversized answer", ctl_socket);
	if ((error = proto_check(reply, (size_t)n, 0, why, sizeof why)) != 0)
		errx(1, "%s: %s (a pagerd of another version?)", ctl_socket,
		    why);
	if (reply->hdr.type == PD_MSG_REPLY && reply->reply.status != 0) {
		reply->reply.reason[sizeof reply->reply.reason - 1] = '\0';
		errx(1, "pagerd refused: %s", reply->reply.reason);
	}
	if (reply->hdr.type != type && (also == 0 || reply->hdr.type != also))
		errx(1, "pagerd answered %s, expected %s",
		    proto_type_name(reply->hdr.type), proto_type_name(type));
}

/* One request, then its answer. */
static void
ctl_exchange(int fd, union pd_msg *msg, union pd_msg *reply, uint32_t type,
    uint32_t also)
{
	if (send(fd, msg, msg->hdr.size, MSG_NOSIGNAL) != msg->hdr.size)
		errx(1, "send to %s: %s", ctl_socket, strerror(errno));
	ctl_receive(fd, reply, type, also);
}

static int
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
	ctl_exchange(fd, &msg, &reply, PD_MSG_REPLY, 0);
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

static void
ctl_status(void)
{
	union pd_msg msg, reply;
	struct pd_stats_reply *sr = &reply.stats_reply;
	struct pd_counters *c = &sr->counters;
	char bytes[32];
	uint64_t up;
	int fd;

	fd = ctl_connect();
	proto_init(&msg, PD_MSG_STATS, 2);
	ctl_exchange(fd, &msg, &reply, PD_MSG_STATS_REPLY, 0);
	close(fd);
	sr->version[sizeof sr->version - 1] = '\0';
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
}

static void
ctl_violations(void)
{
	union pd_msg msg, reply;
	int fd, n = 0;

	fd = ctl_connect();
	proto_init(&msg, PD_MSG_VIOLATIONS, 2);
	ctl_exchange(fd, &msg, &reply, PD_MSG_NOTICE, PD_MSG_REPLY);
	while (reply.hdr.type == PD_MSG_NOTICE) {
		reply.notice.reason[sizeof reply.notice.reason - 1] = '\0';
		printf("%s\n", reply.notice.reason);
		n++;
		ctl_receive(fd, &reply, PD_MSG_NOTICE, PD_MSG_REPLY);
	}
	close(fd);
	if (n == 0)
		printf("no violations\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env;
	int ch;

	while ((ch = getopt_long(argc, argv, "hs:V", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
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
	if (optind == argc || (argc - optind == 1 &&
	    strcmp(argv[optind], "status") == 0)) {
		ctl_status();
		return 0;
	}
	if (argc - optind == 1 && strcmp(argv[optind], "violations") == 0) {
		ctl_violations();
		return 0;
	}
	fprintf(stderr, "pagerctl: unknown command %s\n", argv[optind]);
	usage(stderr);
	return 1;
}

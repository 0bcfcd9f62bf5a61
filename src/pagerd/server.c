/*
 * The listening socket and the acceptor: new connections are handed to
 * the workers in turn. Signals arrive here too, through a signalfd.
 */
#include "config.h"

#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"

static struct timespec server_started;
static int server_lfd = -1;
static int server_sfd = -1;
static struct op server_listen_op = { .kind = OP_LISTEN };
static struct op server_signal_op = { .kind = OP_SIGNAL };

static int
server_sockaddr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strlcpy(sun->sun_path, path, sizeof sun->sun_path) >=
	    sizeof sun->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Is a daemon answering on path? A socket nobody listens on is stale. */
static int
server_alive(const struct sockaddr_un *sun)
{
	int fd, alive;

	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	alive = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0;
	close(fd);
	return alive;
}

/* Create the socket's directory if it is missing (only the last level). */
static void
server_mkdir(const char *path)
{
	char *copy, *dir;

	if ((copy = strdup(path)) == NULL)
		fatal("strdup");
	dir = dirname(copy);
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	free(copy);
}

int
server_listen(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd;

	if (server_sockaddr(path, &sun) == -1)
		fatal("socket path %s", path);
	server_mkdir(path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			fatalx("%s exists and is not a socket", path);
		if (server_alive(&sun))
			fatalx("another pagerd is listening on %s", path);
		if (unlink(path) == -1)
			fatal("unlink stale socket %s", path);
		log_info("replaced the stale socket %s", path);
	}

	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	/* Any local user may hand memory to pagerd; see pagerd(8). */
	old = umask(0111);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("bind %s", path);
	umask(old);
	if (listen(fd, 128) == -1)
		fatal("listen %s", path);
	return fd;
}

static void
server_accept(void)
{
	static int next;
	int fd;

	for (;;) {
		fd = accept4(server_lfd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			/* EMFILE and friends: drop this one, keep serving. */
			log_warn("accept");
			return;
		}
		worker_handoff(&workers[next], fd);
		next = (next + 1) % nworkers;
	}
}

static void
server_shutdown(struct worker *w)
{
	int i;

	worker_cancel_poll(w, &server_listen_op);
	worker_cancel_poll(w, &server_signal_op);
	close(server_lfd);
	close(server_sfd);
	server_lfd = server_sfd = -1;
	unlink(opts.socket_path);
	for (i = 0; i < nworkers; i++)
		worker_stop(&workers[i]);
}

static void
server_signal(struct worker *w)
{
	struct signalfd_siginfo si;
	struct pd_stats_reply st;

	while (server_sfd != -1 &&
	    read(server_sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo != SIGUSR1) {
			log_info("%s: shutting down",
			    strsignal((int)si.ssi_signo));
			server_shutdown(w);
			return;
		}
		memset(&st, 0, sizeof st);
		session_stats_total(&st);
		log_info("%u sessions, %u regions, %llu faults, %llu pages "
		    "from files, %llu zero, %llu poisoned, %llu bytes read, "
		    "%llu errors", st.sessions, st.regions,
		    (unsigned long long)st.counters.faults,
		    (unsigned long long)st.counters.pages_file,
		    (unsigned long long)st.counters.pages_zero,
		    (unsigned long long)st.counters.pages_poisoned,
		    (unsigned long long)st.counters.bytes_read,
		    (unsigned long long)st.counters.errors);
	}
}

/*
 * The acceptor and the signal handler live in the first worker's ring:
 * the daemon needs no thread of its own besides the workers.
 */
void
server_start(struct worker *w, int lfd)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if ((server_sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) ==
	    -1)
		fatal("signalfd");
	server_lfd = lfd;
	clock_gettime(CLOCK_MONOTONIC, &server_started);
	worker_arm_poll(w, &server_listen_op, server_lfd);
	worker_arm_poll(w, &server_signal_op, server_sfd);
}

uint64_t
server_uptime_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - server_started.tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - server_started.tv_nsec) / 1000000);
}

/* A completion of the listening socket's or the signalfd's poll. */
void
server_ready(struct worker *w, struct op *op, const struct io_uring_cqe *cqe)
{
	int fd;

	if (cqe->res > 0) {
		if (op == &server_listen_op)
			server_accept();
		else
			server_signal(w);
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	op->armed = 0;
	fd = op == &server_listen_op ? server_lfd : server_sfd;
	if (fd != -1)
		worker_arm_poll(w, op, fd);
}

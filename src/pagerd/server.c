/*
 * The listening socket and the acceptor: new connections are handed to
 * the workers in turn; signals arrive here through a signalfd.
 */
#include "config.h"

#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"

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
server_accept(int lfd)
{
	static int next;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			/* EMFILE and friends: back off, keep serving. */
			log_warn("accept");
			usleep(10000);
			return;
		}
		worker_handoff(&workers[next], fd);
		next = (next + 1) % nworkers;
	}
}

/* Accept until SIGTERM or SIGINT; SIGUSR1 logs the totals. */
void
server_loop(int lfd)
{
	struct signalfd_siginfo si;
	struct pd_stats_reply st;
	struct pollfd pfd[2];
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) == -1)
		fatal("signalfd");

	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[0].revents & POLLIN)
			server_accept(lfd);
		if (!(pfd[1].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof si) != sizeof si)
			continue;
		if (si.ssi_signo == SIGUSR1) {
			memset(&st, 0, sizeof st);
			session_stats_total(&st);
			log_info("%u sessions, %u regions, %llu faults, %llu "
			    "pages from files, %llu zero, %llu poisoned, %llu "
			    "bytes read, %llu errors", st.sessions, st.regions,
			    (unsigned long long)st.counters.faults,
			    (unsigned long long)st.counters.pages_file,
			    (unsigned long long)st.counters.pages_zero,
			    (unsigned long long)st.counters.pages_poisoned,
			    (unsigned long long)st.counters.bytes_read,
			    (unsigned long long)st.counters.errors);
			continue;
		}
		log_info("%s: shutting down", strsignal((int)si.ssi_signo));
		break;
	}
	close(sfd);
}

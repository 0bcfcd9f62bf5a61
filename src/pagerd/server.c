/*
 * The listening socket and the acceptor: new connections are handed to
 * the workers in turn. Signals arrive here too, through a signalfd, and
 * the periodic tick (cache expiry, the watchdog) runs here: on a thread
 * of its own, which serves no fault, so that a worker stuck on a backing
 * file stops neither new sessions, nor signals, nor the watchdog's look
 * at the workers.
 */
#include "config.h"

#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "pagerd.h"

static struct timespec server_started;
static int server_activated;	/* the socket is systemd's: leave it */
static int server_lfd = -1;
static int server_sfd = -1;
static pthread_t server_thread;

/* A pause after accept fails for want of descriptors: poll would spin. */
#define SERVER_ACCEPT_BACKOFF_MS 100

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
		fatal("the socket's directory %s (-s for a socket "
		    "elsewhere)", dir);
	free(copy);
}

#ifdef HAVE_SYSTEMD
/*
 * The socket systemd passed has the unit's path, mode and group: log the
 * path it really has (the one clients must use), and say that the
 * configuration's socket settings, which cannot apply, do not.
 */
static void
server_activated_path(int fd, int mode, int gid)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof sun;
	char *path;

	memset(&sun, 0, sizeof sun);
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    len <= offsetof(struct sockaddr_un, sun_path) ||
	    sun.sun_path[0] == '\0') {
		log_info("listening on the socket systemd passed (no path)");
	} else {
		sun.sun_path[sizeof sun.sun_path - 1] = '\0';
		if ((path = strdup(sun.sun_path)) == NULL)
			fatal("strdup");
		if (strcmp(path, opts.socket_path) != 0)
			log_warnx("systemd passed the socket %s, not %s (the "
			    "configured or default path): clients must be told "
			    "it ($PAGERD_SOCKET, pagerd-run -s)", path,
			    opts.socket_path);
		opts.socket_path = path;
		log_info("listening on the socket systemd passed, %s", path);
	}
	if (mode != -1 || gid != -1)
		log_warnx("socket-mode and socket-group in pagerd.conf are "
		    "ignored: the socket is systemd's (SocketMode= and "
		    "SocketGroup= in pagerd.socket set them)");
}
#endif

/*
 * The listening socket: systemd's, when it started us with one (socket
 * activation: the socket outlives daemon restarts), else made at path
 * with mode (-1: any local user may connect) and group (-1: ours).
 */
int
server_listen(const char *path, int mode, int gid)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd;

#ifdef HAVE_SYSTEMD
	int n = sd_listen_fds(1);

	if (n > 1)
		fatalx("systemd passed %d sockets; pagerd takes one", n);
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
			fatalx("the socket systemd passed is not a listening "
			    "AF_UNIX SOCK_SEQPACKET socket (ListenSequentialPacket= "
			    "in the unit)");
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
			fatal("fcntl on the socket systemd passed");
		server_activated = 1;
		server_activated_path(fd, mode, gid);
		return fd;
	}
#endif
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
	/* By default any local user may hand memory to pagerd; pagerd(8). */
	old = umask(0111);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("bind %s", path);
	umask(old);
	if (mode != -1 && chmod(path, (mode_t)mode) == -1)
		fatal("chmod %s", path);
	if (gid != -1 && chown(path, (uid_t)-1, (gid_t)gid) == -1)
		fatal("chown %s", path);
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
			/* EMFILE and friends: the peer waits, others serve. */
			log_warn("accept");
			poll(NULL, 0, SERVER_ACCEPT_BACKOFF_MS);
			return;
		}
		worker_handoff(&workers[next], fd);
		next = (next + 1) % nworkers;
	}
}

static void
server_shutdown(void)
{
	int i;

	close(server_lfd);
	close(server_sfd);
	server_lfd = server_sfd = -1;
	if (!server_activated)
		unlink(opts.socket_path);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	store_conn_stop();
	for (i = 0; i < nworkers; i++)
		worker_stop(&workers[i]);
}

/*
 * Say what a stop does to the clients: their sessions close now (each is
 * logged by its pid and program), and each process with regions waits for
 * a daemon on the same socket for its re-attach timeout, then dies of
 * SIGBUS. A restart within that time keeps them; a stop ends them.
 */
static void
server_stop_log(int signo)
{
	struct pd_stats_reply st;

	memset(&st, 0, sizeof st);
	session_stats_total(&st);
	if (st.sessions == 0) {
		log_info("%s: shutting down; no clients", strsignal(signo));
		return;
	}
	log_warnx("%s: shutting down; %u sessions with %u regions close: a "
	    "client process with regions re-attaches to a pagerd started "
	    "again on %s within its PAGERD_REATTACH_TIMEOUT (5 s by default) "
	    "or ends with SIGBUS", strsignal(signo), st.sessions, st.regions,
	    opts.socket_path);
}

/* Read the signals that came; 1 when one of them stops the daemon. */
static int
server_signal(void)
{
	struct signalfd_siginfo si;
	struct pd_stats_reply st;

	while (server_sfd != -1 &&
	    read(server_sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			pagerd_reload();
			continue;
		}
		if (si.ssi_signo != SIGUSR1) {
			server_stop_log((int)si.ssi_signo);
			server_shutdown();
			return 1;
		}
		memset(&st, 0, sizeof st);
		session_stats_total(&st);
		log_info("%u sessions, %u regions, %llu faults, %llu pages "
		    "from files, %llu zero, %llu poisoned, %llu bytes read, "
		    "%llu errors, %llu pages of gone clients waiting to be "
		    "written back", st.sessions, st.regions,
		    (unsigned long long)st.counters.faults,
		    (unsigned long long)st.counters.pages_file,
		    (unsigned long long)st.counters.pages_zero,
		    (unsigned long long)st.counters.pages_poisoned,
		    (unsigned long long)st.counters.bytes_read,
		    (unsigned long long)st.counters.errors,
		    (unsigned long long)wp_retry_pages());
	}
	return 0;
}

/* The acceptor's loop: new sessions, signals and ticks until a stop. */
static void *
server_main(void *arg)
{
	struct pollfd pfd[3];
	uint64_t next, now;
	int timeout;

	(void)arg;
	next = monotonic_ns() + opts.tick_us * 1000;
	for (;;) {
		pfd[0] = (struct pollfd){ .fd = server_lfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = server_sfd, .events = POLLIN };
		/* Memory pressure (evict.c); poll skips a -1. */
		pfd[2] = (struct pollfd){ .fd = evict_pressure_fd(),
		    .events = POLLPRI };
		now = monotonic_ns();
		timeout = now >= next ? 0 : (int)((next - now + 999999) /
		    1000000);
		if (poll(pfd, 3, timeout) == -1 && errno != EINTR)
			fatal("acceptor: poll");
		if ((pfd[1].revents & POLLIN) && server_signal())
			return NULL;
		if (pfd[0].revents & POLLIN)
			server_accept();
		if (pfd[2].revents & (POLLERR | POLLHUP | POLLNVAL))
			evict_pressure_gone();
		else if (pfd[2].revents & POLLPRI)
			evict_pressure();
		if (monotonic_ns() >= next) {
			server_tick();
			next = monotonic_ns() + opts.tick_us * 1000;
		}
	}
}

/* Start the acceptor's thread on the listening socket lfd. */
void
server_start(int lfd)
{
	sigset_t set;
	int ret;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	if ((server_sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) ==
	    -1)
		fatal("signalfd");
	server_lfd = lfd;
	clock_gettime(CLOCK_MONOTONIC, &server_started);
	if ((ret = pthread_create(&server_thread, NULL, server_main,
	    NULL)) != 0) {
		errno = ret;
		fatal("acceptor: pthread_create");
	}
}

/* Wait for the acceptor to end, after a signal stopped the daemon. */
void
server_join(void)
{
	pthread_join(server_thread, NULL);
}

/* Tell systemd (if it asked) that the daemon serves now. */
void
server_ready_notify(void)
{
#ifdef HAVE_SYSTEMD
	sd_notifyf(0, "READY=1\nSTATUS=serving on %s with %d worker%s\n"
	    "MAINPID=%d", opts.socket_path, nworkers, nworkers == 1 ? "" : "s",
	    (int)getpid());
#endif
}

/*
 * Each tick of the acceptor: unused page caches past their time go, and
 * the caches are brought within their budget (evict.c).
 * If every worker has counted a tick in the last two looks, all are
 * making progress: keep systemd's watchdog fed. The workers tick as often
 * as the acceptor looks but out of phase with it, so one look may come
 * just before a healthy worker's tick; two in a row without one is a
 * stuck worker. It stops the keep-alives (two ticks are less than the
 * watchdog's period); systemd restarts the daemon, and its clients
 * re-attach.
 */
void
server_tick(void)
{
	static struct {
		uint64_t seen;		/* the worker's count at the last look */
		int missed;		/* looks since it last moved */
	} *look;
	uint64_t now;
	int i, alive = 1;

	cache_expire();
	evict_tick();
	if (!opts.watchdog)
		return;
	if (look == NULL && (look = calloc((size_t)nworkers,
	    sizeof *look)) == NULL)
		return;
	for (i = 0; i < nworkers; i++) {
		now = __atomic_load_n(&workers[i].heartbeat, __ATOMIC_RELAXED);
		look[i].missed = now == look[i].seen ? look[i].missed + 1 : 0;
		if (look[i].missed >= 2)
			alive = 0;
		look[i].seen = now;
	}
#ifdef HAVE_SYSTEMD
	if (alive)
		sd_notify(0, "WATCHDOG=1");
	else
		log_warnx("a worker made no progress for two ticks of %" PRIu64
		    " ms: no keep-alive sent", opts.tick_us / 1000);
#else
	(void)alive;
#endif
}

uint64_t
server_uptime_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - server_started.tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - server_started.tv_nsec) / 1000000);
}

/*
 * Description: a store whose host name resolves slowly does not hold up
 * the worker. In a mount namespace of the test, resolv.conf names a UDP
 * socket of the test's that reads queries and never answers; with one
 * worker, while one client maps a store nbd://NAME:PORT (the daemon's
 * resolver is waiting on that socket), another client connects, maps a
 * store on a unix socket and reads it well within the resolver's 2 s
 * timeout. The first fails after the resolver's timeouts with
 * EHOSTUNREACH, naming the store.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SIZE (4u << 20)
#define PAGE 4096u
#define NAMESERVER "127.0.3.53"

/* A name server that never answers, for this test's processes only. */
static int
silent_resolver(const char *dir)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons(53) };
	char path[512];
	const char *text = "nameserver " NAMESERVER "\n"
	    "options timeout:2 attempts:1\n";
	struct stat st;
	int sock;

	if (geteuid() != 0)
		harness_skip("a private resolv.conf needs root (a mount "
		    "namespace, port 53)");
	if (stat("/etc/resolv.conf", &st) == -1)
		harness_skip("no /etc/resolv.conf to stand in for");
	if (unshare(CLONE_NEWNS) == -1 || mount(NULL, "/", NULL, MS_REC |
	    MS_PRIVATE, NULL) == -1)
		harness_skip("no mount namespace: %s", strerror(errno));
	CHECK(inet_pton(AF_INET, NAMESERVER, &sin.sin_addr) == 1);
	CHECK((sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) != -1);
	if (bind(sock, (struct sockaddr *)&sin, sizeof sin) == -1)
		harness_skip("bind %s:53: %s", NAMESERVER, strerror(errno));
	snprintf(path, sizeof path, "%s/resolv.conf", dir);
	nbdkit_write_file(path, text);
	if (mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) == -1)
		harness_skip("bind mount on /etc/resolv.conf: %s",
		    strerror(errno));
	return sock;
}

/* The client of the store behind the silent name server. */
static void
slow_client(const char *sock)
{
	struct pagerd *pd;
	void *p;
	int error;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	error = pagerd_map_store(pd, "slow", 0, SIZE, PROT_READ, 0, &p);
	CHECKF(error == -EHOSTUNREACH, "map of the unresolvable store: %d "
	    "(%s), expected EHOSTUNREACH", error, pagerd_errmsg());
	CHECKF(strstr(pagerd_errmsg(), "store slow") != NULL, "%s",
	    pagerd_errmsg());
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d, f;
	struct pollfd pfd;
	struct nbdkit k;
	struct pagerd *pd;
	static char path[512];
	char conf[1024], buf[512];
	const unsigned char *m;
	double t0, took;
	int dns, status;
	size_t i;
	pid_t pid;
	void *p;

	nbdkit_need();
	nbdkit_files(&f);
	dns = silent_resolver(f.dir);
	nbdkit_start(&k, f.dir, "memory", "4M", NULL);
	/*
	 * The name is absolute (its trailing dot): no search domains, one
	 * query round of the resolver per attempt, so that every attempt
	 * fails within the library's reply timeout.
	 */
	snprintf(conf, sizeof conf, "store slow "
	    "nbd://pagerd-slow-resolver.test.:10809/\nstore fast %s\n", k.uri);
	/* One worker: both clients' sessions are its. */
	snprintf(path, sizeof path, "%s/pagerd.conf", f.dir);
	nbdkit_write_file(path, conf);
	harness_start(&d, "-f", path, "--workers", "1", NULL);

	fflush(NULL);
	CHECK((pid = fork()) != -1);
	if (pid == 0)
		slow_client(d.sock);
	/* The daemon is asking the name server now. */
	pfd = (struct pollfd){ .fd = dns, .events = POLLIN };
	if (poll(&pfd, 1, 5000) != 1) {
		kill(pid, SIGKILL);
		harness_wait(pid);
		harness_stop(&d);
		nbdkit_stop(&k);
		umount("/etc/resolv.conf");
		nbdkit_files_remove(f.dir);
		harness_skip("the resolver asked no name server (hosts in "
		    "nsswitch.conf without dns?)");
	}
	CHECK(recv(dns, buf, sizeof buf, 0) > 0);

	/* Another client of the same worker is served meanwhile. */
	t0 = harness_now_s();
	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(pd, "fast", 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	m = p;
	for (i = 0; i < SIZE; i += PAGE)
		CHECK(m[i] == 0);
	took = harness_now_s() - t0;
	CHECKF(waitpid(pid, &status, WNOHANG) == 0, "the slow store's client "
	    "ended before the other was served: the test proves nothing");
	/* The name server's silence lasts 2 s: a worker waiting takes that. */
	CHECKF(took < 1.5, "the other client took %.2f s while a host name "
	    "was being resolved: the worker waited for the name server",
	    took);
	pagerd_close(pd);

	CHECKF((status = harness_wait(pid)) == 0, "the slow store's client "
	    "failed (status %d)", status);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	nbdkit_stop(&k);
	close(dns);
	umount("/etc/resolv.conf");
	nbdkit_files_remove(f.dir);
	printf("a slow name server: another client served in %.3f s\n", took);
	return 0;
}

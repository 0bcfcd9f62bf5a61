/*
 * Description: a write-protected region of a store that the daemon
 * refuses (here: past uid-max-wp-mib) closes the descriptor of the
 * store's page cache the client sent once, not twice. Closed twice, the
 * second close took whatever the daemon had opened in between under that
 * number: another client's socket, accepted by another thread. So while
 * one client has such regions refused, over and over, others connect and
 * say hello: every one of them is answered, and the daemon stays up.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eedf00dull
#define SIZE (4u << 20)
#define REFUSALS 400

/* Has write-protected regions of store img refused, REFUSALS times. */
static void
refused(const char *sock)
{
	struct pagerd *pd;
	void *addr;
	int i, error;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	for (i = 0; i < REFUSALS; i++) {
		error = pagerd_map_store(pd, "img", 0, SIZE, PROT_READ |
		    PROT_WRITE, PAGERD_MAP_WRITEBACK, &addr);
		CHECKF(error == -EDQUOT, "a write-protected region past "
		    "uid-max-wp-mib: %d (%s), expected EDQUOT", error,
		    pagerd_errmsg());
	}
	pagerd_close(pd);
	_exit(0);
}

int
main(void)
{
	struct harness_daemon d, f;
	struct nbdkit k;
	char path[512], conf[1024];
	int uffd, sock, status, hellos = 0;
	pid_t pid;

	nbdkit_image(&f, SIZE, SEED, path, sizeof path);
	nbdkit_start(&k, f.dir, "file", path, NULL);
	snprintf(conf, sizeof conf, "store img %s\nuid-max-wp-mib 1\n",
	    k.uri);
	harness_start_conf(&d, conf);

	CHECK((pid = fork()) != -1);
	if (pid == 0)
		refused(d.sock);
	/* Each hello fails (CHECK) where its socket was closed under it. */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		sock = harness_raw_hello_client(d.sock, &uffd);
		close(sock);
		close(uffd);
		hellos++;
	}
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the refused "
	    "client: status 0x%x", status);
	printf("%d refusals, %d hellos answered alongside\n", REFUSALS,
	    hellos);
	nbdkit_end(&d, &k, f.dir);
	return 0;
}

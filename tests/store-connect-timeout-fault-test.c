/*
 * Description: a fault whose store read waits for a connection that
 * never gets its NBD handshake gets SIGBUS after store-connect-timeout.
 * nbdkit is killed while a client's read is out (its delay filter holds
 * it), and a socket that takes connections and never answers them
 * replaces the server's: the daemon's connection attempt hangs in the
 * handshake, is given up after 2 s (store-connect-timeout), and the
 * read fails with ETIMEDOUT: the client dies of SIGBUS, the log and
 * pagerctl stores (the store's error) say why.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed3019ull
#define SIZE (8u << 20)

int
main(void)
{
	struct harness_daemon d, f;
	struct nbdkit k;
	char path[512], conf[1024], out[8192];
	int l, status, i;
	pid_t pid;

	nbdkit_image(&f, SIZE, SEED, path, sizeof path);
	nbdkit_start(&k, f.dir, "-v", "--filter=delay", "file", path,
	    "delay-read=3", NULL);
	snprintf(conf, sizeof conf, "store-connect-timeout 2\nstore img %s\n",
	    k.uri);
	harness_start_conf(&d, conf);

	/* The read is at the server, which holds it for 3 s. */
	pid = nbdkit_touch_held(&d, &k, SIZE, 4u << 20, SEED);
	nbdkit_kill(&k);
	/* In its place, a server that takes the connection, says nothing. */
	l = harness_silent_server(k.sock);

	status = harness_wait(pid);
	CHECKF(status == 128 + SIGBUS, "the client of a store that never "
	    "answers: status %d, expected death by SIGBUS", status);
	/* The log may come after the client's end. */
	for (i = 0; i < 500 && (!harness_log_has(&d, "no NBD handshake "
	    "within") || !harness_log_has(&d, "timed out")); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(&d, "no NBD handshake within"), "no log line "
	    "says the handshake never came");
	CHECKF(harness_log_has(&d, "timed out"), "no log line gives the "
	    "fault's error (ETIMEDOUT)");
	/* A request that came after the failure may be connecting anew. */
	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF((strstr(out, "\"state\":\"failing\"") != NULL || strstr(out,
	    "\"state\":\"connecting\"") != NULL) && strstr(out,
	    "\"error\":\"no NBD handshake within 2 s (store-connect-timeout)"
	    "\"") != NULL, "pagerctl stores does not say the store failed for "
	    "store-connect-timeout: %s", out);
	CHECKF(harness_alive(&d), "the daemon died");
	harness_stop(&d);
	close(l);
	unlink(k.sock);
	unlink(path);
	nbdkit_files_remove(f.dir);
	printf("a read waiting for a handshake that never comes: SIGBUS "
	    "after store-connect-timeout\n");
	return 0;
}

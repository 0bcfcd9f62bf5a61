/*
 * Description: a session that asks for a store's page cache and never
 * adds a region of it does not keep the cache, nor the store once it is
 * retired, for the session's life. An unprivileged client (pagerd-ta,
 * speaking the protocol itself) gets the store's cache and stays
 * connected without a region; the store's line goes at a reload: within
 * seconds (the daemon lets go of a cache held in no region after 10 s)
 * the retired store is freed and gone from pagerctl stores, while the
 * client's session is still served.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eed481aull
#define SIZE (4u << 20)
/* The hold (10 s), a tick, a loaded machine. */
#define WITHIN_MS 40000

static struct harness_daemon d;
static int ready[2], go[2];

/* Holds the store's cache in no region while the store is retired. */
static void
holder(void)
{
	union pd_msg msg;
	int sock, uffd;
	char c;

	harness_become_user("pagerd-ta");
	sock = harness_raw_hello_client(d.sock, &uffd);
	proto_init(&msg, PD_MSG_STORE, 2);
	memcpy(msg.store.name, "s", sizeof "s");
	CHECK(harness_raw_send(sock, &msg, msg.hdr.size, NULL, 0) == 0);
	CHECK(harness_raw_recv(sock, &msg, 20000) > 0);
	CHECKF(msg.hdr.type == PD_MSG_CACHE_REPLY, "the store's cache was "
	    "not given: %d %s", msg.hdr.type, msg.hdr.type == PD_MSG_REPLY ?
	    msg.reply.reason : "");
	CHECK(write(ready[1], "x", 1) == 1);
	/* The parent retires the store and sees it go meanwhile. */
	CHECK(read(go[0], &c, 1) == 1);
	proto_init(&msg, PD_MSG_STATS, 3);
	CHECK(harness_raw_send(sock, &msg, msg.hdr.size, NULL, 0) == 0);
	CHECK(harness_raw_recv(sock, &msg, 5000) > 0);
	CHECKF(msg.hdr.type == PD_MSG_STATS_REPLY && msg.hdr.seq == 3,
	    "the session was not answered after its cache went: type %d",
	    msg.hdr.type);
	close(sock);
	close(uffd);
}

int
main(void)
{
	struct harness_daemon f;
	struct nbdkit k;
	char img[512], conf[512], text[1024], out[8192], c;
	pid_t pid;
	int i;

	harness_need_root();
	harness_test_user("pagerd-ta");
	nbdkit_image(&f, SIZE, SEED, img, sizeof img);
	nbdkit_start(&k, f.dir, "file", img, NULL);
	snprintf(conf, sizeof conf, "%s/pagerd.conf", f.dir);
	snprintf(text, sizeof text, "log-level debug\nstore s %s\n", k.uri);
	nbdkit_write_file(conf, text);
	harness_start(&d, "-f", conf, NULL);

	CHECK(pipe(ready) == 0 && pipe(go) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(ready[0]);
		close(go[1]);
		holder();
		_exit(0);
	}
	CHECK(pid != -1);
	close(ready[1]);
	close(go[0]);
	CHECKF(read(ready[0], &c, 1) == 1, "the holder failed before it had "
	    "the cache");
	nbdkit_reload(&d, conf, "log-level debug\n", 1);
	for (i = 0; i < WITHIN_MS / 100 && !harness_log_has(&d, "store s: "
	    "retired, and its last region went: freed"); i++)
		harness_sleep_ms(100);
	CHECKF(harness_log_has(&d, "store s: retired, and its last region "
	    "went: freed"), "the retired store whose cache a session holds "
	    "in no region was not freed in %d s", WITHIN_MS / 1000);
	CHECKF(harness_log_has(&d, "opened in no region for"), "no log line "
	    "says the session's cache was let go");
	harness_pagerctl(NULL, d.sock, "-j stores", out, sizeof out);
	CHECKF(strstr(out, "\"name\":\"s\"") == NULL, "the retired store is "
	    "still listed: %s", out);
	CHECK(write(go[1], "x", 1) == 1);
	CHECKF(harness_wait(pid) == 0, "the holder's session was not served "
	    "on");
	nbdkit_end(&d, &k, f.dir);
	printf("a store cache held in no region is let go; the retired store "
	    "goes\n");
	return 0;
}

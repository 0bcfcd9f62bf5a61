/*
 * Description: a client cannot cut a store's page cache short under the
 * daemon. The daemon fills a store's cache from its NBD connection in its
 * own address space (libnbd zeroes and copies into the buffer there), so
 * a cache file another process shrank would kill it with SIGBUS. An
 * unprivileged user (pagerd-ta) maps a store, truncates the cache
 * descriptor it was handed to nothing, and touches pages of the region:
 * the truncation must fail, the daemon live on and serve every page
 * right, to this user and to another (pagerd-tb).
 */
#include "config.h"

#include <sys/mman.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"
#include "nbdkit.h"

#define SEED 0x5eedc07eull
#define SIZE (8u << 20)

static struct harness_daemon d;

static int cache_fd = -1, cutting = 1;
static sigjmp_buf bus_jmp;

static void
on_bus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/* Cut the cache short and make it whole again, over and over. */
static void *
cutter_main(void *arg)
{
	unsigned long *cuts = arg;

	while (__atomic_load_n(&cutting, __ATOMIC_RELAXED)) {
		if (ftruncate(cache_fd, 0) == 0)
			(*cuts)++;
		if (ftruncate(cache_fd, SIZE) == -1)
			break;
	}
	return NULL;
}

/* The descriptors of this process that are page caches: one kept. */
static int
cut_caches(void)
{
	char path[300], link[256];
	struct dirent *e;
	int n = 0;
	ssize_t len;
	DIR *dir;

	CHECK((dir = opendir("/proc/self/fd")) != NULL);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		if ((len = readlink(path, link, sizeof link - 1)) <= 0)
			continue;
		link[len] = '\0';
		/* A memfd, or an unnamed file of the daemon's tmpfs. */
		if (strstr(link, "pagerd-cache") == NULL &&
		    strstr(link, "(deleted)") == NULL)
			continue;
		n++;
		cache_fd = atoi(e->d_name);
	}
	closedir(dir);
	CHECKF(n > 0, "the client holds no page cache descriptor");
	return n;
}

/* As user, the whole store, mapped on a new connection (*pd). */
static unsigned char *
map_img(const char *user, struct pagerd **pd)
{
	void *addr;

	harness_become_user(user);
	CHECKF(pagerd_connect(d.sock, pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_store(*pd, "img", 0, SIZE, PROT_READ, 0, &addr) ==
	    0, "map: %s", pagerd_errmsg());
	return addr;
}

static void
attacker(void)
{
	struct pagerd *pd;
	unsigned char *m;
	volatile size_t i;
	unsigned long cuts = 0;
	pthread_t t;

	m = map_img("pagerd-ta", &pd);
	harness_check_range(m, 0, 4096, SEED, SIZE);
	cut_caches();
	CHECK(pthread_create(&t, NULL, cutter_main, &cuts) == 0);
	/*
	 * Each touch is a fill the daemon's store connection makes, unless
	 * the cache is cut short at the touch (SIGBUS here: skipped).
	 */
	signal(SIGBUS, on_bus);
	for (i = 1; i < SIZE / 4096; i++) {
		if (sigsetjmp(bus_jmp, 1) != 0)
			continue;
		(void)*(volatile unsigned char *)(m + i * 4096);
	}
	__atomic_store_n(&cutting, 0, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	CHECKF(cuts == 0, "the client cut its page cache short %lu times",
	    cuts);
	pagerd_close(pd);
}

static void
victim(void)
{
	struct pagerd *pd;
	unsigned char *m;

	m = map_img("pagerd-tb", &pd);
	harness_check_range(m, 0, SIZE, SEED, SIZE);
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon f;
	struct nbdkit k;
	char path[512], conf[1024];

	harness_test_user("pagerd-ta");
	harness_test_user("pagerd-tb");
	nbdkit_image(&f, SIZE, SEED, path, sizeof path);
	nbdkit_start(&k, f.dir, "file", path, NULL);
	snprintf(conf, sizeof conf, "store img %s\n", k.uri);
	harness_start_conf(&d, conf);

	harness_clients(&d, 1, attacker, "");
	CHECKF(harness_alive(&d), "the daemon died of a page cache a client "
	    "cut short");
	harness_clients(&d, 1, victim, "");
	nbdkit_end(&d, &k, f.dir);
	printf("a store's page cache cannot be cut short by a client\n");
	return 0;
}

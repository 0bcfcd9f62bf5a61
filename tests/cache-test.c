/*
 * Description: the shared page cache. Two client processes map one file:
 * the second gets every page mapped from the cache the first one filled,
 * without a single read of the file; each one's writes stay private to
 * it (the other and the file keep the original bytes), also a write that
 * is a page's first touch. Once both have gone the cache lingers: a third
 * client reads nothing either; after the file changes, a fourth gets the
 * new bytes, never the cached ones (and the old cache goes). With
 * cache-linger 1 a cache goes a second after its last client, with
 * cache-linger 0 at once; a deleted file's cache goes at once.
 */
#include "config.h"

#include <sys/mman.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed000aull
#define SIZE (32u << 20)
#define PAGE 4096u

static void
client(const char *sock, const char *path, int first, int say, int hear)
{
	struct pagerd_stats st;
	struct pagerd *pd;
	unsigned char *p, *q;
	char c;
	int fd;

	p = harness_map_cached(&pd, sock, path, SIZE, PROT_READ | PROT_WRITE);
	harness_check_range(p, 0, SIZE, SEED, UINT64_MAX);
	CHECKF(pagerd_stats(pd, &st) == 0, "stats: %s", pagerd_errmsg());
	if (first) {
		CHECK(st.reads > 0);
		/* A write before any read of a page of a fresh mapping. */
		CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
		CHECKF(pagerd_map_file(pd, fd, 0, 64 * PAGE, PROT_READ |
		    PROT_WRITE, 0, (void **)&q) == 0, "map: %s",
		    pagerd_errmsg());
		close(fd);
		q[7 * PAGE + 1] = 0x5a;
		CHECK(q[7 * PAGE + 1] == 0x5a);
		harness_check_range(q + 7 * PAGE, 7 * PAGE, 1, SEED,
		    UINT64_MAX);
		harness_check_range(q + 8 * PAGE, 8 * PAGE, PAGE, SEED,
		    UINT64_MAX);
		CHECK(pagerd_unmap(pd, q) == 0);
		/* A private write, before the other client reads. */
		memset(p + 3 * PAGE, 0xee, PAGE);
		CHECK(write(say, "a", 1) == 1);
		CHECK(read(hear, &c, 1) == 1);
		CHECK(p[3 * PAGE] == 0xee && p[4 * PAGE - 1] == 0xee);
	} else {
		CHECKF(st.reads == 0, "the second client caused %llu reads of "
		    "the file", (unsigned long long)st.reads);
		CHECKF(st.pages_file >= SIZE / PAGE, "%llu pages mapped",
		    (unsigned long long)st.pages_file);
		memset(p + 5 * PAGE, 0xdd, PAGE);
		CHECK(write(say, "b", 1) == 1);
	}
	pagerd_close(pd);
	_exit(0);
}

/*
 * A new client process maps the whole file and checks it holds seed's
 * bytes; exits 0 if it read nothing from the file, 1 if it did.
 */
static int
scan(const char *sock, const char *path, uint64_t seed)
{
	struct pagerd_stats st;
	struct pagerd *pd;
	void *p;
	pid_t pid;
	int fd;

	fflush(NULL);
	if ((pid = fork()) == 0) {
		CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
		    pagerd_errmsg());
		CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
		CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
		    "map: %s", pagerd_errmsg());
		close(fd);
		harness_check_range(p, 0, SIZE, seed, UINT64_MAX);
		CHECK(pagerd_stats(pd, &st) == 0);
		pagerd_close(pd);
		_exit(st.reads == 0 ? 0 : 1);
	}
	return harness_wait(pid);
}

/*
 * Once the daemon has no client, it must come to n open caches (when says
 * where): a region that went with its session lets go of its cache just
 * after the count of regions drops, or once its last read completes.
 */
static void
idle_caches(const char *sock, unsigned int n, const char *when)
{
	harness_wait_idle(sock);
	harness_wait_caches(sock, n, when);
}

/*
 * Until the daemon's one cache lingers: the last client's region let go
 * of it, which it does once its last read (read-ahead past its last
 * fault) completes. A client before then may find pages still being read
 * and read them itself.
 */
static void
lingering(const char *sock, const char *when)
{
	char out[8192];
	int i;

	for (i = 0; i < 500; i++) {
		harness_pagerctl(NULL, sock, "-j caches", out, sizeof out);
		if (strstr(out, "\"lingering\":true") != NULL)
			return;
		harness_sleep_ms(10);
	}
	harness_fail(__FILE__, __LINE__, "%s: no cache lingers 5 s after the "
	    "last client: %s", when, out);
}

/*
 * Until the daemon has taken in this process's rewrite of the file in
 * place: its watch drops the file's caches on each write event it reads,
 * a new cache filled meanwhile too, and names the writer (once, a second
 * after its first event). A daemon without a watch has nothing to wait for.
 */
static void
written(const struct harness_daemon *d)
{
	char who[64];
	int i;

	if (!harness_log_has(d, "cached files are watched with"))
		return;
	snprintf(who, sizeof who, "was written by pid %d (", (int)getpid());
	for (i = 0; i < 1000 && !harness_log_has(d, who); i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_has(d, who), "the daemon did not see the file "
	    "rewritten in 10 s");
}

/*
 * A daemon whose configuration file, conf in home's directory, says
 * cache-linger seconds.
 */
static void
start_lingering(struct harness_daemon *d, const struct harness_daemon *home,
    int seconds, char *conf, size_t len)
{
	FILE *f;

	snprintf(conf, len, "%s/linger-%d.conf", home->dir, seconds);
	CHECK((f = fopen(conf, "we")) != NULL);
	fprintf(f, "cache-linger %d\n", seconds);
	CHECK(fclose(f) == 0);
	harness_start(d, "-f", conf, NULL);
}

/* Lingering: reuse, a changed file, expiry and no lingering at all. */
static void
linger(struct harness_daemon *d, const char *path)
{
	struct harness_daemon d1;
	char conf[400], again[512];
	struct pagerd *pd;
	int fd, status;
	void *p;

	idle_caches(d->sock, 1, "after the last client");
	CHECKF((status = scan(d->sock, path, SEED)) == 0, "a client after "
	    "the last one left read the file (status %d)", status);
	harness_make_file(d, "data", SIZE, SEED + 1, again, sizeof again);
	CHECK(strcmp(again, path) == 0);
	written(d);
	CHECKF((status = scan(d->sock, path, SEED + 1)) == 1, "a client of "
	    "the changed file read nothing from it (status %d)", status);
	lingering(d->sock, "the changed file's first client");
	CHECKF((status = scan(d->sock, path, SEED + 1)) == 0, "the changed "
	    "file's cache did not linger (status %d)", status);
	idle_caches(d->sock, 1, "the cache of the file as it was must go");

	start_lingering(&d1, d, 1, conf, sizeof conf);
	CHECK(scan(d1.sock, path, SEED + 1) == 1);
	/* Expiry comes with the daemon's tick, once a second. */
	idle_caches(d1.sock, 0, "5 s after the last client, with "
	    "cache-linger 1");
	harness_stop(&d1);
	unlink(conf);
	start_lingering(&d1, d, 0, conf, sizeof conf);
	CHECK(scan(d1.sock, path, SEED + 1) == 1);
	idle_caches(d1.sock, 0, "with cache-linger 0");
	CHECK(scan(d1.sock, path, SEED + 1) == 1);
	harness_stop(&d1);
	unlink(conf);

	/* A deleted file's cache goes with its last client. */
	CHECK(pagerd_connect(d->sock, &pd) == 0);
	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ, 0, &p) == 0,
	    "map: %s", pagerd_errmsg());
	close(fd);
	harness_check_range(p, 0, PAGE, SEED + 1, UINT64_MAX);
	CHECK(unlink(path) == 0);
	pagerd_close(pd);
	idle_caches(d->sock, 0, "the cache of a deleted file");
}

int
main(void)
{
	struct harness_daemon d;
	char path[512], buf[PAGE];
	int ab[2], ba[2], fd, status;
	pid_t a, b;

	harness_start(&d, NULL);
	harness_make_file(&d, "data", SIZE, SEED, path, sizeof path);
	CHECK(pipe(ab) == 0 && pipe(ba) == 0);
	fflush(NULL);
	if ((a = fork()) == 0)
		client(d.sock, path, 1, ab[1], ba[0]);
	/* The second client starts once the first has read everything. */
	CHECK(read(ab[0], buf, 1) == 1 || harness_wait(a) == 77);
	fflush(NULL);
	if ((b = fork()) == 0)
		client(d.sock, path, 0, ba[1], ab[0]);
	status = harness_wait(b);
	if (status == 77)
		harness_skip("no shared page cache on this kernel");
	CHECKF(status == 0, "the second client failed (status %d)", status);
	CHECKF(harness_wait(a) == 0, "the first client failed");

	CHECK((fd = open(path, O_RDONLY)) != -1);
	CHECK(pread(fd, buf, PAGE, 3 * PAGE) == PAGE);
	harness_check_range(buf, 3 * PAGE, PAGE, SEED, UINT64_MAX);
	CHECK(pread(fd, buf, PAGE, 5 * PAGE) == PAGE);
	harness_check_range(buf, 5 * PAGE, PAGE, SEED, UINT64_MAX);
	close(fd);
	linger(&d, path);
	harness_wait_idle(d.sock);
	harness_stop(&d);
	unlink(path);
	printf("shared page cache: second client mapped every page, no read; "
	    "writes private; it lingers, never stale, and expires\n");
	return 0;
}

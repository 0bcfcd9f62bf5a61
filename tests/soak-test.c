/*
 * Description: 64 client processes at once for a bounded time
 * (PAGERD_SOAK_SECONDS, default 15), replaced as they end: each maps a
 * shared file and a zero region, touches random pages checking every byte,
 * unmaps and maps again, sometimes forks a child that touches its copies,
 * and ends at a random moment: normally, with _exit and no goodbye, or
 * killed with SIGKILL by the parent. Every client not killed must exit 0
 * (all bytes right). Afterwards the daemon has no session or region left,
 * holds the descriptors it held before, its heap (anonymous memory: not
 * the file's page cache, which lingers and has a budget of its own) has
 * not grown by more than 16 MiB, and it is alive. Measured: +1 MiB in a
 * plain build, flat after the first seconds (40 s, 480,000 faults).
 * Under AddressSanitizer the freed memory ASan holds back (a quarantine of
 * 16 MiB, see harness.c, kept resident with its redzones and shadow) and
 * its allocator's caches add ~30 MiB, which fill in the first ~10 s and
 * stay: an allowance of 48 MiB more there.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SEED 0x5eed000full
#define PAGE 4096u
#define FILE_SIZE (8u << 20)
#define ZERO_SIZE (2u << 20)
#define CLIENTS 64
/* The most the daemon's heap may grow, KiB; and more under ASan. */
#define GROWTH_KIB (16 * 1024)
#define ASAN_GROWTH_KIB (48 * 1024)

static const char *sock, *path;

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void
touch(unsigned char *f, unsigned char *z, uint64_t *x, int n)
{
	uint64_t off, w;
	int i;

	for (i = 0; i < n; i++) {
		off = rnd(x) % (FILE_SIZE / 8) * 8;
		memcpy(&w, f + off, 8);
		CHECKF(w == harness_word(off, SEED), "file offset %" PRIu64,
		    off);
		off = rnd(x) % ZERO_SIZE;
		CHECKF(z[off] == 0 || z[off] == (unsigned char)(off % 251 + 1),
		    "zero region offset %" PRIu64, off);
		z[off] = (unsigned char)(off % 251 + 1);
	}
}

static void
client(uint64_t seed)
{
	unsigned char *f, *z;
	struct pagerd *pd;
	uint64_t x = seed | 1;
	int fd, round, rounds = (int)(rnd(&x) % 6) + 1;
	pid_t child;

	CHECKF(pagerd_connect(sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	for (round = 0; round < rounds; round++) {
		CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
		CHECKF(pagerd_map_file(pd, fd, 0, FILE_SIZE, PROT_READ, 0,
		    (void **)&f) == 0, "map: %s", pagerd_errmsg());
		close(fd);
		CHECKF(pagerd_map_zero(pd, ZERO_SIZE, PROT_READ | PROT_WRITE,
		    0, (void **)&z) == 0, "map zero: %s", pagerd_errmsg());
		touch(f, z, &x, 200);
		if (rnd(&x) % 4 == 0) {
			if ((child = fork()) == 0) {
				touch(f, z, &x, 100);
				_exit(0);
			}
			CHECK(child != -1);
			CHECKF(harness_wait(child) == 0, "a forked child "
			    "failed");
		}
		touch(f, z, &x, 100);
		CHECK(pagerd_unmap(pd, f) == 0 && pagerd_unmap(pd, z) == 0);
	}
	if (rnd(&x) % 2 == 0)
		_exit(0);	/* no goodbye */
	pagerd_close(pd);
	exit(0);
}

int
main(void)
{
	struct harness_daemon d;
	struct pd_stats_reply sr;
	pid_t pids[CLIENTS], pid;
	char file[512];
	const char *env;
	uint64_t x = (uint64_t)time(NULL) * 2654435761u | 1;
	time_t end;
	long anon0, anon1, most = GROWTH_KIB;
	int i, status, fds0, fds1, run = 0, killed = 0, seconds = 15;

	if ((env = getenv("PAGERD_SOAK_SECONDS")) != NULL)
		seconds = atoi(env);
	if ((env = getenv("PAGERD_TEST_ASAN")) != NULL && strcmp(env, "1") == 0)
		most += ASAN_GROWTH_KIB;
	harness_start(&d, NULL);
	harness_make_file(&d, "file", FILE_SIZE, SEED, file, sizeof file);
	sock = d.sock;
	path = file;
	harness_wait_idle(sock);
	fds0 = harness_settled_fds(d.pid);
	anon0 = harness_status_kib(d.pid, "RssAnon");

	end = time(NULL) + seconds;
	for (i = 0; i < CLIENTS; i++)
		pids[i] = 0;
	while (time(NULL) < end) {
		for (i = 0; i < CLIENTS; i++) {
			if (pids[i] != 0)
				continue;
			fflush(NULL);
			if ((pid = fork()) == 0)
				client(rnd(&x));
			CHECK(pid != -1);
			pids[i] = pid;
			run++;
		}
		/* Now and then, a client is killed mid-work. */
		i = (int)(rnd(&x) % CLIENTS);
		if (rnd(&x) % 3 == 0 && pids[i] != 0 &&
		    kill(pids[i], SIGKILL) == 0) {
			CHECK(waitpid(pids[i], &status, 0) == pids[i]);
			CHECKF(!WIFEXITED(status) || WEXITSTATUS(status) == 0,
			    "a client failed: status 0x%x", status);
			pids[i] = 0;
			killed++;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			CHECKF((WIFEXITED(status) && WEXITSTATUS(status) == 0)
			    || (WIFSIGNALED(status) && WTERMSIG(status) ==
			    SIGKILL), "client %d failed: status 0x%x",
			    (int)pid, status);
			for (i = 0; i < CLIENTS; i++)
				if (pids[i] == pid)
					pids[i] = 0;
		}
		harness_sleep_ms(20);
	}
	for (i = 0; i < CLIENTS; i++)
		if (pids[i] != 0) {
			CHECK(waitpid(pids[i], &status, 0) == pids[i]);
			CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "client %d failed: status 0x%x", (int)pids[i],
			    status);
		}

	harness_wait_idle(sock);
	harness_expect_fds(d.pid, sock, fds0, "before the clients");
	fds1 = harness_daemon_fds(d.pid);
	anon1 = harness_status_kib(d.pid, "RssAnon");
	harness_control_stats(sock, &sr);
	printf("%d clients in %d s (%d killed), %" PRIu64 " faults served, "
	    "%" PRIu64 " failed; daemon: %d descriptors (%d before), heap "
	    "%ld KiB (%ld before), page caches %ld KiB resident\n", run,
	    seconds, killed, sr.counters.faults, sr.counters.errors, fds1,
	    fds0, anon1, anon0, harness_status_kib(d.pid, "RssShmem"));
	CHECKF(sr.sessions == 0 && sr.regions == 0, "%u sessions and %u "
	    "regions left", sr.sessions, sr.regions);
	CHECKF(anon1 - anon0 < most, "the daemon's heap grew by %ld KiB, "
	    "more than %ld", anon1 - anon0, most);
	CHECKF(sr.counters.errors == 0, "%" PRIu64 " faults failed",
	    sr.counters.errors);
	harness_stop(&d);
	return 0;
}

/* The replay tests' shared part (replay-common.h). */
#include "config.h"

#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "replay-common.h"

/*
 * Run tests/replay-prog on path (the pattern of seed) under the shim, or
 * as user (NULL: as the test runs) replay-lib-prog, to its end and its
 * session's; the
 * faults the daemon took for it (its totals before and after: the test's
 * only client).
 */
uint64_t
replay_run(const struct harness_daemon *d, const char *path, uint64_t seed,
    const char *user)
{
	struct pd_stats_reply before, after;
	char seedarg[32];
	pid_t pid;

	harness_control_stats(d->sock, &before);
	snprintf(seedarg, sizeof seedarg, "%llu", (unsigned long long)seed);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		/* The shim leaves an unprivileged user's faults alone. */
		if (user != NULL) {
			harness_become_user(user);
			execl("tests/replay-lib-prog", "replay-lib-prog", path,
			    seedarg, d->sock, (char *)NULL);
			_exit(127);
		}
		setenv("PAGERD_SOCKET", d->sock, 1);
		setenv("PAGERD_FILES", "*.dat", 1);
		setenv("LD_PRELOAD", ".libs/libpagerd-preload.so", 1);
		execl("tests/replay-prog", "replay-prog", path, seedarg,
		    (char *)NULL);
		_exit(127);
	}
	CHECKF(harness_wait(pid) == 0, "replay-prog failed");
	harness_wait_idle(d->sock);
	harness_control_stats(d->sock, &after);
	return after.counters.faults - before.counters.faults;
}

/*
 * Ask for the recordings (flags, uid, name: as PD_MSG_RECORDINGS says) as
 * user (NULL: as the test runs): up to max of them in e; their number (of
 * those forgotten, with PD_RECORDINGS_FORGET), or -errno when the daemon
 * refused.
 */
int
replay_ask(const char *sock, const char *user, uint32_t flags, uint32_t uid,
    const char *name, struct replay_entry *e, int max)
{
	union pd_msg msg;
	int p[2], fd, n = 0;
	pid_t pid;

	CHECK(pipe(p) == 0);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		close(p[0]);
		if (user != NULL)
			harness_become_user(user);
		CHECK((fd = harness_raw_connect(sock)) != -1);
		CHECK(harness_raw_hello_control(fd) == 0);
		proto_init(&msg, PD_MSG_RECORDINGS, 2);
		msg.recordings.flags = flags;
		msg.recordings.uid = uid;
		if (name != NULL)
			snprintf(msg.recordings.name,
			    sizeof msg.recordings.name, "%s", name);
		CHECK(harness_raw_send(fd, &msg, msg.hdr.size, NULL, 0) == 0);
		for (;;) {
			CHECK(harness_raw_recv(fd, &msg, 5000) > 0);
			if (msg.hdr.type == PD_MSG_REPLY)
				break;
			CHECK(msg.hdr.type == PD_MSG_RECORDING_INFO);
			CHECK(write(p[1], &msg.recording_info,
			    sizeof msg.recording_info) ==
			    (ssize_t)sizeof msg.recording_info);
		}
		/* The reply last: its status, or its count. */
		CHECK(write(p[1], &msg.reply, sizeof msg.reply) ==
		    (ssize_t)sizeof msg.reply);
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		CHECK(read(p[0], &msg.hdr, sizeof msg.hdr) ==
		    (ssize_t)sizeof msg.hdr);
		if (msg.hdr.type == PD_MSG_REPLY) {
			CHECK(read(p[0], (char *)&msg + sizeof msg.hdr,
			    sizeof msg.reply - sizeof msg.hdr) ==
			    (ssize_t)(sizeof msg.reply - sizeof msg.hdr));
			break;
		}
		CHECK(read(p[0], (char *)&msg + sizeof msg.hdr,
		    sizeof msg.recording_info - sizeof msg.hdr) ==
		    (ssize_t)(sizeof msg.recording_info - sizeof msg.hdr));
		if (n < max) {
			e[n].uid = msg.recording_info.uid;
			e[n].pages = msg.recording_info.pages;
			memcpy(e[n].name, msg.recording_info.name,
			    sizeof e[n].name);
			memcpy(e[n].path, msg.recording_info.path,
			    sizeof e[n].path);
		}
		n++;
	}
	close(p[0]);
	CHECK(harness_wait(pid) == 0);
	if (msg.reply.status != 0)
		return msg.reply.status;
	if (flags & PD_RECORDINGS_FORGET)
		return (int)msg.reply.value;
	CHECK((int)msg.reply.value == n);
	return n;
}

/* Skip where the daemon has no shared page cache: nothing is recorded. */
void
replay_need_cache(const struct harness_daemon *d)
{
	struct pagerd *pd;

	CHECKF(pagerd_connect(d->sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	harness_need_shared_cache(pd);
	pagerd_close(pd);
}

/*
 * A run of this test's own program (a child: the same executable each
 * time) on path, size bytes of the pattern of seed, its pages dropped from
 * the kernel's page cache first: through libpagerd, a quarter of the pages
 * spread over the file in a fixed order and then the last, each checked
 * whole (past the file's end, zeros), to its end and its session's.
 * Skips where the file system keeps the file in memory (tmpfs): it
 * cannot be made cold.
 */
void
replay_run_cold(const struct harness_daemon *d, const char *path,
    size_t size, uint64_t seed)
{
	uint64_t npages = (size + 4095) / 4096, i, page;
	struct pagerd *pd;
	const char *p;
	void *map;
	pid_t pid;
	int fd;

	fd = harness_open_cold(d, path);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		CHECKF(pagerd_connect(d->sock, &pd) == 0, "connect: %s",
		    pagerd_errmsg());
		CHECKF(pagerd_map_file(pd, fd, 0, size, PROT_READ, 0, &map) ==
		    0, "map: %s", pagerd_errmsg());
		p = map;
		/* Strides of a prime no file here has for a factor. */
		for (i = 0; i < npages / 4; i++) {
			page = i * 7919 % npages;
			harness_check_range(p + page * 4096, page * 4096, 4096,
			    seed, size);
		}
		harness_check_range(p + (npages - 1) * 4096, (npages - 1) *
		    4096, 4096, seed, size);
		_exit(0);
	}
	close(fd);
	CHECKF(harness_wait(pid) == 0, "a cold run failed");
	harness_wait_idle(d->sock);
}

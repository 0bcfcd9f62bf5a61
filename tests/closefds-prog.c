/*
 * A program that knows nothing of pagerd, run by tests/closefds-test.sh
 * under the LD_PRELOAD shim: maps a file privately, touches one page,
 * forks, and the child closes every descriptor above 2 (close_range, as
 * daemons, subprocess's close_fds and closefrom() do), then reads every
 * page of the mapping it never touched, maps the file again and reads
 * that too. Usage (FILE written by shim-prog --make):
 *   closefds-prog FILE [LOG]     the fork and close test; exit 0: all right.
 *                                With LOG (the daemon's), the child reads
 *                                only once the daemon logged that it kept
 *                                the child's session past its socket
 *   closefds-prog --fds FILE     map FILE, print how many descriptors the
 *                                process holds below 512 beside 0, 1, 2
 *   closefds-prog --many N FILE...  map each FILE's first page N times,
 *                                closing each FILE's descriptor, and check
 *                                every one
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HARNESS_STANDALONE	/* see harness.h */
#include "harness.h"

/* As tests/shim-prog writes the file. */
#define SEED 0x5eed000dull
#define SIZE (4u << 20)

static void
check_range(const char *who, const unsigned char *p, uint64_t len)
{
	uint64_t o, w;

	for (o = 0; o < len; o += 8) {
		memcpy(&w, p + o, 8);
		if (w != harness_word(o, SEED)) {
			fprintf(stderr, "FAIL: %s: the word at offset %" PRIu64
			    " is 0x%" PRIx64 ", the file has 0x%" PRIx64 "\n",
			    who, o, w, harness_word(o, SEED));
			exit(1);
		}
	}
}

static unsigned char *
map(const char *path)
{
	unsigned char *p;
	int fd;

	CHECK((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1);
	p = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED);
	close(fd);
	return p;
}

/*
 * Wait (up to 10 s) until the daemon's log says it kept pid's session
 * past its socket. Until the daemon has seen the socket close, the
 * session is still connected and serves the reads as any other: a child
 * that read (and even exited) before then would prove nothing, and the
 * daemon would not log the hangup of a process that is gone.
 */
static void
wait_detached(const char *log, pid_t pid)
{
	char line[1024], who[64];
	FILE *f;
	int i;

	snprintf(who, sizeof who, "pid %d (", (int)pid);
	for (i = 0; i < 1000; i++) {
		CHECK((f = fopen(log, "re")) != NULL);
		while (fgets(line, sizeof line, f) != NULL)
			if (strstr(line, who) != NULL &&
			    strstr(line, "the process lives") != NULL) {
				fclose(f);
				return;
			}
		fclose(f);
		usleep(10000);
	}
	fprintf(stderr, "FAIL: the daemon did not keep the child's session "
	    "past its socket (%s says nothing of pid %d within 10 s)\n", log,
	    (int)pid);
	exit(1);
}

/* Descriptors below 512 other than 0, 1, 2 and the listing's own. */
static int
low_fds(void)
{
	char path[64], link[256];
	struct dirent *de;
	ssize_t len;
	DIR *d;
	int n = 0, fd;

	CHECK((d = opendir("/proc/self/fd")) != NULL);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd > 2 && fd < 512 && fd != dirfd(d)) {
			snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
			if ((len = readlink(path, link, sizeof link - 1)) < 0)
				len = 0;
			link[len] = '\0';
			fprintf(stderr, "held: fd %d: %s\n", fd, link);
			n++;
		}
	}
	closedir(d);
	return n;
}

int
main(int argc, char **argv)
{
	unsigned char *p, *q;
	int status, fd, i, n, f;
	pid_t pid;

	if (argc == 3 && strcmp(argv[1], "--fds") == 0) {
		p = map(argv[2]);
		check_range("mapping", p, 4096);
		printf("%d\n", low_fds());
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "--many") == 0) {
		n = atoi(argv[2]);
		for (i = 0; i < n; i++)
			for (f = 3; f < argc; f++) {
				CHECK((fd = open(argv[f], O_RDONLY |
				    O_CLOEXEC)) != -1);
				p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE,
				    fd, 0);
				CHECK(p != MAP_FAILED);
				close(fd);
				check_range("a page", p, 4096);
			}
		return 0;
	}
	CHECK(argc == 2 || argc == 3);
	p = map(argv[1]);
	check_range("parent, first page", p, 4096);
	CHECK((pid = fork()) != -1);
	if (pid == 0) {
		CHECK(syscall(SYS_close_range, 3u, ~0u, 0) == 0);
		if (argc == 3)
			wait_detached(argv[2], getpid());
		check_range("child after close_range", p, SIZE);
		/* A mapping made after the close is served too. */
		q = map(argv[1]);
		check_range("child, a new mapping", q, SIZE);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	check_range("parent", p, SIZE);
	return 0;
}

/*
 * Description: a daemon started as root keeps only CAP_KILL, and
 * CAP_DAC_READ_SEARCH permitted but not effective (a thread raises it
 * only to mark a file for its writes: watch-private-file-test). The /proc
 * status of each of its threads shows CAP_KILL alone in the effective
 * set, the two in the permitted and bounding sets, none inheritable or
 * ambient, and no-new-privileges; and
 * a set-user-ID, set-group-ID file written back through it (a write-back
 * region, pagerd_sync) loses both bits, as a plain write without
 * CAP_FSETID would clear them, while its bytes land.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SIZE (16 * 4096)
#define CAP_KILL_MASK 0x20ull	/* 1 << CAP_KILL */
#define CAP_KEPT_MASK 0x24ull	/* and 1 << CAP_DAC_READ_SEARCH */

/* The field name of a thread's /proc status. */
static uint64_t
status_field(pid_t pid, const char *tid, const char *name)
{
	char path[320], line[256];
	uint64_t v = UINT64_MAX;
	size_t len = strlen(name);
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)pid, tid);
	CHECKF((f = fopen(path, "re")) != NULL, "%s: %s", path,
	    strerror(errno));
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			v = strtoull(line + len + 1, NULL,
			    strcmp(name, "NoNewPrivs") == 0 ? 10 : 16);
	fclose(f);
	CHECKF(v != UINT64_MAX, "no %s in %s", name, path);
	return v;
}

static void
check_thread_caps(pid_t pid, const char *tid)
{
	static const struct {
		const char *name;
		uint64_t want;
	} fields[] = {
		{ "CapEff", CAP_KILL_MASK },
		{ "CapPrm", CAP_KEPT_MASK },
		{ "CapBnd", CAP_KEPT_MASK },
		{ "CapInh", 0 },
		{ "CapAmb", 0 },
		{ "NoNewPrivs", 1 },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		v = status_field(pid, tid, fields[i].name);
		printf("daemon thread %s %s: %" PRIx64 "\n", tid,
		    fields[i].name, v);
		CHECKF(v == fields[i].want, "daemon thread %s's %s is %" PRIx64
		    ", not %" PRIx64, tid, fields[i].name, v, fields[i].want);
	}
}

/* Capabilities are each thread's own: every one is checked. */
static void
check_caps(pid_t pid)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	CHECKF((dir = opendir(path)) != NULL, "%s: %s", path,
	    strerror(errno));
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.') {
			check_thread_caps(pid, de->d_name);
			n++;
		}
	closedir(dir);
	CHECKF(n >= 2, "%d threads: the workers are not running", n);
}

static void
check_writeback(const struct harness_daemon *d)
{
	char path[512];
	unsigned char *p, buf[4];
	struct pagerd *pd;
	struct stat st;
	int fd;

	harness_make_file(d, "setuid-file", SIZE, 7, path, sizeof path);
	CHECK(chmod(path, 06755) == 0);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 06000) == 06000);
	CHECKF(pagerd_connect(d->sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECK((fd = open(path, O_RDWR | O_CLOEXEC)) != -1);
	CHECKF(pagerd_map_file(pd, fd, 0, SIZE, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_WRITEBACK, (void **)&p) == 0, "map: %s",
	    pagerd_errmsg());
	memcpy(p + 4096, "pgrd", 4);
	CHECKF(pagerd_sync(pd, p) == 0, "sync: %s", pagerd_errmsg());
	CHECK(pread(fd, buf, 4, 4096) == 4 && memcmp(buf, "pgrd", 4) == 0);
	CHECK(fstat(fd, &st) == 0);
	printf("mode after the write-back: %04o\n", st.st_mode & 07777);
	CHECKF((st.st_mode & 06000) == 0, "the write-back kept mode %04o",
	    st.st_mode & 07777);
	close(fd);
	CHECK(pagerd_unmap(pd, p) == 0);
	pagerd_close(pd);
}

int
main(void)
{
	struct harness_daemon d;

	harness_need_root();
	harness_start(&d, NULL);
	check_caps(d.pid);
	check_writeback(&d);
	harness_stop(&d);
	printf("the daemon keeps CAP_KILL, CAP_DAC_READ_SEARCH not "
	    "effective; set-user-ID bits go on write-back\n");
	return 0;
}

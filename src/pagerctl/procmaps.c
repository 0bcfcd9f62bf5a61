/*
 * What the kernel says of a process's address space: its mappings
 * (/proc/PID/maps) and, page by page, whether they are in memory
 * (/proc/PID/pagemap). Works for any process the caller may inspect,
 * served by pagerd or not.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procmaps.h"

/*
 * The mappings of pid, from /proc/PID/smaps where it may be read (its Rss
 * lines give each mapping's resident pages at once: a pagemap walk of a
 * sanitizer's terabytes of shadow takes minutes), else /proc/PID/maps.
 */
int
maps_read(pid_t pid, struct mapping **mp, size_t *np)
{
	struct mapping *m = NULL, *nm, cur;
	char path[64], line[PATH_MAX + 128];
	long psz = sysconf(_SC_PAGESIZE);
	size_t n = 0, cap = 0;
	uint64_t kib;
	int off;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
		if ((f = fopen(path, "re")) == NULL)
			return -errno;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		memset(&cur, 0, sizeof cur);
		cur.rss_pages = -1;
		off = 0;
		if (n > 0 && sscanf(line, "Rss: %" SCNu64 " kB", &kib) == 1) {
			m[n - 1].rss_pages = (int64_t)(kib * 1024 /
			    (uint64_t)psz);
			continue;
		}
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64
		    " %15s %" SCNu64 " %n", &cur.start, &cur.end, cur.perms,
		    &cur.offset, cur.dev, &cur.inode, &off) < 6)
			continue;
		if (off > 0)
			strlcpy(cur.path, line + off, sizeof cur.path);
		cur.path[strcspn(cur.path, "\n")] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nm = reallocarray(m, cap, sizeof *m)) == NULL) {
				free(m);
				fclose(f);
				return -ENOMEM;
			}
			m = nm;
		}
		m[n++] = cur;
	}
	fclose(f);
	*mp = m;
	*np = n;
	return 0;
}

/* The pagemap entry of the page at addr; -errno if it cannot be read. */
int
pagemap_entry(pid_t pid, uint64_t addr, uint64_t *entry)
{
	char path[64];
	long psz = sysconf(_SC_PAGESIZE);
	int fd, error = 0;

	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	if (pread(fd, entry, sizeof *entry, (off_t)(addr / (uint64_t)psz *
	    sizeof *entry)) != sizeof *entry)
		error = errno != 0 ? -errno : -EIO;
	close(fd);
	return error;
}

/* Pages of [start, end) in memory; -1 if pagemap cannot be read. */
int64_t
pagemap_resident(pid_t pid, uint64_t start, uint64_t end)
{
	uint64_t buf[512], p, first, last;
	long psz = sysconf(_SC_PAGESIZE);
	char path[64];
	int64_t n = 0;
	size_t want, i;
	ssize_t got;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	first = start / (uint64_t)psz;
	last = end / (uint64_t)psz;
	for (p = first; p < last; p += want) {
		want = last - p < 512 ? (size_t)(last - p) : 512;
		got = pread(fd, buf, want * sizeof *buf, (off_t)(p *
		    sizeof *buf));
		if (got <= 0) {
			close(fd);
			return -1;
		}
		want = (size_t)got / sizeof *buf;
		for (i = 0; i < want; i++)
			n += (buf[i] & PM_PRESENT) != 0;
	}
	close(fd);
	return n;
}

/*
 * Bytes of [start, end) of pid mapped with huge page table entries (PMD:
 * smaps' ShmemPmdMapped, FilePmdMapped, AnonHugePages of the mappings
 * within it), or -1 where smaps cannot be read (another user's process).
 */
int64_t
smaps_pmd_bytes(pid_t pid, uint64_t start, uint64_t end)
{
	static const char *const keys[] = { "ShmemPmdMapped:",
	    "FilePmdMapped:", "AnonHugePages:" };
	unsigned long long lo, hi, kb;
	char path[64], line[512];
	int64_t n = 0;
	int inside = 0;
	size_t i;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		/*
		 * A mapping's first line: "lo-hi perms ..." in lower-case hex,
		 * where every other line is a capitalised "Key:".
		 */
		if (!isupper((unsigned char)line[0]) &&
		    sscanf(line, "%llx-%llx ", &lo, &hi) == 2) {
			inside = lo >= start && hi <= end;
			continue;
		}
		if (!inside)
			continue;
		for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0 &&
			    sscanf(line + strlen(keys[i]), "%llu", &kb) == 1)
				n += (int64_t)kb * 1024;
	}
	fclose(f);
	return n;
}

/* What a mapping is for, guessed as pmap(1) would. */
const char *
mapping_role(const struct mapping *m, const char *exe)
{
	const char *base = strrchr(m->path, '/');

	if (strcmp(m->path, "[heap]") == 0)
		return "heap";
	if (strncmp(m->path, "[stack", 6) == 0)
		return "stack";
	if (m->path[0] == '[')
		return "kernel";
	if (m->path[0] == '\0')
		return "anonymous";
	base = base != NULL ? base + 1 : m->path;
	if (exe != NULL && strcmp(m->path, exe) == 0)
		return m->perms[2] == 'x' ? "code" : m->perms[1] == 'w' ?
		    "data" : "read-only data";
	if (strstr(base, ".so") != NULL)
		return m->perms[2] == 'x' ? "library code" : m->perms[1] ==
		    'w' ? "library data" : "library read-only data";
	if (strncmp(m->path, "/memfd:", 7) == 0)
		return "shared memory";
	return "file";
}

/*
 * The pagemap entries of n pages from addr into entries, from fd (an open
 * /proc/PID/pagemap); 0 or -errno. Pages past what the kernel answers
 * read 0: not present.
 */
int
pagemap_read(int fd, uint64_t addr, size_t n, uint64_t *entries)
{
	long psz = sysconf(_SC_PAGESIZE);
	size_t want = n * sizeof *entries;
	ssize_t got;

	memset(entries, 0, want);
	got = pread(fd, entries, want, (off_t)(addr / (uint64_t)psz *
	    sizeof *entries));
	if (got < 0)
		return -errno;
	return 0;
}

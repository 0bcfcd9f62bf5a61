/* /proc/PID/maps and /proc/PID/pagemap, for pagerctl (procmaps.c). */
#ifndef PAGERCTL_PROCMAPS_H
#define PAGERCTL_PROCMAPS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mapping {
	uint64_t start;
	uint64_t end;
	char perms[5];		/* "rw-p" */
	uint64_t offset;
	char dev[16];
	uint64_t inode;
	char path[PATH_MAX];	/* "" for anonymous memory */
	int64_t rss_pages;	/* resident, by smaps; -1 unknown */
};

/* Bits of a pagemap entry (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61)	/* a page of a file, or shared anonymous */
#define PM_UFFD_WP (1ull << 57)	/* write-protected by userfaultfd */

int maps_read(pid_t, struct mapping **, size_t *);
int pagemap_entry(pid_t, uint64_t, uint64_t *);
int64_t pagemap_resident(pid_t, uint64_t, uint64_t);
int64_t smaps_pmd_bytes(pid_t, uint64_t, uint64_t);
const char *mapping_role(const struct mapping *, const char *);
int pagemap_read(int, uint64_t, size_t, uint64_t *);

#endif /* PAGERCTL_PROCMAPS_H */

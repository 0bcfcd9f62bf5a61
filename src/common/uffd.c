/*
 * Opening and probing userfaultfds. Creating one can be refused for
 * several independent reasons (sysctl, device permissions, capabilities),
 * so every attempt's outcome goes into the explanation.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uffd.h"

static const struct {
	uint64_t bit;
	const char *name;
} uffd_features[] = {
	{ UFFD_FEATURE_PAGEFAULT_FLAG_WP, "pagefault-flag-wp" },
	{ UFFD_FEATURE_EVENT_FORK, "event-fork" },
	{ UFFD_FEATURE_EVENT_REMAP, "event-remap" },
	{ UFFD_FEATURE_EVENT_REMOVE, "event-remove" },
	{ UFFD_FEATURE_MISSING_HUGETLBFS, "missing-hugetlbfs" },
	{ UFFD_FEATURE_MISSING_SHMEM, "missing-shmem" },
	{ UFFD_FEATURE_EVENT_UNMAP, "event-unmap" },
	{ UFFD_FEATURE_SIGBUS, "sigbus" },
	{ UFFD_FEATURE_THREAD_ID, "thread-id" },
	{ UFFD_FEATURE_MINOR_HUGETLBFS, "minor-hugetlbfs" },
	{ UFFD_FEATURE_MINOR_SHMEM, "minor-shmem" },
	{ UFFD_FEATURE_EXACT_ADDRESS, "exact-address" },
	{ UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "wp-hugetlbfs-shmem" },
	{ UFFD_FEATURE_WP_UNPOPULATED, "wp-unpopulated" },
	{ UFFD_FEATURE_POISON, "poison" },
	{ UFFD_FEATURE_WP_ASYNC, "wp-async" },
	{ UFFD_FEATURE_MOVE, "move" },
};

static int
uffd_sysctl_unprivileged(void)
{
	char buf[16];
	ssize_t n;
	int fd;

	fd = open("/proc/sys/vm/unprivileged_userfaultfd", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

/*
 * Create a userfaultfd, preferring one that also handles faults taken in
 * kernel mode (a read(2) into a registered buffer): through
 * /dev/userfaultfd, then userfaultfd(2). Fall back to UFFD_USER_MODE_ONLY,
 * which an unprivileged process may always create, and say so in
 * *user_mode_only. flags are O_CLOEXEC and O_NONBLOCK.
 */
int
uffd_open(int flags, int *user_mode_only, char *why, size_t whylen)
{
	int dev_errno, sys_errno, fd, devfd, sysctl;

	*user_mode_only = 0;

	devfd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (devfd != -1) {
		fd = ioctl(devfd, USERFAULTFD_IOC_NEW, flags);
		dev_errno = errno;
		close(devfd);
		if (fd != -1)
			return fd;
	} else
		dev_errno = errno;

	fd = (int)syscall(SYS_userfaultfd, flags);
	if (fd != -1)
		return fd;
	sys_errno = errno;
	if (sys_errno == ENOSYS) {
		snprintf(why, whylen, "userfaultfd(2): the kernel has no "
		    "userfaultfd support (CONFIG_USERFAULTFD)");
		return -ENOSYS;
	}

	fd = (int)syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
	if (fd != -1) {
		*user_mode_only = 1;
		return fd;
	}

	sysctl = uffd_sysctl_unprivileged();
	snprintf(why, whylen, "cannot create a userfaultfd: /dev/userfaultfd: "
	    "%s; userfaultfd(2): %s (vm.unprivileged_userfaultfd=%d and no "
	    "CAP_SYS_PTRACE); user-mode-only: %s", strerror(dev_errno),
	    strerror(sys_errno), sysctl, strerror(errno));
	return -errno;
}

/* Enable wanted features on a new userfaultfd; *got is what is enabled. */
int
uffd_api(int fd, uint64_t wanted, uint64_t *got, char *why, size_t whylen)
{
	struct uffdio_api api = { .api = UFFD_API, .features = wanted };
	char names[256];

	if (ioctl(fd, UFFDIO_API, &api) == -1) {
		uffd_feature_names(wanted, names, sizeof names);
		snprintf(why, whylen, "UFFDIO_API with features %s: %s%s",
		    names, strerror(errno), (errno == EPERM &&
		    (wanted & UFFD_FEATURE_EVENT_FORK)) ?
		    " (event-fork needs CAP_SYS_PTRACE)" : "");
		return -errno;
	}
	*got = wanted;
	return 0;
}

/* The features this kernel offers, asked on a throwaway userfaultfd. */
int
uffd_probe_features(uint64_t *supported, char *why, size_t whylen)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd, user_mode_only, error = 0;

	fd = uffd_open(O_CLOEXEC, &user_mode_only, why, whylen);
	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api) == -1) {
		error = -errno;
		snprintf(why, whylen, "UFFDIO_API: %s", strerror(errno));
	} else
		*supported = api.features;
	close(fd);
	return error;
}

/*
 * Is fd a userfaultfd, and with which features? The kernel's own answer,
 * from /proc/self/fdinfo, not the peer's word for it.
 */
int
uffd_fdinfo(int fd, uint64_t *features)
{
	char path[64], link[64], line[256];
	unsigned long long api, feat, ioctls;
	ssize_t n;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof link - 1);
	if (n == -1)
		return -errno;
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[userfaultfd]") != 0)
		return -EINVAL;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "API:\t%llx:%llx:%llx", &api, &feat,
		    &ioctls) == 3) {
			found = 1;
			break;
		}
	}
	fclose(f);
	if (!found)
		return -EINVAL;
	*features = feat;
	return 0;
}

/* Feature bits as a comma-separated list of names, for logs and errors. */
void
uffd_feature_names(uint64_t features, char *buf, size_t len)
{
	size_t i, off = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < sizeof uffd_features / sizeof uffd_features[0]; i++) {
		if ((features & uffd_features[i].bit) == 0)
			continue;
		features &= ~uffd_features[i].bit;
		n = snprintf(buf + off, len - off, "%s%s", off ? "," : "",
		    uffd_features[i].name);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	if (features != 0)
		snprintf(buf + off, len - off, "%s0x%" PRIx64, off ? "," : "",
		    features);
	else if (off == 0)
		snprintf(buf, len, "none");
}

/*
 * The pages of [start, end) written since they were last write-protected,
 * on a userfaultfd with UFFD_FEATURE_WP_ASYNC, read from the pagemap open
 * on pagemap (PAGEMAP_SCAN): found(arg, first, end) for each run, by
 * address. With protect, each run is write-protected again in the same
 * walk, so that a write after it is seen by the next scan and none falls
 * between. Fails with EPERM where part of the range is not so registered,
 * ENOTTY on a kernel without PAGEMAP_SCAN (before 6.7). start == end
 * probes for it; found may be NULL. 0 or -errno.
 */
int
uffd_scan_written(int pagemap, uint64_t start, uint64_t end, int protect,
    void (*found)(void *, uint64_t, uint64_t), void *arg)
{
	struct pagerd_page_region vec[64];
	struct pagerd_pm_scan_arg scan;
	long n, i;

	for (;;) {
		/* The kernel fills it; valgrind cannot know the ioctl. */
		memset(vec, 0, sizeof vec);
		scan = (struct pagerd_pm_scan_arg){ .size = sizeof scan,
		    .flags = PAGERD_PM_SCAN_CHECK_WPASYNC | (protect ?
		    PAGERD_PM_SCAN_WP_MATCHING : 0), .start = start,
		    .end = end, .vec = (uint64_t)(uintptr_t)vec,
		    .vec_len = sizeof vec / sizeof vec[0],
		    .category_mask = PAGERD_PAGE_IS_WRITTEN,
		    .return_mask = PAGERD_PAGE_IS_WRITTEN };
		if ((n = ioctl(pagemap, PAGERD_PAGEMAP_SCAN, &scan)) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && found != NULL; i++)
			found(arg, vec[i].start, vec[i].end);
		/* A full vector stops the walk early: go on from there. */
		if (scan.walk_end >= end || scan.walk_end <= start)
			break;
		start = scan.walk_end;
	}
	return 0;
}

/*
 * userfaultfd constants newer than the installed kernel headers. The
 * running kernel may have them even when the headers do not; whether it
 * does is probed at run time with UFFDIO_API, never assumed from these.
 */
#ifndef PAGERD_UFFD_COMPAT_H
#define PAGERD_UFFD_COMPAT_H

#include <linux/types.h>
#include <linux/userfaultfd.h>

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
#endif

#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif

#ifndef UFFDIO_POISON
struct uffdio_poison {
	struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE ((__u64)1 << 0)
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
	__u64 mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

/*
 * PAGEMAP_SCAN (Linux 6.7): an ioctl on /proc/PID/pagemap that lists the
 * pages of a range by category and, with PM_SCAN_WP_MATCHING, write-
 * protects those it lists in the same walk: how a region whose userfaultfd
 * has UFFD_FEATURE_WP_ASYNC learns which pages were written. Named here
 * under our own prefix: <linux/fs.h>, which has them from 6.7 on, clashes
 * with <sys/mount.h> on glibc 2.36.
 */
#define PAGERD_PAGE_IS_WRITTEN (1 << 1)
#define PAGERD_PM_SCAN_WP_MATCHING (1 << 0)
#define PAGERD_PM_SCAN_CHECK_WPASYNC (1 << 1)

struct pagerd_page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pagerd_pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGERD_PAGEMAP_SCAN _IOWR('f', 16, struct pagerd_pm_scan_arg)

#endif /* PAGERD_UFFD_COMPAT_H */

/*
 * The library's descriptors: moved high, out of the way of the numbers
 * the program uses, and held once for all the regions of one file, to
 * hand to a restarted daemon.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"

/*
 * The library's descriptors live at or above this number (or half the
 * descriptor limit, if that is lower): the low numbers a program opens,
 * dup2()s to and expects to be free stay the program's.
 */
#define PAGERD_FD_FLOOR 512

/*
 * Move a descriptor of the library's to PAGERD_FD_FLOOR or above, close
 * on exec; where that fails it stays where it is.
 */
static int
pagerd_fd_floor(void)
{
	static int floor;
	struct rlimit rl;
	int f;

	if ((f = __atomic_load_n(&floor, __ATOMIC_RELAXED)) == 0) {
		f = PAGERD_FD_FLOOR;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur !=
		    RLIM_INFINITY && rl.rlim_cur / 2 < (rlim_t)f)
			f = (int)(rl.rlim_cur / 2);
		__atomic_store_n(&floor, f, __ATOMIC_RELAXED);
	}
	return f;
}

int
pagerd_fd_high(int fd)
{
	int nfd;

	if (fd < 0 || fd >= pagerd_fd_floor() ||
	    (nfd = fcntl(fd, F_DUPFD_CLOEXEC, pagerd_fd_floor())) == -1)
		return fd;
	close(fd);
	return nfd;
}

/* A close-on-exec copy of fd, high; -1 with errno set if refused. */
static int
pagerd_dup(int fd)
{
	int nfd;

	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, pagerd_fd_floor())) == -1)
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return nfd;
}

/*
 * A region's hold on a descriptor of the same file as fd, opened the same
 * way: one already held, or a copy of fd (with take, fd itself), high.
 * With take, fd is ours and closed when not kept. Returns the held
 * number, or -1 with errno set. Called with pd->lock held.
 */
int
pagerd_fd_hold(struct pagerd *pd, int fd, int take)
{
	struct pagerd_fd *h;
	struct stat st;
	size_t i;
	int mode, nfd, saved;

	if (fstat(fd, &st) == -1 || (mode = fcntl(fd, F_GETFL)) == -1)
		goto fail;
	mode &= O_ACCMODE;
	for (i = 0; i < pd->nheld; i++) {
		h = &pd->held[i];
		if (h->dev == st.st_dev && h->ino == st.st_ino &&
		    h->mode == mode) {
			h->refs++;
			if (take)
				close(fd);
			return h->fd;
		}
	}
	if ((h = reallocarray(pd->held, pd->nheld + 1, sizeof *h)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	pd->held = h;
	if ((nfd = take ? pagerd_fd_high(fd) : pagerd_dup(fd)) == -1)
		return -1;
	h = &pd->held[pd->nheld++];
	*h = (struct pagerd_fd){ .fd = nfd, .dev = st.st_dev,
	    .ino = st.st_ino, .mode = mode, .refs = 1 };
	return nfd;
fail:
	saved = errno;
	if (take)
		close(fd);
	errno = saved;
	return -1;
}

/* Another region holds fd too. Called with pd->lock held. */
int
pagerd_fd_share(struct pagerd *pd, int fd)
{
	size_t i;

	for (i = 0; fd != -1 && i < pd->nheld; i++)
		if (pd->held[i].fd == fd)
			pd->held[i].refs++;
	return fd;
}

/* A region lets go of fd; the last closes it. Called with pd->lock held. */
void
pagerd_fd_drop(struct pagerd *pd, int fd)
{
	size_t i;

	for (i = 0; fd != -1 && i < pd->nheld; i++) {
		if (pd->held[i].fd != fd)
			continue;
		if (--pd->held[i].refs == 0) {
			close(fd);
			pd->held[i] = pd->held[--pd->nheld];
		}
		return;
	}
}

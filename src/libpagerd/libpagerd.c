/*
 * libpagerd: the client side of pagerd. Creates the connection's
 * userfaultfd, registers regions with it and hands them to the daemon.
 * Returns -errno and keeps a per-thread message; never prints or exits.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerd.h"
#include "proto.h"
#include "uffd.h"

#define PUBLIC __attribute__((visibility("default")))

/* How long a request waits for the daemon's reply. */
#define PAGERD_REPLY_TIMEOUT 30

/* Features asked of the kernel where it has them. */
#define PAGERD_WANTED_FEATURES (UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_POISON)

struct pagerd_region {
	uintptr_t addr;
	size_t length;
	uint32_t id;
};

struct pagerd {
	pthread_mutex_t lock;	/* one request at a time; the region list */
	int sock;
	int uffd;
	int user_mode_only;
	uint64_t features;
	uint32_t session_id;
	uint32_t seq;
	size_t page_size;
	struct pagerd_region *regions;
	size_t nregions;
	size_t regions_cap;
};

static __thread char pagerd_error[512];

static int __attribute__((format(printf, 2, 3)))
pagerd_fail(int error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pagerd_error, sizeof pagerd_error, fmt, ap);
	va_end(ap);
	return error;
}

PUBLIC const char *
pagerd_errmsg(void)
{
	return pagerd_error;
}

PUBLIC const char *
pagerd_version(void)
{
	return PACKAGE_VERSION;
}

/* Send a request with an optional descriptor. */
static int
pagerd_send(struct pagerd *pd, union pd_msg *msg, int fd)
{
	union {
		struct cmsghdr align;
		char raw[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = msg, .iov_len = msg->hdr.size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (fd != -1) {
		memset(&cbuf, 0, sizeof cbuf);
		mh.msg_control = &cbuf;
		mh.msg_controllen = sizeof cbuf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	do
		n = sendmsg(pd->sock, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return pagerd_fail(-errno, "send %s to pagerd: %s",
		    proto_type_name(msg->hdr.type), strerror(errno));
	return 0;
}

/* Wait for the reply to the request numbered seq, of the given type. */
static int
pagerd_recv(struct pagerd *pd, union pd_msg *reply, uint32_t type,
    uint32_t seq)
{
	union {
		struct cmsghdr align;
		char raw[CMSG_SPACE(sizeof(int) * 4)];
	} cbuf;
	struct iovec iov = { .iov_base = reply, .iov_len = sizeof *reply };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &cbuf,
		.msg_controllen = sizeof cbuf,
	};
	char why[PD_REASON_MAX];
	struct cmsghdr *cm;
	int error, fd;
	size_t i;
	ssize_t n;

	do
		n = recvmsg(pd->sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC);
	while (n == -1 && errno == EINTR);
	/* The daemon sends no descriptors yet: drop any it did. */
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		    i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			close(fd);
		}
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return pagerd_fail(-ETIMEDOUT, "no reply from pagerd in %d s",
		    PAGERD_REPLY_TIMEOUT);
	if (n == -1)
		return pagerd_fail(-errno, "receive from pagerd: %s",
		    strerror(errno));
	if (n == 0)
		return pagerd_fail(-ECONNRESET, "pagerd closed the connection");
	if ((size_t)n > sizeof *reply)
		return pagerd_fail(-EBADMSG, "pagerd sent an oversized "
		    "message (%zd bytes)", n);
	if ((error = proto_check(reply, (size_t)n, 0, why, sizeof why)) != 0)
		return pagerd_fail(error, "bad message from pagerd: %s", why);
	if (reply->hdr.seq != seq)
		return pagerd_fail(-EPROTO, "pagerd answered request %u, "
		    "expected %u", reply->hdr.seq, seq);
	/* Refusals come as a plain reply whatever was asked. */
	if (reply->hdr.type == PD_MSG_REPLY && reply->reply.status != 0) {
		reply->reply.reason[sizeof reply->reply.reason - 1] = '\0';
		return pagerd_fail(reply->reply.status < 0 ?
		    reply->reply.status : -EPROTO, "pagerd: %s",
		    reply->reply.reason);
	}
	if (reply->hdr.type != type)
		return pagerd_fail(-EPROTO, "pagerd answered with %s, expected "
		    "%s", proto_type_name(reply->hdr.type),
		    proto_type_name(type));
	return 0;
}

/* One exchange; the caller holds pd->lock (or owns pd alone). */
static int
pagerd_request(struct pagerd *pd, union pd_msg *msg, int fd,
    union pd_msg *reply, uint32_t reply_type)
{
	int error;

	msg->hdr.seq = ++pd->seq;
	if ((error = pagerd_send(pd, msg, fd)) != 0)
		return error;
	return pagerd_recv(pd, reply, reply_type, msg->hdr.seq);
}

static int
pagerd_open_socket(struct pagerd *pd, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = PAGERD_REPLY_TIMEOUT };

	if (strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path)
		return pagerd_fail(-ENAMETOOLONG, "socket path %s is too long",
		    path);
	pd->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (pd->sock == -1)
		return pagerd_fail(-errno, "socket: %s", strerror(errno));
	if (setsockopt(pd->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ==
	    -1)
		return pagerd_fail(-errno, "SO_RCVTIMEO: %s", strerror(errno));
	if (connect(pd->sock, (struct sockaddr *)&sun, sizeof sun) == -1)
		return pagerd_fail(-errno, "connect %s: %s%s", path,
		    strerror(errno), (errno == ENOENT || errno == ECONNREFUSED)
		    ? " (is pagerd running?)" : "");
	return 0;
}

static int
pagerd_open_uffd(struct pagerd *pd)
{
	char why[512];
	uint64_t supported;
	int error;

	if ((error = uffd_probe_features(&supported, why, sizeof why)) != 0)
		return pagerd_fail(error, "%s", why);
	pd->uffd = uffd_open(O_CLOEXEC | O_NONBLOCK, &pd->user_mode_only, why,
	    sizeof why);
	if (pd->uffd < 0) {
		error = pd->uffd;
		pd->uffd = -1;
		return pagerd_fail(error, "%s", why);
	}
	if ((error = uffd_api(pd->uffd, PAGERD_WANTED_FEATURES & supported,
	    &pd->features, why, sizeof why)) != 0)
		return pagerd_fail(error, "%s", why);
	return 0;
}

PUBLIC int
pagerd_connect(const char *path, struct pagerd **pdp)
{
	union pd_msg msg, reply;
	struct pagerd *pd;
	const char *env;
	int error;

	*pdp = NULL;
	if (path == NULL) {
		env = getenv("PAGERD_SOCKET");
		path = env != NULL && *env != '\0' ? env :
		    PAGERD_DEFAULT_SOCKET;
	}
	if ((pd = calloc(1, sizeof *pd)) == NULL)
		return pagerd_fail(-ENOMEM, "out of memory");
	pd->sock = pd->uffd = -1;
	pd->page_size = (size_t)sysconf(_SC_PAGESIZE);
	if ((error = pthread_mutex_init(&pd->lock, NULL)) != 0) {
		free(pd);
		return pagerd_fail(-error, "pthread_mutex_init: %s",
		    strerror(error));
	}

	if ((error = pagerd_open_socket(pd, path)) != 0)
		goto fail;
	if ((error = pagerd_open_uffd(pd)) != 0)
		goto fail;

	proto_init(&msg, PD_MSG_HELLO, 0);
	msg.hello.role = PD_ROLE_CLIENT;
	msg.hello.uffd_features = pd->features;
	msg.hello.page_size = (uint32_t)pd->page_size;
	if ((error = pagerd_request(pd, &msg, pd->uffd, &reply,
	    PD_MSG_REPLY)) != 0)
		goto fail;
	pd->session_id = reply.reply.value;
	*pdp = pd;
	return 0;

fail:
	if (pd->uffd != -1)
		close(pd->uffd);
	if (pd->sock != -1)
		close(pd->sock);
	pthread_mutex_destroy(&pd->lock);
	free(pd);
	return error;
}

PUBLIC void
pagerd_close(struct pagerd *pd)
{
	size_t i;

	if (pd == NULL)
		return;
	/* The daemon frees the session's regions when the socket closes. */
	for (i = 0; i < pd->nregions; i++)
		munmap((void *)pd->regions[i].addr, pd->regions[i].length);
	close(pd->sock);
	close(pd->uffd);
	pthread_mutex_destroy(&pd->lock);
	free(pd->regions);
	free(pd);
}

static int
pagerd_check_prot(int prot)
{
	if (prot != PROT_READ && prot != (PROT_READ | PROT_WRITE))
		return pagerd_fail(-EINVAL, "prot must be PROT_READ or "
		    "PROT_READ|PROT_WRITE");
	return 0;
}

/*
 * Create, register and hand over a region: an anonymous private mapping
 * whose missing pages the daemon fills.
 */
static int
pagerd_map(struct pagerd *pd, uint32_t backing, int fd, uint64_t offset,
    size_t length, int prot, void **addrp)
{
	struct uffdio_register reg;
	struct pagerd_region *regions;
	union pd_msg msg, reply;
	size_t cap;
	void *addr;
	int error;

	if (length == 0 || length > PD_REGION_MAX_LENGTH)
		return pagerd_fail(-EINVAL, "length %zu is not in 1 .. %llu",
		    length, PD_REGION_MAX_LENGTH);
	length = (length + pd->page_size - 1) & ~(pd->page_size - 1);

	addr = mmap(NULL, length, prot, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	if (addr == MAP_FAILED)
		return pagerd_fail(-errno, "mmap of %zu bytes: %s", length,
		    strerror(errno));
	/*
	 * Until fork is handled, a child must not inherit the region: its
	 * copy would lose the registration and read zeros where data was
	 * promised. Without it, the child's access faults loudly.
	 */
	if (madvise(addr, length, MADV_DONTFORK) == -1) {
		error = pagerd_fail(-errno, "madvise MADV_DONTFORK: %s",
		    strerror(errno));
		goto fail;
	}
	reg = (struct uffdio_register){ .range = { .start = (uintptr_t)addr,
	    .len = length }, .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(pd->uffd, UFFDIO_REGISTER, &reg) == -1) {
		error = pagerd_fail(-errno, "UFFDIO_REGISTER: %s",
		    strerror(errno));
		goto fail;
	}

	proto_init(&msg, PD_MSG_REGION_ADD, 0);
	msg.region_add.start = (uintptr_t)addr;
	msg.region_add.length = length;
	msg.region_add.offset = offset;
	msg.region_add.backing = backing;
	msg.region_add.prot = PD_PROT_READ |
	    ((prot & PROT_WRITE) ? PD_PROT_WRITE : 0);
	msg.region_add.mode = PD_MODE_MISSING;

	pthread_mutex_lock(&pd->lock);
	if (pd->nregions == pd->regions_cap) {
		cap = pd->regions_cap ? pd->regions_cap * 2 : 8;
		regions = reallocarray(pd->regions, cap, sizeof *regions);
		if (regions == NULL) {
			pthread_mutex_unlock(&pd->lock);
			error = pagerd_fail(-ENOMEM, "out of memory");
			goto fail;
		}
		pd->regions = regions;
		pd->regions_cap = cap;
	}
	error = pagerd_request(pd, &msg, fd, &reply, PD_MSG_REPLY);
	if (error == 0) {
		pd->regions[pd->nregions++] = (struct pagerd_region){
		    .addr = (uintptr_t)addr, .length = length,
		    .id = reply.reply.value };
	}
	pthread_mutex_unlock(&pd->lock);
	if (error != 0)
		goto fail;
	*addrp = addr;
	return 0;

fail:
	/* Unmapping also drops the registration. */
	munmap(addr, length);
	return error;
}

PUBLIC int
pagerd_map_file(struct pagerd *pd, int fd, off_t offset, size_t length,
    int prot, unsigned int flags, void **addrp)
{
	struct stat st;
	int error, fl;

	if (flags != 0)
		return pagerd_fail(-EINVAL, "unknown flags 0x%x", flags);
	if ((error = pagerd_check_prot(prot)) != 0)
		return error;
	if (offset < 0 || ((uint64_t)offset & (pd->page_size - 1)) != 0)
		return pagerd_fail(-EINVAL, "offset %lld is not a multiple of "
		    "the page size %zu", (long long)offset, pd->page_size);
	if (fstat(fd, &st) == -1)
		return pagerd_fail(-errno, "backing file: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return pagerd_fail(-EINVAL, "backing file: not a regular file");
	if ((fl = fcntl(fd, F_GETFL)) == -1 || (fl & O_ACCMODE) == O_WRONLY)
		return pagerd_fail(-EBADF, "backing file: not open for "
		    "reading");
	return pagerd_map(pd, PD_BACKING_FILE, fd, (uint64_t)offset, length,
	    prot, addrp);
}

PUBLIC int
pagerd_map_zero(struct pagerd *pd, size_t length, int prot,
    unsigned int flags, void **addrp)
{
	int error;

	if (flags != 0)
		return pagerd_fail(-EINVAL, "unknown flags 0x%x", flags);
	if ((error = pagerd_check_prot(prot)) != 0)
		return error;
	return pagerd_map(pd, PD_BACKING_ZERO, -1, 0, length, prot, addrp);
}

PUBLIC int
pagerd_unmap(struct pagerd *pd, void *addr)
{
	struct pagerd_region r;
	union pd_msg msg, reply;
	size_t i;
	int error;

	pthread_mutex_lock(&pd->lock);
	for (i = 0; i < pd->nregions; i++)
		if (pd->regions[i].addr == (uintptr_t)addr)
			break;
	if (i == pd->nregions) {
		pthread_mutex_unlock(&pd->lock);
		return pagerd_fail(-EINVAL, "%p is not the start of a pagerd "
		    "region", addr);
	}
	r = pd->regions[i];
	pd->regions[i] = pd->regions[--pd->nregions];
	/* Unmap first: the daemon may then free its side at leisure. */
	munmap(addr, r.length);
	proto_init(&msg, PD_MSG_REGION_DEL, 0);
	msg.region_del.region_id = r.id;
	error = pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY);
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_info(struct pagerd *pd, struct pagerd_info *info)
{
	memset(info, 0, sizeof *info);
	info->session_id = pd->session_id;
	info->kernel_faults = !pd->user_mode_only;
	info->uffd_features = pd->features;
	info->page_size = pd->page_size;
	return 0;
}

PUBLIC int
pagerd_stats(struct pagerd *pd, struct pagerd_stats *stats)
{
	union pd_msg msg, reply;
	int error;

	proto_init(&msg, PD_MSG_STATS, 0);
	pthread_mutex_lock(&pd->lock);
	error = pagerd_request(pd, &msg, -1, &reply, PD_MSG_STATS_REPLY);
	pthread_mutex_unlock(&pd->lock);
	if (error != 0)
		return error;
	memset(stats, 0, sizeof *stats);
	stats->faults = reply.stats_reply.counters.faults;
	stats->pages_file = reply.stats_reply.counters.pages_file;
	stats->pages_zero = reply.stats_reply.counters.pages_zero;
	stats->pages_poisoned = reply.stats_reply.counters.pages_poisoned;
	stats->bytes_read = reply.stats_reply.counters.bytes_read;
	stats->reads = reply.stats_reply.counters.reads;
	stats->errors = reply.stats_reply.counters.errors;
	stats->regions = reply.stats_reply.regions;
	return 0;
}

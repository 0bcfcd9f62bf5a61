/*
 * What each user holds in the daemon: sessions, descriptors,
 * write-protected bytes and the memory of working-set records, counted
 * per uid against the uid-max-*
 * limits, so that one user at its limits never keeps another (root
 * included) out. (Page cache bytes are not refused but evicted: a user's
 * share, uid-max-cache-mib, is kept by evict.c.) Whatever holds a charge
 * (a session, a region, a cache)
 * keeps it in a struct quota_hold and gives it all back when it goes.
 * Descriptors are also counted for the whole daemon, against what its
 * RLIMIT_NOFILE leaves after its own.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/resource.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"

#define QUOTA_BUCKETS 64
/*
 * Descriptors kept for the daemon besides those it has open at start
 * (rings, pipes, the socket): a message's descriptors before they are
 * taken over or closed, logging, the fallback's I/O threads.
 */
#define QUOTA_FD_MARGIN 128

struct quota_user {
	LIST_ENTRY(quota_user) entry;
	uid_t uid;
	uint64_t used[QUOTA_NKINDS];
};

static const struct {
	const char *name;	/* its limit's key */
	const char *what;	/* the words for a count of it */
	int error;
} quota_kinds[QUOTA_NKINDS] = {
	[QUOTA_SESSIONS] = { "uid-max-sessions", "sessions", EAGAIN },
	[QUOTA_FDS] = { "uid-max-fds", "descriptors", EMFILE },
	[QUOTA_WP] = { "uid-max-wp-mib", "bytes of write-protected regions",
	    EDQUOT },
	[QUOTA_REPLAY] = { "uid-max-recordings", "bytes of working-set "
	    "records", EDQUOT },
};

/*
 * The memory a user's sessions may hold of working-set records and the
 * recordings they replay, for each recording it may keep: four times the
 * most one holds (2 MiB), so that many sessions of one user cannot run
 * the daemon out of memory, each with its copy of the same recordings.
 */
#define QUOTA_REPLAY_PER_RECORDING (8u << 20)

static pthread_mutex_t quota_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, quota_user) quota_table[QUOTA_BUCKETS];
static uint64_t quota_fds;		/* charged, every uid */
static uint64_t quota_fd_ceiling;	/* RLIMIT_NOFILE less the reserve */
static uint64_t quota_nofile;

/* How many descriptors the daemon has open. */
static uint64_t
quota_open_fds(void)
{
	struct dirent *de;
	uint64_t n = 0;
	DIR *dir;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		fatal("opendir /proc/self/fd");
	while ((de = readdir(dir)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dir);
	return n - 1;		/* the directory's own */
}

/*
 * uid-max-fds when the configuration leaves it unset: an eighth of the
 * descriptors left for clients, so that one user cannot take them all.
 */
int
quota_default_fds(void)
{
	uint64_t fds = quota_fd_ceiling / 8;

	return fds > 16384 ? 16384 : fds < 16 ? 16 : (int)fds;
}

/*
 * At start, once RLIMIT_NOFILE is raised and the workers are set up, but
 * before any client: the descriptors left for clients, and the defaults
 * of the limits the configuration left unset.
 */
void
quota_init(void)
{
	struct rlimit rl;
	uint64_t own;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit RLIMIT_NOFILE");
	quota_nofile = rl.rlim_cur;
	own = quota_open_fds();
	if (quota_nofile > own + 2 * QUOTA_FD_MARGIN)
		quota_fd_ceiling = quota_nofile - own - QUOTA_FD_MARGIN;
	else {
		/* Half of what is left, then, to keep a margin. */
		quota_fd_ceiling = quota_nofile > own ? (quota_nofile -
		    own) / 2 : 0;
		log_warnx("RLIMIT_NOFILE %" PRIu64 " leaves clients only %"
		    PRIu64 " descriptors: raise its hard limit", quota_nofile,
		    quota_fd_ceiling);
	}
	if (config_get(CONFIG_UID_MAX_FDS) == 0)
		config_set(CONFIG_UID_MAX_FDS, quota_default_fds());
	log_info("descriptors: RLIMIT_NOFILE %" PRIu64 ", %" PRIu64 " for "
	    "clients, %d per uid; per uid at most %d sessions, %d MiB "
	    "write-protected", quota_nofile, quota_fd_ceiling,
	    config_get(CONFIG_UID_MAX_FDS), config_get(CONFIG_UID_MAX_SESSIONS),
	    config_get(CONFIG_UID_MAX_WP_MIB));
}

/* A kind's limit now (SIGHUP may change it). */
static uint64_t
quota_limit(enum quota_kind kind)
{
	switch (kind) {
	case QUOTA_SESSIONS:
		return (uint64_t)config_get(CONFIG_UID_MAX_SESSIONS);
	case QUOTA_FDS:
		return (uint64_t)config_get(CONFIG_UID_MAX_FDS);
	case QUOTA_WP:
		return (uint64_t)config_get(CONFIG_UID_MAX_WP_MIB) << 20;
	case QUOTA_REPLAY:
		return (uint64_t)config_get(CONFIG_UID_MAX_RECORDINGS) *
		    QUOTA_REPLAY_PER_RECORDING;
	default:
		return 0;
	}
}

/* The uid's entry, made when create; under the lock. */
static struct quota_user *
quota_user(uid_t uid, int create)
{
	struct quota_user *u;
	unsigned int b = (unsigned int)uid % QUOTA_BUCKETS;

	LIST_FOREACH(u, &quota_table[b], entry)
		if (u->uid == uid)
			return u;
	if (!create || (u = calloc(1, sizeof *u)) == NULL)
		return NULL;
	u->uid = uid;
	LIST_INSERT_HEAD(&quota_table[b], u, entry);
	return u;
}

/* A user holding nothing needs no entry; under the lock. */
static void
quota_user_tidy(struct quota_user *u)
{
	int k;

	for (k = 0; k < QUOTA_NKINDS; k++)
		if (u->used[k] != 0)
			return;
	LIST_REMOVE(u, entry);
	free(u);
}

void
quota_hold_init(struct quota_hold *h, uid_t uid)
{
	memset(h, 0, sizeof *h);
	h->uid = uid;
}

/*
 * Charge n of a kind to the holder's uid. Returns 0, or the limit's
 * -errno (EAGAIN sessions, EMFILE descriptors, EDQUOT bytes) with why
 * saying which limit, after "what: ".
 */
int
quota_charge(struct quota_hold *h, enum quota_kind kind, uint64_t n,
    const char *what, char *why, size_t whylen)
{
	uint64_t limit = quota_limit(kind);
	struct quota_user *u;
	int error = 0;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&quota_lock);
	if ((u = quota_user(h->uid, 1)) == NULL) {
		error = -ENOMEM;
		snprintf(why, whylen, "%s: out of memory", what);
	} else if (u->used[kind] + n > limit) {
		error = -quota_kinds[kind].error;
		snprintf(why, whylen, "%s: uid %d holds %" PRIu64 " %s, %"
		    PRIu64 " more would pass the %s limit (%" PRIu64 ")", what,
		    (int)h->uid,
		    u->used[kind], quota_kinds[kind].what, n,
		    quota_kinds[kind].name, kind == QUOTA_WP ? limit >> 20 :
		    kind == QUOTA_REPLAY ? limit / QUOTA_REPLAY_PER_RECORDING :
		    limit);
	} else if (kind == QUOTA_FDS && quota_fds + n > quota_fd_ceiling) {
		error = -EMFILE;
		snprintf(why, whylen, "%s: the daemon has %" PRIu64 " "
		    "descriptors of clients open, all it may (RLIMIT_NOFILE %"
		    PRIu64 ")", what, quota_fds, quota_nofile);
	} else {
		u->used[kind] += n;
		h->held[kind] += n;
		if (kind == QUOTA_FDS)
			quota_fds += n;
	}
	if (error != 0 && u != NULL)
		quota_user_tidy(u);
	pthread_mutex_unlock(&quota_lock);
	return error;
}

/* Give back n of what the holder holds of a kind. */
void
quota_uncharge(struct quota_hold *h, enum quota_kind kind, uint64_t n)
{
	struct quota_user *u;

	if (n > h->held[kind])
		fatalx("quota: uid %d gives back %" PRIu64 " %s, holding %"
		    PRIu64, (int)h->uid, n, quota_kinds[kind].what,
		    h->held[kind]);
	if (n == 0)
		return;
	pthread_mutex_lock(&quota_lock);
	if ((u = quota_user(h->uid, 0)) == NULL)
		fatalx("quota: uid %d gives back what it never held",
		    (int)h->uid);
	u->used[kind] -= n;
	h->held[kind] -= n;
	if (kind == QUOTA_FDS)
		quota_fds -= n;
	quota_user_tidy(u);
	pthread_mutex_unlock(&quota_lock);
}

/* Give back everything the holder holds. */
void
quota_release(struct quota_hold *h)
{
	int k;

	for (k = 0; k < QUOTA_NKINDS; k++)
		quota_uncharge(h, (enum quota_kind)k, h->held[k]);
}

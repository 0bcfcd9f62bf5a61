/*
 * The daemon's configuration: the options fixed at start, the live numbers
 * a reload may change, and what a configuration file says (config.c).
 * Included by pagerd.h.
 */
#ifndef PAGERD_CONFIG_OPTS_H
#define PAGERD_CONFIG_OPTS_H

/*
 * The configuration has two parts, each with one rule.
 *
 * struct pagerd_options, opts: fixed. main() sets it from the command line
 * and the file before the acceptor or a second worker starts, and nothing
 * writes it again: any thread reads it plainly.
 *
 * The live numbers, enum config_key: what SIGHUP may change while every
 * thread runs. Each is an int read only with config_get() and written
 * only with config_set() (pagerd.c at start and on reload, quota.c at
 * start), relaxed atomics both: a reader sees the old value or the new.
 * No two of them need to agree, so nothing orders them; a function that
 * uses one twice reads it once. The rest of what a reload changes is read
 * through its own owner: the allow lists and admin-group through
 * config_allows() and config_admin() under config.c's lock, the log level
 * through log.c (atomic too).
 */
struct pagerd_options {
	const char *socket_path;
	const char *cache_dir;	/* page caches are files here, or memfds */
	int workers;
	int readahead_max;	/* the read buffers' size in pages: the
				   readahead at start or PAGERD_COPY_STREAM */
	int queue_depth;	/* backing-file reads in flight per worker */
	uint64_t tick_us;	/* the workers' tick */
	int watchdog;		/* systemd's watchdog is fed on ticks */
	const char *state_dir;	/* working-set recordings; NULL: none */
};

extern struct pagerd_options opts;

enum config_key {
	CONFIG_READAHEAD,	/* pages copied in per fault */
	CONFIG_CACHE_WINDOW,	/* pages mapped per fault from a page
				   cache */
	CONFIG_MAX_CLIENTS,	/* sessions at once */
	CONFIG_POLL_US,		/* a busy worker polls this long first */
	CONFIG_CACHE_LINGER,	/* seconds an unused page cache is kept */
	CONFIG_CACHE_LINGER_MIB, /* most memory of unused page caches kept */
	CONFIG_WRITEBACK_HOLD_MIB, /* most memory of gone clients' pages
				   kept for a write-back tried again */
	CONFIG_HELLO_TIMEOUT,	/* seconds a session may wait to say
				   hello */
	CONFIG_UID_MAX_SESSIONS, /* per uid: sessions, hello or not */
	CONFIG_UID_MAX_FDS,	/* per uid: descriptors the daemon holds;
				   0: set at start from RLIMIT_NOFILE */
	CONFIG_UID_MAX_CACHE_MIB, /* per uid: page cache pages resident,
				   past which its own are evicted; -1:
				   half of cache-max-mib */
	CONFIG_UID_MAX_WP_MIB,	/* per uid: write-protected regions */
	CONFIG_READ_TIMEOUT,	/* seconds a backing-file read may take; 0:
				   no limit */
	CONFIG_CACHE_MAX_MIB,	/* the page caches' budget; -1: set at
				   start from the cgroup and MemTotal */
	CONFIG_REPLAY,		/* record working sets and replay them */
	CONFIG_UID_MAX_RECORDINGS, /* per uid: recordings kept */
	CONFIG_STORE_CONNECT_TIMEOUT, /* seconds a store's connection and
				   NBD handshake may take; 0: no limit */
	CONFIG_UID_LOG_RATE,	/* per uid: session lines a second, after
				   a burst of five times that; 0: no
				   limit */
	CONFIG_NKEYS
};

/* config.c; only through config_get() and config_set(). */
extern int config_live[CONFIG_NKEYS];

static inline int
config_get(enum config_key key)
{
	return __atomic_load_n(&config_live[key], __ATOMIC_RELAXED);
}

static inline void
config_set(enum config_key key, int value)
{
	__atomic_store_n(&config_live[key], value, __ATOMIC_RELAXED);
}

/* What a configuration file says (config.c); -1 or empty: not said. */
struct pagerd_config {
	char socket[108];
	char cache_dir[256];
	int socket_mode;
	int socket_gid;
	int workers;
	int queue_depth;
	int readahead;
	int cache_window;
	int max_clients;
	int cache_linger;
	int cache_linger_mib;
	int writeback_hold_mib;
	int read_timeout;
	int poll_us;
	int hello_timeout;
	int uid_max_sessions;
	int uid_max_fds;
	int uid_max_cache_mib;
	int uid_max_wp_mib;
	int cache_max_mib;
	int log_level;		/* 0 warning, 1 info, 2 debug */
	uid_t *uids;		/* allow-uid */
	size_t nuids;
	gid_t *gids;		/* allow-gid */
	size_t ngids;
	int admin_gid;		/* admin-group: sees every user's clients */
	char log_file[256];	/* log-file: "" logs to stderr or syslog */
	char state_dir[256];
	int replay;
	int uid_max_recordings;
	int store_connect_timeout;
	int uid_log_rate;
	struct config_store *stores; /* store lines, for store.c */
	size_t nstores;
};

/* A store line: store NAME URI [allow-uid UID...] [allow-gid GID...]. */
struct config_store {
	char name[PD_STORE_NAME_MAX];
	char uri[512];
	uid_t *uids;
	size_t nuids;
	gid_t *gids;
	size_t ngids;
};

/* config.c */
void config_init(struct pagerd_config *);
void config_free(struct pagerd_config *);
int config_parse(const char *, int, struct pagerd_config *, FILE *);
int config_default(enum config_key);
const char *config_name(size_t);
void config_set_policy(struct pagerd_config *);
int config_allows(uid_t, gid_t);
int config_admin(gid_t, const gid_t *, size_t);

#endif

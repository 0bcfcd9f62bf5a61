/*
 * The configuration file, /etc/pagerd.conf (pagerd.conf(5)): one
 * "key value" a line, # comments. Every error is reported as FILE:LINE:
 * reason, and a file with any error is not used at all. Also what SIGHUP
 * may change while every thread reads it: the live numbers and the access
 * policy.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pagerd.h"

#define CONFIG_MAX_IDS 256	/* allow-uid and allow-gid entries each */

enum config_kind { KIND_PATH, KIND_MODE, KIND_GROUP, KIND_NUMBER, KIND_LEVEL,
    KIND_UID, KIND_GID, KIND_STORE };

/* A number key's place in struct pagerd_config. */
#define NUMBER(field) offsetof(struct pagerd_config, field)
/* A path's place, and its buffer's size as the key's max. */
#define PATH(field) 0, (int)sizeof(((struct pagerd_config *)0)->field), \
	offsetof(struct pagerd_config, field)

static const struct {
	const char *key;
	enum config_kind kind;
	int min, max;		/* KIND_NUMBER; KIND_PATH: max is the size */
	size_t field;		/* KIND_NUMBER, KIND_PATH: where it goes */
	int repeat;		/* may be given more than once */
} config_keys[] = {
	{ "socket", KIND_PATH, PATH(socket), 0 },
	{ "cache-dir", KIND_PATH, PATH(cache_dir), 0 },
	{ "socket-mode", KIND_MODE, 0, 0, 0, 0 },
	{ "socket-group", KIND_GROUP, 0, 0, NUMBER(socket_gid), 0 },
	{ "workers", KIND_NUMBER, 1, PAGERD_MAX_WORKERS, NUMBER(workers), 0 },
	{ "queue-depth", KIND_NUMBER, 1, 4096, NUMBER(queue_depth), 0 },
	{ "readahead", KIND_NUMBER, 1, PAGERD_MAX_READAHEAD,
	    NUMBER(readahead), 0 },
	{ "cache-window", KIND_NUMBER, 1, PAGERD_MAX_CACHE_WINDOW,
	    NUMBER(cache_window), 0 },
	{ "max-clients", KIND_NUMBER, 1, 1000000, NUMBER(max_clients), 0 },
	{ "cache-linger", KIND_NUMBER, 0, 86400, NUMBER(cache_linger), 0 },
	{ "cache-linger-mib", KIND_NUMBER, 0, 1 << 24,
	    NUMBER(cache_linger_mib), 0 },
	{ "writeback-hold-mib", KIND_NUMBER, 0, 1 << 24,
	    NUMBER(writeback_hold_mib), 0 },
	{ "read-timeout", KIND_NUMBER, 0, 86400, NUMBER(read_timeout), 0 },
	{ "poll-us", KIND_NUMBER, 0, 10000, NUMBER(poll_us), 0 },
	{ "hello-timeout", KIND_NUMBER, 1, 3600, NUMBER(hello_timeout), 0 },
	{ "uid-max-sessions", KIND_NUMBER, 1, 1000000,
	    NUMBER(uid_max_sessions), 0 },
	{ "uid-max-fds", KIND_NUMBER, 8, 1 << 24, NUMBER(uid_max_fds), 0 },
	{ "uid-max-cache-mib", KIND_NUMBER, 0, INT32_MAX,
	    NUMBER(uid_max_cache_mib), 0 },
	{ "uid-max-wp-mib", KIND_NUMBER, 0, INT32_MAX, NUMBER(uid_max_wp_mib),
	    0 },
	{ "cache-max-mib", KIND_NUMBER, 1, INT32_MAX, NUMBER(cache_max_mib),
	    0 },
	{ "log-level", KIND_LEVEL, 0, 0, 0, 0 },
	{ "allow-uid", KIND_UID, 0, 0, 0, 1 },
	{ "allow-gid", KIND_GID, 0, 0, 0, 1 },
	{ "admin-group", KIND_GROUP, 0, 0, NUMBER(admin_gid), 0 },
	{ "log-file", KIND_PATH, PATH(log_file), 0 },
	{ "store", KIND_STORE, 0, 0, 0, 1 },
	{ "state-dir", KIND_PATH, PATH(state_dir), 0 },
	{ "replay", KIND_NUMBER, 0, 1, NUMBER(replay), 0 },
	{ "uid-max-recordings", KIND_NUMBER, 1, 100000,
	    NUMBER(uid_max_recordings), 0 },
	{ "store-connect-timeout", KIND_NUMBER, 0, 3600,
	    NUMBER(store_connect_timeout), 0 },
	{ "uid-log-rate", KIND_NUMBER, 0, 100000, NUMBER(uid_log_rate), 0 },
};

#define NKEYS (sizeof config_keys / sizeof config_keys[0])

static void __attribute__((format(printf, 4, 5)))
config_error(FILE *out, const char *path, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "%s:%d: ", path, line);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static int
config_id(const char *value, int user, long long *id)
{
	const char *errstr;
	struct passwd *pw;
	struct group *gr;

	*id = strtonum(value, 0, INT32_MAX, &errstr);
	if (errstr == NULL)
		return 0;
	if (user && (pw = getpwnam(value)) != NULL) {
		*id = pw->pw_uid;
		return 0;
	}
	if (!user && (gr = getgrnam(value)) != NULL) {
		*id = gr->gr_gid;
		return 0;
	}
	return -1;
}

/*
 * The edit distance between a and b (insertions, deletions, changes),
 * for keys: both shorter than 64 bytes, else "far".
 */
static size_t
config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, row[64];

	if (la >= sizeof row || lb >= sizeof row)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (cur + 1 < row[j])
				row[j] = cur + 1;
			prev = cur;
		}
	}
	return row[lb];
}

/* The known key nearest an unknown one, or NULL if none is near. */
static const char *
config_nearest(const char *key)
{
	const char *best = NULL;
	size_t k, d, bestd = SIZE_MAX, len = strlen(key);

	for (k = 0; k < NKEYS; k++) {
		d = config_distance(key, config_keys[k].key);
		if (d < bestd) {
			bestd = d;
			best = config_keys[k].key;
		}
	}
	/* A typo, not a different word: a third of the key at most. */
	return bestd <= 3 && bestd <= (len + 2) / 3 ? best : NULL;
}

#define CONFIG_MAX_STORES 256

/* The reason for a user or group that name does not name. */
static const char *
config_no_id(const char *name, int user, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s: no such %s%s", name, user ? "user" :
	    "group", strpbrk(name, " \t") != NULL ? " (one a line: repeat "
	    "the key)" : "");
	return why;
}

/*
 * A store line's value: NAME URI [allow-uid UID...] [allow-gid GID...],
 * into c's stores; a reason on error.
 */
static const char *
config_store(struct pagerd_config *c, char *value, char *why, size_t whylen)
{
	struct config_store *cs, *n;
	const char *word, *sep = " \t";
	char *save;
	int list = 0;		/* 1 uids, 2 gids */
	long long id;
	size_t i;

	if (c->nstores == CONFIG_MAX_STORES)
		return "too many store lines";
	if ((n = reallocarray(c->stores, c->nstores + 1, sizeof *n)) == NULL)
		return "out of memory";
	c->stores = n;
	cs = &c->stores[c->nstores];
	memset(cs, 0, sizeof *cs);
	if ((cs->uids = calloc(CONFIG_MAX_IDS, sizeof *cs->uids)) == NULL ||
	    (cs->gids = calloc(CONFIG_MAX_IDS, sizeof *cs->gids)) == NULL) {
		free(cs->uids);
		return "out of memory";
	}
	c->nstores++;
	if ((word = strtok_r(value, sep, &save)) == NULL)
		return "store NAME URI [allow-uid UID...] [allow-gid GID...]";
	if (strlen(word) >= sizeof cs->name || word[strspn(word,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")]
	    != '\0')
		return "a store's name is 1 to 63 letters, digits, '.', '_' "
		    "or '-'";
	strlcpy(cs->name, word, sizeof cs->name);
	for (i = 0; i + 1 < c->nstores; i++)
		if (strcmp(c->stores[i].name, cs->name) == 0)
			return "a store of that name is declared already";
	if ((word = strtok_r(NULL, sep, &save)) == NULL)
		return "no URI: store NAME URI [allow-uid UID...] "
		    "[allow-gid GID...]";
	if (strlen(word) >= sizeof cs->uri)
		return "the URI is too long";
	if (store_check_uri(word, why, whylen) != 0)
		return why;
	strlcpy(cs->uri, word, sizeof cs->uri);
	while ((word = strtok_r(NULL, sep, &save)) != NULL) {
		if (strcmp(word, "allow-uid") == 0 || strcmp(word,
		    "allow-gid") == 0) {
			list = word[6] == 'u' ? 1 : 2;
			continue;
		}
		if (list == 0) {
			snprintf(why, whylen, "\"%s\": after the URI come "
			    "allow-uid and allow-gid lists", word);
			return why;
		}
		if (config_id(word, list == 1, &id) != 0)
			return config_no_id(word, list == 1, why, whylen);
		if ((list == 1 ? cs->nuids : cs->ngids) == CONFIG_MAX_IDS)
			return "too many ids";
		if (list == 1)
			cs->uids[cs->nuids++] = (uid_t)id;
		else
			cs->gids[cs->ngids++] = (gid_t)id;
	}
	return NULL;
}

/* One key's value into c; a reason on error. */
static const char *
config_value(struct pagerd_config *c, size_t k, char *value,
    char *why, size_t whylen)
{
	const char *errstr;
	long long n;
	char *end;
	long mode;

	switch (config_keys[k].kind) {
	case KIND_PATH:
		if (value[0] != '/')
			return "not an absolute path";
		if (strlcpy((char *)c + config_keys[k].field, value,
		    (size_t)config_keys[k].max) >= (size_t)config_keys[k].max)
			return "the path is too long";
		break;
	case KIND_MODE:
		errno = 0;
		mode = strtol(value, &end, 8);
		if (errno != 0 || *end != '\0' || mode < 0 || mode > 0777)
			return "not an octal mode from 0 to 0777";
		c->socket_mode = (int)mode;
		break;
	case KIND_GROUP:
		if (config_id(value, 0, &n) != 0)
			return config_no_id(value, 0, why, whylen);
		*(int *)(void *)((char *)c + config_keys[k].field) = (int)n;
		break;
	case KIND_NUMBER:
		n = strtonum(value, config_keys[k].min, config_keys[k].max,
		    &errstr);
		if (errstr != NULL) {
			snprintf(why, whylen, "%s is %s (allowed: %d to %d)",
			    value, errstr, config_keys[k].min,
			    config_keys[k].max);
			return why;
		}
		*(int *)(void *)((char *)c + config_keys[k].field) = (int)n;
		break;
	case KIND_LEVEL:
		if (strcmp(value, "warning") == 0)
			c->log_level = 0;
		else if (strcmp(value, "info") == 0)
			c->log_level = 1;
		else if (strcmp(value, "debug") == 0)
			c->log_level = 2;
		else
			return "not warning, info or debug";
		break;
	case KIND_STORE:
		return config_store(c, value, why, whylen);
	case KIND_UID:
	case KIND_GID:
		if (config_id(value, config_keys[k].kind == KIND_UID, &n) != 0)
			return config_no_id(value, config_keys[k].kind ==
			    KIND_UID, why, whylen);
		if (config_keys[k].kind == KIND_UID) {
			if (c->nuids == CONFIG_MAX_IDS)
				return "too many allow-uid lines";
			c->uids[c->nuids++] = (uid_t)n;
		} else {
			if (c->ngids == CONFIG_MAX_IDS)
				return "too many allow-gid lines";
			c->gids[c->ngids++] = (gid_t)n;
		}
		break;
	}
	return NULL;
}

void
config_init(struct pagerd_config *c)
{
	memset(c, 0, sizeof *c);
	c->socket_mode = c->socket_gid = c->workers = c->queue_depth =
	    c->readahead = c->cache_window = c->max_clients = c->log_level =
	    c->cache_linger = c->cache_linger_mib = c->writeback_hold_mib =
	    c->poll_us = c->admin_gid = c->hello_timeout = c->uid_max_sessions =
	    c->uid_max_fds = c->uid_max_cache_mib = c->uid_max_wp_mib =
	    c->read_timeout = c->cache_max_mib = -1;
	c->replay = c->uid_max_recordings = -1;
	c->store_connect_timeout = c->uid_log_rate = -1;
}

void
config_free(struct pagerd_config *c)
{
	size_t i;

	for (i = 0; i < c->nstores; i++) {
		free(c->stores[i].uids);
		free(c->stores[i].gids);
	}
	free(c->stores);
	c->stores = NULL;
	c->nstores = 0;
	free(c->uids);
	free(c->gids);
	c->uids = NULL;
	c->gids = NULL;
}

/*
 * Read path into c (set up by config_init). A missing file is no error
 * when missing_ok. Returns the number of errors, each written to out.
 */
int
config_parse(const char *path, int missing_ok, struct pagerd_config *c,
    FILE *out)
{
	char buf[1024], why[128], *key, *value, *end;
	unsigned char seen[NKEYS];
	const char *err;
	int line = 0, errors = 0;
	size_t k;
	FILE *f;

	if ((c->uids = calloc(CONFIG_MAX_IDS, sizeof *c->uids)) == NULL ||
	    (c->gids = calloc(CONFIG_MAX_IDS, sizeof *c->gids)) == NULL) {
		fprintf(out, "%s: out of memory\n", path);
		return 1;
	}
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && missing_ok)
			return 0;
		fprintf(out, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	memset(seen, 0, sizeof seen);
	while (fgets(buf, sizeof buf, f) != NULL) {
		line++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			config_error(out, path, line, "line too long");
			errors++;
			while (fgets(buf, sizeof buf, f) != NULL &&
			    strchr(buf, '\n') == NULL)
				;
			continue;
		}
		buf[strcspn(buf, "#\n")] = '\0';
		for (key = buf; isspace((unsigned char)*key); key++)
			;
		if (*key == '\0')
			continue;
		for (value = key; *value != '\0' &&
		    !isspace((unsigned char)*value); value++)
			;
		if (*value != '\0')
			*value++ = '\0';
		while (isspace((unsigned char)*value))
			value++;
		for (end = value + strlen(value); end > value &&
		    isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		for (k = 0; k < NKEYS && strcmp(key, config_keys[k].key) != 0;
		    k++)
			;
		if (k == NKEYS) {
			if ((err = config_nearest(key)) != NULL)
				config_error(out, path, line, "unknown key "
				    "\"%s\"; did you mean \"%s\"?", key, err);
			else
				config_error(out, path, line, "unknown key "
				    "\"%s\"", key);
			errors++;
		} else if (*value == '\0') {
			config_error(out, path, line, "%s: missing value", key);
			errors++;
		} else if (seen[k] && !config_keys[k].repeat) {
			config_error(out, path, line, "%s: given twice", key);
			errors++;
		} else if ((err = config_value(c, k, value, why, sizeof why)) !=
		    NULL) {
			config_error(out, path, line, "%s: %s", key, err);
			errors++;
		}
		if (k < NKEYS)
			seen[k] = 1;
	}
	/* A directory opens, and fails at the first read. */
	if (ferror(f)) {
		fprintf(out, "%s: %s\n", path, strerror(errno));
		errors++;
	}
	fclose(f);
	return errors;
}

/* --- The live numbers (pagerd.h says the rule) ------------------------ */

/* What each starts at; -1 and 0 as enum config_key says. */
#define CONFIG_DEFAULTS { \
	[CONFIG_READAHEAD] = 16, \
	[CONFIG_CACHE_WINDOW] = 2048, \
	[CONFIG_MAX_CLIENTS] = PAGERD_MAX_CLIENTS, \
	[CONFIG_POLL_US] = 50, \
	[CONFIG_CACHE_LINGER] = 30, \
	[CONFIG_CACHE_LINGER_MIB] = 1024, \
	[CONFIG_WRITEBACK_HOLD_MIB] = 1024, \
	[CONFIG_HELLO_TIMEOUT] = 5, \
	[CONFIG_UID_MAX_SESSIONS] = PAGERD_MAX_CLIENTS / 16, \
	[CONFIG_UID_MAX_FDS] = 0, \
	[CONFIG_UID_MAX_CACHE_MIB] = -1, \
	[CONFIG_UID_MAX_WP_MIB] = 1 << 20,	/* 1 TiB */ \
	[CONFIG_READ_TIMEOUT] = 30, \
	[CONFIG_CACHE_MAX_MIB] = -1, \
	[CONFIG_REPLAY] = 1, \
	[CONFIG_UID_MAX_RECORDINGS] = 64, \
	[CONFIG_STORE_CONNECT_TIMEOUT] = 10, \
	[CONFIG_UID_LOG_RATE] = 10, \
}

int config_live[CONFIG_NKEYS] = CONFIG_DEFAULTS;
static const int config_defaults[CONFIG_NKEYS] = CONFIG_DEFAULTS;

/* A live number's value when nothing sets it. */
int
config_default(enum config_key key)
{
	return config_defaults[key];
}

/* The name of the number key kept at field of struct pagerd_config. */
const char *
config_name(size_t field)
{
	size_t k;

	for (k = 0; k < NKEYS; k++)
		if (config_keys[k].kind == KIND_NUMBER &&
		    config_keys[k].field == field)
			return config_keys[k].key;
	return "?";
}

/* --- The access policy ----------------------------------------------- */

static pthread_rwlock_t policy_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Only uids, gids and admin_gid are used. */
static struct pagerd_config policy = { .admin_gid = -1 };

/* Take over c's allow lists (c keeps none), and its stores (store.c). */
void
config_set_policy(struct pagerd_config *c)
{
	store_configure(c);
	pthread_rwlock_wrlock(&policy_lock);
	free(policy.uids);
	free(policy.gids);
	policy.uids = c->uids;
	policy.nuids = c->nuids;
	policy.gids = c->gids;
	policy.ngids = c->ngids;
	policy.admin_gid = c->admin_gid;
	pthread_rwlock_unlock(&policy_lock);
	c->uids = NULL;
	c->gids = NULL;
	c->nuids = c->ngids = 0;
}

/*
 * May a peer with these credentials connect? Root may; without allow
 * lists everyone may; else the uid or the primary gid must be listed.
 */
int
config_allows(uid_t uid, gid_t gid)
{
	size_t i;
	int ok;

	if (uid == 0)
		return 1;
	pthread_rwlock_rdlock(&policy_lock);
	ok = policy.nuids == 0 && policy.ngids == 0;
	for (i = 0; i < policy.nuids && !ok; i++)
		ok = policy.uids[i] == uid;
	for (i = 0; i < policy.ngids && !ok; i++)
		ok = policy.gids[i] == gid;
	pthread_rwlock_unlock(&policy_lock);
	return ok;
}

/*
 * Is a peer with this primary group and these groups in the admin group,
 * which sees every user's clients, regions and violations?
 */
int
config_admin(gid_t gid, const gid_t *groups, size_t ngroups)
{
	size_t i;
	int admin;

	pthread_rwlock_rdlock(&policy_lock);
	admin = policy.admin_gid != -1 && (gid_t)policy.admin_gid == gid;
	for (i = 0; i < ngroups && !admin && policy.admin_gid != -1; i++)
		admin = groups[i] == (gid_t)policy.admin_gid;
	pthread_rwlock_unlock(&policy_lock);
	return admin;
}

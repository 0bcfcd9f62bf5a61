/*
 * The NBD stores' own interfaces, shared by their files and nothing else:
 * store.c (the store lines of pagerd.conf, who may map a store, the
 * sessions' requests and listings) and store-conn.c (each worker's libnbd
 * connection to a store, driven from its io_uring, and what is sent on it).
 */
#ifndef PAGERD_STORE_H
#define PAGERD_STORE_H

#include <pthread.h>

#include "pagerd.h"

struct store_conn;

struct store {
	LIST_ENTRY(store) entry;
	char name[PD_STORE_NAME_MAX];
	char uri[512];
	uid_t *uids;		/* under store_lock */
	size_t nuids;
	gid_t *gids;
	size_t ngids;
	char error[128];	/* the last failure, under store_lock */
	int refs;		/* atomic: the configuration's while it
				   names the store, its caches', its write-
				   protected regions', requests' on the way */
	int closing;		/* connections still to close, once unused */
	int retired;		/* atomic, like the rest below */
	int state;		/* enum pd_store_state, the latest news */
	uint64_t size;		/* of the export, 0 unknown */
	int readonly;		/* the server takes no writes */
	uint64_t reads, bytes, errors, reconnects, written;
	uint32_t nconns;
	struct store_conn *conns[PAGERD_MAX_WORKERS]; /* each its worker's */
};

#define STORE_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define STORE_ADD(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)
#define STORE_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/*
 * A session's request that waits for its worker's connection to a store:
 * ready runs once it is connected (error 0: st->size and st->readonly are
 * the export's) or cannot be (-errno, why), and frees what holds w.
 */
struct store_wait {
	TAILQ_ENTRY(store_wait) entry;
	struct session *s;
	uint32_t seq;
	void (*ready)(struct store_wait *, struct store *, int, const char *);
};

/* store.c */
extern pthread_rwlock_t store_lock;
void store_free(struct store *);

/* store-conn.c */
void store_conn_wait(struct store *, struct store_wait *);
int store_conn_close_all(struct store *);

#endif /* PAGERD_STORE_H */

/*
 * The page cache's own interfaces, shared by its files and nothing else:
 * cache.c (caches' lifetime: made, adopted, shared, lingering, freed),
 * cache-shmem.c (the shared memory they live in: where it is made, which
 * is adopted), cache-direct.c (cold windows read past the kernel's page
 * cache) and cache-resident.c (what they hold resident: fill
 * bitmaps, windows held and punched out, pages counted per cache, per
 * user and in all).
 */
#ifndef PAGERD_CACHE_H
#define PAGERD_CACHE_H

#include "pagerd.h"

/* cache.c */
extern pthread_mutex_t cache_lock;

/* cache-shmem.c */
int cache_shmem_new(uint64_t, int *);
int cache_shmem_sealed(uint64_t, int *);
int cache_shmem_adoptable(int, uint64_t, int, int *);

/* cache-direct.c */
void cache_direct_close(struct cache *);
void cache_direct_idle(struct cache *);

/* cache-resident.c */
struct cache_user *cache_user(uid_t);
void cache_forget_resident(struct cache *);
void cache_adopted_pages(struct cache *);

#endif /* PAGERD_CACHE_H */

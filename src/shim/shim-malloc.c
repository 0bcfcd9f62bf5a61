/*
 * Large allocations. glibc's malloc maps big blocks with its internal
 * __mmap, which no preload sees; so with PAGERD_ANON the shim serves
 * malloc, calloc and realloc of at least that many bytes itself, from
 * anonymous mappings made through the interposed mmap (routed to pagerd
 * like any other), and free of those blocks; everything else goes to
 * glibc's own functions (__libc_malloc and friends). Its blocks are page
 * aligned, glibc's mapped chunks never are, so free looks a pointer up
 * only when it is page aligned and blocks exist.
 */
#include "config.h"

#include <sys/auxv.h>
#include <sys/mman.h>

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/libutil.h>

#include "shim.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

struct big {
	uintptr_t addr;
	size_t len;
};

static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static struct big *bigs;
static size_t nbigs, capbigs;
static size_t big_min;		/* PAGERD_ANON, read without allocating */
static int big_state;		/* 0 not read, 1 read */

static size_t
big_threshold(void)
{
	const char *env;
	uint64_t v;

	if (__atomic_load_n(&big_state, __ATOMIC_ACQUIRE))
		return big_min;
	if (getauxval(AT_SECURE) == 0 &&
	    (env = getenv("PAGERD_ANON")) != NULL && *env != '\0' &&
	    expand_number(env, &v) == 0 && v > 0)
		big_min = (size_t)v;
	__atomic_store_n(&big_state, 1, __ATOMIC_RELEASE);
	return big_min;
}

/* The block at p, removed from the table when take; its length or 0. */
static size_t
big_find(const void *p, int take)
{
	size_t i, len = 0;

	if (((uintptr_t)p & 4095) != 0 ||
	    __atomic_load_n(&nbigs, __ATOMIC_ACQUIRE) == 0)
		return 0;
	pthread_mutex_lock(&big_lock);
	for (i = 0; i < nbigs; i++)
		if (bigs[i].addr == (uintptr_t)p) {
			len = bigs[i].len;
			if (take)
				bigs[i] = bigs[--nbigs];
			break;
		}
	pthread_mutex_unlock(&big_lock);
	return len;
}

static int
big_record(void *p, size_t len)
{
	struct big *n;
	int ok = 1;

	pthread_mutex_lock(&big_lock);
	if (nbigs == capbigs) {
		n = __libc_realloc(bigs, (capbigs ? capbigs * 2 : 64) *
		    sizeof *n);
		if (n == NULL)
			ok = 0;
		else {
			bigs = n;
			capbigs = capbigs ? capbigs * 2 : 64;
		}
	}
	if (ok) {
		bigs[nbigs].addr = (uintptr_t)p;
		bigs[nbigs].len = len;
		__atomic_store_n(&nbigs, nbigs + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&big_lock);
	return ok;
}

static void *
big_alloc(size_t n)
{
	size_t len = (n + 4095) & ~(size_t)4095;
	void *p;

	if (len < n)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!big_record(p, len)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

SHIM_PUBLIC void *
malloc(size_t n)
{
	void *p;

	if (shim_busy || n < big_threshold() || big_min == 0)
		return __libc_malloc(n);
	if ((p = big_alloc(n)) == NULL)
		errno = ENOMEM;
	return p;
}

SHIM_PUBLIC void *
calloc(size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (__builtin_mul_overflow(nmemb, size, &n) || shim_busy ||
	    n < big_threshold() || big_min == 0)
		return __libc_calloc(nmemb, size);
	/* A fresh mapping reads as zeros. */
	if ((p = big_alloc(n)) == NULL)
		errno = ENOMEM;
	return p;
}

SHIM_PUBLIC void
free(void *p)
{
	size_t len;

	if (p != NULL && (len = big_find(p, 1)) != 0) {
		munmap(p, len);
		return;
	}
	__libc_free(p);
}

SHIM_PUBLIC void *
realloc(void *p, size_t n)
{
	size_t len, newlen = (n + 4095) & ~(size_t)4095;
	void *q;

	if (p == NULL || (len = big_find(p, 0)) == 0)
		return __libc_realloc(p, n);
	if (n >= big_threshold() && big_min != 0 && newlen >= n) {
		/* Ours stays ours: the mapping moves or grows. */
		q = mremap(p, len, newlen, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			errno = ENOMEM;
			return NULL;
		}
		big_find(p, 1);
		if (!big_record(q, newlen)) {
			munmap(q, newlen);
			errno = ENOMEM;
			return NULL;
		}
		return q;
	}
	if ((q = __libc_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, n < len ? n : len);
	free(p);
	return q;
}

SHIM_PUBLIC size_t
malloc_usable_size(void *p)
{
	static size_t (*real)(void *);
	size_t len;

	if (p != NULL && (len = big_find(p, 0)) != 0)
		return len;
	if (real == NULL)
		real = (size_t (*)(void *))dlsym(RTLD_NEXT,
		    "malloc_usable_size");
	return real != NULL ? real(p) : 0;
}

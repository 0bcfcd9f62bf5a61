/*
 * Regions of network block stores: the daemon's administrator names the
 * stores (pagerd.conf), a client maps one by name; its pages come from
 * the store into the daemon's shared page cache of it, which the region
 * maps privately. A write-protected one (copy-on-write, write-back) is
 * its own memory, as a file's is, filled by copies from the store.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "pagerd.h"
#include "proto.h"

/*
 * Map the page cache of store name at addr (NULL: only hold it, for a
 * write-protected region, which names the store by it), for up to length
 * bytes from offset: the bytes it covers (the rest lies past the
 * export's end), or -errno. Called with pd->lock held.
 */
ssize_t
pagerd_store_cache(struct pagerd *pd, struct pagerd_region *r,
    const char *name, void *addr, uint64_t offset, size_t length, int prot)
{
	union pd_msg msg, reply;
	int error, memfd = -1;

	if (!(pd->caps & PD_CAP_STORES))
		return pagerd_fail(-EOPNOTSUPP, "the daemon pages from no "
		    "stores (an older pagerd)");
	proto_init(&msg, PD_MSG_STORE, 0);
	strlcpy(msg.store.name, name, sizeof msg.store.name);
	if ((error = pagerd_request_fds(pd, &msg, NULL, 0, &reply,
	    PD_MSG_CACHE_REPLY, &memfd)) != 0)
		return error;
	/* A restarted daemon is asked to adopt the cache by this name. */
	strlcpy(r->store, name, sizeof r->store);
	if (reply.cache_reply.size <= offset) {
		close(memfd);
		return pagerd_fail(-EINVAL, "store %s: offset %llu is past the "
		    "export's end (%llu bytes)", name,
		    (unsigned long long)offset,
		    (unsigned long long)reply.cache_reply.size);
	}
	return pagerd_map_memfd(pd, r, memfd, reply.cache_reply.size, addr,
	    offset, length, prot);
}

/* A store's name and an offset in it, as a caller gives them: 0 or -errno. */
static int
pagerd_store_check(struct pagerd *pd, const char *name, off_t offset)
{
	if (name == NULL || name[0] == '\0' || strlen(name) >=
	    PD_STORE_NAME_MAX)
		return pagerd_fail(-EINVAL, "a store's name is 1 to %d bytes",
		    PD_STORE_NAME_MAX - 1);
	if (offset < 0 || ((uint64_t)offset & (pd->page_size - 1)) != 0)
		return pagerd_fail(-EINVAL, "offset %lld is not a multiple of "
		    "the page size %zu", (long long)offset, pd->page_size);
	return 0;
}

PUBLIC int
pagerd_map_store(struct pagerd *pd, const char *name, off_t offset,
    size_t length, int prot, unsigned int flags, void **addrp)
{
	int error;

	if ((error = pagerd_check_prot(prot)) != 0 ||
	    (error = pagerd_check_flags(flags, prot, 1)) != 0 ||
	    (error = pagerd_store_check(pd, name, offset)) != 0)
		return error;
	return pagerd_map(pd, PD_BACKING_STORE, -1, name, (uint64_t)offset,
	    length, prot, flags, NULL, 0, addrp);
}

/*
 * Hand a store region's page cache to a restarted daemon, which adopts it
 * once it has checked again that the caller's user may use the store: 0,
 * or -errno (the region cannot be handed over). Called with pd->lock held.
 */
int
pagerd_store_adopt(struct pagerd *pd, const struct pagerd_region *r)
{
	union pd_msg msg, reply;

	if (!(pd->caps & PD_CAP_STORE_IMAGES))
		return pagerd_fail(-EOPNOTSUPP, "the daemon adopts no store "
		    "page caches (an older pagerd)");
	proto_init(&msg, PD_MSG_STORE_ADOPT, 0);
	strlcpy(msg.store.name, r->store, sizeof msg.store.name);
	return pagerd_request_fds(pd, &msg, &r->memfd, 1, &reply,
	    PD_MSG_CACHE_REPLY, NULL);
}

PUBLIC int
pagerd_snapshot_store_start(struct pagerd *pd, void *addr, const char *name,
    off_t offset, uint32_t *idp)
{
	union pd_msg msg, reply;
	size_t i;
	int error;

	if ((error = pagerd_store_check(pd, name, offset)) != 0)
		return error;
	pthread_mutex_lock(&pd->lock);
	if (!(pd->caps & PD_CAP_STORE_IMAGES))
		error = pagerd_fail(-EOPNOTSUPP, "the daemon writes no "
		    "snapshots to stores (an older pagerd)");
	else if ((error = pagerd_find_live(pd, addr, &i)) == 0) {
		proto_init(&msg, PD_MSG_SNAPSHOT_STORE, 0);
		msg.snapshot_store.region_id = pd->regions[i].id;
		msg.snapshot_store.offset = (uint64_t)offset;
		strlcpy(msg.snapshot_store.name, name,
		    sizeof msg.snapshot_store.name);
		error = pagerd_request(pd, &msg, -1, &reply, PD_MSG_REPLY);
		if (error == 0)
			*idp = reply.reply.value;
	}
	pthread_mutex_unlock(&pd->lock);
	return error;
}

PUBLIC int
pagerd_snapshot_store(struct pagerd *pd, void *addr, const char *name,
    off_t offset)
{
	uint32_t id;
	int error;

	if ((error = pagerd_snapshot_store_start(pd, addr, name, offset,
	    &id)) != 0)
		return error;
	return pagerd_snapshot_wait(pd, id);
}

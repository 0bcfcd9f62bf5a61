/*
 * Per-uid rates for the log lines a client can cause at will (violation
 * reports, refused requests, connections), so that one user can neither
 * fill the log nor drown another user's lines in it.
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "log.h"
#include "pagerd.h"

/* Say how many of u's lines were dropped, if any. Called with the lock. */
static void
ratelimit_said(struct ratelimit *rl, struct ratelimit_uid *u)
{
	uint64_t dropped;

	if ((dropped = u->dropped) == 0)
		return;
	u->dropped = 0;
	log_warnx("uid %u: %" PRIu64 " %s were %s", (unsigned int)u->uid,
	    dropped, rl->what, rl->fate);
}

/*
 * uid's entry: its own, else the idlest (a free one first), whose
 * dropped lines are counted out before another uid takes it.
 */
static struct ratelimit_uid *
ratelimit_find(struct ratelimit *rl, uid_t uid)
{
	struct ratelimit_uid *u, *idlest = &rl->uids[0];
	size_t i;

	for (i = 0; i < RATELIMIT_UIDS; i++) {
		u = &rl->uids[i];
		if (u->used && u->uid == uid)
			return u;
		if (!u->used || (idlest->used && u->next < idlest->next))
			idlest = u;
	}
	if (idlest->used)
		ratelimit_said(rl, idlest);
	memset(idlest, 0, sizeof *idlest);
	idlest->used = 1;
	idlest->uid = uid;
	return idlest;
}

/*
 * May uid have one more line now, at rate a second after burst (rate >
 * 0)? A line is let through while next, the time uid's lines have paid
 * up to, is less than a burst ahead of now (GCRA); a rate changed on the
 * way takes next as it finds it. The first dropped says so, the first
 * let through after some were dropped says how many.
 */
int
ratelimit_allow_rate(struct ratelimit *rl, uid_t uid, int rate, int burst)
{
	const uint64_t step = 1000000000u / (unsigned int)rate;
	struct ratelimit_uid *u;
	uint64_t now = monotonic_ns();
	int allow = 1;

	pthread_mutex_lock(&rl->lock);
	u = ratelimit_find(rl, uid);
	if (u->next < now)
		u->next = now;
	if (u->next - now > (uint64_t)(burst - 1) * step) {
		if (u->dropped++ == 0)
			log_warnx("uid %u: more than %d %s a second: the next "
			    "are %s", (unsigned int)uid, rate, rl->what,
			    rl->fate);
		allow = 0;
	} else {
		ratelimit_said(rl, u);
		u->next += step;
	}
	pthread_mutex_unlock(&rl->lock);
	return allow;
}

/* As ratelimit_allow_rate(), at rl's own rate and burst. */
int
ratelimit_allow(struct ratelimit *rl, uid_t uid)
{
	return ratelimit_allow_rate(rl, uid, rl->rate, rl->burst);
}

/*
 * Say how many lines were dropped of each uid whose burst is whole again
 * (of every uid when the daemon stops), so that a flood that ended is
 * counted without waiting for the uid's next line.
 */
void
ratelimit_flush(struct ratelimit *rl, int all)
{
	uint64_t now = monotonic_ns();
	size_t i;

	pthread_mutex_lock(&rl->lock);
	for (i = 0; i < RATELIMIT_UIDS; i++)
		if (rl->uids[i].used && (all || rl->uids[i].next <= now))
			ratelimit_said(rl, &rl->uids[i]);
	pthread_mutex_unlock(&rl->lock);
}

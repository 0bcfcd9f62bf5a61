/*
 * Description: one user cannot list, forget or use another's working-set
 * recordings. The victim (pagerd-tb) runs a program that is recorded; the
 * attacker (pagerd-ta) lists none of it, is refused another uid's list
 * and forget, forgets nothing by the victim's recording's name, and its
 * own run of the same program on the same file replays nothing. The
 * victim still has its recording; root sees both users', and its forget
 * all removes only its own.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "replay-common.h"

int
main(void)
{
	struct replay_entry e[4];
	struct harness_daemon d;
	uid_t ta, tb;
	uint64_t victim, attacker;
	char path[512];
	int n;

	ta = harness_test_user("pagerd-ta");
	tb = harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	replay_need_cache(&d);
	harness_make_file(&d, "ws.dat", REPLAY_SIZE, REPLAY_SEED, path,
	    sizeof path);

	victim = replay_run(&d, path, REPLAY_SEED, "pagerd-tb");
	n = replay_ask(d.sock, "pagerd-tb", 0, 0, NULL, e, 4);
	CHECKF(n == 1 && e[0].uid == (uint32_t)tb, "the victim lists %d", n);

	CHECK(replay_ask(d.sock, "pagerd-ta", 0, 0, NULL, e + 1, 3) == 0);
	CHECK(replay_ask(d.sock, "pagerd-ta", PD_RECORDINGS_UID, (uint32_t)tb,
	    NULL, e + 1, 3) == -EPERM);
	CHECK(replay_ask(d.sock, "pagerd-ta", PD_RECORDINGS_FORGET |
	    PD_RECORDINGS_UID, (uint32_t)tb, NULL, e + 1, 3) == -EPERM);
	CHECK(replay_ask(d.sock, "pagerd-ta", PD_RECORDINGS_FORGET, 0,
	    e[0].name, e + 1, 3) == 0);

	attacker = replay_run(&d, path, REPLAY_SEED, "pagerd-ta");
	printf("faults: victim %llu, attacker %llu\n",
	    (unsigned long long)victim, (unsigned long long)attacker);
	CHECKF(!harness_log_has(&d, "replayed ahead of faults"), "the "
	    "attacker's run used the victim's recording");
	n = replay_ask(d.sock, "pagerd-ta", 0, 0, NULL, e + 1, 3);
	CHECKF(n == 1 && e[1].uid == (uint32_t)ta, "the attacker lists %d", n);

	n = replay_ask(d.sock, "pagerd-tb", 0, 0, NULL, e + 1, 3);
	CHECKF(n == 1 && strcmp(e[1].name, e[0].name) == 0 && e[1].pages ==
	    e[0].pages, "the victim's recording changed");
	CHECK(replay_ask(d.sock, NULL, 0, 0, NULL, e, 4) == 2);
	/* Root's "forget all" is root's own: the users keep theirs. */
	CHECK(replay_ask(d.sock, NULL, PD_RECORDINGS_FORGET, 0, NULL, e, 4) ==
	    0);
	CHECK(replay_ask(d.sock, NULL, 0, 0, NULL, e, 4) == 2);
	harness_stop(&d);
	return 0;
}

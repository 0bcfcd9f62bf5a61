/*
 * Description: uid-log-rate sets how many session lines a second each
 * user's clients may cause, after a burst of five seconds' worth, and a
 * reload (SIGHUP) changes it at once. pagerd-ta runs 200 short clients
 * (connect, close: one "closed:" line each, as a build's programs under
 * the shim): at uid-log-rate 100 every line is kept and none said
 * dropped; reloaded at 2, the next 200 leave at most the burst of 10
 * and 2 a second, and the drop is said; reloaded at 0 (no limit), the
 * next 200 are all kept.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define CLIENTS 200

static struct harness_daemon d;
static char conf[256], closed[64];

/* As pagerd-ta: CLIENTS connections, each closed at once. */
static void
clients(void *arg)
{
	struct pagerd *pd;
	int i;

	(void)arg;
	for (i = 0; i < CLIENTS; i++) {
		CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect %d: %s", i,
		    pagerd_errmsg());
		pagerd_close(pd);
	}
}

static void
conf_write(int rate)
{
	char text[64];
	int fd;

	snprintf(text, sizeof text, "uid-log-rate %d\n", rate);
	CHECKF((fd = open(conf, O_WRONLY | O_TRUNC | O_CLOEXEC)) != -1,
	    "%s: %s", conf, strerror(errno));
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

/* The daemon reloaded at rate: the file rewritten, SIGHUP, its word. */
static void
reload(int rate)
{
	int n = harness_log_count(&d, "reloaded "), i;

	conf_write(rate);
	CHECK(kill(d.pid, SIGHUP) == 0);
	for (i = 0; i < 500 && harness_log_count(&d, "reloaded ") == n; i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_count(&d, "reloaded ") > n, "no reload in 5 s");
}

/*
 * pagerd-ta's clients at rate: how many closing lines they left (all of
 * them are waited for, up to 5 s, when all are to be kept) in *secs.
 */
static int
run(int rate, int all, double *secs)
{
	int before = harness_log_count(&d, closed), n, i;
	double t0 = harness_now_s();

	CHECKF(harness_as_user("pagerd-ta", clients, NULL) == 0,
	    "pagerd-ta's clients failed");
	for (i = 0; all && i < 500 && harness_log_count(&d, closed) - before <
	    CLIENTS; i++)
		harness_sleep_ms(10);
	harness_sleep_ms(100);	/* the last closings, when not waited for */
	*secs = harness_now_s() - t0;
	n = harness_log_count(&d, closed) - before;
	printf("uid-log-rate %d: %d of %d closing lines kept in %.1f s\n", rate,
	    n, CLIENTS, *secs);
	return n;
}

int
main(void)
{
	char dropped[128];
	double secs;
	uid_t ta;
	int fd, n, bound;

	ta = harness_test_user("pagerd-ta");
	snprintf(closed, sizeof closed, "; uid %u, ", (unsigned int)ta);
	snprintf(conf, sizeof conf, "%s/pagerd-conf.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	CHECKF((fd = mkstemp(conf)) != -1, "mkstemp: %s", strerror(errno));
	close(fd);
	conf_write(100);
	harness_start(&d, "-f", conf, NULL);

	/* Raised: a build's worth of short programs, every line kept. */
	CHECKF((n = run(100, 1, &secs)) == CLIENTS, "uid-log-rate 100: %d of %d "
	    "closing lines kept", n, CLIENTS);
	snprintf(dropped, sizeof dropped, "uid %u: more than ",
	    (unsigned int)ta);
	CHECKF(!harness_log_has(&d, dropped), "uid-log-rate 100: lines of "
	    "pagerd-ta were dropped");

	/* Lowered by a reload: a burst of 10, then 2 a second. */
	reload(2);
	n = run(2, 0, &secs);
	/* The burst, the rate over the run, and some to spare. */
	bound = 10 + (int)(secs * 2) + 5;
	CHECKF(n >= 1 && n <= bound, "uid-log-rate 2: %d of %d closing lines "
	    "kept, not 1 to %d", n, CLIENTS, bound);
	snprintf(dropped, sizeof dropped, "uid %u: more than 2 session log "
	    "lines a second: the next are not logged", (unsigned int)ta);
	CHECKF(harness_log_has(&d, dropped), "uid-log-rate 2: no word of "
	    "pagerd-ta's lines dropped");

	/* 0: no limit. */
	reload(0);
	CHECKF((n = run(0, 1, &secs)) == CLIENTS, "uid-log-rate 0: %d of %d closing "
	    "lines kept", n, CLIENTS);

	harness_stop(&d);
	unlink(conf);
	printf("uid-log-rate is each user's rate of session lines, live\n");
	return 0;
}

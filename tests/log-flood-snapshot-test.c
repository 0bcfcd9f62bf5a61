/*
 * Description: a local user cannot flood the daemon's log with the lines
 * of its own snapshots. pagerd-ta, one process, snapshots a one-page
 * copy-on-write region 1000 times in a row, each snapshot done and its
 * notice received. The log holds a bounded number of its "snapshot N of
 * region M" lines (the session lines' burst of 50, then 10 a second)
 * and says that lines of its uid are dropped; pagerd-tb's one snapshot
 * afterwards is logged.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pagerd.h>

#include "harness.h"

#define SNAPSHOTS 1000
/* The daemon's rate of session lines per uid: a burst, then a second. */
#define BURST 50
#define RATE 10
#define LINE "): snapshot "

static struct harness_daemon d;

/* As a test user: n snapshots of a written one-page COW region. */
static void
snapshots(void *arg)
{
	int n = *(int *)arg, i, fd;
	long ps = sysconf(_SC_PAGESIZE);
	struct pagerd *pd;
	char *p;

	CHECKF(pagerd_connect(d.sock, &pd) == 0, "connect: %s",
	    pagerd_errmsg());
	CHECKF(pagerd_map_zero(pd, (size_t)ps, PROT_READ | PROT_WRITE,
	    PAGERD_MAP_COW, (void **)&p) == 0, "map: %s", pagerd_errmsg());
	memset(p, 0x5a, (size_t)ps);
	CHECK((fd = memfd_create("snapshot", MFD_CLOEXEC)) != -1);
	for (i = 0; i < n; i++)
		CHECKF(pagerd_snapshot(pd, p, fd) == 0, "snapshot %d: %s", i,
		    pagerd_errmsg());
	close(fd);
	pagerd_close(pd);
}

int
main(void)
{
	int n = SNAPSHOTS, one = 1, lines, bound, i;
	char text[128];
	double t0, secs;
	uid_t ta;

	ta = harness_test_user("pagerd-ta");
	(void)harness_test_user("pagerd-tb");
	harness_start(&d, NULL);
	t0 = harness_now_s();
	CHECKF(harness_as_user("pagerd-ta", snapshots, &n) == 0,
	    "pagerd-ta's snapshots failed");
	secs = harness_now_s() - t0;
	lines = harness_log_count(&d, LINE);
	bound = BURST + (int)(secs * RATE) + 10;
	printf("%d of pagerd-ta's %d snapshot lines logged in %.1f s (at most "
	    "%d)\n", lines, SNAPSHOTS, secs, bound);
	CHECKF(lines > 0 && lines <= bound, "%d of pagerd-ta's snapshot lines "
	    "logged, not 1 to %d", lines, bound);
	snprintf(text, sizeof text, "uid %u: more than %d session log lines "
	    "a second: the next are not logged", (unsigned int)ta, RATE);
	CHECKF(harness_log_has(&d, text), "no word of pagerd-ta's lines "
	    "dropped");

	/* Another user's line is its own uid's: logged. */
	CHECKF(harness_as_user("pagerd-tb", snapshots, &one) == 0,
	    "pagerd-tb's snapshot failed");
	for (i = 0; i < 500 && harness_log_count(&d, LINE) == lines; i++)
		harness_sleep_ms(10);
	CHECKF(harness_log_count(&d, LINE) == lines + 1, "pagerd-tb's "
	    "snapshot line is not logged");

	harness_stop(&d);
	printf("one user's snapshot lines are bounded, another's kept\n");
	return 0;
}

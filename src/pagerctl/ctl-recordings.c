/*
 * pagerctl recordings: the daemon's working-set recordings of the
 * caller's programs (root and the admin group: everyone's), and forget,
 * which removes one of them or all.
 */
#include "config.h"

#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pagerctl.h"

static void
ctl_recording_print(const struct pd_recording_info *ri, int first)
{
	char when[32];
	time_t t = (time_t)ri->recorded;
	struct tm tm;

	if (!ctl_json) {
		strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&t,
		    &tm));
		printf("%6u %-20s %8" PRIu64 " %6u %-16s %s\n   program %s\n",
		    ri->uid, ri->name, ri->pages, ri->ranges, when, ri->path,
		    ri->program);
		return;
	}
	printf("%s{\"uid\":%u,\"name\":", first ? "" : ",", ri->uid);
	json_str(ri->name);
	printf(",\"pages\":%" PRIu64 ",\"ranges\":%u,\"file_size\":%" PRIu64
	    ",\"recorded\":%" PRId64 ",\"file\":", ri->pages, ri->ranges,
	    ri->file_size, ri->recorded);
	json_str(ri->path);
	printf(",\"program\":");
	json_str(ri->program);
	printf("}");
}

void
ctl_recordings(char **args)
{
	union pd_msg msg, reply;
	struct pd_recording_info *ri;
	uint32_t n = 0;
	int fd;

	proto_init(&msg, PD_MSG_RECORDINGS, 2);
	if (args[0] != NULL) {
		if (strcmp(args[0], "forget") != 0 || args[1] == NULL)
			errx(1, "recordings: forget NAME, or forget all");
		msg.recordings.flags = PD_RECORDINGS_FORGET;
		if (strcmp(args[1], "all") != 0 && strlcpy(msg.recordings.name,
		    args[1], sizeof msg.recordings.name) >=
		    sizeof msg.recordings.name)
			errx(1, "recordings: %s is not a recording's name",
			    args[1]);
	}
	fd = ctl_connect();
	ctl_exchange(fd, &msg, &reply, PD_MSG_RECORDING_INFO, PD_MSG_REPLY);
	if (args[0] != NULL) {
		close(fd);
		/* Naming what is not there is a mistake; "all" of none is not. */
		if (msg.recordings.name[0] != '\0' && reply.reply.value == 0)
			errx(1, "no recording of %s for uid %u", args[1],
			    (unsigned int)geteuid());
		if (ctl_json)
			printf("{\"forgotten\":%u}\n", reply.reply.value);
		else
			printf("%u recording%s forgotten\n", reply.reply.value,
			    reply.reply.value == 1 ? "" : "s");
		return;
	}
	if (ctl_json)
		printf("[");
	else
		printf("%6s %-20s %8s %6s %-16s %s\n", "UID", "NAME", "PAGES",
		    "RANGES", "RECORDED", "FILE");
	while (reply.hdr.type == PD_MSG_RECORDING_INFO) {
		ri = &reply.recording_info;
		ri->name[sizeof ri->name - 1] = '\0';
		ri->program[sizeof ri->program - 1] = '\0';
		ri->path[sizeof ri->path - 1] = '\0';
		ctl_recording_print(ri, n++ == 0);
		ctl_receive(fd, &reply, PD_MSG_RECORDING_INFO, PD_MSG_REPLY);
	}
	close(fd);
	if (ctl_json)
		printf("]\n");
	else if (n == 0)
		printf("no recordings\n");
}

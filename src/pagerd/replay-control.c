/*
 * pagerctl's view of the working-set recordings (RECORDINGS): a user's
 * own listed or forgotten, any user's by root and the admin group. Only
 * the heads of the files are read; what a recording is, and where it
 * lives, is replay.c's.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "replay.h"

/* One user's recordings: each listed to c, or forgotten. Their number. */
static uint32_t
replay_control_user(struct session *c, const struct pd_recordings *q,
    uid_t uid)
{
	int dir, fd, forget = (q->flags & PD_RECORDINGS_FORGET) != 0;
	struct replay_head h;
	struct dirent *e;
	union pd_msg msg;
	uint32_t n = 0;
	DIR *d;

	if ((dir = replay_user_dir(uid, 0)) == -1)
		return 0;
	if (forget && q->name[0] != '\0') {
		if (replay_name_ok(q->name) && unlinkat(dir, q->name, 0) == 0)
			n++;
		close(dir);
		return n;
	}
	if ((fd = dup(dir)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		close(dir);
		return 0;
	}
	while ((e = readdir(d)) != NULL && !c->closing) {
		if (!replay_name_ok(e->d_name))
			continue;
		if (forget) {
			n += unlinkat(dir, e->d_name, 0) == 0;
			continue;
		}
		if (replay_read(dir, e->d_name, &h, NULL, NULL) != 0)
			continue;
		proto_init(&msg, PD_MSG_RECORDING_INFO, q->hdr.seq);
		msg.recording_info.uid = (uint32_t)uid;
		msg.recording_info.ranges = h.nranges;
		msg.recording_info.pages = h.pages;
		msg.recording_info.file_size = h.size;
		msg.recording_info.recorded = h.recorded;
		strlcpy(msg.recording_info.name, e->d_name,
		    sizeof msg.recording_info.name);
		strlcpy(msg.recording_info.program, h.program,
		    sizeof msg.recording_info.program);
		strlcpy(msg.recording_info.path, h.path,
		    sizeof msg.recording_info.path);
		session_send(c, &msg);
		n++;
	}
	closedir(d);
	close(dir);
	return n;
}

/*
 * A control session's RECORDINGS: its own uid's recordings, listed or
 * forgotten; root and the admin group may name any uid, and list every
 * uid's.
 */
void
replay_control(struct session *c, const union pd_msg *msg, int *fds)
{
	const struct pd_recordings *q = &msg->recordings;
	int all = control_sees_all(c), fd = -1;
	const char *errstr;
	struct dirent *e;
	uint32_t n = 0;
	long long uid;
	DIR *d;

	(void)fds;
	if (replay_dir == -1) {
		session_reply(c, q->hdr.seq, -EOPNOTSUPP, 0, 0, "working-set "
		    "recording is off: the daemon has no state-dir (see its "
		    "log)");
		return;
	}
	if ((q->flags & PD_RECORDINGS_UID) && q->uid != (uint32_t)c->uid &&
	    !all) {
		session_reply(c, q->hdr.seq, -EPERM, 0, 0, "only root and the "
		    "admin group may see another user's recordings");
		return;
	}
	if (q->flags & PD_RECORDINGS_UID)
		n = replay_control_user(c, q, (uid_t)q->uid);
	else if (!all || (q->flags & PD_RECORDINGS_FORGET))
		n = replay_control_user(c, q, c->uid);
	else if ((fd = dup(replay_dir)) != -1 && (d = fdopendir(fd)) != NULL) {
		rewinddir(d);
		while ((e = readdir(d)) != NULL && !c->closing) {
			uid = strtonum(e->d_name, 0, UINT32_MAX - 1, &errstr);
			if (errstr == NULL)
				n += replay_control_user(c, q, (uid_t)uid);
		}
		closedir(d);
	} else if (fd != -1)
		close(fd);
	session_reply(c, q->hdr.seq, 0, n, 0, NULL);
}

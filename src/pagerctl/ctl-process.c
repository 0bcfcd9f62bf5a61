/*
 * One process seen from outside: its address space as the kernel maps it
 * (maps), one address in it (explain), and a snapshot of one of its
 * pagerd regions taken by the daemon while it runs.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerctl.h"
#include "procmaps.h"

/* The daemon's region of pid holding addr, if any. */
int
ctl_find_region(int32_t pid, uint64_t addr, struct pd_region_info *out)
{
	union pd_msg *recs;
	size_t n, i;
	int found = 0;

	n = ctl_list(PD_MSG_REGIONS, PD_MSG_REGION_INFO, pid, &recs);
	for (i = 0; i < n && !found; i++)
		if (recs[i].region_info.start <= addr && addr <
		    recs[i].region_info.start + recs[i].region_info.length) {
			*out = recs[i].region_info;
			found = 1;
		}
	free(recs);
	return found;
}

static void
ctl_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	if ((n = readlink(path, buf, len - 1)) < 0)
		n = 0;
	buf[n] = '\0';
}

/*
 * The three questions for one address of any process: is it mapped (by
 * which mapping), what backs it, what may the process do with it; and is
 * it in memory now.
 */
void
ctl_explain(char **args)
{
	const char *pidarg = args[0], *addrarg = args[1];
	struct pd_region_info reg;
	struct mapping *maps, *m = NULL;
	char exe[PATH_MAX], epath[4 * PATH_MAX];
	uint64_t addr, entry = 0, page;
	size_t n, i;
	pid_t pid = ctl_pid(pidarg);
	int error, inreg, pm;

	addr = ctl_addr(addrarg);
	if ((error = maps_read(pid, &maps, &n)) != 0)
		errx(1, "/proc/%d/maps: %s", (int)pid, strerror(-error));
	ctl_exe(pid, exe, sizeof exe);
	page = addr & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
	for (i = 0; i < n; i++)
		if (maps[i].start <= addr && addr < maps[i].end)
			m = &maps[i];
	inreg = ctl_find_region((int32_t)pid, addr, &reg);
	pm = m != NULL ? pagemap_entry(pid, page, &entry) : -ENOENT;

	if (ctl_json) {
		printf("{\"pid\":%d,\"address\":%" PRIu64 ",\"mapped\":%s",
		    (int)pid, addr, m != NULL ? "true" : "false");
		if (m != NULL) {
			printf(",\"mapping\":{\"start\":%" PRIu64 ",\"end\":%"
			    PRIu64 ",\"perms\":\"%s\",\"offset\":%" PRIu64
			    ",\"role\":\"%s\",\"path\":", m->start, m->end,
			    m->perms, m->offset, mapping_role(m, exe));
			json_str(inreg ? ctl_region_path(&reg) : m->path);
			printf("},\"read\":%s,\"write\":%s,\"execute\":%s,"
			    "\"private\":%s", m->perms[0] == 'r' ? "true" :
			    "false", m->perms[1] == 'w' ? "true" : "false",
			    m->perms[2] == 'x' ? "true" : "false",
			    m->perms[3] == 'p' ? "true" : "false");
		}
		printf(",\"pagerd\":%s", inreg ? "true" : "false");
		if (inreg)
			printf(",\"region\":{\"id\":%u,\"backing\":\"%s\","
			    "\"mode\":\"%s\",\"offset\":%" PRIu64 "}",
			    reg.region, ctl_backing(&reg), ctl_mode(&reg),
			    reg.offset + (addr - reg.start));
		if (pm == 0)
			printf(",\"resident\":%s,\"swapped\":%s,"
			    "\"write_protected\":%s", (entry & PM_PRESENT) ?
			    "true" : "false", (entry & PM_SWAPPED) ? "true" :
			    "false", (entry & PM_UFFD_WP) ? "true" : "false");
		printf("}\n");
		free(maps);
		return;
	}

	printf("address 0x%" PRIx64 " in process %d (%s)\n", addr, (int)pid,
	    exe[0] != '\0' ? exe : "?");
	if (m == NULL) {
		printf("  mapped:      no: nothing is mapped there; any access "
		    "gets SIGSEGV (SEGV_MAPERR)\n");
		free(maps);
		return;
	}
	ctl_escape(inreg ? ctl_region_path(&reg) : m->path[0] != '\0' ?
	    m->path : "[anonymous]", epath, sizeof epath);
	printf("  mapped:      yes, by %" PRIx64 "-%" PRIx64 " %s %s (%s)\n",
	    m->start, m->end, m->perms, epath, inreg ? "a pagerd region" :
	    mapping_role(m, exe));
	if (inreg) {
		printf("  backed by:   pagerd region %u of session %u: %s",
		    reg.region, reg.session, ctl_backing(&reg));
		if (reg.backing != PD_BACKING_ZERO)
			printf(" %s offset 0x%" PRIx64, epath, reg.offset +
			    (addr - reg.start));
		printf(", served by pagerd (%s)\n",
		    reg.backing == PD_BACKING_CACHE ? "mapped from its shared "
		    "page cache" : reg.backing == PD_BACKING_ZERO ?
		    "zero-filled on first touch" : "copied in on first touch");
	} else if (m->path[0] == '\0' || m->path[0] == '[')
		printf("  backed by:   anonymous memory, zero-filled by the "
		    "kernel on first touch\n");
	else if (strncmp(m->path, "/memfd:", 7) == 0 || m->perms[3] == 's')
		printf("  backed by:   shared memory %s offset 0x%" PRIx64
		    ", paged by the kernel\n", epath, m->offset +
		    (addr - m->start));
	else
		printf("  backed by:   file %s offset 0x%" PRIx64 ", paged by "
		    "the kernel\n", epath, m->offset + (addr - m->start));
	printf("  may:         %s%s%s%s", m->perms[0] == 'r' ? "read " : "",
	    m->perms[1] == 'w' ? "write " : "", m->perms[2] == 'x' ?
	    "execute " : "", m->perms[0] == '-' && m->perms[1] == '-' &&
	    m->perms[2] == '-' ? "nothing (a guard or reservation) " : "");
	printf("(%s%s)\n", m->perms[3] == 'p' ? "private: writes are "
	    "copied on write" : "shared: writes reach the backing",
	    inreg && (reg.flags & PD_REGION_READONLY) ? "; pagerd treats "
	    "writes as violations" : inreg && (reg.flags & PD_REGION_WP) ?
	    "; pagerd tracks writes" : "");
	if (pm != 0)
		printf("  resident:    unknown: /proc/%d/pagemap: %s\n", (int)pid,
		    strerror(-pm));
	else
		printf("  resident:    %s%s\n", (entry & PM_PRESENT) ? "yes, "
		    "in memory" : (entry & PM_SWAPPED) ? "no, swapped out" :
		    inreg ? "no: the next touch faults to pagerd" : "no: the "
		    "next touch faults it in", (entry & PM_PRESENT) &&
		    (entry & PM_UFFD_WP) ? "; write-protected by userfaultfd" :
		    "");
	free(maps);
}

/* The whole address space as a table of mappings. */
void
ctl_maps(char **args)
{
	const char *pidarg = args[0];
	union pd_msg *recs;
	struct mapping *maps, *m;
	char exe[PATH_MAX], res[24], epath[4 * PATH_MAX];
	const char *backing, *role, *path;
	size_t n, nregs, i, k;
	pid_t pid = ctl_pid(pidarg);
	int64_t resident;
	int error;

	if ((error = maps_read(pid, &maps, &n)) != 0)
		errx(1, "/proc/%d/maps: %s", (int)pid, strerror(-error));
	ctl_exe(pid, exe, sizeof exe);
	nregs = ctl_list(PD_MSG_REGIONS, PD_MSG_REGION_INFO, (int32_t)pid,
	    &recs);
	if (ctl_json)
		printf("[");
	else
		printf("%-29s %5s %-22s %-10s %9s %9s  %s\n", "RANGE", "PERMS",
		    "ROLE", "BACKING", "RESIDENT", "PAGES", "PATH");
	for (i = 0; i < n; i++) {
		m = &maps[i];
		backing = m->path[0] == '\0' || m->path[0] == '[' ?
		    "anonymous" : m->perms[3] == 's' ? "shared" : "file";
		role = mapping_role(m, exe);
		path = m->path;
		for (k = 0; k < nregs; k++)
			if (recs[k].region_info.start < m->end && m->start <
			    recs[k].region_info.start +
			    recs[k].region_info.length) {
				backing = "pagerd";
				role = "pagerd region";
				path = ctl_region_path(&recs[k].region_info);
			}
		resident = m->rss_pages >= 0 ? m->rss_pages :
		    pagemap_resident(pid, m->start, m->end);
		ctl_count(res, sizeof res, resident);
		if (!ctl_json) {
			ctl_escape(path, epath, sizeof epath);
			printf("%014" PRIx64 "-%014" PRIx64 " %s  %-22s %-10s "
			    "%9s %9" PRIu64 "  %s\n", m->start, m->end, m->perms,
			    role, backing, res, (m->end -
			    m->start) / (uint64_t)sysconf(_SC_PAGESIZE), epath);
			continue;
		}
		printf("%s{\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"perms\":"
		    "\"%s\",\"role\":\"%s\",\"backing\":\"%s\",\"resident\":%s"
		    ",\"path\":", i ? "," : "", m->start, m->end, m->perms,
		    role, backing, res[0] == '-' ? "null" :
		    res);
		json_str(path);
		printf("}");
	}
	if (ctl_json)
		printf("]\n");
	free(recs);
	free(maps);
}

/*
 * A point-in-time image of another process's write-protected region,
 * written by the daemon to FILE while the process runs on.
 */
void
ctl_snapshot(char **args)
{
	const char *pidarg = args[0], *addrarg = args[1], *file = args[2];
	union pd_msg msg, reply;
	pid_t pid = ctl_pid(pidarg);
	uint64_t addr, pages;
	char epath[4 * PATH_MAX];
	const char *p;
	uint32_t id;
	int fd, img;

	addr = ctl_addr(addrarg);
	/*
	 * A new file only: run by root, following a user's symlink or
	 * truncating what is there would let the user have root's snapshot
	 * overwrite a file the user cannot write.
	 */
	if ((img = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		if (errno == EEXIST || errno == ELOOP)
			errx(1, "%s exists: a snapshot is written to a new file "
			    "only (never over a file, nor through a symbolic "
			    "link)", file);
		err(1, "%s", file);
	}
	fd = ctl_connect();
	proto_init(&msg, PD_MSG_SNAPSHOT_OF, 2);
	msg.snapshot_of.pid = (int32_t)pid;
	msg.snapshot_of.addr = addr;
	ctl_exchange_fds(fd, &msg, &img, 1, &reply, PD_MSG_REPLY, 0);
	close(img);
	id = reply.reply.value;
	if (!ctl_json) {
		printf("snapshot %u of pid %d at 0x%" PRIx64 ": the instant "
		    "taken, copying\n", id, (int)pid, addr);
		fflush(stdout);
	}
	ctl_receive(fd, &reply, PD_MSG_NOTICE, 0);
	close(fd);
	reply.notice.reason[sizeof reply.notice.reason - 1] = '\0';
	if (reply.notice.status != 0)
		errx(1, "%s", reply.notice.reason);
	if (!ctl_json) {
		ctl_escape(file, epath, sizeof epath);
		printf("%s, written to %s\n", reply.notice.reason, epath);
		return;
	}
	/* The daemon's words end with the pages copied: "...: N pages". */
	if ((p = strrchr(reply.notice.reason, ':')) == NULL ||
	    sscanf(p, ": %" SCNu64 " pages", &pages) != 1)
		pages = 0;
	printf("{\"snapshot\":%u,\"pid\":%d,\"address\":%" PRIu64
	    ",\"pages\":%" PRIu64 ",\"file\":", id, (int)pid, addr, pages);
	json_str(file);
	printf("}\n");
}

/*
 * Pictures of a region: pagerctl map draws one pagerd region of a process
 * as a line of cells, as vmtouch -v does for a file, from what the daemon
 * knows of its pages (filled in the shared cache, being read, dirty) and
 * what the kernel says of the process (/proc/PID/pagemap). top draws the
 * same bar for every region.
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerctl.h"
#include "procmaps.h"

/* A cell of the bar shows the highest of its pages' states. */
static const struct {
	char cell;
	const char *name;	/* in -j */
	const char *legend;
} ctl_map_states[CTL_NSTATES] = {
	[CTL_UNTOUCHED] = { '.', "untouched", "not in memory (never "
	    "touched, or given back)" },
	[CTL_CACHED] = { 'c', "cached", "in the shared page cache only" },
	[CTL_RESIDENT] = { '#', "resident", "resident in the process" },
	[CTL_READING] = { 'r', "reading", "being read in" },
	[CTL_DIRTY] = { 'D', "dirty", "dirty (written, not yet written "
	    "back)" },
};

static int
ctl_map_bit(const uint8_t *map, uint64_t i)
{
	return (map[i / 8] >> (i % 8)) & 1;
}

/* The run so far ends: to the cells, the counts and the caller. */
static void
ctl_map_flush(struct ctl_map *m)
{
	uint64_t k, last;

	if (m->run_n == 0)
		return;
	m->count[m->run_state] += m->run_n;
	last = (m->run_first + m->run_n - 1) * m->width / m->npages;
	for (k = m->run_first * m->width / m->npages; k <= last; k++)
		if (m->cells[k] < m->run_state)
			m->cells[k] = (int8_t)m->run_state;
	if (m->run != NULL)
		m->run(m, m->run_first, m->run_n, m->run_state);
	m->run_n = 0;
}

static void
ctl_map_page(struct ctl_map *m, uint64_t page, int state)
{
	if (m->run_n != 0 && state == m->run_state) {
		m->run_n++;
		return;
	}
	ctl_map_flush(m);
	m->run_first = page;
	m->run_n = 1;
	m->run_state = state;
}

/* Each page of one chunk, by the daemon's bitmaps and the pagemap. */
static void
ctl_map_chunk(struct ctl_map *m, const struct pd_pages_chunk *pc,
    const uint64_t *pm)
{
	uint64_t i;
	int state, resident;

	for (i = 0; i < pc->npages; i++) {
		/* Without the pagemap, the pages pagerd installed. */
		resident = m->pagemap_error == 0 ? (pm[i] & PM_PRESENT) != 0 :
		    (pc->known & PD_PAGES_INSTALLED) &&
		    ctl_map_bit(pc->installed, i);
		if ((pc->known & PD_PAGES_DIRTY) && ctl_map_bit(pc->dirty, i))
			state = CTL_DIRTY;
		else if (resident)
			state = CTL_RESIDENT;
		else if ((pc->known & PD_PAGES_READING) &&
		    ctl_map_bit(pc->reading, i))
			state = CTL_READING;
		else if ((pc->known & PD_PAGES_FILLED) &&
		    ctl_map_bit(pc->filled, i))
			state = CTL_CACHED;
		else
			state = CTL_UNTOUCHED;
		ctl_map_page(m, pc->first + i, state);
	}
}

/* The first chunk says which region: the cells are made for it. */
static void
ctl_map_start(struct ctl_map *m, const struct pd_pages_chunk *pc,
    size_t width)
{
	m->session = pc->session;
	m->region = pc->region;
	m->start = pc->start;
	m->length = pc->length;
	m->known = pc->known;
	m->npages = pc->length / (uint64_t)sysconf(_SC_PAGESIZE);
	if (m->npages == 0)
		errx(1, "pid %d: pagerd told of a region of no pages",
		    (int)m->pid);
	m->width = width < m->npages ? width : (size_t)m->npages;
	if (m->width == 0)
		m->width = 1;
	if ((m->cells = malloc(m->width)) == NULL)
		err(1, "malloc");
	memset(m->cells, -1, m->width);
}

/*
 * Read the region of pid holding addr into m: its pages in order (to
 * m->run, if set), the counts of each state and a bar of width cells.
 * The daemon answers a few chunks a request; the next asks on from there.
 * With may_fail, a region gone (or changed) is -ESRCH, not the end.
 */
int
ctl_map_read(struct ctl_map *m, pid_t pid, uint64_t addr, size_t width,
    int may_fail)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t pm[PD_PAGES_BITS], first = 0;
	union pd_msg msg, reply;
	struct pd_pages_chunk *pc;
	char path[64];
	uint32_t seq = 2;
	int fd, pmfd, error, got;

	m->pid = pid;
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	if ((pmfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		m->pagemap_error = -errno;
	fd = ctl_connect();
	do {
		proto_init(&msg, PD_MSG_PAGES, seq++);
		msg.pages.pid = (int32_t)pid;
		msg.pages.addr = addr;
		msg.pages.first = first;
		ctl_send(fd, &msg);
		if ((error = ctl_receive_or(fd, &reply, PD_MSG_PAGES_CHUNK,
		    PD_MSG_REPLY, may_fail)) != 0)
			goto fail;
		for (got = 0; reply.hdr.type == PD_MSG_PAGES_CHUNK; got++) {
			pc = &reply.pages_chunk;
			if (m->cells == NULL)
				ctl_map_start(m, pc, width);
			/* Unmapped and mapped anew between two requests. */
			if (pc->region != m->region || pc->session !=
			    m->session || pc->start != m->start ||
			    pc->length != m->length || pc->first != first ||
			    pc->npages > PD_PAGES_BITS ||
			    pc->npages > m->npages - first) {
				error = -ESRCH;
				if (may_fail)
					goto fail;
				errx(1, "pid %d: the region at 0x%" PRIx64
				    " changed while it was read", (int)pid,
				    addr);
			}
			if (m->pagemap_error == 0 && (error = pagemap_read(pmfd,
			    pc->start + pc->first * (uint64_t)psz, pc->npages,
			    pm)) != 0)
				m->pagemap_error = error;
			ctl_map_chunk(m, pc, pm);
			first += pc->npages;
			if ((error = ctl_receive_or(fd, &reply,
			    PD_MSG_PAGES_CHUNK, PD_MSG_REPLY, may_fail)) != 0)
				goto fail;
		}
	} while (got > 0 && first < m->npages);
	close(fd);
	if (pmfd != -1)
		close(pmfd);
	if (m->cells == NULL || first != m->npages)
		errx(1, "pid %d: pagerd told of %" PRIu64 " pages of the region "
		    "at 0x%" PRIx64 ", not all", (int)pid, first, addr);
	ctl_map_flush(m);
	return 0;

fail:
	close(fd);
	if (pmfd != -1)
		close(pmfd);
	ctl_map_free(m);
	return error;
}

/* The bar as text, "[...]" less the brackets: width + 1 bytes. */
void
ctl_map_bar(const struct ctl_map *m, char *buf)
{
	size_t k;

	for (k = 0; k < m->width; k++)
		buf[k] = ctl_map_states[m->cells[k] < 0 ? CTL_UNTOUCHED :
		    m->cells[k]].cell;
	buf[k] = '\0';
}

void
ctl_map_free(struct ctl_map *m)
{
	free(m->cells);
	m->cells = NULL;
}

const char *
ctl_map_state_name(int state)
{
	return ctl_map_states[state].name;
}

/* -j: the runs of page states, one object each. */
static void
ctl_map_json_run(struct ctl_map *m, uint64_t first, uint64_t n, int state)
{
	printf("%s{\"state\":\"%s\",\"first\":%" PRIu64 ",\"pages\":%"
	    PRIu64 "}", m->nruns++ ? "," : "", ctl_map_states[state].name,
	    first, n);
}

/* The counts as JSON members: "resident":10,... */
void
ctl_map_json_counts(const struct ctl_map *m)
{
	int s;

	for (s = 0; s < CTL_NSTATES; s++)
		printf("%s\"%s\":%" PRIu64, s ? "," : "", ctl_map_states[s].name,
		    m->count[s]);
}

/* What the picture cannot say of this region, in words. */
static void
ctl_map_caveats(const struct ctl_map *m)
{
	if (m->pagemap_error != 0)
		printf("  the process's own residency is unknown "
		    "(/proc/%d/pagemap: %s): %s\n", (int)m->pid,
		    strerror(-m->pagemap_error), (m->known &
		    PD_PAGES_INSTALLED) ? "# shows the pages pagerd installed" :
		    "# is not shown");
	if (!(m->known & (PD_PAGES_FILLED | PD_PAGES_DIRTY)))
		printf("  pagerd keeps no page bitmaps for this region (pages "
		    "copied in, not write-protected): only residency shows\n");
}

void
ctl_map(char **args)
{
	pid_t pid = ctl_pid(args[0]);
	uint64_t addr = ctl_addr(args[1]);
	struct pd_region_info reg;
	struct ctl_map m;
	char bar[CTL_MAP_MAXWIDTH + 1], size[32], path[4 * PATH_MAX];
	int s, inreg;

	memset(&m, 0, sizeof m);
	inreg = ctl_find_region((int32_t)pid, addr, &reg);
	if (!inreg)
		errx(1, "no pagerd region of pid %d holds 0x%" PRIx64 " (or it "
		    "is another user's process)", (int)pid, addr);
	reg.path[sizeof reg.path - 1] = '\0';
	if (ctl_json) {
		printf("{\"pid\":%d,\"session\":%u,\"region\":%u,\"start\":%"
		    PRIu64 ",\"length\":%" PRIu64 ",\"page_size\":%ld,"
		    "\"backing\":\"%s\",\"mode\":\"%s\",\"file\":", (int)pid,
		    reg.session, reg.region, reg.start, reg.length,
		    sysconf(_SC_PAGESIZE), ctl_backing(&reg), ctl_mode(&reg));
		json_str(reg.path);
		printf(",\"runs\":[");
		m.run = ctl_map_json_run;
	}
	ctl_map_read(&m, pid, reg.start, ctl_width != 0 ? ctl_width :
	    CTL_MAP_WIDTH, 0);
	if (ctl_json) {
		printf("],\"pages\":%" PRIu64 ",\"counts\":{", m.npages);
		ctl_map_json_counts(&m);
		printf("},\"daemon_knows\":{\"cached\":%s,\"reading\":%s,"
		    "\"installed\":%s,\"dirty\":%s},\"process_residency\":%s}\n",
		    (m.known & PD_PAGES_FILLED) ? "true" : "false",
		    (m.known & PD_PAGES_READING) ? "true" : "false",
		    (m.known & PD_PAGES_INSTALLED) ? "true" : "false",
		    (m.known & PD_PAGES_DIRTY) ? "true" : "false",
		    m.pagemap_error == 0 ? "true" : "false");
		ctl_map_free(&m);
		return;
	}
	ctl_bytes(size, sizeof size, m.length);
	ctl_escape(reg.path, path, sizeof path);
	printf("pid %d region %u: %014" PRIx64 "-%014" PRIx64 ", %" PRIu64
	    " pages (%s), %s %s%s%s\n", (int)pid, reg.region, m.start,
	    m.start + m.length, m.npages, size, ctl_backing(&reg),
	    ctl_mode(&reg), path[0] != '\0' ? " " : "", path);
	ctl_map_bar(&m, bar);
	printf("[%s]\n", bar);
	if (m.width < m.npages)
		printf("  a cell is %.1f pages: it shows the highest state of "
		    "its pages, in the order below\n", (double)m.npages /
		    (double)m.width);
	for (s = CTL_NSTATES - 1; s >= 0; s--)
		printf("  %c %-9" PRIu64 " %s\n", ctl_map_states[s].cell,
		    m.count[s], ctl_map_states[s].legend);
	ctl_map_caveats(&m);
	ctl_map_free(&m);
}

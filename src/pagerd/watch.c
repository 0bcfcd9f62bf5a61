/*
 * Coherence of the page caches with their files. A client that wrote a
 * file says so (PD_MSG_INVALIDATE, sent by the shim before the write
 * returns), and the daemon watches every file it caches for the writers
 * that say nothing (fanotify FAN_MODIFY where it may, inotify IN_MODIFY
 * otherwise). Either way what changed is punched out of every cache of
 * the file, which unmaps it from every client: the next touch reads it
 * again from the file.
 *
 * fanotify's events name the file by its file system's id and a file
 * handle (FAN_REPORT_FID), recorded when the file is first watched: the
 * thread opens nothing. An event descriptor is a file the kernel opens
 * inside the thread's read(2), and an open on FUSE goes to its server
 * (and waits for pages a hung read holds): any user who mounts a FUSE
 * file system that hangs could freeze the watching of every user's files.
 * Only a kernel that cannot report handles (before 5.1) still gets
 * descriptors; a file fanotify cannot name by handle is watched with
 * inotify (watch_add).
 *
 * A window a fill or a mapping holds (cache_use) is not punched under it:
 * its filled bits are cleared, so that no fault maps those pages again,
 * and the punch is tried again once the hold is gone. A client's request
 * is answered only then; a worker never waits for it, as the fill that
 * holds the window may be its own. Nor does the watch thread, which
 * reads the events of every user's files: one user's held file must not
 * keep the others' stale (watch_pending).
 */
#include "config.h"

#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include <linux/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"

/* A handle that may only compare (Linux 6.5; older C libraries lack it). */
#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200
#endif

/* How often a held window is tried again, and for how long at most. */
#define WATCH_RETRY_NS 100000ull
#define WATCH_GIVE_UP_NS (20 * 1000000000ull)

/* Writers per file that invalidate through the shim: their events say nothing new. */
#define WATCH_SHIM_PIDS 4
/*
 * For this long after its last INVALIDATE of the file: the event of the
 * write it covered comes about then. Past it, the pid's writes are news
 * again: one INVALIDATE must not hide its writes outside the shim for
 * the rest of its life.
 */
#define WATCH_SHIM_NS (5 * 1000000000ull)

/*
 * A writer is named in the log this long after its event, unless it said
 * meanwhile that it writes through the shim: its first event may come
 * before its first INVALIDATE (the write is made first).
 */
#define WATCH_NOTE_NS 1000000000ull
#define WATCH_NOTES 16

/*
 * A file whose drop found windows held is tried again from the thread's
 * poll loop this often, never waited for: the thread reads on, so that
 * one user's held file delays no other's coherence.
 */
#define WATCH_PENDING_RETRY_MS 1

/* An overflow of the event queue is logged once in this long at most. */
#define WATCH_OVERFLOW_SAY_NS (10 * 1000000000ull)

/* A file handle as name_to_handle_at(2) and fanotify's events give it. */
union watch_handle {
	struct file_handle fh;
	char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

/* A file some cache holds, watched while any does. */
struct watch_file {
	dev_t dev;
	ino_t ino;
	unsigned int refs;	/* caches of it */
	int wd;			/* inotify's watch, or -1: fanotify's mark */
	fsid_t fsid;		/* what fanotify's events name it by */
	union watch_handle handle;
	int said;		/* an outside writer was logged */
	uid_t uid;		/* whose cache made it watched: its lines */
	pid_t shim_pids[WATCH_SHIM_PIDS];
	uint64_t shim_until[WATCH_SHIM_PIDS]; /* CLOCK_MONOTONIC ns */
	unsigned int next_pid;
	char path[256];		/* when first cached, for the log */
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch_file *watch_files;
static size_t watch_nfiles, watch_cap;
static int watch_fan_fd = -1;	/* fanotify's, or -1 */
static int watch_fid;		/* its events carry handles, not descriptors */
static int watch_ino_fd = -1;	/* inotify's, or -1 */
static pthread_t watch_thread;

/* An outside writer to name in the log, when its time comes. */
struct watch_note {
	dev_t dev;
	ino_t ino;
	pid_t pid;
	uid_t uid;		/* the file's watch_file's */
	uint64_t due;
	char who[64];
	char path[256];
};
static struct watch_note watch_notes[WATCH_NOTES];	/* the thread's */
static unsigned int watch_nnotes;

/*
 * A file whose drop waits for held windows, one entry per file (a later
 * change of it moves its give-up time on). An entry goes at the first
 * try that finds nothing held, which a file no cache holds never has:
 * the table holds no more entries than there are files watched, give or
 * take those freed since the last try, so watch_files' bound (watch_add)
 * is its own, and it needs none of its own.
 */
struct watch_pending {
	dev_t dev;
	ino_t ino;
	uint64_t give_up;	/* CLOCK_MONOTONIC ns */
};
static struct watch_pending *watch_pending;	/* the thread's */
static size_t watch_npending, watch_pending_cap;

/* A client's request, waiting for a held window. */
struct watch_wait {
	struct timer timer;
	struct session *s;
	uint32_t seq;
	dev_t dev;
	ino_t ino;
	uint64_t first, n;	/* pages */
	uint64_t give_up;
};

struct watch_drop_arg {
	dev_t dev;
	ino_t ino;
	uint64_t first, n;
	unsigned int held;	/* windows a fill or a mapping held */
};

/* Punch [first, first + n) out of c where no hold keeps it. */
static void
watch_drop_cache(struct cache *c, void *arg)
{
	struct watch_drop_arg *a = arg;
	uint64_t wp = evict_window_pages(), pages = c->size / page_size;
	uint64_t first, end, w, from, to;
	uint32_t idle;

	if (c->dev != a->dev || c->ino != a->ino || a->first >= pages)
		return;
	first = a->first;
	end = a->n < pages - first ? first + a->n : pages;
	for (w = first / wp; w <= (end - 1) / wp; w++) {
		from = w * wp > first ? w * wp : first;
		to = (w + 1) * wp < end ? (w + 1) * wp : end;
		/* No fault maps these pages from here on: they are read anew. */
		cache_mark_unfilled(c, from, to - from);
		idle = 0;
		if (!__atomic_compare_exchange_n(&c->busy[w], &idle,
		    CACHE_EVICTING, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			a->held++;
			continue;
		}
		/* A fill may have ended between the two: clear again. */
		cache_mark_unfilled(c, from, to - from);
		if (fallocate(c->memfd, FALLOC_FL_PUNCH_HOLE |
		    FALLOC_FL_KEEP_SIZE, (off_t)(from * page_size),
		    (off_t)((to - from) * page_size)) == -1)
			log_warn("cache: file %ju:%ju: dropping 0x%" PRIx64
			    "+0x%" PRIx64, (uintmax_t)c->dev, (uintmax_t)c->ino,
			    from * page_size, (to - from) * page_size);
		__atomic_fetch_and(&c->busy[w], ~CACHE_EVICTING,
		    __ATOMIC_RELEASE);
	}
}

/*
 * Drop pages [first, first + n) of the file from every cache of it;
 * returns the windows still held, to be tried again.
 */
static unsigned int
watch_drop(dev_t dev, ino_t ino, uint64_t first, uint64_t n)
{
	struct watch_drop_arg a = { .dev = dev, .ino = ino, .first = first,
	    .n = n };

	if (n > 0)
		cache_walk(watch_drop_cache, &a);
	return a.held;
}

/* The file's entry, or NULL. Under the lock. */
static struct watch_file *
watch_find(dev_t dev, ino_t ino)
{
	size_t i;

	for (i = 0; i < watch_nfiles; i++)
		if (watch_files[i].dev == dev && watch_files[i].ino == ino)
			return &watch_files[i];
	return NULL;
}

/* pid invalidates what it writes to the file: its events are not news. */
static void
watch_shim_writer(dev_t dev, ino_t ino, pid_t pid)
{
	struct watch_file *f;
	unsigned int i;

	pthread_mutex_lock(&watch_lock);
	if ((f = watch_find(dev, ino)) != NULL) {
		for (i = 0; i < WATCH_SHIM_PIDS && f->shim_pids[i] != pid; i++)
			;
		if (i == WATCH_SHIM_PIDS) {
			i = f->next_pid++ % WATCH_SHIM_PIDS;
			f->shim_pids[i] = pid;
		}
		f->shim_until[i] = monotonic_ns() + WATCH_SHIM_NS;
	}
	pthread_mutex_unlock(&watch_lock);
}

static void
watch_wait_free(struct watch_wait *ww)
{
	ww->s->invalidating = 0;
	session_unref(ww->s);
	free(ww);
}

static void
watch_wait_run(struct worker *w, struct timer *t)
{
	struct watch_wait *ww = container_of(t, struct watch_wait, timer);
	struct session *s = ww->s;
	char why[PD_REASON_MAX];
	uint64_t now;

	if (s->closing || w->stop) {
		watch_wait_free(ww);
		return;
	}
	if (watch_drop(ww->dev, ww->ino, ww->first, ww->n) == 0) {
		session_reply(s, ww->seq, 0, 0, 0, NULL);
		watch_wait_free(ww);
		return;
	}
	if ((now = monotonic_ns()) >= ww->give_up) {
		snprintf(why, sizeof why, "invalidate: a read of the file has "
		    "held its pages for %llu s", WATCH_GIVE_UP_NS / 1000000000ull);
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d: %s", s->id, (int)s->pid,
			    why);
		session_reply(s, ww->seq, -EBUSY, 0, 0, why);
		watch_wait_free(ww);
		return;
	}
	worker_timer_add(w, t, now + WATCH_RETRY_NS);
}

/*
 * PD_MSG_INVALIDATE: the client wrote part of the file it sends. It
 * proves it may by sending it open for writing; the path is never used.
 */
void
watch_invalidate(struct session *s, const struct pd_invalidate *inv,
    int *fds)
{
	struct watch_wait *ww;
	uint64_t first, n, end;
	struct stat st;
	int fl;

	if ((fl = fcntl(fds[0], F_GETFL)) == -1 || (fl & O_PATH) ||
	    (fl & O_ACCMODE) == O_RDONLY) {
		session_reply(s, inv->hdr.seq, -EBADF, 0, 0, "invalidate: the "
		    "file is not open for writing");
		return;
	}
	if (region_stat(fds[0], &st) == -1 || !S_ISREG(st.st_mode)) {
		session_reply(s, inv->hdr.seq, -EINVAL, 0, 0, "invalidate: "
		    "not a regular file");
		return;
	}
	if (s->invalidating) {
		session_reply(s, inv->hdr.seq, -EBUSY, 0, 0, "invalidate: the "
		    "session's last request is not answered yet");
		return;
	}
	first = inv->offset / page_size;
	if (inv->length == 0 || inv->length > UINT64_MAX - inv->offset)
		n = UINT64_MAX / page_size - first;
	else {
		/* Rounded up without a sum past 2^64, which made it 0. */
		end = inv->offset % page_size + inv->length;
		n = end / page_size + (end % page_size != 0);
	}
	watch_shim_writer(st.st_dev, st.st_ino, s->pid);
	if (watch_drop(st.st_dev, st.st_ino, first, n) == 0) {
		session_reply(s, inv->hdr.seq, 0, 0, 0, NULL);
		return;
	}
	if ((ww = calloc(1, sizeof *ww)) == NULL) {
		session_reply(s, inv->hdr.seq, -ENOMEM, 0, 0, "invalidate: out "
		    "of memory");
		return;
	}
	ww->s = s;
	ww->seq = inv->hdr.seq;
	ww->dev = st.st_dev;
	ww->ino = st.st_ino;
	ww->first = first;
	ww->n = n;
	ww->give_up = monotonic_ns() + WATCH_GIVE_UP_NS;
	ww->timer.run = watch_wait_run;
	ww->timer.at_stop = 1;
	s->inflight++;
	s->invalidating = 1;
	worker_timer_add(s->worker, &ww->timer, monotonic_ns() +
	    WATCH_RETRY_NS);
}

/*
 * Who wrote the file, for the log: "pid N (comm)", or what fanotify could
 * not say.
 */
static void
watch_writer(pid_t pid, char *buf, size_t len)
{
	char path[64], comm[32];
	ssize_t n;
	int fd;

	if (pid <= 0) {
		snprintf(buf, len, "a process inotify does not name");
		return;
	}
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	n = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, comm, sizeof comm - 1);
		close(fd);
	}
	if (n <= 0)
		snprintf(comm, sizeof comm, "gone");
	else
		comm[n - (comm[n - 1] == '\n')] = '\0';
	snprintf(buf, len, "pid %d (%s)", (int)pid, comm);
}

/*
 * Did pid invalidate what it wrote to the file through the shim, lately?
 * Under the lock.
 */
static int
watch_is_shim_writer(const struct watch_file *f, pid_t pid)
{
	uint64_t now = monotonic_ns();
	unsigned int i;

	for (i = 0; pid > 0 && i < WATCH_SHIM_PIDS; i++)
		if (f->shim_pids[i] == pid && now < f->shim_until[i])
			return 1;
	return 0;
}

/*
 * Once per file while it is watched, but a user decides how many files
 * its caches watch: the line is of the uid that made the first cache of
 * the file, not the writer's (another user could else spend a writer's
 * lines by caching the files it writes).
 */
static void
watch_say(const struct watch_note *n)
{
	if (!session_log_allow(n->uid, LOG_WARNING))
		return;
	log_warnx("%s, which clients map through pagerd, was written by %s "
	    "outside the shim: dropped from its page caches; such writes "
	    "reach clients eventually, not at once", n->path, n->who);
}

/*
 * Name the writers whose time has come, unless they turned out to write
 * through the shim. Returns the milliseconds until the next, or -1.
 */
static int
watch_notes_due(void)
{
	uint64_t now = monotonic_ns(), next = 0;
	struct watch_note *n;
	struct watch_file *f;
	unsigned int i;
	int say;

	for (i = 0; i < watch_nnotes;) {
		n = &watch_notes[i];
		if (n->due > now) {
			if (next == 0 || n->due < next)
				next = n->due;
			i++;
			continue;
		}
		pthread_mutex_lock(&watch_lock);
		f = watch_find(n->dev, n->ino);
		if ((say = f != NULL && !f->said &&
		    !watch_is_shim_writer(f, n->pid)))
			f->said = 1;
		pthread_mutex_unlock(&watch_lock);
		if (say)
			watch_say(n);
		*n = watch_notes[--watch_nnotes];
	}
	return next == 0 ? -1 : (int)((next - now) / 1000000 + 1);
}

/*
 * The file's held windows are not dropped after all (why): a line of the
 * uid whose cache made it watched, as the reads that hold them may be.
 */
static void
watch_held_say(dev_t dev, ino_t ino, const char *why)
{
	struct watch_file *f;
	char path[256];
	uid_t uid = 0;
	int found;

	pthread_mutex_lock(&watch_lock);
	if ((found = (f = watch_find(dev, ino)) != NULL)) {
		uid = f->uid;
		strlcpy(path, f->path, sizeof path);
	}
	pthread_mutex_unlock(&watch_lock);
	if (found && session_log_allow(uid, LOG_WARNING))
		log_warnx("watch: %s was written outside the shim, but %s: "
		    "clients that mapped those pages before may keep old "
		    "bytes", path, why);
}

/*
 * Drop all of the file from its caches; what is held is tried again from
 * the poll loop (watch_pending_due), the thread never waits for it.
 */
static void
watch_drop_file(dev_t dev, ino_t ino)
{
	struct watch_pending *p;
	uint64_t give_up;
	size_t i, cap;

	if (watch_drop(dev, ino, 0, UINT64_MAX / page_size) == 0)
		return;
	give_up = monotonic_ns() + WATCH_GIVE_UP_NS;
	for (i = 0; i < watch_npending; i++) {
		p = &watch_pending[i];
		if (p->dev == dev && p->ino == ino) {
			p->give_up = give_up;
			return;
		}
	}
	if (watch_npending == watch_pending_cap) {
		cap = watch_pending_cap ? watch_pending_cap * 2 : 16;
		if ((p = reallocarray(watch_pending, cap, sizeof *p)) == NULL) {
			watch_held_say(dev, ino, "no memory was left to try "
			    "its held pages again");
			return;
		}
		watch_pending = p;
		watch_pending_cap = cap;
	}
	watch_pending[watch_npending++] = (struct watch_pending){ .dev = dev,
	    .ino = ino, .give_up = give_up };
}

/*
 * Try the held drops again, and give up on those held too long. Returns
 * the milliseconds until the next try, or -1.
 */
static int
watch_pending_due(void)
{
	uint64_t all = UINT64_MAX / page_size;
	struct watch_pending *p;
	char why[96];
	size_t i;

	for (i = 0; i < watch_npending;) {
		p = &watch_pending[i];
		if (watch_drop(p->dev, p->ino, 0, all) != 0) {
			if (monotonic_ns() < p->give_up) {
				i++;
				continue;
			}
			snprintf(why, sizeof why, "reads of it have held some "
			    "of its cached pages for %llu s",
			    WATCH_GIVE_UP_NS / 1000000000ull);
			watch_held_say(p->dev, p->ino, why);
		}
		*p = watch_pending[--watch_npending];
	}
	return watch_npending == 0 ? -1 : WATCH_PENDING_RETRY_MS;
}

/*
 * Events were lost from one queue: any file watched through it may have
 * changed, and is dropped; the other queue's files are not (inotify's
 * queue is the one a user fills, with two FUSE files written in turn: it
 * merges only an event like the last, while fanotify merges any pending
 * event of the same file). Whose writes overflowed the queue nobody can
 * say, so the line is the daemon's: once in WATCH_OVERFLOW_SAY_NS, with
 * how many more there were.
 */
static void
watch_overflow(int inotify)
{
	static uint64_t said_at, unsaid;
	struct watch_file *copy;
	uint64_t now = monotonic_ns();
	size_t i, n;

	if (said_at != 0 && now - said_at < WATCH_OVERFLOW_SAY_NS)
		unsaid++;
	else {
		log_warnx("watch: %s's event queue overflowed (%" PRIu64
		    " times more since the last such line): every file it "
		    "watches is dropped from its caches", inotify ?
		    "inotify" : "fanotify", unsaid);
		said_at = now;
		unsaid = 0;
	}
	pthread_mutex_lock(&watch_lock);
	n = watch_nfiles;
	if ((copy = reallocarray(NULL, n, sizeof *copy)) != NULL)
		memcpy(copy, watch_files, n * sizeof *copy);
	pthread_mutex_unlock(&watch_lock);
	if (copy == NULL) {
		log_warnx("watch: out of memory: cached files may be stale");
		return;
	}
	for (i = 0; i < n; i++)
		if ((copy[i].wd != -1) == inotify)
			watch_drop_file(copy[i].dev, copy[i].ino);
	free(copy);
}

/* A writer changed the file: drop all of it, then name the writer once. */
static void
watch_changed(dev_t dev, ino_t ino, pid_t pid, int event_fd)
{
	struct watch_note note;
	struct watch_file *f;
	unsigned int i;
	char link[64];
	int say = 0;
	ssize_t n;

	memset(&note, 0, sizeof note);
	pthread_mutex_lock(&watch_lock);
	if ((f = watch_find(dev, ino)) != NULL) {
		/* Its writes were dropped before they returned. */
		if (watch_is_shim_writer(f, pid)) {
			pthread_mutex_unlock(&watch_lock);
			return;
		}
		say = !f->said;
		note.uid = f->uid;
		strlcpy(note.path, f->path, sizeof note.path);
	}
	pthread_mutex_unlock(&watch_lock);
	for (i = 0; say && i < watch_nnotes; i++)
		if (watch_notes[i].dev == dev && watch_notes[i].ino == ino &&
		    watch_notes[i].pid == pid)
			say = 0;
	if (f == NULL)
		return;
	watch_drop_file(dev, ino);
	if (!say)
		return;
	note.dev = dev;
	note.ino = ino;
	note.pid = pid;
	note.due = monotonic_ns() + (pid > 0 ? WATCH_NOTE_NS : 0);
	watch_writer(pid, note.who, sizeof note.who);
	/* Where a descriptor came with the event (no handles), it is now. */
	snprintf(link, sizeof link, "/proc/self/fd/%d", event_fd);
	if (event_fd != -1 && (n = readlink(link, note.path,
	    sizeof note.path - 1)) > 0)
		note.path[n] = '\0';
	if (watch_nnotes < WATCH_NOTES)
		watch_notes[watch_nnotes++] = note;
	else {
		pthread_mutex_lock(&watch_lock);
		f = watch_find(dev, ino);
		if ((say = f != NULL && !f->said))
			f->said = 1;
		pthread_mutex_unlock(&watch_lock);
		if (say)
			watch_say(&note);
	}
}

/*
 * The event at ev (its metadata m, copied out) names a file by (fsid,
 * handle): every watched file so named changed. More than one may be:
 * file systems without an fsid (FUSE) all report 0, and the handles of
 * two such may be alike; an extra drop costs a read, a missed one a
 * stale cache. The table is
 * walked down from its end, the lock let go for each file: an entry
 * removed meanwhile moves one already seen into its place, so none
 * present throughout is missed.
 */
static void
watch_event_fid(const char *ev, const struct fanotify_event_metadata *m)
{
	const char *p = ev + m->metadata_len;
	const char *end = ev + m->event_len;
	struct fanotify_event_info_header hdr;
	struct fanotify_event_info_fid fid;
	union watch_handle h;
	struct watch_file *f;
	size_t i, fh_off = offsetof(struct fanotify_event_info_fid, handle);
	size_t ho = offsetof(struct file_handle, f_handle);
	dev_t dev;
	ino_t ino;

	for (;; p += hdr.len) {
		if (end - p < (ptrdiff_t)sizeof hdr)
			return;
		memcpy(&hdr, p, sizeof hdr);
		if (hdr.len < sizeof hdr || hdr.len > (size_t)(end - p))
			return;
		if (hdr.info_type == FAN_EVENT_INFO_TYPE_FID &&
		    hdr.len >= fh_off + ho)
			break;
	}
	/* Not aligned for the structs in the buffer: copied out. */
	memcpy(&fid, p, sizeof fid);
	memcpy(&h.fh, p + fh_off, ho);
	if (h.fh.handle_bytes > MAX_HANDLE_SZ ||
	    h.fh.handle_bytes > hdr.len - fh_off - ho)
		return;
	memcpy(h.fh.f_handle, p + fh_off + ho, h.fh.handle_bytes);
	pthread_mutex_lock(&watch_lock);
	for (i = watch_nfiles; i-- > 0;) {
		if (i >= watch_nfiles)
			continue;
		f = &watch_files[i];
		if (f->wd != -1 || memcmp(&f->fsid, &fid.fsid,
		    sizeof f->fsid) != 0 || f->handle.fh.handle_type !=
		    h.fh.handle_type || f->handle.fh.handle_bytes !=
		    h.fh.handle_bytes || memcmp(f->handle.fh.f_handle,
		    h.fh.f_handle, h.fh.handle_bytes) != 0)
			continue;
		dev = f->dev;
		ino = f->ino;
		pthread_mutex_unlock(&watch_lock);
		watch_changed(dev, ino, m->pid, -1);
		pthread_mutex_lock(&watch_lock);
	}
	pthread_mutex_unlock(&watch_lock);
}

static void
watch_read_fanotify(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(
	    struct fanotify_event_metadata))));
	struct fanotify_event_metadata m;
	struct stat st;
	ssize_t len, off;

	if ((len = read(watch_fan_fd, buf, sizeof buf)) <= 0)
		return;
	/*
	 * An event with a file handle is as long as its handle, unpadded:
	 * the next one's metadata may be misaligned, so it is copied out.
	 */
	for (off = 0; len - off >= (ssize_t)sizeof m; off += m.event_len) {
		memcpy(&m, buf + off, sizeof m);
		if (m.event_len < sizeof m || m.event_len > (size_t)(len - off))
			break;
		if (m.mask & FAN_Q_OVERFLOW)
			watch_overflow(0);
		else if (watch_fid && (m.mask & FAN_MODIFY))
			watch_event_fid(buf + off, &m);
		if (m.fd < 0)
			continue;
		if (fstat(m.fd, &st) == 0)
			watch_changed(st.st_dev, st.st_ino, m.pid, m.fd);
		close(m.fd);
	}
}

static void
watch_read_inotify(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(
	    struct inotify_event))));
	const struct inotify_event *ev;
	dev_t dev = 0;
	ino_t ino = 0;
	ssize_t len, off;
	size_t i;
	int found;

	if ((len = read(watch_ino_fd, buf, sizeof buf)) <= 0)
		return;
	for (off = 0; off < len; off += (ssize_t)(sizeof *ev + ev->len)) {
		ev = (const void *)(buf + off);
		if (ev->mask & IN_Q_OVERFLOW)
			watch_overflow(1);
		if (!(ev->mask & IN_MODIFY))
			continue;
		found = 0;
		pthread_mutex_lock(&watch_lock);
		for (i = 0; i < watch_nfiles && !found; i++)
			if ((found = watch_files[i].wd == ev->wd)) {
				dev = watch_files[i].dev;
				ino = watch_files[i].ino;
			}
		pthread_mutex_unlock(&watch_lock);
		if (found)
			watch_changed(dev, ino, 0, -1);
	}
}

static void *
watch_main(void *arg)
{
	struct pollfd pfd[2] = { { .fd = watch_fan_fd, .events = POLLIN },
	    { .fd = watch_ino_fd, .events = POLLIN } };
	int n, ms, retry;

	(void)arg;
	for (;;) {
		ms = watch_notes_due();
		if ((retry = watch_pending_due()) != -1 && (ms == -1 ||
		    retry < ms))
			ms = retry;
		if ((n = poll(pfd, 2, ms)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("watch: poll");
			break;
		}
		if (n == 0)
			continue;
		if (pfd[0].revents != 0)
			watch_read_fanotify();
		if (pfd[1].revents != 0)
			watch_read_inotify();
	}
	return NULL;
}

/*
 * Has the daemon CAP_SYS_ADMIN? Without it, fanotify with file handles
 * starts all the same (Linux 5.13), but its events name no writer.
 */
static int
watch_privileged(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) == -1)
		return 0;
	return (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
	    CAP_TO_MASK(CAP_SYS_ADMIN)) != 0;
}

/*
 * Before the capabilities go: fanotify needs CAP_SYS_ADMIN to start, and
 * keeps what it was started with.
 */
void
watch_init(void)
{
	unsigned int fl = FAN_CLASS_NOTIF | FAN_CLOEXEC;
	int error;

	if (!watch_privileged())
		errno = EPERM;
	else if ((watch_fan_fd = fanotify_init(fl | FAN_REPORT_FID, O_RDONLY |
	    O_CLOEXEC | O_LARGEFILE)) != -1) {
		watch_fid = 1;
		log_debug("watch: cached files are watched with fanotify, "
		    "whose events name them by file handle");
	} else if (errno == EINVAL && (watch_fan_fd = fanotify_init(fl,
	    O_RDONLY | O_CLOEXEC | O_LARGEFILE)) != -1)
		log_warnx("watch: cached files are watched with fanotify, "
		    "but it reports no file handles here (FAN_REPORT_FID, "
		    "Linux 5.1): the kernel opens each written file for its "
		    "event, and a file system whose opens hang stops the "
		    "watching of every cached file");
	error = errno;
	/* Also for the files fanotify cannot name (watch_add). */
	if ((watch_ino_fd = inotify_init1(IN_CLOEXEC)) == -1) {
		if (watch_fan_fd == -1)
			log_warn("watch: neither fanotify nor inotify: writes "
			    "by programs outside the shim are not seen");
		else
			log_debug("watch: no inotify (%s): files fanotify "
			    "cannot mark are not watched", strerror(errno));
		return;
	}
	if (watch_fan_fd == -1)
		log_debug("watch: cached files are watched with inotify "
		    "(fanotify: %s), which does not name the writer",
		    strerror(error));
}

/* After the capabilities go: the thread has none either. */
void
watch_start(void)
{
	if ((watch_fan_fd != -1 || watch_ino_fd != -1) &&
	    pthread_create(&watch_thread, NULL, watch_main, NULL) != 0) {
		log_warnx("watch: cannot start its thread: writes by programs "
		    "outside the shim are not seen");
		if (watch_fan_fd != -1)
			close(watch_fan_fd);
		if (watch_ino_fd != -1)
			close(watch_ino_fd);
		watch_fan_fd = watch_ino_fd = -1;
	}
}

/*
 * A file uid cached is not watched (what failed, errno): a line of uid's,
 * which decides how many files it caches (marks and watches run out).
 */
static void
watch_add_failed(uid_t uid, dev_t dev, ino_t ino, const char *what)
{
	int error = errno;

	if (session_log_allow(uid, LOG_WARNING))
		log_warnx("watch: file %ju:%ju of uid %u's cache: %s%s%s: "
		    "writes by programs outside the shim are not seen",
		    (uintmax_t)dev, (uintmax_t)ino, (unsigned int)uid, what,
		    error != 0 ? ": " : "", error != 0 ? strerror(error) : "");
}

/*
 * Mark the file open on fd for fanotify, and record what its events will
 * name it by: its fsid, and its handle, a decodable one where the file
 * system gives it (fanotify's is the same), else one that only compares
 * (Linux 6.5, as fanotify's own for such file systems). Returns what
 * failed, with why in *error (0: nothing more to say), or NULL.
 *
 * A file system without an fsid (FUSE) is not marked: the kernel takes
 * its "weak" fsid (Linux 6.8) only in a group whose marks are all on that
 * one file system, and the first mark decides (EXDEV for the others). A
 * btrfs subvolume's fsid is weak too, but user space cannot tell: its
 * file, if marked first, sends the other file systems' files to inotify
 * until its mark goes; they are watched all the same.
 */
static const char *
watch_mark(int fd, struct watch_file *f, int *error)
{
	static const fsid_t none;
	struct statfs sfs;
	const char *what;
	int mnt;

	*error = 0;
	if (watch_fid) {
		what = "fstatfs";
		if (fstatfs(fd, &sfs) == -1)
			goto fail;
		f->fsid = sfs.f_fsid;
		if (memcmp(&f->fsid, &none, sizeof none) == 0)
			return "its file system has no fsid for fanotify";
		what = "its file handle";
		f->handle.fh.handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(fd, "", &f->handle.fh, &mnt,
		    AT_EMPTY_PATH) == -1) {
			if (errno != EOPNOTSUPP)
				goto fail;
			f->handle.fh.handle_bytes = MAX_HANDLE_SZ;
			if (name_to_handle_at(fd, "", &f->handle.fh, &mnt,
			    AT_EMPTY_PATH | AT_HANDLE_FID) == -1)
				goto fail;
		}
	}
	what = "fanotify";
	if (fanotify_mark(watch_fan_fd, FAN_MARK_ADD, FAN_MODIFY, fd,
	    NULL) == -1)
		goto fail;
	return NULL;
fail:
	*error = errno;
	return what;
}

/*
 * Start watching the file open on fd, for a cache of uid's made of it.
 * A file fanotify cannot name by handle (where the kernel reports none
 * for its file system, or its handle cannot be had) is watched with
 * inotify: one fanotify group reports handles or descriptors, not both,
 * and a second group with descriptors would open files in the thread
 * again, for just the file systems (FUSE, which gives no fsid) whose
 * opens may hang. inotify opens nothing; it only does not name the
 * writer (nor so tell the shim's writes from others: their events drop
 * the file again).
 */
void
watch_add(int fd, dev_t dev, ino_t ino, uid_t uid)
{
	struct watch_file *f, *files;
	const char *what = "inotify";
	char path[64];
	size_t cap;
	int wd = -1, error = 0, raised = 0;

	if (watch_fan_fd == -1 && watch_ino_fd == -1)
		return;
	pthread_mutex_lock(&watch_lock);
	if ((f = watch_find(dev, ino)) != NULL) {
		f->refs++;
		goto out;
	}
	if (watch_nfiles == watch_cap) {
		cap = watch_cap ? watch_cap * 2 : 16;
		if ((files = reallocarray(watch_files, cap, sizeof *files)) ==
		    NULL) {
			watch_add_failed(uid, dev, ino, "its table");
			goto out;
		}
		watch_files = files;
		watch_cap = cap;
	}
	f = &watch_files[watch_nfiles];
	memset(f, 0, sizeof *f);
	raised = cap_mark_raise();
	if (watch_fan_fd != -1 && (what = watch_mark(fd, f, &error)) !=
	    NULL && watch_ino_fd != -1)
		log_debug("watch: file %ju:%ju: %s%s%s: inotify watches it "
		    "instead, naming no writer", (uintmax_t)dev,
		    (uintmax_t)ino, what, error != 0 ? ": " : "",
		    error != 0 ? strerror(error) : "");
	if (what != NULL) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (watch_ino_fd == -1) {
			errno = error;
			watch_add_failed(uid, dev, ino, what);
			goto out;
		}
		if ((wd = inotify_add_watch(watch_ino_fd, path, IN_MODIFY)) ==
		    -1) {
			watch_add_failed(uid, dev, ino, "inotify");
			goto out;
		}
	}
	cap_mark_lower(raised);
	raised = 0;
	watch_nfiles++;
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (readlink(path, f->path, sizeof f->path - 1) <= 0)
		snprintf(f->path, sizeof f->path, "file %ju:%ju",
		    (uintmax_t)dev, (uintmax_t)ino);
	f->dev = dev;
	f->ino = ino;
	f->refs = 1;
	f->wd = wd;
	f->uid = uid;
out:
	cap_mark_lower(raised);
	pthread_mutex_unlock(&watch_lock);
}

/* A cache of the file open on fd is freed: its last stops the watch. */
void
watch_forget(int fd, dev_t dev, ino_t ino)
{
	struct watch_file *f;

	if (watch_fan_fd == -1 && watch_ino_fd == -1)
		return;
	pthread_mutex_lock(&watch_lock);
	if ((f = watch_find(dev, ino)) != NULL && --f->refs == 0) {
		if (f->wd == -1)
			(void)fanotify_mark(watch_fan_fd, FAN_MARK_REMOVE,
			    FAN_MODIFY, fd, NULL);
		else
			(void)inotify_rm_watch(watch_ino_fd, f->wd);
		*f = watch_files[--watch_nfiles];
	}
	pthread_mutex_unlock(&watch_lock);
}

/*
 * The fault path: read fault messages from a session's userfaultfd, find
 * the region and install a window of pages around the fault with one
 * ioctl: a copy, zero pages, or, for page cache regions, a mapping of the
 * pages the shared cache holds (UFFDIO_CONTINUE). What must be read from
 * the backing file is read by fault-read.c; address-space events are
 * fault-event.c's. A page that cannot be served is poisoned: the faulting
 * thread gets SIGBUS, never zeros where data was promised.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"
#include "uffd.h"
#include "fault.h"

/*
 * Pages around a fault mapped at once where the page cache holds them
 * all: 1 MiB costs about a fifth of a fault's round trip to map.
 */
#define FAULT_WARM_BLOCK 256

/* Source of zero-filled pages for write faults on zero regions. */
static char *fault_zeros;

void
fault_init(void)
{
	fault_zeros = mmap(NULL, (size_t)opts.readahead_max * page_size,
	    PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fault_zeros == MAP_FAILED)
		fatal("mmap of the zero buffer");
	region_add_part(&fault_stream_part);
}

/* Wake the threads waiting on uffd in [start, start + len). */
static void
fault_wake_uffd(struct session *s, int uffd, uint64_t start, uint64_t len)
{
	struct uffdio_range range = { .start = start, .len = len };

	/*
	 * Within the uid's rate: the range may be a whole region's, whose
	 * bounds the client chose, and some callers wake once per fault.
	 */
	if (ioctl(uffd, UFFDIO_WAKE, &range) == -1 && errno != ESRCH &&
	    errno != ENOENT && session_log_allow(s->uid, LOG_WARNING))
		log_warn("session %u: pid %d: UFFDIO_WAKE 0x%" PRIx64 "+0x%"
		    PRIx64, s->id, (int)s->pid, start, len);
}

void
fault_wake(struct session *s, uint64_t start, uint64_t len)
{
	fault_wake_uffd(s, wp_async_uffd(s, NULL, start), start, len);
}

/*
 * Give page cache region r of s its mapped-chunk hint, where the session's
 * share has room: made here, with the region, so that the fault path
 * allocates nothing; without room or memory the region has no hint.
 */
void
fault_mapped_new(struct session *s, struct region *r)
{
	struct fault_stream *st = r->stream;
	uint64_t chunk = FAULT_CHUNK * page_size;
	size_t n = (size_t)((r->end - r->start + chunk - 1) / chunk);

	if (r->cache == NULL || n > FAULT_CHUNKS_MAX - s->mapped_chunks ||
	    (st->mapped = calloc((n + 63) / 64, sizeof *st->mapped)) == NULL)
		return;
	st->nmapped = n;
	st->s = s;
	s->mapped_chunks += n;
}

/* The region goes: its hint, and the session's charge for it. */
void
fault_mapped_free(struct fault_stream *st)
{
	if (st->mapped == NULL)
		return;
	st->s->mapped_chunks -= st->nmapped;
	free(st->mapped);
	st->mapped = NULL;
	st->nmapped = 0;
}

/* Is addr's chunk marked mapped whole in r's hint? */
static int
fault_mapped_has(const struct region *r, uint64_t addr)
{
	const struct fault_stream *st = r->stream;
	uint64_t c = (addr - r->start) / (FAULT_CHUNK * page_size);

	return c < st->nmapped && (st->mapped[c / 64] >> (c % 64)) & 1;
}

/* Where the chunk of r's hint that holds addr ends. */
static uint64_t
fault_chunk_end(const struct region *r, uint64_t addr)
{
	uint64_t chunk = FAULT_CHUNK * page_size;

	return r->start + ((addr - r->start) / chunk + 1) * chunk;
}

/*
 * Mark (set) or clear the chunks of [dst, dst + len), within r: only
 * whole ones are marked, every one touched is cleared. (No hint: no
 * chunks.)
 */
static void
fault_mapped_set(struct region *r, uint64_t dst, uint64_t len, int set)
{
	struct fault_stream *st = r->stream;
	uint64_t chunk = FAULT_CHUNK * page_size, c, end;

	c = set ? (dst - r->start + chunk - 1) / chunk :
	    (dst - r->start) / chunk;
	end = set ? (dst + len - r->start) / chunk :
	    (dst + len - r->start + chunk - 1) / chunk;
	for (; c < end && c < st->nmapped; c++) {
		if (set)
			st->mapped[c / 64] |= 1ull << (c % 64);
		else
			st->mapped[c / 64] &= ~(1ull << (c % 64));
	}
}

/*
 * The client's mappings of [start, end) of r are not known any more (it
 * dropped pages there, or moved them): those chunks are not marked.
 */
void
fault_mapped_clear(struct region *r, uint64_t start, uint64_t end)
{
	if (start < r->start)
		start = r->start;
	if (end > r->end)
		end = r->end;
	if (start < end)
		fault_mapped_set(r, start, end - start, 0);
}

static const char *const fault_fill_names[] = {
	[FILL_COPY] = "UFFDIO_COPY",
	[FILL_ZERO] = "UFFDIO_ZEROPAGE",
	[FILL_CONTINUE] = "UFFDIO_CONTINUE",
};

/*
 * Install len bytes at dst, as how says (src is the copy's source). Pages
 * already present (EEXIST: another thread's fault got there first) are
 * skipped; a partial install is continued. Waiters on the whole range are
 * woken once at the end. Returns the pages installed, or -errno when the
 * target is gone (ESRCH) or the range unmapped (ENOENT), or when the
 * install cannot succeed (any other error but EAGAIN: not woken, see
 * fault_install_failed).
 */
int64_t
fault_install(struct session *s, struct region *r, enum fault_fill how,
    uint64_t dst, const char *src, uint64_t len)
{
	/* A write-protected region's pages arrive write-protected. */
	uint64_t wp = r->wp != NULL ? UFFDIO_COPY_MODE_WP : 0;
	struct uffdio_copy copy;
	struct uffdio_zeropage zero;
	struct uffdio_continue cont;
	uint64_t off = 0, installed = 0;
	int64_t done;
	int ret, whole = 0;

	while (off < len) {
		switch (how) {
		case FILL_COPY:
			copy = (struct uffdio_copy){ .dst = dst + off,
			    .src = (uint64_t)(uintptr_t)(src + off),
			    .len = len - off, .mode = UFFDIO_COPY_MODE_DONTWAKE |
			    wp };
			ret = ioctl(region_uffd(s, r), UFFDIO_COPY, &copy);
			done = copy.copy;
			break;
		case FILL_ZERO:
			zero = (struct uffdio_zeropage){ .range = { .start =
			    dst + off, .len = len - off },
			    .mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE };
			ret = ioctl(region_uffd(s, r), UFFDIO_ZEROPAGE, &zero);
			done = zero.zeropage;
			break;
		default:
			cont = (struct uffdio_continue){ .range = { .start =
			    dst + off, .len = len - off },
			    .mode = UFFDIO_CONTINUE_MODE_DONTWAKE };
			ret = ioctl(region_uffd(s, r), UFFDIO_CONTINUE, &cont);
			done = cont.mapped;
			break;
		}
		if (ret == 0) {
			wp_installed(r, dst + off, len - off);
			installed += len - off;
			if (whole == 0)
				whole = 1;
			break;
		}
		if (done > 0) {
			wp_installed(r, dst + off, (uint64_t)done);
			off += (uint64_t)done;
			installed += (uint64_t)done;
			continue;
		}
		if (errno == EEXIST) {
			wp_installed(r, dst + off, page_size);
			STAT_COUNT(s, eexist, 1);
			off += page_size;
			continue;
		}
		if (how == FILL_CONTINUE && errno == EFAULT) {
			whole = -1;	/* a hole: not all of it is mapped */
			/*
			 * The page is gone from the page cache: a client,
			 * which holds a writable descriptor of it, punched a
			 * hole there. Mapped again, it would fail again on
			 * every fault; the next fault reads it in anew.
			 */
			log_debug("session %u: pid %d: page 0x%" PRIx64 " is gone "
			    "from the page cache: filled again on its next "
			    "fault", s->id, (int)s->pid, dst + off);
			cache_mark_unfilled(r->cache, (r->offset + (dst + off -
			    r->start)) / page_size, 1);
			off += page_size;
			continue;
		}
		if (errno == ESRCH || errno == ENOENT) {
			/*
			 * A munmap not yet read as an event: threads parked
			 * on the range (a replay read's) fault again.
			 */
			ret = -errno;
			fault_wake(s, dst, len);
			return ret;
		}
		/*
		 * EAGAIN (or EINTR) without progress: the address space is
		 * changing under us. Waking lets the thread fault again and
		 * send a fresh message.
		 */
		if (errno == EAGAIN || errno == EINTR)
			break;
		/*
		 * Anything else fails again on every fault (an anonymous
		 * mapping where a page cache's should be fails
		 * UFFDIO_CONTINUE with EINVAL): woken, the thread would
		 * fault again at once, for ever, and the worker with it.
		 * What was installed is woken, the rest not: the caller
		 * ends its fault with SIGBUS (fault_install_failed).
		 */
		ret = -errno;
		if (off > 0)
			fault_wake(s, dst, off);
		return ret;
	}
	fault_wake(s, dst, len);
	/* Every page of the range is mapped (some maybe by another fault). */
	if (how == FILL_CONTINUE && whole != -1 && (whole == 1 || off >= len)) {
		fault_mapped_set(r, dst, len, 1);
		collapse_hint(s, r, dst, len);
	}
	return (int64_t)(installed / page_size);
}

/*
 * Map the window [wstart, wstart + wlen) of a page cache region, for a
 * fault at addr, less the chunks the client has mapped whole: each of
 * their pages would cost an ioctl to be found present (EEXIST), and a
 * window the cache holds whole (FAULT_WARM_BLOCK) may cover many, the
 * more the further apart the clients of one file run. The faulting
 * page's chunk is always mapped: marked, the hint is stale there (an
 * eviction took the pages), and the whole window is mapped as it is.
 * Returns the pages installed, or -errno as fault_install() (always
 * the error of an install that cannot succeed).
 */
int64_t
fault_install_unmapped(struct session *s, struct region *r, uint64_t addr,
    uint64_t wstart, uint64_t wlen)
{
	uint64_t end = wstart + wlen, p, run;
	int64_t n, total = 0;

	if (r->stream->mapped == NULL || fault_mapped_has(r, addr)) {
		fault_mapped_set(r, wstart, wlen, 0);
		return fault_install(s, r, FILL_CONTINUE, wstart, NULL, wlen);
	}
	for (p = wstart; p < end;) {
		if (fault_mapped_has(r, p)) {
			p = fault_chunk_end(r, p);
			continue;
		}
		run = p;
		do
			p = fault_chunk_end(r, p);
		while (p < end && !fault_mapped_has(r, p));
		if (p > end)
			p = end;
		if ((n = fault_install(s, r, FILL_CONTINUE, run, NULL,
		    p - run)) < 0 && fault_install_broken(n))
			return n;	/* the fault's page may be past run */
		if (n < 0) {
			/*
			 * Unmapped under us (or the client is gone): the
			 * runs not tried are woken too, as one install of
			 * the window would, so that their faults come again.
			 */
			fault_wake(s, p, end - p);
			return total > 0 ? total : n;
		}
		total += n;
	}
	return total;
}

/*
 * End the fault at addr, read from uffd, with SIGBUS: UFFDIO_POISON (when
 * poison is set: the page is missing) makes the access raise it; on a
 * kernel without it, or for a page that is there (a write-protect
 * fault), the thread is signalled and woken. Returns how, or NULL when
 * there is nothing to answer: the range is gone (ESRCH, ENOENT; the
 * munmap's event wakes it) or the page arrived meanwhile (EEXIST).
 */
static const char *
fault_sigbus(struct session *s, int uffd, uint64_t addr, uint32_t tid,
    int poison)
{
	struct uffdio_poison p = { .range = { .start = addr,
	    .len = page_size } };

	STAT_COUNT(s, errors, 1);
	if (poison) {
		if (ioctl(uffd, UFFDIO_POISON, &p) == 0) {
			STAT_COUNT(s, pages_poisoned, 1);
			return "poisoned";
		}
		if (errno == ESRCH || errno == ENOENT)
			return NULL;
		if (errno == EEXIST) {
			/* Nothing was lost. */
			fault_wake_uffd(s, uffd, addr, page_size);
			return NULL;
		}
	}
	if (tid != 0)
		syscall(SYS_tgkill, s->pid, tid, SIGBUS);
	else if (s->pidfd != -1)
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGBUS, NULL, 0);
	else
		kill(s->pid, SIGBUS);
	fault_wake_uffd(s, uffd, addr, page_size);
	return "signalled";
}

/* Answer a fault in region r that cannot be served with SIGBUS. */
void
fault_fail(struct session *s, struct region *r, uint64_t addr, uint32_t tid,
    const char *why)
{
	const char *how;

	if ((how = fault_sigbus(s, wp_async_uffd(s, r, addr), addr, tid,
	    1)) == NULL || !session_log_allow(s->uid, LOG_WARNING))
		return;
	log_warnx("session %u: pid %d (%s) tid %u: 0x%" PRIx64 " in region %u "
	    "(%s offset 0x%" PRIx64 "): %s; %s with SIGBUS", s->id,
	    (int)s->pid, s->comm, tid, addr, r->id, r->backing ==
	    PD_BACKING_ZERO ? "zero" : r->backing == PD_BACKING_STORE ?
	    "store" : "file", r->offset + (addr - r->start), why, how);
}

/* Is fault_install()'s result n an install that cannot succeed? */
int
fault_install_broken(int64_t n)
{
	return n < 0 && n != -ESRCH && n != -ENOENT;
}

/*
 * n is the result of an install (how) for the fault at addr in r, by
 * thread tid: where it cannot succeed, the fault ends with SIGBUS and a
 * report (1); else 0. (A page installed before the failure is found
 * there: the fault was served, and is only woken.)
 */
int
fault_install_failed(struct session *s, struct region *r,
    enum fault_fill how, uint64_t addr, uint32_t tid, int64_t n)
{
	char why[192];

	if (!fault_install_broken(n))
		return 0;
	snprintf(why, sizeof why, "%s at 0x%" PRIx64 ": %s%s",
	    fault_fill_names[how], addr, strerror((int)-n), n == -EINVAL ?
	    ": the client's mapping there is not the region's" : "");
	fault_fail(s, r, addr, tid, why);
	return 1;
}

/*
 * A fault, read from uffd, where the session has no region: a range the
 * client registered and never added, or kept registered past its
 * REGION_DEL. Nothing will ever serve it, so it ends in SIGBUS, on the
 * descriptor it came from (its wp-async one, maybe, which no region
 * names) so that the thread is woken; a write-protect fault's page is
 * there and cannot be poisoned. A violation: rate-limited per uid.
 */
static void
fault_orphan(struct session *s, int uffd, uint64_t addr, uint32_t tid,
    uint64_t flags)
{
	const char *how;

	if ((how = fault_sigbus(s, uffd, addr, tid,
	    !(flags & UFFD_PAGEFAULT_FLAG_WP))) == NULL)
		return;
	violation_record(s, tid, "SIGBUS at 0x%" PRIx64 " (%s): no region "
	    "holds the address, registered with the client's userfaultfd "
	    "(never added, or deleted); %s", addr,
	    flags & UFFD_PAGEFAULT_FLAG_WP ? "write to a write-protected page" :
	    flags & UFFD_PAGEFAULT_FLAG_WRITE ? "write" : "read", how);
}

/* A fault read at t0 (ns) is served: count how long it took. */
void
fault_latency(struct worker *w, uint64_t t0)
{
	uint64_t us = (monotonic_ns() - t0) / 1000;
	unsigned int b = us == 0 ? 0 : 64 - (unsigned int)__builtin_clzll(us);

	if (b >= PD_LATENCY_BUCKETS)
		b = PD_LATENCY_BUCKETS - 1;
	STAT_ADD(w->latency[b], 1);
}

void
fault_count(struct session *s, int64_t pages, int from_file)
{
	if (pages <= 0)
		return;
	if (from_file)
		STAT_COUNT(s, pages_file, pages);
	else
		STAT_COUNT(s, pages_zero, pages);
}

/*
 * Does the page cache hold the whole aligned FAULT_WARM_BLOCK around addr
 * (within the region and the file)? Then *wstart is where it begins.
 */
static int
fault_warm_block(const struct region *r, uint64_t addr, uint64_t *wstart)
{
	uint64_t block = FAULT_WARM_BLOCK * page_size, start, len, off;

	start = r->start + (addr - r->start) / block * block;
	len = r->end - start < block ? r->end - start : block;
	off = r->offset + (start - r->start);
	if (off + len > r->cache->size || !cache_filled(r->cache, off /
	    page_size, len / page_size))
		return 0;
	*wstart = start;
	return 1;
}

static void
fault_page(struct session *s, int uffd, const struct uffd_msg *msg,
    uint64_t t0)
{
	struct worker *w = s->worker;
	uint64_t addr, win, wstart, wlen, woff, most, poff, first, n, trim;
	struct fault_stream *st;
	struct fault_io *io;
	struct region *r;
	enum fault_fill how;
	int64_t installed = 0;
	uint32_t tid = 0;
	int write, stream, filled, sequential, one;
	char why[128];

	addr = msg->arg.pagefault.address & ~(uint64_t)(page_size - 1);
	write = (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
	if (s->features & UFFD_FEATURE_THREAD_ID)
		tid = msg->arg.pagefault.feat.ptid;
	STAT_COUNT(s, faults, 1);

	if ((r = region_find(s, addr)) == NULL) {
		fault_orphan(s, uffd, addr, tid, msg->arg.pagefault.flags);
		return;
	}
	STAT_ADD(r->faults, 1);
	if (msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
		wp_fault(s, r, addr, tid);
		return;
	}
	if (r->wp != NULL && wp_pageout_wait(s, r))
		return;

	/*
	 * The window installed at once. A fault right after the previous
	 * window is a sequential stream: it gets twice that window, up to the
	 * most a region of its kind takes (the cache window, or what a read
	 * buffer holds). Any other fault gets the aligned block of
	 * read-ahead pages around it, or a bigger one the page cache holds
	 * whole, and the stream starts over.
	 */
	st = r->stream;
	stream = addr == st->next && st->next != r->start;
	/* A stream, or where one starts: its windows fill whole. */
	sequential = addr == st->next;
	if (addr == st->next) {
		most = (uint64_t)(r->cache != NULL ?
		    config_get(CONFIG_CACHE_WINDOW) : opts.readahead_max);
		st->pages *= 2;
		if (st->pages > most)
			st->pages = most;
		wstart = addr;
		win = st->pages * page_size;
	} else {
		st->ahead = 0;
		st->pages = (uint64_t)config_get(CONFIG_READAHEAD);
		win = st->pages * page_size;
		if (r->cache != NULL && fault_warm_block(r, addr, &wstart))
			win = FAULT_WARM_BLOCK * page_size;
		else
			wstart = r->start + (addr - r->start) / win * win;
	}
	wlen = r->end - wstart < win ? r->end - wstart : win;
	/*
	 * Cut at 2 MiB boundaries (collapse_trim). A block aligned on the
	 * start of a region a munmap cut off may cross one before addr: the
	 * part that holds addr is the window, for one without it would map
	 * neither its page nor wake its fault, which would sleep for ever.
	 */
	while ((trim = collapse_trim(r, wstart, wlen)) <= addr - wstart) {
		wstart += trim;
		wlen -= trim;
	}
	wlen = trim;
	woff = r->offset + (wstart - r->start);
	st->next = wstart + wlen;
	/*
	 * A stream's window whose start a read ahead has filled already (one
	 * that came back: a cold file's stream reads two ahead): that part
	 * is mapped alone, and the stream goes on after it, where the next
	 * read ahead is, instead of reading it again with the rest.
	 */
	if (stream && r->cache != NULL && woff < r->file_size &&
	    (n = cache_filled_run(r->cache, woff / page_size,
	    wlen / page_size)) > 0 && n < wlen / page_size) {
		wlen = collapse_trim(r, wstart, n * page_size);
		st->next = wstart + wlen;
	}

	/* (A page cache region ends within the file's last page.) */
	if (r->backing == PD_BACKING_ZERO || woff >= r->file_size) {
		/* Zero pages are shared: a write needs a page of its own. */
		how = write || r->wp != NULL ? FILL_COPY : FILL_ZERO;
		installed = fault_install(s, r, how, wstart, how == FILL_COPY ?
		    fault_zeros : NULL, wlen);
		fault_count(s, installed, 0);
		if (!fault_install_failed(s, r, how, addr, tid, installed))
			fault_latency(w, t0);
		return;
	}
	/*
	 * A random fault of a recorded program: its page mapped alone where
	 * the recording is to learn it, else its window cut to the recorded
	 * pages around it (replay.c).
	 */
	poff = r->offset + (addr - r->start);
	one = 0;
	if (!stream && r->rec != NULL) {
		first = woff / page_size;
		n = wlen / page_size;
		one = replay_window(r, poff / page_size, &first, &n);
		wstart += first * page_size - woff;
		woff = first * page_size;
		wlen = n * page_size;
	}
	replay_note(r, one ? poff : woff, one ? page_size : wlen);
	/* A replay read of the page is out: its install wakes the fault. */
	if (replay_pending(r, (r->offset + (addr - r->start)) / page_size))
		return;
	/* A prefetch of this window is out: the fault waits for it. */
	if ((io = fault_prefetch_take(r, addr)) != NULL) {
		/*
		 * Its install maps all of the read ahead, which may reach
		 * past the fault's window (or its page alone) on either
		 * side: pages the program will not fault on, recorded too.
		 */
		if (one || io->off != woff || io->len != wlen)
			replay_note(r, io->off, io->len);
		io->prefetch = 0;
		io->fault_addr = addr;
		io->tid = tid;
		io->t0 = t0;
		st->next = io->addr + io->len;
		/* (One cut to end on 2 MiB, collapse.c, keeps its growth.) */
		if (io->len / page_size > st->pages)
			st->pages = io->len / page_size;
		fault_prefetch(s, r);
		return;
	}
	/*
	 * Pages the shared cache holds already are mapped, not read; held
	 * from the look to the mapping, so that eviction cannot punch them
	 * out between (cache.c).
	 */
	if (r->cache != NULL) {
		cache_use(r->cache, woff / page_size, wlen / page_size);
		filled = one ? cache_filled(r->cache, poff / page_size, 1) :
		    cache_filled(r->cache, woff / page_size, wlen / page_size);
		if (filled)
			fault_count(s, installed = one ? fault_install(s, r,
			    FILL_CONTINUE, addr, NULL, page_size) :
			    fault_install_unmapped(s, r, addr, wstart, wlen), 1);
		cache_unuse(r->cache, woff / page_size, wlen / page_size);
		if (filled && fault_install_failed(s, r, FILL_CONTINUE, addr,
		    tid, installed))
			return;
		if (filled) {
			fault_latency(w, t0);
			if (stream)
				fault_prefetch(s, r);
			return;
		}
	}

	/*
	 * fault_uffd_ready() takes no more messages than there are ios,
	 * save when the session's share is all stuck: then it would wait
	 * for a read that may never come back.
	 */
	if (s->stuck >= fault_read_share() || s->uid_stuck) {
		if (s->stuck >= fault_read_share())
			snprintf(why, sizeof why, "%u reads of this client are "
			    "out past read-timeout; none is started until they "
			    "complete", s->stuck);
		else
			snprintf(why, sizeof why, "the reads of uid %u's "
			    "clients on this worker are out past read-timeout; "
			    "none is started until they complete",
			    (unsigned int)s->uid);
		fault_fail(s, r, addr, tid, why);
		return;
	}
	io = fault_io_get(w);
	io->fault_addr = addr;
	io->tid = tid;
	io->t0 = t0;
	io->one = one;
	io->sequential = sequential;
	fault_read(s, r, io, wstart, wlen, 0);
	if (stream)
		fault_prefetch(s, r);
}

static void
fault_msg(struct session *s, int uffd, const struct uffd_msg *msg,
    uint64_t t0)
{
	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT:
		fault_page(s, uffd, msg, t0);
		break;
	case UFFD_EVENT_UNMAP:
	case UFFD_EVENT_REMAP:
	case UFFD_EVENT_REMOVE:
		fault_event(s, msg);
		break;
	default:
		/*
		 * UFFD_EVENT_FORK is refused at hello; a kernel's new event
		 * would come as often as the client makes it.
		 */
		if (session_log_allow(s->uid, LOG_WARNING))
			log_warnx("session %u: pid %d: unexpected userfaultfd "
			    "event %u", s->id, (int)s->pid, msg->event);
		break;
	}
}

/*
 * Take fault messages while there are read buffers for them; a session
 * left with messages queues on the worker's starved list until a read
 * completes, or, at its share of the buffers, waits for one of its own.
 * 1 when uffd has no more messages for now.
 */
static int
fault_uffd_read(struct session *s, int uffd)
{
	struct worker *w = s->worker;
	struct uffd_msg msgs[FAULT_BATCH];
	unsigned int share = fault_read_share(), live, room, uroom;
	size_t want, got, i;
	uint64_t t0;
	ssize_t n;

	while (!s->closing) {
		/* Its reads out that will end, at the latest when they expire. */
		live = s->reads - s->stuck;
		room = live < share ? share - live : 0;
		want = w->nfree < FAULT_BATCH ? w->nfree : FAULT_BATCH;
		s->uid_stuck = 0;
		if (s->stuck >= share)
			want = FAULT_BATCH;	/* each read fails at once */
		else if (room == 0) {
			s->throttled = 1;
			return 0;
		} else if ((uroom = fault_uid_room(s, &s->uid_stuck)) == 0 &&
		    s->uid_stuck)
			want = FAULT_BATCH;	/* so does each of the user's */
		else if (uroom == 0) {
			/* Fed when a read of the worker's ends or expires. */
			fault_starve(s, 0);
			return 0;
		} else if (want > (room < uroom ? room : uroom))
			want = room < uroom ? room : uroom;
		if (want == 0) {
			fault_starve(s, 1);
			return 0;
		}
		n = read(uffd, msgs, want * sizeof msgs[0]);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				session_close(s, "read of the userfaultfd: %s",
				    strerror(errno));
			return 1;
		}
		got = (size_t)n / sizeof msgs[0];
		t0 = monotonic_ns();
		for (i = 0; i < got && !s->closing; i++)
			fault_msg(s, uffd, &msgs[i], t0);
		if (got < want)
			return 1;
	}
	return 0;
}

/*
 * Both userfaultfds of a session (its own, and the WP_ASYNC one of its
 * async regions) share its buffers: the second is read once the first
 * has no more.
 */
void
fault_uffd_ready(struct session *s)
{
	if (fault_uffd_read(s, s->uffd) && s->auffd != -1)
		fault_uffd_read(s, s->auffd);
}

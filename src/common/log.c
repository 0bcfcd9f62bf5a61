/*
 * Logging in the manner of the OpenBSD daemons: warn appends the errno
 * text, warnx does not, fatal and fatalx exit. errno is preserved. Each
 * message is formatted whole and written with one call so that threads do
 * not interleave. Messages carry text clients chose (program names, file
 * names, reports): every byte that is not printable ASCII is written as
 * \ooo, so that no client can start a line of its own.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_progname = "pagerd";
static int log_to_stderr = 1;
/* Where lines go when not to syslog: stderr, or a log file's descriptor. */
static int log_fd = STDERR_FILENO;
static const char *log_path;
/* SIGHUP may change it while other threads log: relaxed atomics. */
static int log_verbose;

void
log_init(const char *progname, int to_stderr, int verbose)
{
	log_progname = progname;
	/* A log file outranks syslog: it is what the administrator asked. */
	log_to_stderr = to_stderr || log_path != NULL;
	log_setverbose(verbose);
	if (!log_to_stderr)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/*
 * Log to the file at path from now on, appending, instead of to stderr or
 * syslog; -1 with errno if it cannot be opened. Called again (SIGHUP) it
 * opens the path anew, so that a rotated file is let go: the new
 * descriptor replaces the old one in place, and a thread writing at that
 * moment writes to one file or the other, never to a closed descriptor.
 */
int
log_open_file(const char *path)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0640)) == -1)
		return -1;
	if (log_path == NULL || log_fd == STDERR_FILENO) {
		log_fd = fd;
		log_path = path;
		log_to_stderr = 1;
		return 0;
	}
	if (dup3(fd, log_fd, O_CLOEXEC) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The log file's path, or NULL when logging to stderr or syslog. */
const char *
log_file(void)
{
	return log_path;
}

void
log_setverbose(int verbose)
{
	__atomic_store_n(&log_verbose, verbose, __ATOMIC_RELAXED);
}

int
log_getverbose(void)
{
	return __atomic_load_n(&log_verbose, __ATOMIC_RELAXED);
}

/*
 * src into dst (of len bytes, NUL included) with every byte that is not
 * printable ASCII, and the backslash, written as a backslash and three
 * octal digits, as vis(3) VIS_OCTAL does; cut at a whole escape.
 */
void
log_escape(const char *src, char *dst, size_t len)
{
	const unsigned char *p;
	size_t n = 0;

	if (len == 0)
		return;
	for (p = (const unsigned char *)src; *p != '\0'; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			if (n + 1 >= len)
				break;
			dst[n++] = (char)*p;
			continue;
		}
		if (n + 4 >= len)
			break;
		dst[n++] = '\\';
		dst[n++] = (char)('0' + (*p >> 6));
		dst[n++] = (char)('0' + ((*p >> 3) & 7));
		dst[n++] = (char)('0' + (*p & 7));
	}
	dst[n] = '\0';
}

static void __attribute__((format(printf, 2, 0)))
log_vwrite(int pri, const char *fmt, va_list ap, const char *errstr)
{
	char raw[1024], msg[1024], line[1200];
	struct timespec ts;
	struct tm tm;
	int saved = errno, n;

	vsnprintf(raw, sizeof raw, fmt, ap);
	log_escape(raw, msg, sizeof msg);
	if (!log_to_stderr) {
		if (errstr != NULL)
			syslog(pri, "%s: %s", msg, errstr);
		else
			syslog(pri, "%s", msg);
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %s: %s%s%s\n",
	    tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	    log_progname, msg, errstr != NULL ? ": " : "",
	    errstr != NULL ? errstr : "");
	if (n > 0) {
		if ((size_t)n >= sizeof line) {
			n = sizeof line;
			line[n - 1] = '\n';
		}
		if (write(log_fd, line, (size_t)n) == -1) {
			/* Nowhere left to complain. */
		}
	}
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	char buf[128];
	const char *errstr = strerror_r(errno, buf, sizeof buf);

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, errstr);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_getverbose() < 0)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_getverbose() < 1)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	char buf[128];
	const char *errstr = strerror_r(errno, buf, sizeof buf);

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, errstr);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

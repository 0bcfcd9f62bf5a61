/*
 * Logging for the daemon and pagerctl: stderr in the foreground, syslog as
 * a service, or a log file when one is given. The library and the shim never log.
 */
#ifndef PAGERD_LOG_H
#define PAGERD_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* log.c */
void log_init(const char *, int, int);
int log_open_file(const char *);
const char *log_file(void);
void log_setverbose(int);
int log_getverbose(void);
void log_escape(const char *, char *, size_t);
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatal(const char *, ...)
    __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void fatalx(const char *, ...)
    __attribute__((format(printf, 1, 2)));

#endif /* PAGERD_LOG_H */

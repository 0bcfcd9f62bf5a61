/*
 * What crosses the LD_PRELOAD shim's files (shim.c, shim-malloc.c,
 * shim-report.c). Not installed.
 */
#ifndef PAGERD_SHIM_H
#define PAGERD_SHIM_H

/* The C library's calls the shim stands in for: exported. */
#define SHIM_PUBLIC __attribute__((visibility("default")))

/* shim.c */
/*
 * Set while the thread is inside the shim, or in libpagerd on its
 * behalf: what it maps and allocates goes straight to the kernel and the
 * C library. Hidden and local-dynamic: reached as when it was static.
 */
extern __thread int shim_busy __attribute__((visibility("hidden"),
    tls_model("local-dynamic")));

/* What shim_path_matches() found. */
#define SHIM_MATCH_FILES 0x1	/* $PAGERD_FILES */
#define SHIM_MATCH_SHARED 0x2	/* $PAGERD_SHARED */

struct pagerd;

void shim_ready(void);
void __attribute__((format(printf, 1, 2))) shim_say(const char *, ...);
int shim_shared_patterns(void);
int shim_path_matches(int, char *, size_t);
/* The connection, made on first use; NULL where there is none. */
struct pagerd *shim_pagerd(void);

/* shim-write.c */
/*
 * The file open on fd is about to be mapped shared through pagerd: its
 * writes are watched from now on. 0, or -1 when the table is full.
 */
int shim_write_routed(int);

#endif /* PAGERD_SHIM_H */

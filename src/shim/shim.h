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

#endif /* PAGERD_SHIM_H */

/*
 * How pagerctl writes numbers, names and strings: sizes in binary units,
 * region modes in words, JSON strings escaped.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pagerctl.h"

void
ctl_bytes(char *buf, size_t len, uint64_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* A JSON string: quotes, backslashes and control characters escaped. */
void
json_str(const char *str)
{
	const unsigned char *c;

	putchar('"');
	for (c = (const unsigned char *)str; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

const char *
ctl_backing(const struct pd_region_info *r)
{
	return r->backing == PD_BACKING_ZERO ? "zero-fill" :
	    r->backing == PD_BACKING_CACHE ? "page-cache" : "file";
}

/* The mode of a region in words: "cow", "write-back", "read-only"... */
const char *
ctl_mode(const struct pd_region_info *r)
{
	if (r->flags & PD_REGION_READONLY)
		return (r->flags & PD_REGION_REPORT) ? "read-only/report" :
		    "read-only/kill";
	if (r->flags & PD_REGION_WRITEBACK)
		return "write-back";
	if (r->flags & PD_REGION_WP)
		return "copy-on-write";
	return "missing";
}

void
ctl_count(char *buf, size_t len, int64_t v)
{
	if (v < 0 || (uint64_t)v == PD_PAGES_UNKNOWN)
		strlcpy(buf, "-", len);
	else
		snprintf(buf, len, "%" PRId64, v);
}

/*
 * A path or name fit to print: backslash and control characters as
 * \ooo octal, as vis(3) does, so that a file name cannot move the
 * cursor, end a line or forge one. Cut to fit len.
 */
void
ctl_escape(const char *src, char *dst, size_t len)
{
	const unsigned char *c;
	size_t n = 0;

	for (c = (const unsigned char *)src; *c != '\0' && n + 5 < len; c++) {
		if (*c < 0x20 || *c == 0x7f || *c == '\\')
			n += (size_t)snprintf(dst + n, len - n, "\\%03o", *c);
		else
			dst[n++] = (char)*c;
	}
	if (len > 0)
		dst[n < len ? n : len - 1] = '\0';
}

/*
 * What a pagerd region's memory is, for people: its backing file, not the
 * cache's memfd the kernel's maps name.
 */
const char *
ctl_region_path(struct pd_region_info *r)
{
	r->path[sizeof r->path - 1] = '\0';
	if (r->backing == PD_BACKING_ZERO || r->path[0] == '\0')
		return "[pagerd zero-fill]";
	return r->path;
}

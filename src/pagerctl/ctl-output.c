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

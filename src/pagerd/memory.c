/*
 * What memory the daemon may use, as the system says it: its memory
 * cgroup's limits (v2 memory.max and memory.high, v1 limit_in_bytes, its
 * own group's and every ancestor's) and MemTotal, for the default of the
 * page caches' budget; and a PSI trigger on memory pressure (the group's
 * memory.pressure on v2, or on the v2 hierarchy beside a v1 memory
 * controller, else /proc/pressure/memory), so that the daemon gives
 * memory back before the OOM killer takes the daemon.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pagerd.h"

/*
 * PSI: 150 ms of stalls in a 1 s window. Without CAP_SYS_RESOURCE the
 * kernel takes only windows of whole 2 s: the second is tried then.
 */
static const char *const memory_psi_triggers[] = {
	"some 150000 1000000",
	"some 300000 2000000",
};

/* A number file of a cgroup: bytes, or UINT64_MAX for "max" or none. */
static uint64_t
memory_read_limit(const char *dir, const char *name)
{
	char path[4096], line[64];
	uint64_t v = UINT64_MAX;
	FILE *f;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >=
	    sizeof path || (f = fopen(path, "re")) == NULL)
		return UINT64_MAX;
	if (fgets(line, sizeof line, f) != NULL && strncmp(line, "max", 3) != 0)
		v = strtoull(line, NULL, 10);
	fclose(f);
	/*
	 * cgroup v1 says "no limit" with the largest page count the kernel
	 * keeps (PAGE_COUNTER_MAX pages: 2^63 - 1 bytes rounded down to a
	 * page, about 8 EiB): no machine has that much.
	 */
	if (v >= (1ull << 62))
		v = UINT64_MAX;
	return v;
}

/*
 * The daemon's memory cgroup directory, v2 or v1, into dir; returns 2, 1,
 * or 0 when it is in none the daemon can see.
 */
static int
memory_cgroup_dir(char *dir, size_t len)
{
	char line[4096], *path, *ctl;
	int version = 0;
	FILE *f;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((ctl = strchr(line, ':')) == NULL || (path = strchr(ctl +
		    1, ':')) == NULL)
			continue;
		*path++ = '\0';
		ctl++;
		/* v1's memory controller, alone or in a list. */
		if (strcmp(ctl, "memory") == 0 || strncmp(ctl, "memory,", 7) ==
		    0 || strstr(ctl, ",memory") != NULL) {
			if ((size_t)snprintf(dir, len, "/sys/fs/cgroup/memory%s",
			    path) < len && access(dir, F_OK) == 0) {
				version = 1;
				break;
			}
		} else if (*ctl == '\0' && version == 0 &&
		    (size_t)snprintf(dir, len, "/sys/fs/cgroup%s", path) < len &&
		    access(dir, F_OK) == 0) {
			char probe[4200];

			/* v2 only where the memory controller is there. */
			snprintf(probe, sizeof probe, "%s/memory.current", dir);
			if (access(probe, F_OK) == 0 || strcmp(path, "/") == 0)
				version = 2;
		}
	}
	fclose(f);
	return version;
}

/* The smallest limit of the cgroup at dir and its ancestors up to base. */
static uint64_t
memory_cgroup_limit(char *dir, size_t base, int version)
{
	uint64_t limit = UINT64_MAX, v;
	char *slash;

	for (;;) {
		if (version == 2) {
			if ((v = memory_read_limit(dir, "memory.max")) < limit)
				limit = v;
			if ((v = memory_read_limit(dir, "memory.high")) < limit)
				limit = v;
		} else if ((v = memory_read_limit(dir,
		    "memory.limit_in_bytes")) < limit)
			limit = v;
		if (strlen(dir) <= base || (slash = strrchr(dir, '/')) == NULL ||
		    (size_t)(slash - dir) < base)
			break;
		*slash = '\0';
	}
	return limit;
}

/* A /proc/meminfo field in bytes, or UINT64_MAX where it says nothing. */
static uint64_t
memory_info(const char *field)
{
	char line[256], name[64];
	uint64_t kib = 0, v;
	FILE *f;

	if ((f = fopen("/proc/meminfo", "re")) == NULL)
		return UINT64_MAX;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "%63[^:]: %" SCNu64, name, &v) == 2 &&
		    strcmp(name, field) == 0) {
			kib = v;
			break;
		}
	fclose(f);
	return kib == 0 ? UINT64_MAX : kib << 10;
}

static uint64_t
memory_total(void)
{
	return memory_info("MemTotal");
}

/*
 * Is the machine short of memory: less than a tenth of it available? A
 * system-wide pressure trigger also fires for stalls of processes in
 * other cgroups at their own limits, which freeing caches does not help.
 */
int
memory_machine_short(void)
{
	uint64_t avail = memory_info("MemAvailable"), total = memory_total();

	return avail == UINT64_MAX || total == UINT64_MAX || avail < total / 10;
}

/*
 * The default budget of the page caches, in MiB: half of the smaller of
 * the cgroup's limit and MemTotal (the rest is the clients' and the
 * daemon's own), logged with where it came from.
 */
int
memory_default_budget_mib(void)
{
	char dir[4096];
	uint64_t total = memory_total(), limit = UINT64_MAX, least, mib;
	int version;

	if ((version = memory_cgroup_dir(dir, sizeof dir)) != 0)
		limit = memory_cgroup_limit(dir, version == 1 ?
		    strlen("/sys/fs/cgroup/memory") : strlen("/sys/fs/cgroup"),
		    version);
	least = limit < total ? limit : total;
	if (least == UINT64_MAX)
		least = 2048ull << 20;	/* nothing said: 1 GiB */
	mib = least / 2 >> 20;
	if (mib == 0)
		mib = 1;
	if (mib > INT32_MAX)
		mib = INT32_MAX;
	if (limit != UINT64_MAX)
		log_info("memory: cgroup v%d limit %" PRIu64 " MiB, MemTotal %"
		    PRIu64 " MiB: page caches may hold %" PRIu64 " MiB", version,
		    limit >> 20, total >> 20, mib);
	else
		log_info("memory: no cgroup limit, MemTotal %" PRIu64 " MiB: "
		    "page caches may hold %" PRIu64 " MiB", total >> 20, mib);
	return (int)mib;
}

/*
 * Where a v1 memory controller sits beside a v2 hierarchy (systemd's
 * hybrid layout: cgroup2 at /sys/fs/cgroup/unified), the daemon's v2
 * group still has its memory.pressure, which counts its own tasks' memory
 * stalls, at the v1 group's limit too: into path, 1; else 0.
 */
static int
memory_unified_pressure(char *path, size_t len)
{
	char line[4096];
	int found = 0;
	FILE *f;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* The root group's stalls are the machine's. */
		if (strncmp(line, "0::/", 4) != 0 || line[4] == '\0')
			continue;
		found = (size_t)snprintf(path, len, "/sys/fs/cgroup/unified%s/"
		    "memory.pressure", line + 3) < len && access(path, F_OK) ==
		    0;
	}
	fclose(f);
	return found;
}

/*
 * Base64 (RFC 4648, padding optional) of in into out, at most len bytes:
 * how many, or -1 where it is not base64 or too long.
 */
static ssize_t
memory_unbase64(const char *in, unsigned char *out, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p, *c;
	uint32_t acc = 0;
	size_t n = 0, bits = 0, pad = 0;

	for (p = in; *p != '\0'; p++) {
		if (*p == '=') {
			pad++;
			continue;
		}
		if (pad != 0 || (c = strchr(alphabet, *p)) == NULL)
			return -1;
		acc = acc << 6 | (uint32_t)(c - alphabet);
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (n == len)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* A lone sixth of a byte, bits left over, padding not to a quantum. */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 || pad > 2 ||
	    (pad != 0 && (size_t)(p - in) % 4 != 0))
		return -1;
	return (ssize_t)n;
}

/* A trigger armed on the PSI file where: its descriptor, or -1 (errno). */
static int
memory_psi_arm(const char *where, const void *trigger, size_t len)
{
	int fd, saved;

	if ((fd = open(where, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		return -1;
	if (write(fd, trigger, len) != -1)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * The daemon's own triggers on where, the first the kernel takes, logged
 * with whose choice where is; or -1 (errno).
 */
static int
memory_psi_own(const char *where, const char *whose)
{
	size_t i;
	int fd = -1;

	/* The kernel may refuse the first and take the second. */
	for (i = 0; i < sizeof memory_psi_triggers /
	    sizeof memory_psi_triggers[0]; i++) {
		fd = memory_psi_arm(where, memory_psi_triggers[i],
		    strlen(memory_psi_triggers[i]) + 1);
		if (fd != -1) {
			log_info("memory: pressure watched on %s (%s), %s", where,
			    memory_psi_triggers[i], whose);
			break;
		}
	}
	return fd;
}

/*
 * The PSI file systemd (254 and later) names in MEMORY_PRESSURE_WATCH,
 * armed with the trigger MEMORY_PRESSURE_WRITE holds in base64, else with
 * the daemon's own; or -1, said why, for the daemon's own choice. Only a
 * regular file of /proc or of a cgroup2 hierarchy: a trigger written
 * anywhere else would be data lost, and a FIFO or a socket (which the
 * protocol also allows) would need reading the poll does not do.
 */
static int
memory_psi_given(const char *watch)
{
	const char *write64 = getenv("MEMORY_PRESSURE_WRITE");
	unsigned char trigger[128];
	char text[sizeof trigger + 1];
	struct statfs sfs;
	struct stat st;
	ssize_t n = -1, i;
	int fd;

	if (stat(watch, &st) == -1 || statfs(watch, &sfs) == -1) {
		log_warn("memory: MEMORY_PRESSURE_WATCH=%s: the daemon's own "
		    "choice instead", watch);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (sfs.f_type != PROC_SUPER_MAGIC &&
	    sfs.f_type != CGROUP2_SUPER_MAGIC)) {
		log_warnx("memory: MEMORY_PRESSURE_WATCH=%s is not a PSI file "
		    "(FIFOs and sockets are not watched): the daemon's own "
		    "choice instead", watch);
		return -1;
	}
	if (write64 != NULL && (n = memory_unbase64(write64, trigger,
	    sizeof trigger)) <= 0)
		log_warnx("memory: MEMORY_PRESSURE_WRITE is not base64 of a "
		    "trigger: the daemon's own triggers on %s", watch);
	if (n > 0) {
		/* The text of it, for the log: up to a NUL, printable. */
		for (i = 0; i < n && trigger[i] != '\0'; i++)
			text[i] = trigger[i] >= ' ' && trigger[i] < 0x7f ?
			    (char)trigger[i] : '?';
		text[i] = '\0';
		if ((fd = memory_psi_arm(watch, trigger, (size_t)n)) != -1) {
			log_info("memory: pressure watched on %s (%s), as "
			    "MEMORY_PRESSURE_WATCH and MEMORY_PRESSURE_WRITE "
			    "say", watch, text);
			return fd;
		}
		log_warn("memory: %s refused the trigger of "
		    "MEMORY_PRESSURE_WRITE (%s); the daemon's own triggers",
		    watch, text);
	}
	if ((fd = memory_psi_own(watch, "as MEMORY_PRESSURE_WATCH says, the "
	    "daemon's trigger")) == -1)
		log_warn("memory: no pressure trigger on MEMORY_PRESSURE_WATCH="
		    "%s: the daemon's own choice instead", watch);
	return fd;
}

/*
 * A PSI trigger on the daemon's memory pressure, to poll for POLLPRI; or
 * -1, logged, where the kernel has none (no CONFIG_PSI, or psi=0) or the
 * service manager says not to watch: the budget alone bounds the caches
 * then. *machine says whether it is the whole machine's. Opened before
 * the capabilities go, for a 1 s window. The service manager's word (its
 * environment at start) goes first: the group it names is the one it
 * accounts the daemon's memory to.
 */
int
memory_psi_open(int *machine)
{
	const char *watch = getenv("MEMORY_PRESSURE_WATCH");
	char dir[4096], path[4200];
	const char *where = "/proc/pressure/memory";
	int fd;

	if (watch != NULL && strcmp(watch, "/dev/null") == 0) {
		log_info("memory: no pressure watched, as "
		    "MEMORY_PRESSURE_WATCH=/dev/null says; page caches shrink "
		    "only to their budget (cache-max-mib)");
		return -1;
	}
	if (watch != NULL && *watch != '\0' && (fd =
	    memory_psi_given(watch)) != -1) {
		*machine = strcmp(watch, where) == 0;
		return fd;
	}
	if (memory_cgroup_dir(dir, sizeof dir) == 2) {
		snprintf(path, sizeof path, "%s/memory.pressure", dir);
		if (access(path, F_OK) == 0)
			where = path;
	} else if (memory_unified_pressure(path, sizeof path))
		where = path;
	/*
	 * systemd's ProtectControlGroups= makes the group's file read-only
	 * too, before version 254: the machine's stalls are what is left.
	 */
	if (where == path && access(path, W_OK) == -1 && errno == EROFS) {
		log_info("memory: %s is read-only (ProtectControlGroups= of an "
		    "older systemd): the machine's pressure instead", path);
		where = "/proc/pressure/memory";
	}
	*machine = where != path;
	if ((fd = memory_psi_own(where, "the daemon's choice")) == -1)
		log_warn("memory: no pressure trigger on %s; page caches shrink "
		    "only to their budget (cache-max-mib)", where);
	return fd;
}

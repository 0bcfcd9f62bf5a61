/*
 * pagerctl stores: the network block stores the daemon's configuration
 * names, each with its state, its export's size and what it has read.
 */
#include "config.h"

#include <err.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagerctl.h"

static const char *
ctl_store_state(uint32_t state)
{
	static const char *const names[] = {
		[PD_STORE_IDLE] = "idle",
		[PD_STORE_CONNECTING] = "connecting",
		[PD_STORE_READY] = "ready",
		[PD_STORE_FAILING] = "failing",
		[PD_STORE_RETIRED] = "retired",
	};

	return state < sizeof names / sizeof names[0] && names[state] != NULL ?
	    names[state] : "unknown";
}

static void
ctl_store_print(const struct pd_store_info *si, int first)
{
	char size[32], bytes[32], uri[4 * 256], error[4 * 128];

	if (ctl_json) {
		printf("%s{\"name\":", first ? "" : ",");
		json_str(si->name);
		printf(",\"uri\":");
		json_str(si->uri);
		printf(",\"state\":\"%s\",\"allowed\":%s,\"size\":%" PRIu64
		    ",\"reads\":%" PRIu64 ",\"bytes_read\":%" PRIu64
		    ",\"errors\":%" PRIu64 ",\"reconnects\":%" PRIu64
		    ",\"connections\":%u,\"error\":",
		    ctl_store_state(si->state), si->allowed ? "true" : "false",
		    si->size, si->reads, si->bytes_read, si->errors,
		    si->reconnects, si->connections);
		json_str(si->error);
		printf("}");
		return;
	}
	ctl_bytes(size, sizeof size, si->size);
	ctl_bytes(bytes, sizeof bytes, si->bytes_read);
	ctl_escape(si->uri, uri, sizeof uri);
	ctl_escape(si->error, error, sizeof error);
	printf("%-16s %-10s %-3s %10s %5u %10" PRIu64 " %10s %7" PRIu64 " %5"
	    PRIu64 "  %s%s%s\n", si->name, ctl_store_state(si->state),
	    si->allowed ? "yes" : "no", si->size != 0 ? size : "-",
	    si->connections, si->reads, bytes, si->errors, si->reconnects,
	    si->allowed || si->uri[0] != '\0' ? uri : "(not allowed)",
	    error[0] != '\0' ? "; " : "", error);
}

void
ctl_stores(char **args)
{
	union pd_msg msg, reply;
	int fd, n = 0;

	(void)args;
	fd = ctl_connect();
	proto_init(&msg, PD_MSG_STORE, 2);
	msg.store.flags = PD_STORE_LIST;
	ctl_exchange(fd, &msg, &reply, PD_MSG_STORE_INFO, PD_MSG_REPLY);
	if (ctl_json)
		printf("[");
	else
		printf("%-16s %-10s %-3s %10s %5s %10s %10s %7s %5s  %s\n",
		    "STORE", "STATE", "MAY", "SIZE", "CONNS", "READS", "READ",
		    "ERRORS", "LOST", "URI");
	while (reply.hdr.type == PD_MSG_STORE_INFO) {
		reply.store_info.name[sizeof reply.store_info.name - 1] = '\0';
		reply.store_info.uri[sizeof reply.store_info.uri - 1] = '\0';
		reply.store_info.error[sizeof reply.store_info.error - 1] =
		    '\0';
		ctl_store_print(&reply.store_info, n++ == 0);
		ctl_receive(fd, &reply, PD_MSG_STORE_INFO, PD_MSG_REPLY);
	}
	close(fd);
	if (ctl_json)
		printf("]\n");
	else if (n == 0)
		printf("no stores (pagerd.conf(5): store NAME URI)\n");
}

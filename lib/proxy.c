/* lib/proxy.c — trusted reverse proxies and the client behind them. */
#include "proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROXY_SEPARATORS ", \t"

struct proxy_net {
	int family;
	unsigned char addr[16];
	int bits;
};

/* An address, or a CIDR, of text[0..len). */
static int parse_net(const char *text, size_t len, struct proxy_net *out)
{
	char buf[PROXY_ADDR_LEN];
	char *slash, *end;
	long bits;

	if (len == 0 || len >= sizeof buf)
		return 0;
	memcpy(buf, text, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		return 0;
	out->bits = out->family == AF_INET ? 32 : 128;
	if (slash) {
		if (!isdigit((unsigned char)slash[1]))
			return 0;
		bits = strtol(slash + 1, &end, 10);
		if (*end || bits < 0 || bits > out->bits)
			return 0;
		out->bits = (int)bits;
	}
	return 1;
}

static int net_contains(const struct proxy_net *net, const struct proxy_net *addr)
{
	int full = net->bits / 8, rest = net->bits % 8;

	if (net->family != addr->family || memcmp(net->addr, addr->addr, (size_t)full) != 0)
		return 0;
	return !rest || ((net->addr[full] ^ addr->addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static int trusted_addr(const char *trusted, const char *addr, size_t len)
{
	struct proxy_net who, net;

	if (!trusted || !parse_net(addr, len, &who) || who.bits != (who.family == AF_INET ? 32 : 128))
		return 0;
	for (const char *p = trusted; *p;) {
		size_t n;
		p += strspn(p, PROXY_SEPARATORS);
		n = strcspn(p, PROXY_SEPARATORS);
		if (n && parse_net(p, n, &net) && net_contains(&net, &who))
			return 1;
		p += n;
	}
	return 0;
}

int proxy_listed(const char *list, const char *addr)
{
	return addr && trusted_addr(list, addr, strlen(addr));
}

const char *proxy_list_check(const char *list)
{
	struct proxy_net net;

	for (const char *p = list; *p;) {
		size_t n;
		p += strspn(p, PROXY_SEPARATORS);
		n = strcspn(p, PROXY_SEPARATORS);
		if (n && !parse_net(p, n, &net))
			return "must be IPv4 or IPv6 addresses or CIDRs (192.0.2.10, 10.0.0.0/8, 2001:db8::/32), "
			       "separated by commas or spaces";
		p += n;
	}
	return NULL;
}

/* A single address (not a network) of text[0..len), into client. */
static int take_addr(const char *text, size_t len, char client[PROXY_ADDR_LEN])
{
	struct proxy_net addr;

	if (!parse_net(text, len, &addr) || addr.bits != (addr.family == AF_INET ? 32 : 128))
		return 0;
	memcpy(client, text, len);
	client[len] = '\0';
	return 1;
}

/* The right-most hop of forwarded_for that is not on trusted (or the left-most, when
 * all are), into client; a hop that is no address stops the walk, as nothing left of
 * it can be believed. A header too long to be honest is not believed at all. */
static void untrusted_hop(const char *trusted, const char *forwarded_for, char client[PROXY_ADDR_LEN])
{
	char hops[1024], *comma, *hop;
	size_t len;

	if (strlen(forwarded_for) >= sizeof hops)
		return;
	memcpy(hops, forwarded_for, strlen(forwarded_for) + 1);
	for (;;) {
		comma = strrchr(hops, ',');
		hop = comma ? comma + 1 : hops;
		hop += strspn(hop, " \t");
		len = strcspn(hop, " \t");
		if (!take_addr(hop, len, client) || !trusted_addr(trusted, hop, len) || !comma)
			return;
		*comma = '\0';
	}
}

void proxy_client(const char *trusted, const char *remote, const char *forwarded_for,
		  const char *forwarded_proto, char client[PROXY_ADDR_LEN], int *https)
{
	const char *last;

	snprintf(client, PROXY_ADDR_LEN, "%s", remote ? remote : "");
	*https = 0;
	if (!remote || !trusted_addr(trusted, remote, strlen(remote)))
		return;
	if (forwarded_for)
		untrusted_hop(trusted, forwarded_for, client);
	if (forwarded_proto) {
		last = strrchr(forwarded_proto, ',');
		last = last ? last + 1 : forwarded_proto;
		last += strspn(last, " \t");
		*https = strncasecmp(last, "https", 5) == 0 && (last[5] == '\0' || last[5] == ' ' || last[5] == '\t');
	}
}

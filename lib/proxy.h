/* lib/proxy.h — who the client is behind the admin's reverse proxies: the
 * security.trusted_proxies list (addresses and CIDRs), and the X-Forwarded-For and
 * X-Forwarded-Proto headers believed only from an address on it. Not: the limits that
 * count by the client (ratelimit.h) or HTTP itself (http.h). */
#ifndef DESKBRIDGE_PROXY_H
#define DESKBRIDGE_PROXY_H

#include <stddef.h>

#define PROXY_ADDR_LEN 64

/* NULL when list is addresses and CIDRs (IPv4 or IPv6) separated by commas or spaces,
 * else why not (a static phrase). */
const char *proxy_list_check(const char *list);

/* 1 when addr, one address, is on list (may be NULL), else 0. */
int proxy_listed(const char *list, const char *addr);

/* The client of a request from remote (REMOTE_ADDR): when remote is on trusted (may be
 * NULL), the right-most address of forwarded_for (X-Forwarded-For, may be NULL) that is
 * not on it, and *https from forwarded_proto (its last value is "https"); else remote
 * itself and *https 0. */
void proxy_client(const char *trusted, const char *remote, const char *forwarded_for,
		  const char *forwarded_proto, char client[PROXY_ADDR_LEN], int *https);

#endif

/* lib/cache.h — short-lived values shared by every handler process (the agent
 * availability answer, the last Zendesk error). Not: configuration or secrets. */
#ifndef DESKBRIDGE_CACHE_H
#define DESKBRIDGE_CACHE_H

#include <stdint.h>

struct db;

/* The value stored under key if it has not expired at now; *out is NULL otherwise.
 * Caller frees. */
int cache_get_dup(struct db *db, const char *key, int64_t now, char **out);
int cache_put(struct db *db, const char *key, const char *value, int64_t expires_at);

#endif

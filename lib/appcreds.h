/* lib/appcreds.h — the credentials of the Zendesk private app (the agent sidebar):
 * shown once when made, stored only as a hash. Not: HTTP headers. */
#ifndef DESKBRIDGE_APPCREDS_H
#define DESKBRIDGE_APPCREDS_H

struct db;

/* New credentials replacing the old ones; caller frees *out, which is the only copy. */
int appcreds_new_dup(struct db *db, char **out);
/* ST_OK when presented matches the current credentials, ST_DENIED otherwise. */
int appcreds_check(struct db *db, const char *presented);
int appcreds_is_set(struct db *db, int *out);

#endif

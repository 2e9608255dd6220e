/* lib/appcreds.h — credentials shown once when made and stored only as a hash: the
 * Zendesk private app's (the agent sidebar), and any other bearer token kept the same
 * way under its own secret name (the metrics scrape token). Not: HTTP headers. */
#ifndef DESKBRIDGE_APPCREDS_H
#define DESKBRIDGE_APPCREDS_H

struct db;

/* New credentials replacing the old ones; caller frees *out, which is the only copy. */
int appcreds_new_dup(struct db *db, char **out);
/* ST_OK when presented matches the current credentials, ST_DENIED otherwise. */
int appcreds_check(struct db *db, const char *presented);
int appcreds_is_set(struct db *db, int *out);

/* The same for the token whose hash is the secret named secret. */
int appcreds_token_new_dup(struct db *db, const char *secret, char **out);
int appcreds_token_check(struct db *db, const char *secret, const char *presented);
int appcreds_token_is_set(struct db *db, const char *secret, int *out);

#endif

/* lib/app.h — what every handler executable shares: the CGI/FastCGI loop, the
 * database connection kept across FastCGI requests, and GET /api/health.
 * Not: any route beyond health; those live in cgi-bin/ route tables. */
#ifndef DESKBRIDGE_APP_H
#define DESKBRIDGE_APP_H

#include <stddef.h>

#include "http.h"

struct app;
struct db;

/* Serves requests until the web server stops the process (FastCGI) or answers the
 * one request of a plain CGI run. Returns the process exit status. */
int app_main(const char *name, const struct http_route *routes, size_t nroutes);
/* The same, for a handler whose routes pages of the origins in security.allowed_origins
 * may call from those origins (the visitor API): they get CORS headers and preflights. */
int app_main_cross_origin(const char *name, const struct http_route *routes, size_t nroutes);

/* The database, opened and migrated on first use; NULL after answering 503 db_unavailable. */
struct db *app_db(struct app *app, struct http_req *req);

/* Counts one request of 'who' (a client address, a transfer id) against the per-minute
 * limit in configuration key limit_key; answers 429 with Retry-After and returns 1 when
 * it is over. */
int app_over_limit(struct http_req *req, struct db *db, const char *who, const char *limit_key);

/* Work the client need not wait for (delivering to Zendesk): fn(db, arg) runs once the
 * response has gone out, before the next request. arg is copied; one per request. */
typedef void app_later_fn(struct db *db, const char *arg);
void app_after_response(void *app, app_later_fn *fn, const char *arg);

/* GET /api/health: {"ok": true, "db": "ok"}, or 503 with "db": "error". ctx is the app. */
void app_route_health(struct http_req *req, void *ctx);

/* Where the database and migrations are: the environment, else the build's defaults. */
const char *app_db_path(void);
const char *app_sql_dir(void);
const char *app_zendesk_app_dir(void);

#endif

/* lib/cors.h — the origins whose pages may call the visitor API from another origin
 * (security.allowed_origins): checking the admin's list, and matching a request's Origin
 * against it exactly. Not: the CORS headers themselves (http.c), nor which handlers
 * answer other origins (app.c). */
#ifndef DESKBRIDGE_CORS_H
#define DESKBRIDGE_CORS_H

#define CORS_SEPARATORS ", \t\n"

/* NULL when every entry of the list (separated by commas or white space) is an origin
 * as browsers send it: https://, a host, an optional port other than 443, nothing more;
 * else why not. */
const char *cors_origins_check(const char *list);

/* Whether origin (a request's Origin header) is on the list; NULL list: none is. */
int cors_origin_listed(const char *list, const char *origin);

#endif

/* lib/http.h — one HTTP exchange of a handler running under FastCGI or as plain CGI:
 * reading the request within fixed limits, routing by method and path, checking JSON
 * bodies against a declared field table, and answering JSON or the API's error shape.
 * Not: what any route does, or where the database is (see app.h). */
#ifndef DESKBRIDGE_HTTP_H
#define DESKBRIDGE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "apierr.h"

struct FCGX_Request;
struct json_object;

#define HTTP_BODY_DEFAULT_MAX (64 * 1024)
#define HTTP_PATH_MAX 2048
#define HTTP_QUERY_MAX_PAIRS 32
#define HTTP_PARAMS_MAX 4
#define HTTP_JSON_MAX_DEPTH 32

struct http_req; /* opaque: one request and the response being built for it */

enum http_body {
	HTTP_BODY_NONE,  /* any body is left unread */
	HTTP_BODY_JSON,  /* application/json, parsed and checked against the route's fields */
	HTTP_BODY_JSON_OPTIONAL,  /* the same, or no body at all (http_req_json is NULL) */
	/* Read within the limit only; the route authenticates its sender first, then
	 * http_req_parse_json checks it as HTTP_BODY_JSON would. */
	HTTP_BODY_JSON_DEFERRED,
	HTTP_BODY_RAW,   /* kept as bytes; Content-Type must be one of the route's media types */
};

enum http_field_type {
	HTTP_FIELD_STRING,
	HTTP_FIELD_INT,
	HTTP_FIELD_BOOL,
	HTTP_FIELD_OBJECT,
	HTTP_FIELD_ARRAY,
};

/* One field of a JSON body, validated before the route runs (kcgi-style). */
struct http_field {
	const char *name;          /* dotted path from the top object: "zendesk.subdomain" */
	enum http_field_type type;
	int required;
	int nullable;              /* JSON null is accepted in place of the type */
	size_t max_len;            /* strings: characters; arrays: entries; 0: no limit */
	int64_t min, max;          /* integers, when min < max */
};

typedef void http_route_fn(struct http_req *req, void *ctx);

struct http_route {
	const char *method;
	const char *pattern;                 /* "/api/transfers/{id}/events" */
	http_route_fn *fn;
	enum http_body body;
	size_t max_body;                     /* 0: HTTP_BODY_DEFAULT_MAX */
	const struct http_field *fields;     /* ends with a {NULL} entry; NULL: none */
	const char *const *media_types;      /* HTTP_BODY_RAW: NULL-terminated list */
};

/* A request read from plain CGI: the environment and the body stream. */
int http_req_new_cgi(char **envp, FILE *in, FILE *out, struct http_req **out_req);
/* A request accepted by libfcgi; the FCGX_Request stays owned by the caller. */
int http_req_new_fcgi(struct FCGX_Request *fcgx, struct http_req **out_req);
void http_req_free(struct http_req *req);

/* Answers a malformed request, or finds the route: 404 when no pattern matches, 405
 * with Allow when only the method is wrong; then reads and checks the body and runs
 * the route. Afterwards the request holds a response. */
void http_dispatch(struct http_req *req, const struct http_route *routes, size_t n, void *ctx);

/* Writes the response (500 if no route answered) and logs the access line. */
int http_finish(struct http_req *req);

const char *http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req);        /* decoded, no query */
const char *http_req_env(const struct http_req *req, const char *name);
const char *http_req_header(const struct http_req *req, const char *name);
const char *http_req_query(const struct http_req *req, const char *name); /* decoded */
const char *http_req_param(const struct http_req *req, const char *name); /* "{id}" */
/* The credentials of "Authorization: Bearer <credentials>", or NULL. */
const char *http_req_bearer(const struct http_req *req);
/* The value of the nth (from 0) cookie called name in the Cookie header; *out is NULL
 * when there are fewer. A browser sends every cookie of a name whose domain and path
 * match, so the first need not be the one a server set. Caller frees. */
int http_req_cookie_dup(const struct http_req *req, const char *name, size_t nth, char **out);
/* Whether the client reached the web server over TLS. */
int http_req_is_https(const struct http_req *req);
/* The client address and scheme a trusted proxy forwarded (proxy.h decides whom to
 * believe); http_req_client is REMOTE_ADDR until then. */
void http_req_set_client(struct http_req *req, const char *client, int https);
const char *http_req_client(const struct http_req *req);

/* Whether the request's page may read the answer from another origin (the Fetch
 * standard's CORS protocol). HTTP_CORS_NONE, every request's start: the handler answers
 * no other origin, so no CORS header is sent and a preflight is refused (403
 * origin_not_allowed). HTTP_CORS_REFUSED: the handler answers some origins, not this
 * one: the same, plus Vary: Origin. HTTP_CORS_ALLOWED: every response names the Origin
 * in Access-Control-Allow-Origin, and a preflight on a known path is answered 204. */
enum http_cors { HTTP_CORS_NONE, HTTP_CORS_REFUSED, HTTP_CORS_ALLOWED };
void http_req_set_cors(struct http_req *req, enum http_cors cors);
struct json_object *http_req_json(const struct http_req *req);   /* borrowed */
/* For an HTTP_BODY_JSON_DEFERRED route: the checks HTTP_BODY_JSON makes before a route
 * runs. Anything but ST_OK has been answered (415, 400, 422, 500). */
int http_req_parse_json(struct http_req *req);
const unsigned char *http_req_body(const struct http_req *req, size_t *len);

/* Responses. Each sets the whole response; the last one called wins. */
void http_reply_json(struct http_req *req, int status, struct json_object *body); /* takes body */
/* Copies data and content_type. */
void http_reply_body(struct http_req *req, int status, const char *content_type,
		     const void *data, size_t len);
void http_reply_empty(struct http_req *req, int status);
void http_reply_error(struct http_req *req, enum apierr err, const char *message);
/* The error shape with one more member of "error", name: detail (takes detail). */
void http_reply_error_detail(struct http_req *req, enum apierr err, const char *message, const char *name,
			     struct json_object *detail);
void http_reply_errorf(struct http_req *req, enum apierr err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 422 invalid_field (or 400 when the shape itself is wrong), naming the field. */
void http_reply_field_error(struct http_req *req, enum apierr err, const char *field,
			    const char *why);
int http_add_header(struct http_req *req, const char *name, const char *value);
/* This request's log line only when it failed (4xx, 5xx) or took HTTP_SLOW_US or more:
 * for a route every open chat calls every second, whose lines would be most of the log
 * and a write each. */
#define HTTP_SLOW_US 50000
void http_log_unusual_only(struct http_req *req);
/* Retry-After in whole seconds, for a 429 or a 503 (RFC 9110 10.2.3). */
int http_add_retry_after(struct http_req *req, int64_t seconds);
int http_replied(const struct http_req *req);
int http_status(const struct http_req *req);

#endif

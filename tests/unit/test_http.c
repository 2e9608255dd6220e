/* tests/unit/test_http.c — lib/http through its plain CGI entry point: a request built
 * from an environment array and a body stream, dispatched over a small route table,
 * and the CGI response parsed back (Status line, headers, JSON body). Also the
 * lib/apierr table, and the log lines lib/log writes for each request. */
#include <check.h>
#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "apierr.h"
#include "http.h"
#include "log.h"
#include "status.h"

/* What a route saw and did, for the test to check after the exchange. */
struct seen {
	const char *route;           /* the route that ran, NULL when none */
	int add_header_rc[6];        /* results of http_add_header calls */
	size_t body_len;             /* HTTP_BODY_RAW: the bytes the route got */
	int had_json;                /* HTTP_BODY_JSON_OPTIONAL: whether a body came */
};

/* A parsed CGI response. */
struct exchange {
	struct seen seen;
	char *raw;
	size_t raw_len;
	int status;
	char *head;                  /* the header block, "Name: value\r\n" lines */
	const char *body;            /* inside raw */
	size_t body_len;
	struct json_object *json;    /* the body when it is JSON, else NULL */
};

static struct json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void route_items(struct http_req *req, void *ctx)
{
	struct json_object *o = json_object_new_object();

	((struct seen *)ctx)->route = "items";
	json_object_object_add(o, "route", json_object_new_string("items"));
	http_reply_json(req, 200, o);
}

static void route_item(struct http_req *req, void *ctx)
{
	struct json_object *o = json_object_new_object();

	((struct seen *)ctx)->route = "item";
	json_object_object_add(o, "route", json_object_new_string("item"));
	json_object_object_add(o, "id", str_or_null(http_req_param(req, "id")));
	json_object_object_add(o, "method", json_object_new_string(http_req_method(req)));
	json_object_object_add(o, "path", json_object_new_string(http_req_path(req)));
	http_reply_json(req, 200, o);
}

static void route_tag(struct http_req *req, void *ctx)
{
	struct json_object *o = json_object_new_object();

	((struct seen *)ctx)->route = "tag";
	json_object_object_add(o, "id", str_or_null(http_req_param(req, "id")));
	json_object_object_add(o, "tag", str_or_null(http_req_param(req, "tag")));
	json_object_object_add(o, "other", str_or_null(http_req_param(req, "other")));
	http_reply_json(req, 200, o);
}

static void route_search(struct http_req *req, void *ctx)
{
	static const char *const names[] = {"q", "tag", "empty", "bare", "plus", "a b"};
	struct json_object *o = json_object_new_object();

	((struct seen *)ctx)->route = "search";
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		json_object_object_add(o, names[i], str_or_null(http_req_query(req, names[i])));
	http_reply_json(req, 200, o);
}

/* Echoes the JSON body it was given (after the field checks passed). */
static void route_echo(struct http_req *req, void *ctx)
{
	struct json_object *body = http_req_json(req);

	((struct seen *)ctx)->route = "echo";
	((struct seen *)ctx)->had_json = body != NULL;
	http_reply_json(req, 200, body ? json_object_get(body) : json_object_new_object());
}

static void route_upload(struct http_req *req, void *ctx)
{
	size_t len;
	const unsigned char *data = http_req_body(req, &len);

	((struct seen *)ctx)->route = "upload";
	((struct seen *)ctx)->body_len = len;
	http_reply_body(req, 200, "application/octet-stream", data, len);
}

static void route_no_content(struct http_req *req, void *ctx)
{
	((struct seen *)ctx)->route = "no_content";
	http_reply_empty(req, 204);
}

static void route_not_modified(struct http_req *req, void *ctx)
{
	((struct seen *)ctx)->route = "not_modified";
	http_reply_empty(req, 304);
}

/* A 204 answered through the JSON helper: the body must still not be sent. */
static void route_no_content_json(struct http_req *req, void *ctx)
{
	struct json_object *o = json_object_new_object();

	((struct seen *)ctx)->route = "no_content_json";
	json_object_object_add(o, "ignored", json_object_new_boolean(1));
	http_reply_json(req, 204, o);
}

static void route_head(struct http_req *req, void *ctx)
{
	struct json_object *o = json_object_new_object();

	((struct seen *)ctx)->route = "head";
	json_object_object_add(o, "hello", json_object_new_string("world"));
	http_reply_json(req, 200, o);
}

static void route_silent(struct http_req *req, void *ctx)
{
	(void)req;
	((struct seen *)ctx)->route = "silent";
}

static void route_error_null(struct http_req *req, void *ctx)
{
	((struct seen *)ctx)->route = "error_null";
	http_reply_error(req, APIERR_CONFLICT, NULL);
}

static void route_error_empty(struct http_req *req, void *ctx)
{
	((struct seen *)ctx)->route = "error_empty";
	http_reply_error(req, APIERR_CONFLICT, "");
}

static void route_headers(struct http_req *req, void *ctx)
{
	struct seen *seen = ctx;
	struct json_object *o = json_object_new_object();

	seen->route = "headers";
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	http_reply_json(req, 200, o);
	/* Headers go after the reply, which resets them. */
	seen->add_header_rc[0] = http_add_header(req, "X-Good", "yes");
	seen->add_header_rc[1] = http_add_header(req, "X-Evil", "a\r\nSet-Cookie: x=1");
	seen->add_header_rc[2] = http_add_header(req, "X-Evil", "a\nInjected: 1");
	seen->add_header_rc[3] = http_add_header(req, "X-Evil\r\nInjected", "1");
	seen->add_header_rc[4] = http_add_header(req, "X-Evil: Injected", "1");
	seen->add_header_rc[5] = http_add_header(req, "X-Evil", "a\rInjected: 1");
}

/* Authenticates by X-Key before the body is looked at, as the webhook does. */
static void route_deferred(struct http_req *req, void *ctx)
{
	const char *key = http_req_header(req, "X-Key");

	((struct seen *)ctx)->route = "deferred";
	if (!key || strcmp(key, "right") != 0) {
		http_reply_error(req, APIERR_UNAUTHENTICATED, NULL);
		return;
	}
	if (http_req_parse_json(req) != ST_OK)
		return;
	http_reply_json(req, 200, json_object_get(http_req_json(req)));
}

static const struct http_field item_fields[] = {
	{"name", HTTP_FIELD_STRING, 1, 0, 8, 0, 0},
	{"count", HTTP_FIELD_INT, 0, 0, 0, 1, 10},
	{"flag", HTTP_FIELD_BOOL, 0, 0, 0, 0, 0},
	{"tags", HTTP_FIELD_ARRAY, 0, 0, 3, 0, 0},
	{"meta", HTTP_FIELD_OBJECT, 0, 1, 0, 0, 0},
	{"note", HTTP_FIELD_STRING, 0, 1, 0, 0, 0},
	{NULL, HTTP_FIELD_STRING, 0, 0, 0, 0, 0},
};

static const struct http_field nested_fields[] = {
	{"a", HTTP_FIELD_OBJECT, 1, 0, 0, 0, 0},
	{"a.b", HTTP_FIELD_STRING, 1, 0, 4, 0, 0},
	{"a.c", HTTP_FIELD_INT, 0, 1, 0, 0, 5},
	{NULL, HTTP_FIELD_STRING, 0, 0, 0, 0, 0},
};

static const struct http_field deep_fields[] = {
	{"x.y", HTTP_FIELD_STRING, 1, 0, 0, 0, 0},
	{NULL, HTTP_FIELD_STRING, 0, 0, 0, 0, 0},
};

static const struct http_field small_fields[] = {
	{"name", HTTP_FIELD_STRING, 1, 0, 0, 0, 0},
	{NULL, HTTP_FIELD_STRING, 0, 0, 0, 0, 0},
};

static const char *const png_only[] = {"image/png", NULL};

static const struct http_route routes[] = {
	{"GET", "/items", route_items, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/items", route_echo, HTTP_BODY_JSON, 0, item_fields, NULL},
	{"GET", "/items/{id}", route_item, HTTP_BODY_NONE, 0, NULL, NULL},
	{"DELETE", "/items/{id}", route_item, HTTP_BODY_NONE, 0, NULL, NULL},
	{"PUT", "/items/{id}/tags/{tag}", route_tag, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/search", route_search, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/nested", route_echo, HTTP_BODY_JSON, 0, nested_fields, NULL},
	{"POST", "/deep", route_echo, HTTP_BODY_JSON, 0, deep_fields, NULL},
	{"POST", "/small", route_echo, HTTP_BODY_JSON, 16, small_fields, NULL},
	{"POST", "/optional", route_echo, HTTP_BODY_JSON_OPTIONAL, 0, NULL, NULL},
	{"POST", "/deferred", route_deferred, HTTP_BODY_JSON_DEFERRED, 64, small_fields, NULL},
	{"POST", "/upload", route_upload, HTTP_BODY_RAW, 0, NULL, png_only},
	{"GET", "/no-content", route_no_content, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/not-modified", route_not_modified, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/no-content-json", route_no_content_json, HTTP_BODY_NONE, 0, NULL, NULL},
	{"HEAD", "/head", route_head, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/head", route_head, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/silent", route_silent, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/error-null", route_error_null, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/error-empty", route_error_empty, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/headers", route_headers, HTTP_BODY_NONE, 0, NULL, NULL},
};
#define NROUTES (sizeof routes / sizeof *routes)

/* text with bytes outside printable ASCII as \xNN, so that a failure message cannot
 * break the TAP line it is printed on. */
static const char *esc(const char *text, size_t len, char *buf, size_t size)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 5 < size; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[j++] = (char)c;
		else
			j += (size_t)snprintf(buf + j, size - j, "\\x%02x", c);
	}
	buf[j] = '\0';
	return buf;
}

/* The value of a response header (case-insensitive name), copied into buf; NULL if absent. */
static const char *head_get(const struct exchange *ex, const char *name, char *buf, size_t size)
{
	size_t n = strlen(name);

	for (const char *line = ex->head; line && *line;) {
		const char *end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, size, "%.*s", (int)(len - (size_t)(v - line)), v);
			return buf;
		}
		line = end ? end + 2 : line + len;
	}
	return NULL;
}

static int head_count(const struct exchange *ex, const char *name)
{
	size_t n = strlen(name);
	int count = 0;

	for (const char *line = ex->head; line && *line;) {
		const char *end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':')
			count++;
		line = end ? end + 2 : line + len;
	}
	return count;
}

/* Checks what every response must have, whatever the route did. */
static void check_common(const struct exchange *ex, const char *method)
{
	char v[256];
	const char *p;

	ck_assert_ptr_nonnull(head_get(ex, "Cache-Control", v, sizeof v));
	ck_assert_str_eq(v, "no-store");
	ck_assert_ptr_nonnull(head_get(ex, "X-Content-Type-Options", v, sizeof v));
	ck_assert_str_eq(v, "nosniff");
	ck_assert_int_eq(head_count(ex, "Status"), 1);
	/* Every header line ends with CRLF; no bare LF or CR inside the block. */
	for (p = ex->head; *p; p++) {
		if (*p == '\n')
			ck_assert(p > ex->head && p[-1] == '\r');
		if (*p == '\r')
			ck_assert(p[1] == '\n');
	}
	if (ex->status == 204 || ex->status == 304 || strcmp(method, "HEAD") == 0)
		ck_assert_msg(ex->body_len == 0, "%s answered %d with a %zu-byte body", method,
			      ex->status, ex->body_len);
	if (ex->status != 204 && ex->status != 304) {
		ck_assert_ptr_nonnull(head_get(ex, "Content-Length", v, sizeof v));
		if (strcmp(method, "HEAD") != 0)
			ck_assert_uint_eq(strtoul(v, NULL, 10), ex->body_len);
	}
	if (ex->status >= 400) {
		/* Errors: {"error": {"code": "...", "message": "..."}} and nothing else. */
		struct json_object *e, *code, *msg;
		if (strcmp(method, "HEAD") == 0)
			return;
		ck_assert_ptr_nonnull(ex->json);
		ck_assert_ptr_nonnull(head_get(ex, "Content-Type", v, sizeof v));
		ck_assert_str_eq(v, "application/json; charset=utf-8");
		ck_assert(json_object_is_type(ex->json, json_type_object));
		ck_assert_int_eq(json_object_object_length(ex->json), 1);
		ck_assert(json_object_object_get_ex(ex->json, "error", &e));
		ck_assert(json_object_is_type(e, json_type_object));
		ck_assert(json_object_object_get_ex(e, "code", &code));
		ck_assert(json_object_is_type(code, json_type_string));
		ck_assert(json_object_object_get_ex(e, "message", &msg));
		ck_assert(json_object_is_type(msg, json_type_string));
		ck_assert_msg(json_object_get_string_len(msg) > 0, "empty error message for %s",
			      json_object_get_string(code));
	}
}

/* Runs one request through http_req_new_cgi/http_dispatch/http_finish and parses the
 * CGI output. env: NULL-terminated "NAME=value" strings (REQUEST_METHOD etc.); body may
 * be NULL; CONTENT_LENGTH is whatever env says. */
static void run_env(char **env, const void *body, size_t body_len, struct exchange *ex)
{
	struct http_req *req = NULL;
	FILE *in, *out;
	char *sep, ebuf[256];
	const char *method = "";

	memset(ex, 0, sizeof *ex);
	in = body_len ? fmemopen((void *)body, body_len, "r") : fopen("/dev/null", "r");
	ck_assert_ptr_nonnull(in);
	out = open_memstream(&ex->raw, &ex->raw_len);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(http_req_new_cgi(env, in, out, &req), ST_OK);
	http_dispatch(req, routes, NROUTES, &ex->seen);
	ck_assert_int_eq(http_finish(req), ST_OK);
	ex->status = http_status(req);
	http_req_free(req);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);

	ck_assert_ptr_nonnull(ex->raw);
	sep = strstr(ex->raw, "\r\n\r\n");
	ck_assert_ptr_nonnull(sep);
	ex->head = strndup(ex->raw, (size_t)(sep - ex->raw) + 2);
	ck_assert_ptr_nonnull(ex->head);
	ex->body = sep + 4;
	ex->body_len = ex->raw_len - (size_t)(ex->body - ex->raw);
	ck_assert_msg(strncmp(ex->raw, "Status: ", 8) == 0, "first line: %s",
		      esc(ex->raw, ex->raw_len < 40 ? ex->raw_len : 40, ebuf, sizeof ebuf));
	ck_assert_int_eq(atoi(ex->raw + 8), ex->status);
	if (ex->body_len) {
		struct json_tokener *tok = json_tokener_new();
		ex->json = json_tokener_parse_ex(tok, ex->body, (int)ex->body_len);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(ex->json);
			ex->json = NULL;
		}
		json_tokener_free(tok);
	}
	for (char **e = env; *e; e++)
		if (strncmp(*e, "REQUEST_METHOD=", 15) == 0)
			method = *e + 15;
	check_common(ex, method);
}

static void exchange_free(struct exchange *ex)
{
	json_object_put(ex->json);
	free(ex->head);
	free(ex->raw);
	memset(ex, 0, sizeof *ex);
}

/* The common case: method, URI, optional Content-Type and body (Content-Length set from
 * the body when one is given) and up to a few extra environment entries. */
static void run(const char *method, const char *uri, const char *ctype, const char *body,
		struct exchange *ex)
{
	char m[64], u[4096], c[256], l[64];
	char *env[8];
	size_t n = 0;

	snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
	snprintf(u, sizeof u, "REQUEST_URI=%s", uri);
	env[n++] = m;
	env[n++] = u;
	if (ctype) {
		snprintf(c, sizeof c, "CONTENT_TYPE=%s", ctype);
		env[n++] = c;
	}
	if (body) {
		snprintf(l, sizeof l, "CONTENT_LENGTH=%zu", strlen(body));
		env[n++] = l;
	}
	env[n] = NULL;
	run_env(env, body, body ? strlen(body) : 0, ex);
}

static void post_json(const char *uri, const char *body, struct exchange *ex)
{
	run("POST", uri, "application/json", body, ex);
}

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static const char *err_code(const struct exchange *ex)
{
	struct json_object *e;

	if (!ex->json || !json_object_object_get_ex(ex->json, "error", &e))
		return NULL;
	return json_str(e, "code");
}

static const char *err_field(const struct exchange *ex)
{
	struct json_object *e;

	if (!ex->json || !json_object_object_get_ex(ex->json, "error", &e))
		return NULL;
	return json_str(e, "field");
}

static const char *err_message(const struct exchange *ex)
{
	struct json_object *e;

	if (!ex->json || !json_object_object_get_ex(ex->json, "error", &e))
		return NULL;
	return json_str(e, "message");
}

/* Asserts an error response: status, code, and that no route ran. */
#define ck_error(ex, st, code)                                                       \
	do {                                                                         \
		ck_assert_int_eq((ex)->status, (st));                                \
		ck_assert_ptr_nonnull(err_code(ex));                                 \
		ck_assert_str_eq(err_code(ex), (code));                              \
		ck_assert_ptr_null((ex)->seen.route);                                \
	} while (0)

/* The same, from a route that ran (HTTP_BODY_JSON_DEFERRED). */
#define ck_route_error(ex, st, code)                                                 \
	do {                                                                         \
		ck_assert_int_eq((ex)->status, (st));                                \
		ck_assert_ptr_nonnull(err_code(ex));                                 \
		ck_assert_str_eq(err_code(ex), (code));                              \
		ck_assert_str_eq((ex)->seen.route, "deferred");                      \
	} while (0)

/* Routing. */

START_TEST(route_match_with_params)
{
	struct exchange ex;

	run("GET", "/items/abc", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(ex.seen.route, "item");
	ck_assert_str_eq(json_str(ex.json, "id"), "abc");
	ck_assert_str_eq(json_str(ex.json, "method"), "GET");
	ck_assert_str_eq(json_str(ex.json, "path"), "/items/abc");
	exchange_free(&ex);

	/* The path is percent-decoded before matching; the query is not part of it. */
	run("GET", "/items/a%20b%C3%A9?x=1", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(json_str(ex.json, "id"), "a b\xc3\xa9");
	ck_assert_str_eq(json_str(ex.json, "path"), "/items/a b\xc3\xa9");
	exchange_free(&ex);

	run("DELETE", "/items/42", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(json_str(ex.json, "id"), "42");
	ck_assert_str_eq(json_str(ex.json, "method"), "DELETE");
	exchange_free(&ex);

	run("PUT", "/items/7/tags/red", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(ex.seen.route, "tag");
	ck_assert_str_eq(json_str(ex.json, "id"), "7");
	ck_assert_str_eq(json_str(ex.json, "tag"), "red");
	ck_assert_ptr_null(json_str(ex.json, "other"));
	exchange_free(&ex);

	/* The literal route still wins for its own path. */
	run("GET", "/items", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(ex.seen.route, "items");
	exchange_free(&ex);
}
END_TEST

START_TEST(route_param_needs_one_segment)
{
	static const char *const paths[] = {
		"/items/", "/items/a/b", "/items//tags/red", "/items/7/tags/", "/itemsx", "/item",
		"/items/7/tags/red/x", "",
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		run("GET", paths[i], NULL, NULL, &ex);
		ck_assert_msg(ex.status == 404 || ex.status == 405, "%s: %d", paths[i], ex.status);
		ck_assert_ptr_null(ex.seen.route);
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(not_found_shape)
{
	struct exchange ex;

	run("GET", "/nowhere", NULL, NULL, &ex);
	ck_error(&ex, 404, "not_found");
	ck_assert_ptr_null(err_field(&ex));
	ck_assert_str_eq(err_message(&ex), apierr_message(APIERR_NOT_FOUND));
	exchange_free(&ex);

	run("POST", "/nowhere/at/all?x=1", "application/json", "{}", &ex);
	ck_error(&ex, 404, "not_found");
	exchange_free(&ex);
}
END_TEST

START_TEST(method_not_allowed_allow)
{
	struct exchange ex;
	char allow[128];

	run("DELETE", "/items", NULL, NULL, &ex);
	ck_error(&ex, 405, "method_not_allowed");
	ck_assert_ptr_nonnull(head_get(&ex, "Allow", allow, sizeof allow));
	ck_assert_str_eq(allow, "GET, HEAD, POST");
	ck_assert_int_eq(head_count(&ex, "Allow"), 1);
	exchange_free(&ex);

	run("PATCH", "/items/9", NULL, NULL, &ex);
	ck_error(&ex, 405, "method_not_allowed");
	ck_assert_ptr_nonnull(head_get(&ex, "Allow", allow, sizeof allow));
	ck_assert_str_eq(allow, "GET, HEAD, DELETE");
	exchange_free(&ex);

	run("POST", "/search?q=x", "application/json", "{}", &ex);
	ck_error(&ex, 405, "method_not_allowed");
	ck_assert_ptr_nonnull(head_get(&ex, "Allow", allow, sizeof allow));
	ck_assert_str_eq(allow, "GET, HEAD");
	exchange_free(&ex);

	/* A 404 has no Allow header. */
	run("GET", "/nowhere", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 404);
	ck_assert_ptr_null(head_get(&ex, "Allow", allow, sizeof allow));
	exchange_free(&ex);
}
END_TEST

START_TEST(unknown_method)
{
	char *env_known[] = {"REQUEST_METHOD=BREW", "REQUEST_URI=/items", NULL};
	char *env_unknown[] = {"REQUEST_METHOD=BREW", "REQUEST_URI=/nowhere", NULL};
	char *env_lower[] = {"REQUEST_METHOD=get", "REQUEST_URI=/items", NULL};
	char *env_missing[] = {"REQUEST_URI=/items", NULL};
	struct exchange ex;
	char allow[128];

	run_env(env_known, NULL, 0, &ex);
	ck_error(&ex, 405, "method_not_allowed");
	ck_assert_ptr_nonnull(head_get(&ex, "Allow", allow, sizeof allow));
	ck_assert_str_eq(allow, "GET, HEAD, POST");
	exchange_free(&ex);

	run_env(env_unknown, NULL, 0, &ex);
	ck_error(&ex, 404, "not_found");
	exchange_free(&ex);

	/* Methods are case-sensitive. */
	run_env(env_lower, NULL, 0, &ex);
	ck_error(&ex, 405, "method_not_allowed");
	exchange_free(&ex);

	run_env(env_missing, NULL, 0, &ex);
	ck_error(&ex, 405, "method_not_allowed");
	exchange_free(&ex);
}
END_TEST

START_TEST(cgi_without_request_uri)
{
	char *env[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=/items", "PATH_INFO=/xyz",
		       "QUERY_STRING=a=1", NULL};
	char *env2[] = {"REQUEST_METHOD=GET", "SCRIPT_NAME=", "PATH_INFO=/search",
			"QUERY_STRING=q=caf%C3%A9", NULL};
	struct exchange ex;

	run_env(env, NULL, 0, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(json_str(ex.json, "id"), "xyz");
	exchange_free(&ex);

	run_env(env2, NULL, 0, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(json_str(ex.json, "q"), "caf\xc3\xa9");
	exchange_free(&ex);
}
END_TEST

/* Query strings and paths. */

START_TEST(query_decoding)
{
	struct exchange ex;

	run("GET", "/search?q=hello%20world&tag=a+b&empty=&bare&plus=%2B1&a+b=%41%62", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(json_str(ex.json, "q"), "hello world");
	ck_assert_str_eq(json_str(ex.json, "tag"), "a b");
	ck_assert_str_eq(json_str(ex.json, "empty"), "");
	ck_assert_str_eq(json_str(ex.json, "bare"), "");
	ck_assert_str_eq(json_str(ex.json, "plus"), "+1");
	ck_assert_str_eq(json_str(ex.json, "a b"), "Ab");
	exchange_free(&ex);

	/* Empty pairs are skipped; an absent name is NULL. */
	run("GET", "/search?&&q=%e2%82%ac&", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(json_str(ex.json, "q"), "\xe2\x82\xac");
	ck_assert_ptr_null(json_str(ex.json, "tag"));
	exchange_free(&ex);

	/* '+' in the path is a literal plus, not a space. */
	run("GET", "/items/a+b", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(json_str(ex.json, "id"), "a+b");
	exchange_free(&ex);
}
END_TEST

START_TEST(query_duplicate_key)
{
	static const char *const uris[] = {
		"/search?q=1&q=2", "/search?q=1&tag=x&q=1", "/search?q&q", "/search?q=1&%71=2",
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof uris / sizeof *uris; i++) {
		run("GET", uris[i], NULL, NULL, &ex);
		ck_error(&ex, 400, "bad_request");
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(query_bad_escape)
{
	static const char *const uris[] = {
		"/search?q=%zz", "/search?q=%4", "/search?q=%", "/search?q=abc%", "/search?q=%00",
		"/search?%g1=x", "/search?q=%%41",
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof uris / sizeof *uris; i++) {
		run("GET", uris[i], NULL, NULL, &ex);
		ck_error(&ex, 400, "bad_request");
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(query_too_many_pairs)
{
	char uri[1024] = "/search?";
	struct exchange ex;

	for (int i = 0; i < HTTP_QUERY_MAX_PAIRS + 1; i++) {
		size_t n = strlen(uri);
		snprintf(uri + n, sizeof uri - n, "%sk%d=v", i ? "&" : "", i);
	}
	run("GET", uri, NULL, NULL, &ex);
	ck_error(&ex, 400, "bad_request");
	exchange_free(&ex);
}
END_TEST

START_TEST(path_bad_escape)
{
	static const char *const uris[] = {
		"/items/%zz", "/items/%4", "/items/%", "/items/abc%2", "/items/%00", "/%g0/x",
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof uris / sizeof *uris; i++) {
		run("GET", uris[i], NULL, NULL, &ex);
		ck_error(&ex, 400, "bad_request");
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(path_too_long)
{
	char uri[HTTP_PATH_MAX + 64];
	struct exchange ex;

	memcpy(uri, "/items/", 7);
	memset(uri + 7, 'a', HTTP_PATH_MAX);
	uri[HTTP_PATH_MAX + 7] = '\0';
	run("GET", uri, NULL, NULL, &ex);
	ck_error(&ex, 400, "bad_request");
	exchange_free(&ex);

	/* Just at the limit still routes. */
	uri[HTTP_PATH_MAX] = '\0';
	run("GET", uri, NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_uint_eq(strlen(json_str(ex.json, "id")), HTTP_PATH_MAX - 7);
	exchange_free(&ex);
}
END_TEST

/* Bodies. */

START_TEST(body_limit_default)
{
	char *over[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/items", "CONTENT_TYPE=application/json",
			"CONTENT_LENGTH=65537", NULL};
	char *huge[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/items", "CONTENT_TYPE=application/json",
			"CONTENT_LENGTH=99999999999999999999999999", NULL};
	char *body;
	const char *prefix = "{\"name\":\"x\",\"pad\":\"";
	size_t n = HTTP_BODY_DEFAULT_MAX;
	struct exchange ex;

	ck_assert_int_eq(HTTP_BODY_DEFAULT_MAX, 64 * 1024);
	/* Refused from the header alone, before reading. */
	run_env(over, "{}", 2, &ex);
	ck_error(&ex, 413, "payload_too_large");
	exchange_free(&ex);

	run_env(huge, "{}", 2, &ex);
	ck_assert_msg(ex.status == 413 || ex.status == 400, "status %d", ex.status);
	ck_assert_ptr_null(ex.seen.route);
	exchange_free(&ex);

	/* Exactly 64 KiB of valid JSON is accepted. */
	body = malloc(n + 1);
	ck_assert_ptr_nonnull(body);
	memset(body, 'a', n);
	memcpy(body, prefix, strlen(prefix));
	memcpy(body + n - 2, "\"}", 2);
	body[n] = '\0';
	post_json("/items", body, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(ex.seen.route, "echo");
	ck_assert_uint_eq(strlen(json_str(ex.json, "pad")), n - strlen(prefix) - 2);
	exchange_free(&ex);

	/* One byte more is not. */
	body = realloc(body, n + 2);
	ck_assert_ptr_nonnull(body);
	memmove(body + n - 1, body + n - 2, 3);
	body[n - 2] = 'a';
	ck_assert_uint_eq(strlen(body), n + 1);
	post_json("/items", body, &ex);
	ck_error(&ex, 413, "payload_too_large");
	exchange_free(&ex);
	free(body);
}
END_TEST

START_TEST(body_limit_route)
{
	struct exchange ex;

	post_json("/small", "{\"name\":\"abcde\"}", &ex);   /* 16 bytes */
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(json_str(ex.json, "name"), "abcde");
	exchange_free(&ex);

	post_json("/small", "{\"name\":\"abcdef\"}", &ex);  /* 17 bytes */
	ck_error(&ex, 413, "payload_too_large");
	exchange_free(&ex);
}
END_TEST

START_TEST(body_shorter_than_length)
{
	char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/items", "CONTENT_TYPE=application/json",
		       "CONTENT_LENGTH=40", NULL};
	const char *body = "{\"name\":\"abc\"}";
	struct exchange ex;

	run_env(env, body, strlen(body), &ex);
	ck_error(&ex, 400, "bad_request");
	exchange_free(&ex);
}
END_TEST

START_TEST(body_bad_content_length)
{
	static const char *const values[] = {"CONTENT_LENGTH=abc", "CONTENT_LENGTH=-1",
					     "CONTENT_LENGTH=+2", "CONTENT_LENGTH= 2",
					     "CONTENT_LENGTH=2x", "CONTENT_LENGTH="};
	char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/items", "CONTENT_TYPE=application/json",
		       NULL, NULL};
	struct exchange ex;

	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		env[3] = (char *)values[i];
		run_env(env, "{}", 2, &ex);
		ck_error(&ex, 400, "bad_request");
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(body_content_type)
{
	static const char *const refused[] = {
		"text/plain", "application/jsonx", "application/x-www-form-urlencoded",
		"application/json; charset=iso-8859-1", "application/json;charset=utf-16", "json",
	};
	static const char *const accepted[] = {
		"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8",
		"application/json; charset=\"utf-8\"",
	};
	const char *body = "{\"name\":\"abc\"}";
	struct exchange ex;

	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		run("POST", "/items", refused[i], body, &ex);
		ck_error(&ex, 415, "unsupported_media_type");
		exchange_free(&ex);
	}
	run("POST", "/items", NULL, body, &ex);
	ck_error(&ex, 415, "unsupported_media_type");
	exchange_free(&ex);
	for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
		run("POST", "/items", accepted[i], body, &ex);
		ck_assert_msg(ex.status == 200, "%s: %d", accepted[i], ex.status);
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(body_bad_json)
{
	static const char *const bodies[] = {
		"{\"name\":",                  /* truncated */
		"{name: \"abc\"}",             /* not JSON */
		"{\"name\":\"abc\",}",         /* trailing comma (strict) */
		"{\"name\":\"\xff\"}",         /* invalid UTF-8 */
		"{\"name\":\"\xe2\x82\"}",     /* truncated sequence */
		"{\"name\":\"\x80\"}",         /* lone continuation byte */
		"[1, 2]",                      /* not an object */
		"\"abc\"",
		"123",
		"null",
		"true",
		"{\"name\":\"abc\"} x",        /* trailing garbage */
		"{\"name\":\"abc\"}{}",
		"{\"name\":\"abc\"}]",
		"{\"name\":'abc'}",
		" ",
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		post_json("/items", bodies[i], &ex);
		ck_assert_msg(ex.status == 400, "body %zu: %d", i, ex.status);
		ck_error(&ex, 400, "bad_request");
		exchange_free(&ex);
	}
	/* A NUL byte inside the declared length is garbage too. */
	{
		char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/items",
			       "CONTENT_TYPE=application/json", "CONTENT_LENGTH=16", NULL};
		run_env(env, "{\"name\":\"abc\"}\0x", 16, &ex);
		ck_error(&ex, 400, "bad_request");
		exchange_free(&ex);
	}
	/* No body at all on a JSON route. */
	run("POST", "/items", "application/json", NULL, &ex);
	ck_error(&ex, 400, "bad_request");
	exchange_free(&ex);
	/* Trailing whitespace is fine. */
	post_json("/items", "{\"name\":\"abc\"} \r\n\t", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);
}
END_TEST

/* Byte sequences RFC 3629 forbids even though each has the right number of
 * continuation bytes. */
START_TEST(body_invalid_utf8)
{
	static const char *const bodies[] = {
		"{\"name\":\"\xc0\xaf\"}",         /* overlong '/' */
		"{\"name\":\"\xe0\x80\xaf\"}",     /* overlong '/', three bytes */
		"{\"name\":\"\xed\xa0\x80\"}",     /* UTF-16 surrogate U+D800 */
		"{\"name\":\"\xf4\x90\x80\x80\"}", /* beyond U+10FFFF */
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		post_json("/items", bodies[i], &ex);
		ck_assert_msg(ex.status == 400, "body %zu: %d", i, ex.status);
		ck_error(&ex, 400, "bad_request");
		exchange_free(&ex);
	}
	/* Valid multi-byte text passes. */
	post_json("/items", "{\"name\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);
}
END_TEST

START_TEST(body_too_deep)
{
	char body[256] = "{\"name\":\"x\",\"d\":";
	struct exchange ex;
	size_t n = strlen(body);

	for (int i = 0; i < HTTP_JSON_MAX_DEPTH + 2; i++)
		body[n++] = '[';
	for (int i = 0; i < HTTP_JSON_MAX_DEPTH + 2; i++)
		body[n++] = ']';
	body[n++] = '}';
	body[n] = '\0';
	post_json("/items", body, &ex);
	ck_error(&ex, 400, "bad_request");
	exchange_free(&ex);
}
END_TEST

START_TEST(body_raw_and_optional)
{
	struct exchange ex;

	run("POST", "/upload", "image/png", "\x89PNG....", &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_uint_eq(ex.seen.body_len, 8);
	ck_assert_uint_eq(ex.body_len, 8);
	ck_assert_int_eq(memcmp(ex.body, "\x89PNG....", 8), 0);
	exchange_free(&ex);

	run("POST", "/upload", "image/gif", "GIF89a", &ex);
	ck_error(&ex, 415, "unsupported_media_type");
	exchange_free(&ex);

	run("POST", "/optional", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_int_eq(ex.seen.had_json, 0);
	exchange_free(&ex);

	post_json("/optional", "{\"k\":1}", &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_int_eq(ex.seen.had_json, 1);
	exchange_free(&ex);

	post_json("/optional", "[1]", &ex);
	ck_error(&ex, 400, "bad_request");
	exchange_free(&ex);
}
END_TEST

START_TEST(body_deferred)
{
	static const char *const bodies[] = {"{", "[1]", "", "{\"name\":1}", "{\"name\":\"\\u0000\"}"};
	static const int statuses[] = {400, 400, 400, 400, 422};
	char *env[] = {"REQUEST_METHOD=POST", "REQUEST_URI=/deferred", "CONTENT_TYPE=application/json",
		       NULL, "HTTP_X_KEY=wrong", NULL};
	char length[48];
	struct exchange ex;

	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		snprintf(length, sizeof length, "CONTENT_LENGTH=%zu", strlen(bodies[i]));
		env[3] = length;
		env[4] = "HTTP_X_KEY=wrong";
		run_env(env, bodies[i], strlen(bodies[i]), &ex);
		ck_assert_msg(ex.status == 401, "body %zu: %d", i, ex.status);
		ck_route_error(&ex, 401, "unauthenticated");
		exchange_free(&ex);
		env[4] = "HTTP_X_KEY=right";
		run_env(env, bodies[i], strlen(bodies[i]), &ex);
		ck_assert_msg(ex.status == statuses[i], "body %zu: %d", i, ex.status);
		ck_route_error(&ex, statuses[i], statuses[i] == 422 ? "invalid_field" : "bad_request");
		exchange_free(&ex);
	}
	env[4] = "HTTP_X_KEY=wrong";
	env[2] = "CONTENT_TYPE=text/plain";
	env[3] = "CONTENT_LENGTH=2";
	run_env(env, "{}", 2, &ex);
	ck_route_error(&ex, 401, "unauthenticated");
	exchange_free(&ex);
	env[4] = "HTTP_X_KEY=right";
	run_env(env, "{}", 2, &ex);
	ck_route_error(&ex, 415, "unsupported_media_type");
	exchange_free(&ex);
	/* The limit is read before anything: over it, 413 whoever asks. */
	env[2] = "CONTENT_TYPE=application/json";
	env[3] = "CONTENT_LENGTH=65";
	env[4] = "HTTP_X_KEY=wrong";
	run_env(env, "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", 65, &ex);
	ck_error(&ex, 413, "payload_too_large");
	exchange_free(&ex);
	env[3] = "CONTENT_LENGTH=13";
	env[4] = "HTTP_X_KEY=right";
	run_env(env, "{\"name\":\"ok\"}", 13, &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);
}
END_TEST

START_TEST(body_nul_refused)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{"{\"name\":\"\\u0000\"}", "name"},
		{"{\"name\":\"ab\\u0000c\"}", "name"},
		{"{\"name\":\"a\",\"tags\":[\"x\",\"\\u0000\"]}", "tags[1]"},
		{"{\"name\":\"a\",\"meta\":{\"k\":[{\"v\":\"\\u0000\"}]}}", "meta.k[0].v"},
		{"{\"name\":\"a\",\"n\\u0000x\":1}", ""},
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		post_json("/items", cases[i].body, &ex);
		if (*cases[i].field) {
			ck_error(&ex, 422, "invalid_field");
			ck_assert_str_eq(err_field(&ex), cases[i].field);
			ck_assert_ptr_nonnull(strstr(err_message(&ex), "NUL"));
		} else {
			ck_error(&ex, 400, "bad_request");
			ck_assert_ptr_nonnull(strstr(err_message(&ex), "member name"));
		}
		ck_assert_ptr_null(ex.seen.route);
		exchange_free(&ex);
	}
	/* An escaped backslash before "u0000" is text, not a NUL. */
	post_json("/items", "{\"name\":\"\\\\u0000\"}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);
}
END_TEST

/* Field tables. */

START_TEST(field_required)
{
	struct exchange ex;

	post_json("/items", "{\"count\":3}", &ex);
	ck_error(&ex, 400, "bad_request");
	ck_assert_str_eq(err_field(&ex), "name");
	ck_assert_ptr_nonnull(strstr(err_message(&ex), "name"));
	exchange_free(&ex);

	post_json("/items", "{}", &ex);
	ck_error(&ex, 400, "bad_request");
	ck_assert_str_eq(err_field(&ex), "name");
	exchange_free(&ex);

	/* Optional fields may be absent. */
	post_json("/items", "{\"name\":\"n\"}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);
}
END_TEST

START_TEST(field_wrong_type)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{"{\"name\":5}", "name"},
		{"{\"name\":[\"x\"]}", "name"},
		{"{\"name\":\"n\",\"count\":\"3\"}", "count"},
		{"{\"name\":\"n\",\"count\":2.5}", "count"},
		{"{\"name\":\"n\",\"count\":true}", "count"},
		{"{\"name\":\"n\",\"flag\":1}", "flag"},
		{"{\"name\":\"n\",\"flag\":\"true\"}", "flag"},
		{"{\"name\":\"n\",\"tags\":{}}", "tags"},
		{"{\"name\":\"n\",\"meta\":[]}", "meta"},
		{"{\"name\":null}", "name"},
		{"{\"name\":\"n\",\"count\":null}", "count"},
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		post_json("/items", cases[i].body, &ex);
		ck_assert_msg(ex.status == 400, "%s: %d", cases[i].body, ex.status);
		ck_error(&ex, 400, "bad_request");
		ck_assert_ptr_nonnull(err_field(&ex));
		ck_assert_str_eq(err_field(&ex), cases[i].field);
		ck_assert_ptr_nonnull(strstr(err_message(&ex), cases[i].field));
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(field_max_len)
{
	struct exchange ex;

	post_json("/items", "{\"name\":\"abcdefgh\"}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);

	post_json("/items", "{\"name\":\"abcdefghi\"}", &ex);
	ck_error(&ex, 422, "invalid_field");
	ck_assert_str_eq(err_field(&ex), "name");
	ck_assert_ptr_nonnull(strstr(err_message(&ex), "name"));
	exchange_free(&ex);

	/* The limit counts characters, not bytes: eight two-byte characters fit. */
	post_json("/items", "{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);
	post_json("/items", "{\"name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}", &ex);
	ck_error(&ex, 422, "invalid_field");
	ck_assert_str_eq(err_field(&ex), "name");
	exchange_free(&ex);

	/* Arrays: entries. */
	post_json("/items", "{\"name\":\"n\",\"tags\":[1,2,3]}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);
	post_json("/items", "{\"name\":\"n\",\"tags\":[1,2,3,4]}", &ex);
	ck_error(&ex, 422, "invalid_field");
	ck_assert_str_eq(err_field(&ex), "tags");
	exchange_free(&ex);
}
END_TEST

START_TEST(field_int_range)
{
	static const char *const refused[] = {"0", "11", "-1", "9223372036854775807",
					      "-9223372036854775808"};
	static const char *const accepted[] = {"1", "10", "5"};
	char body[128];
	struct exchange ex;

	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		snprintf(body, sizeof body, "{\"name\":\"n\",\"count\":%s}", refused[i]);
		post_json("/items", body, &ex);
		ck_assert_msg(ex.status == 422, "%s: %d", refused[i], ex.status);
		ck_error(&ex, 422, "invalid_field");
		ck_assert_str_eq(err_field(&ex), "count");
		exchange_free(&ex);
	}
	for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
		snprintf(body, sizeof body, "{\"name\":\"n\",\"count\":%s}", accepted[i]);
		post_json("/items", body, &ex);
		ck_assert_msg(ex.status == 200, "%s: %d", accepted[i], ex.status);
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(field_nested)
{
	static const struct {
		const char *body;
		int status;
		const char *field;
	} cases[] = {
		{"{\"a\":{\"b\":\"xy\"}}", 200, NULL},
		{"{\"a\":{\"b\":\"wxyz\",\"c\":5}}", 200, NULL},
		{"{\"a\":{\"b\":\"x\",\"c\":null}}", 200, NULL},
		{"{}", 400, "a"},
		{"{\"a\":{}}", 400, "a.b"},
		{"{\"a\":{\"c\":1}}", 400, "a.b"},
		{"{\"a\":\"str\"}", 400, "a"},
		{"{\"a\":null}", 400, "a"},
		{"{\"a\":{\"b\":null}}", 400, "a.b"},
		{"{\"a\":{\"b\":7}}", 400, "a.b"},
		{"{\"a\":{\"b\":\"vwxyz\"}}", 422, "a.b"},
		{"{\"a\":{\"b\":\"x\",\"c\":6}}", 422, "a.c"},
		{"{\"a\":{\"b\":\"x\",\"c\":\"1\"}}", 400, "a.c"},
		/* A top-level key literally named "a.b" is not the nested field. */
		{"{\"a\":{},\"a.b\":\"x\"}", 400, "a.b"},
	};
	struct exchange ex;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		post_json("/nested", cases[i].body, &ex);
		ck_assert_msg(ex.status == cases[i].status, "%s: %d", cases[i].body, ex.status);
		if (cases[i].field) {
			ck_assert_ptr_nonnull(err_field(&ex));
			ck_assert_str_eq(err_field(&ex), cases[i].field);
			ck_assert_str_eq(err_code(&ex),
					 cases[i].status == 422 ? "invalid_field" : "bad_request");
			ck_assert_ptr_null(ex.seen.route);
		} else {
			ck_assert_str_eq(ex.seen.route, "echo");
		}
		exchange_free(&ex);
	}

	/* Only "x.y" is declared: a non-object parent makes the shape wrong. */
	post_json("/deep", "{\"x\":5}", &ex);
	ck_error(&ex, 400, "bad_request");
	ck_assert_str_eq(err_field(&ex), "x.y");
	exchange_free(&ex);
	post_json("/deep", "{\"x\":{\"y\":\"v\"}}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);
	post_json("/deep", "{\"y\":\"v\"}", &ex);
	ck_error(&ex, 400, "bad_request");
	ck_assert_str_eq(err_field(&ex), "x.y");
	exchange_free(&ex);
}
END_TEST

START_TEST(field_nullable)
{
	struct exchange ex;

	post_json("/items", "{\"name\":\"n\",\"meta\":null,\"note\":null}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);

	post_json("/items", "{\"name\":\"n\",\"meta\":{\"k\":1},\"note\":\"hi\"}", &ex);
	ck_assert_int_eq(ex.status, 200);
	exchange_free(&ex);

	post_json("/items", "{\"name\":\"n\",\"note\":3}", &ex);
	ck_error(&ex, 400, "bad_request");
	ck_assert_str_eq(err_field(&ex), "note");
	exchange_free(&ex);
}
END_TEST

/* Responses. */

START_TEST(standard_headers_everywhere)
{
	static const struct {
		const char *method, *uri;
		int status;
	} cases[] = {
		{"GET", "/items", 200},     {"GET", "/nowhere", 404},   {"DELETE", "/items", 405},
		{"GET", "/no-content", 204}, {"GET", "/not-modified", 304}, {"GET", "/silent", 500},
		{"GET", "/search?q=%zz", 400}, {"HEAD", "/head", 200}, {"GET", "/error-null", 409},
	};
	struct exchange ex;

	/* run() itself checks Cache-Control and X-Content-Type-Options on every response;
	 * this walks one of each kind. */
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		run(cases[i].method, cases[i].uri, NULL, NULL, &ex);
		ck_assert_msg(ex.status == cases[i].status, "%s %s: %d", cases[i].method,
			      cases[i].uri, ex.status);
		ck_assert_int_eq(head_count(&ex, "Cache-Control"), 1);
		ck_assert_int_eq(head_count(&ex, "X-Content-Type-Options"), 1);
		exchange_free(&ex);
	}
}
END_TEST

START_TEST(json_response_shape)
{
	struct exchange ex;
	char v[128];

	static const char want[] = "Status: 200 OK\r\n"
				   "Content-Type: application/json; charset=utf-8\r\n"
				   "Content-Length: 17\r\n"
				   "Cache-Control: no-store\r\n"
				   "X-Content-Type-Options: nosniff\r\n"
				   "\r\n"
				   "{\"route\":\"items\"}";
	char e[512];

	run("GET", "/items", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_msg(ex.raw_len == strlen(want) && memcmp(ex.raw, want, ex.raw_len) == 0,
		      "response: %s", esc(ex.raw, ex.raw_len, e, sizeof e));
	ck_assert_ptr_nonnull(head_get(&ex, "Content-Type", v, sizeof v));
	exchange_free(&ex);
}
END_TEST

START_TEST(route_without_reply_is_500)
{
	struct exchange ex;

	run("GET", "/silent", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 500);
	ck_assert_str_eq(ex.seen.route, "silent");
	ck_assert_str_eq(err_code(&ex), "internal_error");
	exchange_free(&ex);
}
END_TEST

START_TEST(error_message_never_empty)
{
	struct exchange ex;

	/* NULL means the table's sentence. */
	run("GET", "/error-null", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 409);
	ck_assert_str_eq(err_code(&ex), "conflict");
	ck_assert_str_eq(err_message(&ex), apierr_message(APIERR_CONFLICT));
	exchange_free(&ex);

	/* An empty message from a route must not produce an empty "message" either
	 * (run() asserts it is non-empty). */
	run("GET", "/error-empty", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 409);
	ck_assert_str_eq(err_code(&ex), "conflict");
	exchange_free(&ex);
}
END_TEST

START_TEST(add_header_refuses_crlf)
{
	struct exchange ex;
	char v[128];

	run("GET", "/headers", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_int_eq(ex.seen.add_header_rc[0], ST_OK);
	for (int i = 1; i < 6; i++)
		ck_assert_msg(ex.seen.add_header_rc[i] == ST_INVALID, "case %d: %d", i,
			      ex.seen.add_header_rc[i]);
	ck_assert_ptr_nonnull(head_get(&ex, "X-Good", v, sizeof v));
	ck_assert_str_eq(v, "yes");
	ck_assert_int_eq(head_count(&ex, "X-Evil"), 0);
	ck_assert_int_eq(head_count(&ex, "Injected"), 0);
	ck_assert_int_eq(head_count(&ex, "Set-Cookie"), 0);
	ck_assert_ptr_null(strstr(ex.raw, "Injected"));
	exchange_free(&ex);
}
END_TEST

START_TEST(request_headers)
{
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/items",
		       "HTTP_AUTHORIZATION=Bearer abc.def", "HTTP_X_CSRF_TOKEN=tok",
		       "CONTENT_TYPE=text/plain", "CONTENT_LENGTH=0",
		       "HTTP_COOKIE=other=1; db_session=s3cr3t; x=; db_session=second", "HTTPS=on", NULL};
	char *env2[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/items", "REQUEST_SCHEME=http",
			"HTTP_COOKIE=xdb_session=no; db_sessionx=no", NULL};
	struct http_req *req = NULL;
	char *cookie = NULL;

	ck_assert_int_eq(http_req_new_cgi(env, NULL, NULL, &req), ST_OK);
	ck_assert_str_eq(http_req_header(req, "Authorization"), "Bearer abc.def");
	ck_assert_str_eq(http_req_header(req, "authorization"), "Bearer abc.def");
	ck_assert_str_eq(http_req_header(req, "X-CSRF-Token"), "tok");
	ck_assert_str_eq(http_req_header(req, "Content-Type"), "text/plain");
	ck_assert_str_eq(http_req_header(req, "Content-Length"), "0");
	ck_assert_ptr_null(http_req_header(req, "X-Missing"));
	ck_assert_ptr_null(http_req_header(req, "Authorizatio"));
	ck_assert_str_eq(http_req_env(req, "HTTPS"), "on");
	ck_assert_int_eq(http_req_is_https(req), 1);
	ck_assert_str_eq(http_req_method(req), "GET");
	ck_assert_str_eq(http_req_path(req), "/items");
	ck_assert_int_eq(http_req_cookie_dup(req, "db_session", 0, &cookie), ST_OK);
	ck_assert_ptr_nonnull(cookie);
	ck_assert_str_eq(cookie, "s3cr3t");
	free(cookie);
	/* Every cookie of a name, in order. */
	ck_assert_int_eq(http_req_cookie_dup(req, "db_session", 1, &cookie), ST_OK);
	ck_assert_str_eq(cookie, "second");
	free(cookie);
	ck_assert_int_eq(http_req_cookie_dup(req, "db_session", 2, &cookie), ST_OK);
	ck_assert_ptr_null(cookie);
	ck_assert_int_eq(http_req_cookie_dup(req, "other", 0, &cookie), ST_OK);
	ck_assert_str_eq(cookie, "1");
	free(cookie);
	ck_assert_int_eq(http_req_cookie_dup(req, "missing", 0, &cookie), ST_OK);
	ck_assert_ptr_null(cookie);
	ck_assert_int_eq(http_replied(req), 0);
	http_req_free(req);

	ck_assert_int_eq(http_req_new_cgi(env2, NULL, NULL, &req), ST_OK);
	ck_assert_ptr_null(http_req_header(req, "Authorization"));
	ck_assert_int_eq(http_req_is_https(req), 0);
	ck_assert_int_eq(http_req_cookie_dup(req, "db_session", 0, &cookie), ST_OK);
	ck_assert_ptr_null(cookie);
	http_req_free(req);
}
END_TEST

START_TEST(head_204_304_have_no_body)
{
	struct exchange ex;
	char v[64];

	run("HEAD", "/head", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 200);
	ck_assert_str_eq(ex.seen.route, "head");
	ck_assert_uint_eq(ex.body_len, 0);
	/* The length of the body a GET would get is still announced. */
	ck_assert_ptr_nonnull(head_get(&ex, "Content-Length", v, sizeof v));
	ck_assert_str_eq(v, "17");
	exchange_free(&ex);

	/* A GET route answers HEAD: the same status and length, no body. */
	{
		char get_len[64];
		run("GET", "/search?q=x", NULL, NULL, &ex);
		ck_assert_int_eq(ex.status, 200);
		ck_assert_uint_gt(ex.body_len, 0);
		ck_assert_ptr_nonnull(head_get(&ex, "Content-Length", get_len, sizeof get_len));
		exchange_free(&ex);
		run("HEAD", "/search?q=x", NULL, NULL, &ex);
		ck_assert_int_eq(ex.status, 200);
		ck_assert_uint_eq(ex.body_len, 0);
		ck_assert_ptr_nonnull(head_get(&ex, "Content-Length", v, sizeof v));
		ck_assert_str_eq(v, get_len);
		exchange_free(&ex);
	}

	/* HEAD on an error sends no body either. */
	run("HEAD", "/nowhere", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 404);
	ck_assert_uint_eq(ex.body_len, 0);
	exchange_free(&ex);

	run("GET", "/no-content", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 204);
	ck_assert_uint_eq(ex.body_len, 0);
	ck_assert_ptr_null(head_get(&ex, "Content-Length", v, sizeof v));
	ck_assert_ptr_null(head_get(&ex, "Content-Type", v, sizeof v));
	ck_assert(strncmp(ex.raw, "Status: 204 No Content\r\n", 24) == 0);
	exchange_free(&ex);

	run("GET", "/not-modified", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 304);
	ck_assert_uint_eq(ex.body_len, 0);
	ck_assert_ptr_null(head_get(&ex, "Content-Length", v, sizeof v));
	exchange_free(&ex);

	/* Even when the route hands a body to a 204, none is sent (run() checks it). */
	run("GET", "/no-content-json", NULL, NULL, &ex);
	ck_assert_int_eq(ex.status, 204);
	ck_assert_uint_eq(ex.body_len, 0);
	exchange_free(&ex);
}
END_TEST

/* The apierr table. */

static int is_snake_case(const char *s)
{
	if (!s || !islower((unsigned char)s[0]))
		return 0;
	for (const char *p = s; *p; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
			return 0;
		if (*p == '_' && (p[1] == '_' || p[1] == '\0'))
			return 0;
	}
	return 1;
}

START_TEST(apierr_table_complete)
{
	for (int e = 0; e < APIERR_COUNT; e++) {
		const char *code = apierr_code((enum apierr)e);
		const char *msg = apierr_message((enum apierr)e);
		int st = apierr_http_status((enum apierr)e);

		ck_assert_msg(is_snake_case(code), "enum %d: code %s", e, code ? code : "(null)");
		ck_assert_msg(st >= 400 && st <= 599, "enum %d: status %d", e, st);
		ck_assert_ptr_nonnull(msg);
		ck_assert_msg(strlen(msg) > 0 && msg[strlen(msg) - 1] == '.', "enum %d: %s", e, msg);
		for (int f = 0; f < e; f++)
			ck_assert_str_ne(code, apierr_code((enum apierr)f));
	}
	/* The codes api.md names. */
	ck_assert_str_eq(apierr_code(APIERR_BAD_REQUEST), "bad_request");
	ck_assert_int_eq(apierr_http_status(APIERR_BAD_REQUEST), 400);
	ck_assert_str_eq(apierr_code(APIERR_NOT_FOUND), "not_found");
	ck_assert_int_eq(apierr_http_status(APIERR_NOT_FOUND), 404);
	ck_assert_str_eq(apierr_code(APIERR_METHOD_NOT_ALLOWED), "method_not_allowed");
	ck_assert_int_eq(apierr_http_status(APIERR_METHOD_NOT_ALLOWED), 405);
	ck_assert_str_eq(apierr_code(APIERR_PAYLOAD_TOO_LARGE), "payload_too_large");
	ck_assert_int_eq(apierr_http_status(APIERR_PAYLOAD_TOO_LARGE), 413);
	ck_assert_str_eq(apierr_code(APIERR_UNSUPPORTED_MEDIA_TYPE), "unsupported_media_type");
	ck_assert_int_eq(apierr_http_status(APIERR_UNSUPPORTED_MEDIA_TYPE), 415);
	ck_assert_str_eq(apierr_code(APIERR_INVALID_FIELD), "invalid_field");
	ck_assert_int_eq(apierr_http_status(APIERR_INVALID_FIELD), 422);
	ck_assert_str_eq(apierr_code(APIERR_RATE_LIMITED), "rate_limited");
	ck_assert_int_eq(apierr_http_status(APIERR_RATE_LIMITED), 429);
	ck_assert_str_eq(apierr_code(APIERR_NOT_CONFIGURED), "not_configured");
	ck_assert_int_eq(apierr_http_status(APIERR_NOT_CONFIGURED), 503);
	/* Out of range falls back to the internal error. */
	ck_assert_int_eq(apierr_http_status(APIERR_COUNT), 500);
	ck_assert_str_eq(apierr_code(APIERR_COUNT), "internal_error");
	ck_assert_ptr_nonnull(apierr_message(APIERR_COUNT));
}
END_TEST

START_TEST(apierr_from_status_map)
{
	ck_assert_int_eq(apierr_from_status(ST_INVALID), APIERR_BAD_REQUEST);
	ck_assert_int_eq(apierr_from_status(ST_TRUNCATED), APIERR_BAD_REQUEST);
	ck_assert_int_eq(apierr_from_status(ST_TOO_LARGE), APIERR_PAYLOAD_TOO_LARGE);
	ck_assert_int_eq(apierr_from_status(ST_NOT_FOUND), APIERR_NOT_FOUND);
	ck_assert_int_eq(apierr_from_status(ST_DENIED), APIERR_UNAUTHENTICATED);
	ck_assert_int_eq(apierr_from_status(ST_LIMITED), APIERR_RATE_LIMITED);
	ck_assert_int_eq(apierr_from_status(ST_BUSY), APIERR_DB_UNAVAILABLE);
	ck_assert_int_eq(apierr_from_status(ST_DB), APIERR_DB_UNAVAILABLE);
	ck_assert_int_eq(apierr_from_status(ST_NOMEM), APIERR_INTERNAL);
	ck_assert_int_eq(apierr_from_status(ST_CRYPTO), APIERR_INTERNAL);
	ck_assert_int_eq(apierr_from_status(12345), APIERR_INTERNAL);
	for (int st = ST_OK; st <= ST_LIMITED + 1; st++) {
		ck_assert_ptr_nonnull(status_str(st));
		ck_assert_uint_gt(strlen(status_str(st)), 0);
	}
}
END_TEST

/* What the calls wrote to stderr, read back through a temporary file. */
static void capture_stderr(void (*write_lines)(void), char *out, size_t size)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(saved, 0);
	dup2(fileno(f), STDERR_FILENO);
	write_lines();
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void three_lines(void)
{
	log_init("unit");
	log_request("GET", "/a\nforged", 200, 1549);
	log_request("POST", "/b", 503, 1550);
	log_error("%s", "tab\there");
}

START_TEST(log_lines)
{
	char text[1024], want[256], *p = text;
	long pid = (long)getpid();

	capture_stderr(three_lines, text, sizeof text);
	/* Each line: an RFC 3339 UTC stamp, program[pid], level, message; 0.1 ms rounding
	 * half up; control characters never start a new line. */
	for (int i = 0; i < 3; i++) {
		static const char *const rest[] = {
			"info: GET /a?forged 200 1.5ms", "info: POST /b 503 1.6ms", "error: tab?here",
		};
		ck_assert_msg(strlen(p) > 21 && p[4] == '-' && p[10] == 'T' && p[19] == 'Z' && p[20] == ' ',
			      "line %d: %s", i, p);
		snprintf(want, sizeof want, "unit[%ld] %s\n", pid, rest[i]);
		ck_assert_msg(strncmp(p + 21, want, strlen(want)) == 0, "line %d: %s", i, p);
		p += 21 + strlen(want);
	}
	ck_assert_str_eq(p, "");
}
END_TEST

/* One GET answered with status by a request that logs only what is unusual. */
static void quiet_request(int status)
{
	char *env[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/poll", "SCRIPT_NAME=", "PATH_INFO=/poll", NULL};
	struct http_req *req = NULL;
	FILE *out = fopen("/dev/null", "w");

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(http_req_new_cgi(env, NULL, out, &req), ST_OK);
	http_log_unusual_only(req);
	http_reply_empty(req, status);
	ck_assert_int_eq(http_finish(req), ST_OK);
	http_req_free(req);
	fclose(out);
}

static void quiet_requests(void)
{
	log_init("unit");
	quiet_request(200);
	quiet_request(304);
	quiet_request(404);
}

START_TEST(log_unusual_only)
{
	char text[1024];

	capture_stderr(quiet_requests, text, sizeof text);
	ck_assert_msg(strstr(text, "info: GET /poll 404 ") != NULL, "%s", text);
	ck_assert_msg(strstr(text, " 200 ") == NULL && strstr(text, " 304 ") == NULL, "%s", text);
	ck_assert_ptr_eq(strchr(text, '\n'), text + strlen(text) - 1);
}
END_TEST

static Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *routing = tcase_create("routing");
	TCase *query = tcase_create("query");
	TCase *body = tcase_create("body");
	TCase *fields = tcase_create("fields");
	TCase *responses = tcase_create("responses");
	TCase *apierr = tcase_create("apierr");

	tcase_add_test(routing, route_match_with_params);
	tcase_add_test(routing, route_param_needs_one_segment);
	tcase_add_test(routing, not_found_shape);
	tcase_add_test(routing, method_not_allowed_allow);
	tcase_add_test(routing, unknown_method);
	tcase_add_test(routing, cgi_without_request_uri);
	suite_add_tcase(s, routing);

	tcase_add_test(query, query_decoding);
	tcase_add_test(query, query_duplicate_key);
	tcase_add_test(query, query_bad_escape);
	tcase_add_test(query, query_too_many_pairs);
	tcase_add_test(query, path_bad_escape);
	tcase_add_test(query, path_too_long);
	suite_add_tcase(s, query);

	tcase_add_test(body, body_limit_default);
	tcase_add_test(body, body_limit_route);
	tcase_add_test(body, body_shorter_than_length);
	tcase_add_test(body, body_bad_content_length);
	tcase_add_test(body, body_content_type);
	tcase_add_test(body, body_bad_json);
	tcase_add_test(body, body_invalid_utf8);
	tcase_add_test(body, body_too_deep);
	tcase_add_test(body, body_raw_and_optional);
	tcase_add_test(body, body_deferred);
	tcase_add_test(body, body_nul_refused);
	suite_add_tcase(s, body);

	tcase_add_test(fields, field_required);
	tcase_add_test(fields, field_wrong_type);
	tcase_add_test(fields, field_max_len);
	tcase_add_test(fields, field_int_range);
	tcase_add_test(fields, field_nested);
	tcase_add_test(fields, field_nullable);
	suite_add_tcase(s, fields);

	tcase_add_test(responses, standard_headers_everywhere);
	tcase_add_test(responses, json_response_shape);
	tcase_add_test(responses, route_without_reply_is_500);
	tcase_add_test(responses, error_message_never_empty);
	tcase_add_test(responses, add_header_refuses_crlf);
	tcase_add_test(responses, request_headers);
	tcase_add_test(responses, head_204_304_have_no_body);
	tcase_add_test(responses, log_lines);
	tcase_add_test(responses, log_unusual_only);
	suite_add_tcase(s, responses);

	tcase_add_test(apierr, apierr_table_complete);
	tcase_add_test(apierr, apierr_from_status_map);
	suite_add_tcase(s, apierr);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

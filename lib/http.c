/* lib/http.c — request reading, routing, body checks and responses for CGI and FastCGI. */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jsonnul.h"
#include "log.h"
#include "status.h"
#include "utf8.h"

struct http_buf {
	char *data;
	size_t len, cap;
};

struct http_pair {
	char *name;
	char *value;
};

struct http_req {
	char **envp;
	FCGX_Request *fcgx;   /* NULL under plain CGI */
	FILE *cgi_in, *cgi_out;
	struct timespec started;

	const char *method;
	char *path;
	struct http_pair query[HTTP_QUERY_MAX_PAIRS];
	size_t nquery;
	struct http_pair params[HTTP_PARAMS_MAX];
	size_t nparams;
	unsigned char *body;
	size_t body_len;
	struct json_object *json;
	const struct http_route *route;   /* the one dispatched to */

	/* A request that cannot be routed is answered with this by http_dispatch. */
	enum apierr parse_error;
	const char *parse_message;

	/* The client behind a trusted proxy, once app.c has asked (empty: REMOTE_ADDR). */
	char client[64];
	int forwarded_https;

	enum http_cors cors;

	int status;
	char content_type[128];       /* empty: no body type */
	struct http_buf headers;
	struct http_buf out;
	int log_unusual_only;
};

static int buf_append(struct http_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			return ST_NOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return ST_OK;
}

static int buf_appendf(struct http_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int buf_appendf(struct http_buf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof small)
		return ST_TOO_LARGE;
	return buf_append(b, small, (size_t)n);
}

static const char *env_lookup(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (char **e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX (and '+' as a space in queries) into a new string; refuses bad escapes
 * and NUL bytes, which no legitimate path or parameter contains. */
static int percent_decode_dup(const char *s, size_t len, int plus_is_space, char **out)
{
	char *d = malloc(len + 1);
	size_t j = 0;

	if (!d)
		return ST_NOMEM;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(d);
				return ST_INVALID;
			}
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		d[j++] = (char)c;
	}
	d[j] = '\0';
	*out = d;
	return ST_OK;
}

static void set_parse_error(struct http_req *req, enum apierr err, const char *message)
{
	if (!req->parse_message) {
		req->parse_error = err;
		req->parse_message = message;
	}
}

static int parse_query(struct http_req *req, const char *qs)
{
	const char *p = qs;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t nlen = eq ? (size_t)(eq - p) : len;
		struct http_pair pair = {0};
		int st;

		if (len == 0) {
			p = amp ? amp + 1 : NULL;
			continue;
		}
		if (req->nquery == HTTP_QUERY_MAX_PAIRS) {
			set_parse_error(req, APIERR_BAD_REQUEST, "The query string has too many parameters.");
			return ST_OK;
		}
		st = percent_decode_dup(p, nlen, 1, &pair.name);
		if (st == ST_OK)
			st = eq ? percent_decode_dup(eq + 1, len - nlen - 1, 1, &pair.value)
				: percent_decode_dup("", 0, 1, &pair.value);
		if (st != ST_OK) {
			free(pair.name);
			if (st == ST_NOMEM)
				return st;
			set_parse_error(req, APIERR_BAD_REQUEST, "The query string has an invalid percent-encoding.");
			return ST_OK;
		}
		if (http_req_query(req, pair.name)) {
			free(pair.name);
			free(pair.value);
			set_parse_error(req, APIERR_BAD_REQUEST, "A query parameter is repeated.");
			return ST_OK;
		}
		req->query[req->nquery++] = pair;
		p = amp ? amp + 1 : NULL;
	}
	return ST_OK;
}

static const char *const http_methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

static int parse_request_line(struct http_req *req)
{
	const char *method = env_lookup(req->envp, "REQUEST_METHOD");
	const char *uri = env_lookup(req->envp, "REQUEST_URI");
	const char *qmark;
	size_t plen;
	int st;

	/* An unknown method matches no route: 405 on a known path, else 404. */
	req->method = "-";
	for (size_t i = 0; method && i < sizeof http_methods / sizeof *http_methods; i++)
		if (strcmp(method, http_methods[i]) == 0)
			req->method = http_methods[i];

	if (!uri || !*uri) {
		/* Plain CGI servers that do not set REQUEST_URI still give these two. */
		const char *script = env_lookup(req->envp, "SCRIPT_NAME");
		const char *info = env_lookup(req->envp, "PATH_INFO");
		size_t n = strlen(script ? script : "") + strlen(info ? info : "") + 1;
		req->path = malloc(n);
		if (!req->path)
			return ST_NOMEM;
		snprintf(req->path, n, "%s%s", script ? script : "", info ? info : "");
		return parse_query(req, env_lookup(req->envp, "QUERY_STRING"));
	}
	qmark = strchr(uri, '?');
	plen = qmark ? (size_t)(qmark - uri) : strlen(uri);
	if (plen > HTTP_PATH_MAX) {
		set_parse_error(req, APIERR_BAD_REQUEST, "The request path is too long.");
		plen = 0;
	}
	st = percent_decode_dup(uri, plen, 0, &req->path);
	if (st == ST_INVALID) {
		set_parse_error(req, APIERR_BAD_REQUEST, "The request path has an invalid percent-encoding.");
		st = percent_decode_dup("", 0, 0, &req->path);
	}
	if (st != ST_OK)
		return st;
	return parse_query(req, qmark ? qmark + 1 : NULL);
}

static int req_new(char **envp, struct http_req **out_req)
{
	struct http_req *req = calloc(1, sizeof *req);
	int st;

	if (!req)
		return ST_NOMEM;
	clock_gettime(CLOCK_MONOTONIC, &req->started);
	req->envp = envp;
	st = parse_request_line(req);
	if (st != ST_OK) {
		http_req_free(req);
		return st;
	}
	*out_req = req;
	return ST_OK;
}

int http_req_new_cgi(char **envp, FILE *in, FILE *out, struct http_req **out_req)
{
	int st = req_new(envp, out_req);

	if (st == ST_OK) {
		(*out_req)->cgi_in = in;
		(*out_req)->cgi_out = out;
	}
	return st;
}

int http_req_new_fcgi(struct FCGX_Request *fcgx, struct http_req **out_req)
{
	int st = req_new(fcgx->envp, out_req);

	if (st == ST_OK)
		(*out_req)->fcgx = fcgx;
	return st;
}

void http_req_free(struct http_req *req)
{
	if (!req)
		return;
	free(req->path);
	for (size_t i = 0; i < req->nquery; i++) {
		free(req->query[i].name);
		free(req->query[i].value);
	}
	for (size_t i = 0; i < req->nparams; i++) {
		free(req->params[i].name);
		free(req->params[i].value);
	}
	free(req->body);
	json_object_put(req->json);
	free(req->headers.data);
	free(req->out.data);
	free(req);
}

const char *http_req_method(const struct http_req *req)
{
	return req->method;
}

const char *http_req_path(const struct http_req *req)
{
	return req->path;
}

const char *http_req_env(const struct http_req *req, const char *name)
{
	return env_lookup(req->envp, name);
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	char key[128] = "HTTP_";
	size_t j = 5;

	if (strcasecmp(name, "Content-Type") == 0)
		return env_lookup(req->envp, "CONTENT_TYPE");
	if (strcasecmp(name, "Content-Length") == 0)
		return env_lookup(req->envp, "CONTENT_LENGTH");
	for (const char *p = name; *p && j + 1 < sizeof key; p++)
		key[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
	key[j] = '\0';
	return env_lookup(req->envp, key);
}

static const char *pair_find(const struct http_pair *pairs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(pairs[i].name, name) == 0)
			return pairs[i].value;
	return NULL;
}

const char *http_req_query(const struct http_req *req, const char *name)
{
	return pair_find(req->query, req->nquery, name);
}

const char *http_req_param(const struct http_req *req, const char *name)
{
	return pair_find(req->params, req->nparams, name);
}

const char *http_req_bearer(const struct http_req *req)
{
	const char *auth = http_req_header(req, "Authorization");

	return auth && strncasecmp(auth, "Bearer ", 7) == 0 && auth[7] ? auth + 7 : NULL;
}

int http_req_cookie_dup(const struct http_req *req, const char *name, size_t nth, char **out)
{
	const char *p = http_req_header(req, "Cookie");
	size_t n = strlen(name);

	*out = NULL;
	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		size_t len = strcspn(p, ";");
		if (len > n && strncmp(p, name, n) == 0 && p[n] == '=' && nth-- == 0) {
			*out = strndup(p + n + 1, len - n - 1);
			return *out ? ST_OK : ST_NOMEM;
		}
		p += len;
	}
	return ST_OK;
}

int http_req_is_https(const struct http_req *req)
{
	const char *https = http_req_env(req, "HTTPS");
	const char *scheme = http_req_env(req, "REQUEST_SCHEME");

	return req->forwarded_https || (https && strcasecmp(https, "on") == 0) ||
	       (scheme && strcmp(scheme, "https") == 0);
}

void http_req_set_client(struct http_req *req, const char *client, int https)
{
	snprintf(req->client, sizeof req->client, "%s", client ? client : "");
	req->forwarded_https = https;
}

const char *http_req_client(const struct http_req *req)
{
	return req->client[0] ? req->client : http_req_env(req, "REMOTE_ADDR");
}

void http_req_set_cors(struct http_req *req, enum http_cors cors)
{
	req->cors = cors;
}

struct json_object *http_req_json(const struct http_req *req)
{
	return req->json;
}

const unsigned char *http_req_body(const struct http_req *req, size_t *len)
{
	*len = req->body_len;
	return req->body;
}

/* Routing. */

static void clear_params(struct http_req *req)
{
	for (size_t i = 0; i < req->nparams; i++) {
		free(req->params[i].name);
		free(req->params[i].value);
	}
	req->nparams = 0;
}

/* Matches a path against "/a/{name}/b": each {name} takes one non-empty segment. */
static int route_match(struct http_req *req, const char *pattern)
{
	const char *p = pattern, *s = req->path;

	clear_params(req);
	while (*p) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			size_t seg = strcspn(s, "/");
			if (!close || seg == 0 || req->nparams == HTTP_PARAMS_MAX)
				return 0;
			struct http_pair *pair = &req->params[req->nparams];
			pair->name = strndup(p + 1, (size_t)(close - p - 1));
			pair->value = strndup(s, seg);
			req->nparams++;
			if (!pair->name || !pair->value)
				return 0;
			p = close + 1;
			s += seg;
		} else if (*p++ != *s++) {
			return 0;
		}
	}
	return *s == '\0';
}

static int media_type_is(const char *header, const char *type)
{
	size_t n = strlen(type);

	if (!header || strncasecmp(header, type, n) != 0)
		return 0;
	header += n;
	while (*header == ' ' || *header == '\t')
		header++;
	return *header == '\0' || *header == ';';
}

/* JSON bodies may name a charset only if it is UTF-8, the only one the API reads. */
static int json_media_type_ok(const char *header)
{
	const char *cs;

	if (!media_type_is(header, "application/json"))
		return 0;
	cs = strchr(header, ';');
	if (!cs)
		return 1;
	cs++;
	while (*cs == ' ')
		cs++;
	if (strncasecmp(cs, "charset=", 8) != 0)
		return 1;
	cs += 8;
	return strncasecmp(cs, "utf-8", 5) == 0 || strncasecmp(cs, "\"utf-8\"", 7) == 0;
}

static int parse_content_length(const char *v, size_t *out)
{
	size_t n = 0;

	if (!v || !*v)
		return ST_INVALID;
	for (; *v; v++) {
		if (!isdigit((unsigned char)*v) || n > (SIZE_MAX - 9) / 10)
			return ST_INVALID;
		n = n * 10 + (size_t)(*v - '0');
	}
	*out = n;
	return ST_OK;
}

static size_t read_some(struct http_req *req, unsigned char *buf, size_t n)
{
	if (req->fcgx) {
		int got = FCGX_GetStr((char *)buf, (int)n, req->fcgx->in);
		return got > 0 ? (size_t)got : 0;
	}
	return req->cgi_in ? fread(buf, 1, n, req->cgi_in) : 0;
}

static int read_body(struct http_req *req, const struct http_route *route)
{
	size_t max = route->max_body ? route->max_body : HTTP_BODY_DEFAULT_MAX;
	const char *cl = http_req_header(req, "Content-Length");
	size_t len = 0, got = 0;

	if (cl && parse_content_length(cl, &len) != ST_OK) {
		http_reply_error(req, APIERR_BAD_REQUEST, "The Content-Length header is not a number.");
		return ST_INVALID;
	}
	if (len > max) {
		http_reply_errorf(req, APIERR_PAYLOAD_TOO_LARGE,
				  "The request body is %zu bytes; this endpoint accepts at most %zu.", len, max);
		return ST_TOO_LARGE;
	}
	req->body = malloc(len + 1);
	if (!req->body)
		return ST_NOMEM;
	while (got < len) {
		size_t n = read_some(req, req->body + got, len - got);
		if (n == 0)
			break;
		got += n;
	}
	req->body[got] = '\0';
	req->body_len = got;
	if (got < len) {
		http_reply_error(req, APIERR_BAD_REQUEST,
				 "The request body ended before its Content-Length: send the whole body.");
		return ST_TRUNCATED;
	}
	return ST_OK;
}

static int parse_json_body(struct http_req *req)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	char where[128];
	size_t end;

	if (req->body_len == 0) {
		http_reply_error(req, APIERR_BAD_REQUEST, "This endpoint needs a JSON object as the request body.");
		return ST_INVALID;
	}
	if (utf8_count((const char *)req->body, req->body_len) == (size_t)-1) {
		http_reply_error(req, APIERR_BAD_REQUEST, "The request body is not valid UTF-8 JSON.");
		return ST_INVALID;
	}
	tok = json_tokener_new_ex(HTTP_JSON_MAX_DEPTH);
	if (!tok)
		return ST_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	req->json = json_tokener_parse_ex(tok, (const char *)req->body, (int)req->body_len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; end < req->body_len && isspace(req->body[end]); end++)
		;
	if (jerr != json_tokener_success || end != req->body_len) {
		json_object_put(req->json);
		req->json = NULL;
		http_reply_error(req, APIERR_BAD_REQUEST, "The request body is not valid UTF-8 JSON.");
		return ST_INVALID;
	}
	if (!json_object_is_type(req->json, json_type_object)) {
		http_reply_error(req, APIERR_BAD_REQUEST, "The request body must be a JSON object.");
		return ST_INVALID;
	}
	if (jsonnul_check((const char *)req->body, req->body_len, req->json, where, sizeof where) != ST_OK) {
		if (*where)
			http_reply_field_error(req, APIERR_INVALID_FIELD, where,
					       "it must not contain a NUL character (\\u0000)");
		else
			http_reply_error(req, APIERR_BAD_REQUEST,
					 "A member name in the body contains a NUL character (\\u0000).");
		return ST_INVALID;
	}
	return ST_OK;
}

/* Finds a dotted path in the body. *parent_ok is 0 when an intermediate value is not
 * an object, which makes the whole shape wrong. */
static struct json_object *json_lookup(struct json_object *root, const char *dotted, int *parent_ok)
{
	char part[128];
	const char *p = dotted;
	struct json_object *cur = root;

	*parent_ok = 1;
	for (;;) {
		size_t n = strcspn(p, ".");
		struct json_object *next;
		if (n >= sizeof part)
			return NULL;
		memcpy(part, p, n);
		part[n] = '\0';
		if (!json_object_is_type(cur, json_type_object)) {
			*parent_ok = 0;
			return NULL;
		}
		if (!json_object_object_get_ex(cur, part, &next))
			return NULL;
		if (p[n] == '\0')
			return next;
		if (!next)
			return NULL;
		cur = next;
		p += n + 1;
	}
}

static const char *const field_type_names[] = {
	[HTTP_FIELD_STRING] = "a string", [HTTP_FIELD_INT] = "an integer",
	[HTTP_FIELD_BOOL] = "true or false", [HTTP_FIELD_OBJECT] = "an object",
	[HTTP_FIELD_ARRAY] = "an array",
};

static int check_field(struct http_req *req, const struct http_field *f)
{
	static const enum json_type types[] = {
		[HTTP_FIELD_STRING] = json_type_string, [HTTP_FIELD_INT] = json_type_int,
		[HTTP_FIELD_BOOL] = json_type_boolean, [HTTP_FIELD_OBJECT] = json_type_object,
		[HTTP_FIELD_ARRAY] = json_type_array,
	};
	char why[96];
	int parent_ok, present;
	struct json_object *v;

	present = 0;
	v = json_lookup(req->json, f->name, &parent_ok);
	if (parent_ok) {
		int dummy;
		const char *dot = strrchr(f->name, '.');
		present = v != NULL;
		if (!v && dot) {
			/* A key present with a JSON null value still counts as present. */
			char parent[128];
			size_t n = (size_t)(dot - f->name);
			struct json_object *obj;
			if (n < sizeof parent) {
				memcpy(parent, f->name, n);
				parent[n] = '\0';
				obj = json_lookup(req->json, parent, &dummy);
				present = obj && json_object_is_type(obj, json_type_object) &&
					  json_object_object_get_ex(obj, dot + 1, NULL);
			}
		} else if (!v) {
			present = json_object_object_get_ex(req->json, f->name, NULL);
		}
	}
	if (!parent_ok) {
		http_reply_field_error(req, APIERR_BAD_REQUEST, f->name, "its parent must be an object");
		return ST_INVALID;
	}
	if (!present) {
		if (!f->required)
			return ST_OK;
		http_reply_field_error(req, APIERR_BAD_REQUEST, f->name, "it is required");
		return ST_INVALID;
	}
	if (!v) {
		if (f->nullable)
			return ST_OK;
		snprintf(why, sizeof why, "it must be %s, not null", field_type_names[f->type]);
		http_reply_field_error(req, APIERR_BAD_REQUEST, f->name, why);
		return ST_INVALID;
	}
	if (!json_object_is_type(v, types[f->type])) {
		snprintf(why, sizeof why, "it must be %s", field_type_names[f->type]);
		http_reply_field_error(req, APIERR_BAD_REQUEST, f->name, why);
		return ST_INVALID;
	}
	if (f->type == HTTP_FIELD_STRING && f->max_len &&
	    utf8_count(json_object_get_string(v), (size_t)json_object_get_string_len(v)) > f->max_len) {
		snprintf(why, sizeof why, "it is longer than %zu characters", f->max_len);
		http_reply_field_error(req, APIERR_INVALID_FIELD, f->name, why);
		return ST_INVALID;
	}
	if (f->type == HTTP_FIELD_ARRAY && f->max_len && json_object_array_length(v) > f->max_len) {
		snprintf(why, sizeof why, "it has more than %zu entries", f->max_len);
		http_reply_field_error(req, APIERR_INVALID_FIELD, f->name, why);
		return ST_INVALID;
	}
	if (f->type == HTTP_FIELD_INT && f->min < f->max) {
		errno = 0;
		int64_t n = json_object_get_int64(v);
		if (errno || n < f->min || n > f->max) {
			snprintf(why, sizeof why, "it must be between %lld and %lld",
				 (long long)f->min, (long long)f->max);
			http_reply_field_error(req, APIERR_INVALID_FIELD, f->name, why);
			return ST_INVALID;
		}
	}
	return ST_OK;
}

static int check_json(struct http_req *req, const struct http_route *route)
{
	int st;

	if (req->body_len == 0 && route->body == HTTP_BODY_JSON_OPTIONAL)
		return ST_OK;
	if (req->body_len > 0 && !json_media_type_ok(http_req_header(req, "Content-Type"))) {
		http_reply_error(req, APIERR_UNSUPPORTED_MEDIA_TYPE,
				 "Send the body as Content-Type: application/json; charset=utf-8.");
		return ST_INVALID;
	}
	st = parse_json_body(req);
	for (const struct http_field *f = route->fields; st == ST_OK && f && f->name; f++)
		st = check_field(req, f);
	return st;
}

static int check_body(struct http_req *req, const struct http_route *route)
{
	const char *ctype = http_req_header(req, "Content-Type");
	int st;

	if (route->body == HTTP_BODY_NONE)
		return ST_OK;
	st = read_body(req, route);
	if (st != ST_OK)
		return st;
	if (route->body == HTTP_BODY_RAW) {
		int ok = 0;
		for (const char *const *t = route->media_types; t && *t && !ok; t++)
			ok = media_type_is(ctype, *t);
		if (!ok) {
			http_reply_error(req, APIERR_UNSUPPORTED_MEDIA_TYPE,
					 "This endpoint does not accept this Content-Type.");
			return ST_INVALID;
		}
		return ST_OK;
	}
	return route->body == HTTP_BODY_JSON_DEFERRED ? ST_OK : check_json(req, route);
}

/* A browser asks before a cross-origin request that a plain form could not send
 * (Fetch standard, CORS-preflight request): OPTIONS, with the Origin and the method. */
static int is_preflight(const struct http_req *req)
{
	return strcmp(req->method, "OPTIONS") == 0 && http_req_header(req, "Origin") &&
	       http_req_header(req, "Access-Control-Request-Method");
}

/* The methods of the path, the request headers the visitor API reads, and how long the
 * browser may keep the answer (Chromium keeps it at most 7200 s). */
static void reply_preflight(struct http_req *req, const char *allow)
{
	if (req->cors != HTTP_CORS_ALLOWED) {
		http_reply_error(req, APIERR_ORIGIN_NOT_ALLOWED, NULL);
		return;
	}
	http_reply_empty(req, 204);
	http_add_header(req, "Access-Control-Allow-Methods", allow);
	http_add_header(req, "Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match");
	http_add_header(req, "Access-Control-Max-Age", "7200");
}

void http_dispatch(struct http_req *req, const struct http_route *routes, size_t n, void *ctx)
{
	char allow[128] = "";
	const struct http_route *found = NULL;
	/* HEAD is GET without the body (RFC 9110 9.3.2): monitors and proxies use it. */
	int head = strcmp(req->method, "HEAD") == 0;

	if (req->parse_message) {
		http_reply_error(req, req->parse_error, req->parse_message);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!route_match(req, routes[i].pattern))
			continue;
		if (strcmp(routes[i].method, req->method) == 0 || (head && strcmp(routes[i].method, "GET") == 0)) {
			found = &routes[i];
			break;
		}
		if (!strstr(allow, routes[i].method) && strlen(allow) + strlen(routes[i].method) + 9 < sizeof allow) {
			if (*allow)
				strcat(allow, ", ");
			strcat(allow, routes[i].method);
			if (strcmp(routes[i].method, "GET") == 0 && !strstr(allow, "HEAD"))
				strcat(allow, ", HEAD");
		}
	}
	if (!found) {
		clear_params(req);
		if (*allow && is_preflight(req)) {
			reply_preflight(req, allow);
		} else if (*allow) {
			http_reply_error(req, APIERR_METHOD_NOT_ALLOWED, NULL);
			http_add_header(req, "Allow", allow);
		} else {
			http_reply_error(req, APIERR_NOT_FOUND, NULL);
		}
		return;
	}
	/* route_match() leaves the params of the route that matched. */
	req->route = found;
	if (check_body(req, found) != ST_OK) {
		if (!http_replied(req))
			http_reply_error(req, APIERR_INTERNAL, NULL);
		return;
	}
	found->fn(req, ctx);
}

int http_req_parse_json(struct http_req *req)
{
	int st = ST_INVALID;

	if (req->json)
		return ST_OK;
	if (req->route && req->route->body == HTTP_BODY_JSON_DEFERRED)
		st = check_json(req, req->route);
	if (st != ST_OK && !http_replied(req))
		http_reply_error(req, APIERR_INTERNAL, NULL);
	return st;
}

/* Responses. */

static void reset_response(struct http_req *req)
{
	req->out.len = 0;
	req->headers.len = 0;
	if (req->out.data)
		req->out.data[0] = '\0';
	if (req->headers.data)
		req->headers.data[0] = '\0';
}

void http_reply_body(struct http_req *req, int status, const char *content_type,
		     const void *data, size_t len)
{
	reset_response(req);
	req->status = status;
	snprintf(req->content_type, sizeof req->content_type, "%s",
		 content_type && !strpbrk(content_type, "\r\n") ? content_type : "");
	if (len && buf_append(&req->out, data, len) != ST_OK) {
		req->status = 500;
		req->content_type[0] = '\0';
		req->out.len = 0;
	}
}

void http_reply_empty(struct http_req *req, int status)
{
	http_reply_body(req, status, NULL, NULL, 0);
}

void http_reply_json(struct http_req *req, int status, struct json_object *body)
{
	size_t len = 0;
	const char *text = json_object_to_json_string_length(
		body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	if (!text) {
		http_reply_body(req, 500, NULL, NULL, 0);
	} else {
		http_reply_body(req, status, "application/json; charset=utf-8", text, len);
	}
	json_object_put(body);
}

static void reply_error_obj(struct http_req *req, enum apierr err, const char *message,
			    const char *field, const char *name, struct json_object *detail)
{
	struct json_object *root = json_object_new_object();
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_string(apierr_code(err)));
	json_object_object_add(e, "message", json_object_new_string(
		message && *message ? message : apierr_message(err)));
	if (field)
		json_object_object_add(e, "field", json_object_new_string(field));
	if (name)
		json_object_object_add(e, name, detail);
	json_object_object_add(root, "error", e);
	http_reply_json(req, apierr_http_status(err), root);
}

void http_reply_error(struct http_req *req, enum apierr err, const char *message)
{
	reply_error_obj(req, err, message, NULL, NULL, NULL);
}

void http_reply_error_detail(struct http_req *req, enum apierr err, const char *message, const char *name,
			     struct json_object *detail)
{
	reply_error_obj(req, err, message, NULL, name, detail);
}

void http_reply_errorf(struct http_req *req, enum apierr err, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	reply_error_obj(req, err, message, NULL, NULL, NULL);
}

void http_reply_field_error(struct http_req *req, enum apierr err, const char *field, const char *why)
{
	char message[384];
	size_t n = strlen(why);

	/* The reason may already end its sentence. */
	snprintf(message, sizeof message, "Field \"%s\" is invalid: %.*s.", field,
		 (int)(n && why[n - 1] == '.' ? n - 1 : n), why);
	reply_error_obj(req, err, message, field, NULL, NULL);
}

void http_log_unusual_only(struct http_req *req)
{
	req->log_unusual_only = 1;
}

int http_add_header(struct http_req *req, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return ST_INVALID;
	return buf_appendf(&req->headers, "%s: %s\r\n", name, value);
}

int http_add_retry_after(struct http_req *req, int64_t seconds)
{
	return buf_appendf(&req->headers, "Retry-After: %lld\r\n", (long long)seconds);
}

int http_replied(const struct http_req *req)
{
	return req->status != 0;
}

int http_status(const struct http_req *req)
{
	return req->status;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "Unknown";
	}
}

static int write_all(struct http_req *req, const char *data, size_t len)
{
	if (req->fcgx)
		return FCGX_PutStr(data, (int)len, req->fcgx->out) == (int)len ? ST_OK : ST_IO;
	return fwrite(data, 1, len, req->cgi_out) == len ? ST_OK : ST_IO;
}

int http_finish(struct http_req *req)
{
	struct http_buf head = {0};
	struct timespec now;
	long long took_us;
	int st = ST_OK;

	if (!req->status)
		http_reply_error(req, APIERR_INTERNAL, NULL);
	st = buf_appendf(&head, "Status: %d %s\r\n", req->status, reason_phrase(req->status));
	if (st == ST_OK && req->content_type[0])
		st = buf_appendf(&head, "Content-Type: %s\r\n", req->content_type);
	if (st == ST_OK && req->status != 304 && req->status != 204)
		st = buf_appendf(&head, "Content-Length: %zu\r\n", req->out.len);
	if (st == ST_OK)
		st = buf_appendf(&head, "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
	/* Over HTTPS, browsers are told to stay on it: a secret must never travel in clear. */
	if (st == ST_OK && http_req_is_https(req))
		st = buf_appendf(&head, "Strict-Transport-Security: max-age=31536000\r\n");
	/* The Origin is only echoed once it matched a listed one, which holds no CR or LF.
	 * The library reads ETag and Retry-After, which a cross-origin page sees only when
	 * exposed. */
	if (st == ST_OK && req->cors == HTTP_CORS_ALLOWED) {
		const char *origin = http_req_header(req, "Origin");
		st = buf_append(&head, "Access-Control-Allow-Origin: ", 29);
		if (st == ST_OK)
			st = buf_append(&head, origin, strlen(origin));
		if (st == ST_OK)
			st = buf_appendf(&head, "\r\nAccess-Control-Expose-Headers: ETag, Retry-After\r\n");
	}
	if (st == ST_OK && req->cors != HTTP_CORS_NONE)
		st = buf_appendf(&head, "Vary: Origin\r\n");
	if (st == ST_OK && req->headers.len)
		st = buf_append(&head, req->headers.data, req->headers.len);
	if (st == ST_OK)
		st = buf_append(&head, "\r\n", 2);
	if (st == ST_OK)
		st = write_all(req, head.data, head.len);
	if (st == ST_OK && req->out.len && strcmp(req->method, "HEAD") != 0 && req->status != 204 &&
	    req->status != 304)
		st = write_all(req, req->out.data, req->out.len);
	if (st == ST_OK && !req->fcgx && fflush(req->cgi_out) != 0)
		st = ST_IO;
	free(head.data);

	clock_gettime(CLOCK_MONOTONIC, &now);
	took_us = (long long)(now.tv_sec - req->started.tv_sec) * 1000000 +
		  (now.tv_nsec - req->started.tv_nsec) / 1000;
	if (!req->log_unusual_only || req->status >= 400 || took_us >= HTTP_SLOW_US)
		log_request(req->method, req->path ? req->path : "-", req->status, took_us);
	return st;
}

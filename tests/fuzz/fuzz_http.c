/* tests/fuzz/fuzz_http.c — libFuzzer harness for lib/http's request reading: the first
 * line is the request URI (its length picks the method, so that any path may come with
 * any of them), the second the Content-Type, the rest the body; routed over
 * a table with path parameters, a JSON field table, a raw-body route and a deferred one. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void answer(struct http_req *req, void *ctx)
{
	(void)ctx;
	(void)http_req_param(req, "id");
	(void)http_req_query(req, "after");
	http_reply_empty(req, 204);
}

/* As the webhook does: the body is parsed only after the route's own check. */
static void answer_deferred(struct http_req *req, void *ctx)
{
	(void)ctx;
	if (http_req_parse_json(req) == 0)
		http_reply_empty(req, 204);
}

static const struct http_field fields[] = {
	{"text", HTTP_FIELD_STRING, 1, 0, 64, 0, 0},
	{"a.b", HTTP_FIELD_INT, 0, 1, 0, 0, 9},
	{"list", HTTP_FIELD_ARRAY, 0, 0, 4, 0, 0},
	{NULL, 0, 0, 0, 0, 0, 0},
};
static const char *const media[] = {"image/png", NULL};
static const struct http_route routes[] = {
	{"GET", "/api/transfers/{id}/events", answer, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/transfers/{id}/messages", answer, HTTP_BODY_JSON, 1024, fields, NULL},
	{"PUT", "/api/avatar", answer, HTTP_BODY_RAW, 512, NULL, media},
	{"POST", "/api/zendesk/webhook", answer_deferred, HTTP_BODY_JSON_DEFERRED, 1024, fields, NULL},
};

/* The next line of the input, NUL-terminated in a copy the caller frees. */
static char *take_line(const uint8_t **p, size_t *n)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	size_t len = nl ? (size_t)(nl - *p) : *n;
	char *line = strndup((const char *)*p, len);

	*p += nl ? len + 1 : len;
	*n -= nl ? len + 1 : len;
	return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "POST", "PUT"};
	char *uri = take_line(&data, &size), *ctype = take_line(&data, &size);
	char env_uri[4200], env_type[300], env_len[64], env_method[32];
	char *envp[] = {env_method, env_uri, env_type, env_len, (char *)"HTTP_AUTHORIZATION=Bearer x", NULL};
	char *out_buf = NULL;
	size_t out_len = 0;
	FILE *in = fmemopen(size ? (void *)data : (void *)"", size ? size : 1, "r");
	FILE *out = open_memstream(&out_buf, &out_len);
	struct http_req *req = NULL;

	snprintf(env_method, sizeof env_method, "REQUEST_METHOD=%s", methods[(uri ? strlen(uri) : 0) % 3]);
	snprintf(env_uri, sizeof env_uri, "REQUEST_URI=%s", uri ? uri : "");
	snprintf(env_type, sizeof env_type, "CONTENT_TYPE=%s", ctype ? ctype : "");
	snprintf(env_len, sizeof env_len, "CONTENT_LENGTH=%zu", size);
	if (in && out && http_req_new_cgi(envp, in, out, &req) == 0) {
		http_dispatch(req, routes, sizeof routes / sizeof *routes, NULL);
		http_finish(req);
		http_req_free(req);
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	free(out_buf);
	free(uri);
	free(ctype);
	return 0;
}

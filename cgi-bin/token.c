/* cgi-bin/token.c — identity (/api/public-key, /api/token). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "jwt.h"
#include "keys.h"
#include "status.h"
#include "token.h"

static void public_key(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	char *pem = NULL;
	int st;

	if (!db)
		return;
	st = keys_current_public_dup(db, &pem);
	if (st == ST_OK)
		http_reply_body(req, 200, "text/plain; charset=utf-8", pem, strlen(pem));
	else if (st == ST_NOT_FOUND)
		http_reply_error(req, APIERR_NOT_CONFIGURED,
				 "There is no service key yet: run deskbridge-admin init.");
	else
		http_reply_error(req, apierr_from_status(st), NULL);
	free(pem);
}

static const struct http_field token_fields[] = {
	{"token", HTTP_FIELD_STRING, 0, 0, JWT_MAX_LEN, 0, 0},
	{NULL, 0, 0, 0, 0, 0, 0},
};

static void zendesk_token(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	struct json_object *body = NULL;
	enum apierr err;
	const char *why;
	int st;

	if (!db || app_over_limit(req, db, http_req_client(req), "limits.token_per_minute"))
		return;
	st = token_mint(db, http_req_json(req), http_req_bearer(req),
			(int64_t)time(NULL), &body, &err, &why);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
	} else if (!body) {
		http_reply_errorf(req, err, "%s Reason: %s.", apierr_message(err), why);
		if (err == APIERR_INVALID_TOKEN)
			http_add_header(req, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
	} else {
		http_reply_json(req, 200, body);
	}
}

static const struct http_route routes[] = {
	{"GET", "/api/health", app_route_health, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/public-key", public_key, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/token", zendesk_token, HTTP_BODY_JSON_OPTIONAL, 0, token_fields, NULL},
};

int main(void)
{
	return app_main("token", routes, sizeof routes / sizeof *routes);
}

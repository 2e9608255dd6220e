/* cgi-bin/agent.c — what machines outside read: the Zendesk private app's view of a
 * transfer (/api/agent/...) and the operator's metrics (/api/metrics). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "appcreds.h"
#include "metrics.h"
#include "status.h"
#include "transfer.h"

static void transfer_view(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	struct json_object *body;
	int st;

	if (!db)
		return;
	st = appcreds_check(db, http_req_bearer(req));
	if (st == ST_DENIED) {
		http_reply_error(req, APIERR_UNAUTHENTICATED,
				 "Send the app credentials from deskbridge's setup page as a Bearer token.");
		return;
	}
	if (st == ST_OK)
		st = transfer_agent_json(db, http_req_param(req, "id"), &body);
	if (st == ST_OK)
		http_reply_json(req, 200, body);
	else if (st == ST_NOT_FOUND)
		http_reply_error(req, APIERR_NOT_FOUND, "There is no such transfer.");
	else
		http_reply_error(req, apierr_from_status(st), NULL);
}

static void metrics_view(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	char *text = NULL;
	int st;

	if (!db)
		return;
	st = metrics_authorize(db, http_req_client(req), http_req_bearer(req));
	if (st == ST_NOT_FOUND) {
		http_reply_error(req, APIERR_NOT_FOUND, "Metrics are off: make a scrape token with "
				 "deskbridge-admin metrics-token, or list the scrapers' addresses in "
				 "metrics.allowed_addresses.");
		return;
	}
	if (st == ST_DENIED) {
		http_reply_error(req, APIERR_UNAUTHENTICATED, "Send the token from deskbridge-admin "
				 "metrics-token as a Bearer token.");
		http_add_header(req, "WWW-Authenticate", "Bearer");
		return;
	}
	if (st == ST_OK)
		st = metrics_render_dup(db, (int64_t)time(NULL), &text);
	if (st == ST_OK)
		http_reply_body(req, 200, METRICS_CONTENT_TYPE, text, strlen(text));
	else
		http_reply_error(req, apierr_from_status(st), NULL);
	free(text);
}

static const struct http_route routes[] = {
	{"GET", "/api/health", app_route_health, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/agent/transfers/{id}", transfer_view, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/metrics", metrics_view, HTTP_BODY_NONE, 0, NULL, NULL},
};

int main(void)
{
	return app_main("agent", routes, sizeof routes / sizeof *routes);
}

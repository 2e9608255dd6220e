/* cgi-bin/webhook.c — Zendesk's webhook events (/api/zendesk/webhook). */
#include <json-c/json.h>
#include <time.h>

#include "app.h"
#include "metrics.h"
#include "status.h"
#include "webhook.h"

static void deliver(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	struct webhook_result result;
	struct json_object *body;
	int st;

	if (!db)
		return;
	st = webhook_authenticate(db, http_req_header(req, "X-API-Key"));
	if (st == ST_DENIED) {
		metrics_count(db, METRIC_WEBHOOKS_REFUSED, "unauthenticated");
		http_reply_error(req, APIERR_UNAUTHENTICATED,
				 "The X-API-Key header does not match the webhook secret from setup.");
		return;
	}
	/* The body of a sender not yet known is not even parsed (HTTP_BODY_JSON_DEFERRED). */
	if (st == ST_OK && http_req_parse_json(req) != ST_OK)
		return;
	if (st == ST_OK)
		st = webhook_receive(db, http_req_json(req), (int64_t)time(NULL), &result);
	if (st == ST_INVALID) {
		metrics_count(db, METRIC_WEBHOOKS_REFUSED, "bad_request");
		http_reply_error(req, APIERR_BAD_REQUEST,
				 "The body is not a Sunshine Conversations v2 webhook delivery.");
		return;
	}
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "applied", json_object_new_int(result.applied));
	json_object_object_add(body, "duplicates", json_object_new_int(result.duplicates));
	json_object_object_add(body, "ignored", json_object_new_int(result.ignored));
	http_reply_json(req, 200, body);
}

static const struct http_route routes[] = {
	{"GET", "/api/health", app_route_health, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/zendesk/webhook", deliver, HTTP_BODY_JSON_DEFERRED, 256 * 1024, NULL, NULL},
};

int main(void)
{
	return app_main("webhook", routes, sizeof routes / sizeof *routes);
}

/* cgi-bin/transfer.c — visitor transfers (/api/availability, /api/transfers...), polled
 * by www/webchat/, and the public agent avatar (/api/avatar). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "availability.h"
#include "avatar.h"
#include "handoff.h"
#include "multipart.h"
#include "outbox.h"
#include "status.h"
#include "ticket.h"
#include "timefmt.h"
#include "transfer.h"
#include "upload.h"

/* After the response: hand over what the request stored, then a read receipt that
 * waited for its window (or for the conversation); or only the receipt. */
static void deliver_later(struct db *db, const char *id)
{
	struct outbox_result result;

	outbox_deliver(db, id, (int64_t)time(NULL), &result);
	outbox_read(db, id);
}

static void read_later(struct db *db, const char *id)
{
	outbox_read(db, id);
}

static void avatar_get(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	unsigned char *data = NULL;
	char *media_type = NULL;
	size_t len;
	int st;

	if (!db)
		return;
	st = avatar_get_dup(db, &media_type, &data, &len);
	if (st == ST_OK)
		http_reply_body(req, 200, media_type, data, len);
	else if (st == ST_NOT_FOUND)
		http_reply_error(req, APIERR_NOT_FOUND, "No agent avatar is set.");
	else
		http_reply_error(req, apierr_from_status(st), NULL);
	free(media_type);
	free(data);
}

static void availability(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	struct availability_answer a;
	struct json_object *body;
	char at[TIMEFMT_LEN];
	int st;

	if (!db)
		return;
	st = availability_answer_get(db, (int64_t)time(NULL), &a);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
	} else if (a.enabled && !a.closed && !a.zendesk.configured) {
		http_reply_error(req, APIERR_NOT_CONFIGURED, a.zendesk.detail);
	} else if (a.enabled && !a.closed && !a.zendesk.known) {
		http_reply_error(req, APIERR_ZENDESK_UNREACHABLE, a.zendesk.detail);
	} else {
		body = json_object_new_object();
		json_object_object_add(body, "agents_online", json_object_new_boolean(!a.no_agent));
		json_object_object_add(body, "count", json_object_new_int(a.zendesk.count));
		json_object_object_add(body, "checked_at", a.enabled && !a.closed ?
				       json_object_new_string(timefmt_rfc3339(a.zendesk.checked_at, at)) : NULL);
		if (a.no_agent) {
			json_object_object_add(body, "reason", json_object_new_string(
						       !a.enabled ? "transfers_disabled" : a.closed ? "closed" : "no_agents_online"));
			json_object_object_add(body, "message", json_object_new_string(a.message));
		}
		json_object_object_add(body, "leave_message", json_object_new_boolean(a.leave_message));
		http_reply_json(req, 200, body);
	}
}

static const struct http_field create_fields[] = {
	{"token", HTTP_FIELD_STRING, 0, 1, 8192, 0, 0},
	{"visitor", HTTP_FIELD_OBJECT, 0, 1, 0, 0, 0},
	{"visitor.name", HTTP_FIELD_STRING, 0, 1, 255, 0, 0},
	{"visitor.email", HTTP_FIELD_STRING, 0, 1, 254, 0, 0},
	{"message_to_human_agent", HTTP_FIELD_STRING, 0, 1, TRANSFER_TEXT_MAX, 0, 0},
	{"history", HTTP_FIELD_ARRAY, 0, 1, TRANSFER_HISTORY_MAX, 0, 0},
	{"department", HTTP_FIELD_STRING, 0, 1, 128, 0, 0},
	{"locale", HTTP_FIELD_STRING, 0, 1, 35, 0, 0},
	{"page_url", HTTP_FIELD_STRING, 0, 1, 2048, 0, 0},
	{"client_request_id", HTTP_FIELD_STRING, 0, 1, 128, 0, 0},
	{"client_secret", HTTP_FIELD_STRING, 0, 1, HANDOFF_CLIENT_SECRET_MAX, 0, 0},
	{NULL, 0, 0, 0, 0, 0, 0},
};

static void create(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	struct handoff_refusal refusal;
	struct json_object *body = NULL;
	int st;

	if (!db || app_over_limit(req, db, http_req_client(req), "limits.transfers_per_minute"))
		return;
	st = handoff_create(db, http_req_json(req), http_req_bearer(req), http_req_client(req),
			    (int64_t)time(NULL), &body, &refusal);
	if (st != ST_OK)
		http_reply_error(req, apierr_from_status(st), NULL);
	else if (!body && refusal.message[0]) {
		http_reply_error(req, refusal.err, refusal.message);
		if (refusal.retry_after)
			http_add_retry_after(req, refusal.retry_after);
	}
	else if (!body && refusal.field)
		http_reply_field_error(req, refusal.err, refusal.field, refusal.why);
	else if (!body)
		http_reply_errorf(req, refusal.err, "%s Reason: %s.", apierr_message(refusal.err), refusal.why);
	else {
		struct json_object *id;
		json_object_object_get_ex(body, "id", &id);
		app_after_response(ctx, deliver_later, json_object_get_string(id));
		http_reply_json(req, 201, body);
	}
}

/* 404 for an unknown id, 401 for a wrong secret, else the status's own error. */
static void reply_refused(struct http_req *req, int st)
{
	if (st == ST_NOT_FOUND)
		http_reply_error(req, APIERR_NOT_FOUND, "There is no such transfer.");
	else if (st == ST_DENIED)
		http_reply_error(req, APIERR_UNAUTHENTICATED,
				 "Send the transfer's secret as Authorization: Bearer <secret>.");
	else
		http_reply_error(req, apierr_from_status(st), NULL);
}

/* The database when the request carries the transfer's secret as a Bearer token;
 * otherwise answers the refusal and returns NULL. */
static struct db *transfer_db(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	int st;

	if (!db)
		return NULL;
	st = transfer_authorize(db, http_req_param(req, "id"), http_req_bearer(req));
	if (st == ST_OK)
		return db;
	reply_refused(req, st);
	return NULL;
}

static void events(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	const char *after_s = http_req_query(req, "after"), *match;
	struct json_object *body, *next;
	char *end = NULL, etag[48];
	long long after = 0;
	int due = 0, read_pending = 0, st;

	http_log_unusual_only(req);
	if (!db)
		return;
	if (after_s && (after = strtoll(after_s, &end, 10), *after_s == '\0' || *end || after < 0)) {
		http_reply_field_error(req, APIERR_BAD_REQUEST, "after", "it must be a seq number");
		return;
	}
	st = transfer_poll(db, http_req_param(req, "id"), http_req_bearer(req), after, (int64_t)time(NULL),
			   &body, &due, &read_pending);
	if (st != ST_OK) {
		reply_refused(req, st);
		return;
	}
	if (due)
		app_after_response(ctx, deliver_later, http_req_param(req, "id"));
	else if (read_pending)
		app_after_response(ctx, read_later, http_req_param(req, "id"));
	/* The ETag names what the poller has after this answer: with nothing new, a poller
	 * that sends it back gets an empty 304. */
	json_object_object_get_ex(body, "next", &next);
	snprintf(etag, sizeof etag, "\"%lld-%lld\"", after, (long long)json_object_get_int64(next));
	match = http_req_header(req, "If-None-Match");
	if (match && strcmp(match, etag) == 0) {
		json_object_put(body);
		http_reply_empty(req, 304);
	} else {
		http_reply_json(req, 200, body);
	}
	http_add_header(req, "ETag", etag);
}

static void get_transfer(struct http_req *req, void *ctx)
{
	struct db *db = transfer_db(req, ctx);
	struct json_object *body;
	int st;

	if (!db)
		return;
	st = transfer_get_json(db, http_req_param(req, "id"), (int64_t)time(NULL), &body);
	if (st == ST_OK)
		http_reply_json(req, 200, body);
	else
		http_reply_error(req, apierr_from_status(st), NULL);
}

static const struct http_field message_fields[] = {
	{"client_message_id", HTTP_FIELD_STRING, 1, 0, 128, 0, 0},
	{"text", HTTP_FIELD_STRING, 1, 0, TRANSFER_TEXT_MAX, 0, 0},
	{NULL, 0, 0, 0, 0, 0, 0},
};

static void message(struct http_req *req, void *ctx)
{
	struct db *db = transfer_db(req, ctx);
	struct json_object *cmid, *text, *body;
	char msg_id[TRANSFER_ID_LEN];
	int64_t seq = 0;
	int st;

	if (!db || app_over_limit(req, db, http_req_param(req, "id"), "limits.messages_per_minute"))
		return;
	json_object_object_get_ex(http_req_json(req), "client_message_id", &cmid);
	json_object_object_get_ex(http_req_json(req), "text", &text);
	if (json_object_get_string_len(text) == 0 || json_object_get_string_len(cmid) == 0) {
		http_reply_field_error(req, APIERR_INVALID_FIELD,
				       json_object_get_string_len(text) ? "client_message_id" : "text",
				       "it must not be empty");
		return;
	}
	st = transfer_post_message(db, http_req_param(req, "id"), json_object_get_string(cmid),
				   json_object_get_string(text), (int64_t)time(NULL), &seq, msg_id);
	if (st == ST_CONFLICT) {
		http_reply_error(req, APIERR_TRANSFER_ENDED, NULL);
	} else if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
	} else {
		body = json_object_new_object();
		json_object_object_add(body, "seq", json_object_new_int64(seq));
		json_object_object_add(body, "id", json_object_new_string(msg_id));
		http_reply_json(req, 202, body);
		app_after_response(ctx, deliver_later, http_req_param(req, "id"));
	}
}

static const struct http_field typing_fields[] = {
	{"typing", HTTP_FIELD_BOOL, 1, 0, 0, 0, 0},
	{NULL, 0, 0, 0, 0, 0, 0},
};

/* The database for a visitor's typing or read, within limits.activity_per_minute for
 * the transfer; otherwise answers the refusal and returns NULL. */
static struct db *activity_db(struct http_req *req, void *ctx)
{
	struct db *db = transfer_db(req, ctx);

	return db && !app_over_limit(req, db, http_req_param(req, "id"), "limits.activity_per_minute") ? db : NULL;
}

/* Checked and answered, not passed on: Zendesk takes only conversation:read from a
 * user (ActivityPost), so the agent workspace cannot show the visitor typing. */
static void typing(struct http_req *req, void *ctx)
{
	if (!activity_db(req, ctx))
		return;
	http_reply_empty(req, 204);
}

static const struct http_field read_fields[] = {
	{"seq", HTTP_FIELD_INT, 1, 0, 0, 0, INT64_MAX},
	{NULL, 0, 0, 0, 0, 0, 0},
};

static void mark_read(struct http_req *req, void *ctx)
{
	struct db *db = activity_db(req, ctx);
	struct json_object *seq;
	int st;

	if (!db)
		return;
	json_object_object_get_ex(http_req_json(req), "seq", &seq);
	st = transfer_mark_read(db, http_req_param(req, "id"), json_object_get_int64(seq));
	if (st == ST_OK) {
		app_after_response(ctx, read_later, http_req_param(req, "id"));
		http_reply_empty(req, 204);
	}
	else
		http_reply_error(req, apierr_from_status(st), NULL);
}

static void end_transfer(struct http_req *req, void *ctx)
{
	struct db *db = transfer_db(req, ctx);
	struct json_object *body;
	int st;

	if (!db)
		return;
	st = transfer_end(db, http_req_param(req, "id"), (int64_t)time(NULL));
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "state", json_object_new_string("ended"));
	http_reply_json(req, 200, body);
	app_after_response(ctx, deliver_later, http_req_param(req, "id"));
}

static const char *const upload_types[] = {"multipart/form-data", NULL};

/* A file for the agent: multipart/form-data with one file part, sent on to Zendesk
 * before the answer. */
static void upload_file(struct http_req *req, void *ctx)
{
	struct db *db = transfer_db(req, ctx);
	struct multipart_file file;
	struct upload_result result;
	struct json_object *body;
	const unsigned char *data;
	const char *why;
	size_t len;
	int st;

	if (!db || app_over_limit(req, db, http_req_param(req, "id"), "limits.messages_per_minute"))
		return;
	data = http_req_body(req, &len);
	if (multipart_parse_file(http_req_header(req, "Content-Type"), data, len, &file, &why) != ST_OK) {
		http_reply_errorf(req, APIERR_BAD_REQUEST, "Send one file as multipart/form-data: %s.", why);
		return;
	}
	st = upload_send(db, http_req_param(req, "id"), &file, (int64_t)time(NULL), &result);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
		return;
	}
	switch (result.verdict) {
	case UPLOAD_SENT:
		body = json_object_new_object();
		json_object_object_add(body, "kind", json_object_new_string(result.type->image ? "image" : "file"));
		json_object_object_add(body, "media_type", json_object_new_string(result.type->media_type));
		json_object_object_add(body, "media_url", json_object_new_string(result.media_url));
		json_object_object_add(body, "message_id", json_object_new_string(result.message_id));
		http_reply_json(req, 201, body);
		break;
	case UPLOAD_EMPTY:
		http_reply_field_error(req, APIERR_INVALID_FIELD, "file", "it is empty");
		break;
	case UPLOAD_TOO_LARGE:
		http_reply_error(req, APIERR_PAYLOAD_TOO_LARGE, result.message);
		break;
	case UPLOAD_WRONG_TYPE:
		http_reply_error(req, APIERR_UNSUPPORTED_MEDIA_TYPE, result.message);
		break;
	case UPLOAD_ENDED:
		http_reply_error(req, APIERR_TRANSFER_ENDED, result.message);
		break;
	case UPLOAD_NOT_ACTIVE:
		http_reply_error(req, APIERR_CONFLICT, result.message);
		break;
	case UPLOAD_NOT_CONFIGURED:
		http_reply_error(req, APIERR_NOT_CONFIGURED, result.message);
		break;
	case UPLOAD_ZENDESK_REFUSED:
		http_reply_error(req, APIERR_ZENDESK_REFUSED, result.message);
		break;
	case UPLOAD_ZENDESK_UNREACHABLE:
		http_reply_error(req, APIERR_ZENDESK_UNREACHABLE, result.message);
		break;
	}
}

static void deliver_ticket_later(struct db *db, const char *id)
{
	ticket_deliver(db, id, (int64_t)time(NULL));
}

static const struct http_field ticket_fields[] = {
	{"message", HTTP_FIELD_STRING, 1, 0, TICKET_MESSAGE_MAX, 0, 0},
	{"token", HTTP_FIELD_STRING, 0, 1, 8192, 0, 0},
	{"visitor", HTTP_FIELD_OBJECT, 0, 1, 0, 0, 0},
	{"visitor.name", HTTP_FIELD_STRING, 0, 1, 255, 0, 0},
	{"visitor.email", HTTP_FIELD_STRING, 0, 1, 254, 0, 0},
	{"history", HTTP_FIELD_ARRAY, 0, 1, TRANSFER_HISTORY_MAX, 0, 0},
	{"page_url", HTTP_FIELD_STRING, 0, 1, 2048, 0, 0},
	{"client_request_id", HTTP_FIELD_STRING, 0, 1, 128, 0, 0},
	{NULL, 0, 0, 0, 0, 0, 0},
};

static void create_ticket(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	struct ticket_refusal refusal;
	struct json_object *body = NULL, *id;
	int st;

	if (!db || app_over_limit(req, db, http_req_client(req), "limits.transfers_per_minute"))
		return;
	st = ticket_create(db, http_req_json(req), http_req_bearer(req), (int64_t)time(NULL), &body, &refusal);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
	} else if (!body && refusal.field) {
		http_reply_field_error(req, refusal.err, refusal.field, refusal.why);
	} else if (!body) {
		http_reply_errorf(req, refusal.err, "%s Reason: %s.", apierr_message(refusal.err), refusal.why);
	} else {
		json_object_object_get_ex(body, "id", &id);
		app_after_response(ctx, deliver_ticket_later, json_object_get_string(id));
		http_reply_json(req, 202, body);
	}
}

static void get_ticket(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	struct json_object *body;
	int due = 0, st;

	if (!db)
		return;
	st = ticket_get_json(db, http_req_param(req, "id"), http_req_bearer(req), (int64_t)time(NULL), &body, &due);
	if (st == ST_NOT_FOUND)
		http_reply_error(req, APIERR_NOT_FOUND, "There is no such message.");
	else if (st == ST_DENIED)
		http_reply_error(req, APIERR_UNAUTHENTICATED,
				 "Send the message's secret as Authorization: Bearer <secret>.");
	else if (st != ST_OK)
		http_reply_error(req, apierr_from_status(st), NULL);
	else
		http_reply_json(req, 200, body);
	if (st == ST_OK && due)
		app_after_response(ctx, deliver_ticket_later, http_req_param(req, "id"));
}

static const struct http_route routes[] = {
	{"GET", "/api/health", app_route_health, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/avatar", avatar_get, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/availability", availability, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/transfers", create, HTTP_BODY_JSON, 256 * 1024, create_fields, NULL},
	{"GET", "/api/transfers/{id}", get_transfer, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/transfers/{id}/events", events, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/transfers/{id}/messages", message, HTTP_BODY_JSON, 0, message_fields, NULL},
	{"POST", "/api/transfers/{id}/typing", typing, HTTP_BODY_JSON, 0, typing_fields, NULL},
	{"POST", "/api/transfers/{id}/read", mark_read, HTTP_BODY_JSON, 0, read_fields, NULL},
	{"POST", "/api/transfers/{id}/end", end_transfer, HTTP_BODY_JSON_OPTIONAL, 0, NULL, NULL},
	{"POST", "/api/transfers/{id}/files", upload_file, HTTP_BODY_RAW, UPLOAD_BODY_MAX, NULL, upload_types},
	{"POST", "/api/tickets", create_ticket, HTTP_BODY_JSON, 256 * 1024, ticket_fields, NULL},
	{"GET", "/api/tickets/{id}", get_ticket, HTTP_BODY_NONE, 0, NULL, NULL},
};

int main(void)
{
	return app_main_cross_origin("transfer", routes, sizeof routes / sizeof *routes);
}

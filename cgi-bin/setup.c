/* cgi-bin/setup.c — the admin setup API (/api/setup/...), used by the form in www/setup/. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "app.h"
#include "appcreds.h"
#include "audit.h"
#include "avatar.h"
#include "dashboard.h"
#include "keys.h"
#include "metrics.h"
#include "setup.h"
#include "status.h"
#include "zendesk.h"

#define SESSION_COOKIE "deskbridge_admin"

static void set_session_cookie(struct http_req *req, const char *value, int max_age)
{
	char cookie[256];

	snprintf(cookie, sizeof cookie, SESSION_COOKIE "=%s; Path=/api/setup; HttpOnly; "
		 "SameSite=Strict; Max-Age=%d%s", value, max_age,
		 http_req_is_https(req) ? "; Secure" : "");
	http_add_header(req, "Set-Cookie", cookie);
}

static const struct http_field login_fields[] = {
	{"password", HTTP_FIELD_STRING, 1, 0, ADMIN_PASSWORD_MAX, 0, 0},
	{NULL, 0, 0, 0, 0, 0, 0},
};

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void session_create(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	struct json_object *password, *body;
	struct admin_session session;
	int64_t retry_after;
	int st;

	if (!db)
		return;
	json_object_object_get_ex(http_req_json(req), "password", &password);
	st = admin_login(db, json_object_get_string(password), http_req_client(req), now_ms(),
			 &session, &retry_after);
	if (st == ST_LIMITED) {
		metrics_count(db, METRIC_RATE_LIMITED, "admin_login");
		http_reply_errorf(req, APIERR_RATE_LIMITED, "Too many failed logins: wait %lld "
				  "seconds, then try again.", (long long)retry_after);
		http_add_retry_after(req, retry_after);
		return;
	}
	if (st == ST_DENIED) {
		http_reply_error(req, APIERR_INVALID_CREDENTIALS, "The admin password is wrong.");
		return;
	}
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "csrf_token", json_object_new_string(session.csrf));
	http_reply_json(req, 200, body);
	set_session_cookie(req, session.cookie, ADMIN_SESSION_MAX_S);
	admin_session_free(&session);
}

/* The database when the request has a live admin session (and, unless it is a GET or
 * HEAD, the session's CSRF token), with that session's cookie in *cookie when asked (caller
 * frees); otherwise answers 401 or 403 and returns NULL. Every session cookie is tried:
 * a stale one, or one planted for a parent domain, may come before the live one. */
static struct db *admin_db(struct http_req *req, void *ctx, char **cookie)
{
	struct db *db = app_db(ctx, req);
	enum admin_auth auth = ADMIN_AUTH_NO_SESSION;
	const char *method = http_req_method(req);
	int writes = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
	char *value = NULL;
	int st = ST_OK;

	if (cookie)
		*cookie = NULL;
	if (!db)
		return NULL;
	for (size_t i = 0; st == ST_OK && auth == ADMIN_AUTH_NO_SESSION; i++) {
		free(value);
		st = http_req_cookie_dup(req, SESSION_COOKIE, i, &value);
		if (st != ST_OK || !value)
			break;
		st = admin_session_check(db, value, http_req_header(req, "X-CSRF-Token"),
					 writes, (int64_t)time(NULL), &auth);
	}
	if (st != ST_OK)
		http_reply_error(req, apierr_from_status(st), NULL);
	else if (auth == ADMIN_AUTH_NO_SESSION)
		http_reply_error(req, APIERR_UNAUTHENTICATED, "Log in at /setup/ first.");
	else if (auth == ADMIN_AUTH_BAD_CSRF)
		http_reply_error(req, APIERR_CSRF_FAILED, NULL);
	if (st != ST_OK || auth != ADMIN_AUTH_OK) {
		free(value);
		return NULL;
	}
	if (cookie)
		*cookie = value;
	else
		free(value);
	return db;
}

/* A reloaded page takes up its session: the CSRF token lives only in the page. */
static void session_get(struct http_req *req, void *ctx)
{
	char *cookie = NULL, *csrf = NULL;
	struct db *db = admin_db(req, ctx, &cookie);
	struct json_object *body;
	int st;

	if (!db)
		return;
	st = admin_session_csrf_dup(db, cookie, (int64_t)time(NULL), &csrf);
	free(cookie);
	if (st != ST_OK || !csrf) {
		http_reply_error(req, st != ST_OK ? apierr_from_status(st) : APIERR_UNAUTHENTICATED, NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "csrf_token", json_object_new_string(csrf));
	http_reply_json(req, 200, body);
	free(csrf);
}

static void session_delete(struct http_req *req, void *ctx)
{
	char *cookie = NULL;
	struct db *db = admin_db(req, ctx, &cookie);
	int st;

	if (!db)
		return;
	st = admin_logout(db, cookie);
	free(cookie);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
		return;
	}
	http_reply_empty(req, 204);
	set_session_cookie(req, "", 0);
}

static void reply_config(struct http_req *req, struct db *db)
{
	struct json_object *config;
	int st = setup_config_json(db, &config);

	if (st == ST_OK)
		http_reply_json(req, 200, config);
	else
		http_reply_error(req, apierr_from_status(st), NULL);
}

static void config_get(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);

	if (db)
		reply_config(req, db);
}

static void config_patch(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	struct setup_error err;
	const char *addr;
	char actor[96];
	int st;

	if (!db)
		return;
	addr = http_req_client(req);
	snprintf(actor, sizeof actor, "admin@%s", addr ? addr : "-");
	st = setup_config_patch(db, http_req_json(req), actor, (int64_t)time(NULL), &err);
	if (st == ST_INVALID)
		http_reply_error_detail(req, err.bad_shape ? APIERR_BAD_REQUEST : APIERR_INVALID_FIELD,
					err.message, "field", json_object_new_string(err.field));
	else if (st != ST_OK)
		http_reply_error(req, apierr_from_status(st), NULL);
	else
		reply_config(req, db);
}

static void audit_get(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	struct json_object *entries, *body;
	int st;

	if (!db)
		return;
	st = audit_list_json(db, 200, &entries);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "entries", entries);
	http_reply_json(req, 200, body);
}

static enum apierr verify_error(const struct zendesk_verify_result *r)
{
	const struct zendesk_check *credentials[] = {&r->check[ZENDESK_CHECK_MESSAGING_KEY],
						     &r->check[ZENDESK_CHECK_SUPPORT_TOKEN]};

	for (size_t i = 0; i < sizeof credentials / sizeof *credentials; i++)
		if (credentials[i]->ran && credentials[i]->outcome == ZENDESK_MISSING)
			return APIERR_NOT_CONFIGURED;
	for (size_t i = 0; i < sizeof credentials / sizeof *credentials; i++)
		if (credentials[i]->ran && credentials[i]->outcome == ZENDESK_REJECTED)
			return APIERR_ZENDESK_REJECTED;
	for (int i = 0; i < ZENDESK_CHECKS; i++)
		if (r->check[i].ran && r->check[i].outcome == ZENDESK_UNREACHABLE)
			return APIERR_ZENDESK_UNREACHABLE;
	return APIERR_ZENDESK_INCOMPLETE;
}

static void zendesk_verify_route(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	struct zendesk_verify_result result;
	struct json_object *body;
	int st;

	if (!db)
		return;
	st = setup_zendesk_verify(db, (int64_t)time(NULL), &result);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
	} else if (result.detail) {
		http_reply_error_detail(req, verify_error(&result), result.detail, "checks",
					setup_checks_json(&result, 0));
	} else {
		body = json_object_new_object();
		json_object_object_add(body, "verified", json_object_new_boolean(1));
		json_object_object_add(body, "agents_online", json_object_new_int(result.agents_online));
		json_object_object_add(body, "checks", setup_checks_json(&result, 0));
		http_reply_json(req, 200, body);
	}
}

static void app_credentials_new(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	struct json_object *body;
	char *creds = NULL;
	int st;

	if (!db)
		return;
	st = appcreds_new_dup(db, &creds);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "app_credentials", json_object_new_string(creds));
	http_reply_json(req, 201, body);
	free(creds);
}

static void app_zip(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	unsigned char *zip = NULL;
	size_t len = 0;
	int st;

	if (!db)
		return;
	st = setup_app_zip_dup(db, app_zendesk_app_dir(), &zip, &len);
	if (st == ST_NOT_FOUND) {
		/* Not the Host this request came by: the admin may browse from an address
		 * that agents' browsers in Zendesk cannot reach. */
		http_reply_error(req, APIERR_NOT_CONFIGURED, "Enter deskbridge's public address (https://...) "
				 "and save it first: the app calls deskbridge there from Zendesk.");
	} else if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
	} else {
		http_reply_body(req, 200, "application/zip", zip, len);
		http_add_header(req, "Content-Disposition", "attachment; filename=\"deskbridge-zendesk-app.zip\"");
	}
	free(zip);
}

static const char *const avatar_types[] = {"image/png", "image/jpeg", "image/gif", NULL};

static void avatar_put(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	enum avatar_verdict verdict;
	const unsigned char *data;
	char why[160];
	size_t len;
	int st;

	if (!db)
		return;
	data = http_req_body(req, &len);
	st = avatar_store(db, data, len, http_req_header(req, "Content-Type"), (int64_t)time(NULL),
			  &verdict, why, sizeof why);
	if (st != ST_OK)
		http_reply_error(req, apierr_from_status(st), NULL);
	else if (verdict == AVATAR_UNSUPPORTED)
		http_reply_error(req, APIERR_UNSUPPORTED_MEDIA_TYPE, why);
	else if (verdict == AVATAR_INVALID)
		http_reply_field_error(req, APIERR_INVALID_FIELD, "avatar", why);
	else
		http_reply_empty(req, 204);
}

static void avatar_remove(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	int st;

	if (!db)
		return;
	st = avatar_delete(db);
	if (st == ST_OK)
		http_reply_empty(req, 204);
	else
		http_reply_error(req, apierr_from_status(st), NULL);
}

static void keys_rotate_route(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	struct json_object *body;
	char *pem = NULL;
	int st;

	if (!db)
		return;
	st = keys_rotate(db, (int64_t)time(NULL));
	if (st == ST_OK)
		st = keys_current_public_dup(db, &pem);
	if (st != ST_OK) {
		http_reply_error(req, apierr_from_status(st), NULL);
		return;
	}
	body = json_object_new_object();
	json_object_object_add(body, "service_public_key", json_object_new_string(pem));
	http_reply_json(req, 200, body);
	free(pem);
}

static void status_get(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	struct json_object *body;
	int st;

	if (!db)
		return;
	st = setup_status_json(db, (int64_t)time(NULL), &body);
	if (st == ST_OK)
		http_reply_json(req, 200, body);
	else
		http_reply_error(req, apierr_from_status(st), NULL);
}

static void dashboard_get(struct http_req *req, void *ctx)
{
	struct db *db = admin_db(req, ctx, NULL);
	struct json_object *body;
	int st;

	if (!db)
		return;
	st = dashboard_json(db, (int64_t)time(NULL), &body);
	if (st == ST_OK)
		http_reply_json(req, 200, body);
	else
		http_reply_error(req, apierr_from_status(st), NULL);
}

static const struct http_route routes[] = {
	{"GET", "/api/health", app_route_health, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/setup/session", session_create, HTTP_BODY_JSON, 0, login_fields, NULL},
	{"GET", "/api/setup/session", session_get, HTTP_BODY_NONE, 0, NULL, NULL},
	{"DELETE", "/api/setup/session", session_delete, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/setup/config", config_get, HTTP_BODY_NONE, 0, NULL, NULL},
	{"PATCH", "/api/setup/config", config_patch, HTTP_BODY_JSON, 0, NULL, NULL},
	{"GET", "/api/setup/audit", audit_get, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/setup/zendesk/verify", zendesk_verify_route, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/setup/app-credentials", app_credentials_new, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/setup/zendesk-app.zip", app_zip, HTTP_BODY_NONE, 0, NULL, NULL},
	{"PUT", "/api/setup/avatar", avatar_put, HTTP_BODY_RAW, AVATAR_MAX_BYTES, NULL, avatar_types},
	{"DELETE", "/api/setup/avatar", avatar_remove, HTTP_BODY_NONE, 0, NULL, NULL},
	{"POST", "/api/setup/keys/rotate", keys_rotate_route, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/setup/status", status_get, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/setup/dashboard", dashboard_get, HTTP_BODY_NONE, 0, NULL, NULL},
};

int main(void)
{
	return app_main("setup", routes, sizeof routes / sizeof *routes);
}

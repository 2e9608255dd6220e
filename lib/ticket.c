/* lib/ticket.c — messages left while no agent is available, and their Zendesk tickets. */
#include "ticket.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "identity.h"
#include "log.h"
#include "outbox.h"
#include "status.h"
#include "timefmt.h"
#include "transfer.h"
#include "zendesk.h"

/* Ticket secrets are HMAC(key, id), as transfers' are: a retried creation answers the
 * same secret again, and only its SHA-256 is stored. */
static const char ticket_secret_key[] = "ticket.secret_key";

static const char ticket_sql_find[] =
	"SELECT id FROM tickets WHERE visitor_external_id = ? AND client_request_id = ?";
static const char ticket_sql_insert[] =
	"INSERT INTO tickets (id, secret_hash, client_request_id, visitor_external_id, visitor_name,"
	" visitor_email, visitor_authenticated, message, history, page_url, state, next_attempt_at,"
	" created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)";
static const char ticket_sql_get[] =
	"SELECT secret_hash, state, zendesk_ticket_id, created_at, next_attempt_at FROM tickets WHERE id = ?";
static const char ticket_sql_job[] =
	"SELECT visitor_name, visitor_email, message, history, page_url, attempts, created_at"
	" FROM tickets WHERE id = ? AND state = 'pending' AND next_attempt_at <= ?";
static const char ticket_sql_done[] =
	"UPDATE tickets SET state = ?, zendesk_ticket_id = ?, last_error = ?, updated_at = ?"
	" WHERE id = ? AND state = 'pending'";
static const char ticket_sql_retry[] =
	"UPDATE tickets SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ?"
	" WHERE id = ? AND state = 'pending'";
static const char ticket_sql_due[] =
	"SELECT id FROM tickets WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 50";

static const char *body_string(struct json_object *body, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(body, name, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static int refuse(struct ticket_refusal *r, enum apierr err, const char *field, const char *why)
{
	r->err = err;
	r->field = field;
	r->why = why;
	return ST_OK;
}

/* The visitor from the site's token (security on) or the typed name and email. */
static int visitor_of(struct db *db, struct json_object *body, const char *bearer, int64_t now,
		      struct identity *id, struct ticket_refusal *r)
{
	struct json_object *visitor = NULL;
	const char *token = body_string(body, "token") ? body_string(body, "token") : bearer;
	const char *name, *email, *why;
	enum identity_error err;
	int secure = 0, st = config_get_bool(db, "security.authenticate_users", &secure);

	if (st != ST_OK)
		return st;
	if (secure) {
		if (!token)
			return refuse(r, APIERR_INVALID_TOKEN, "token", "the site's token is required");
		st = identity_verify(db, token, strlen(token), now, id, &err, &why);
		if (st == ST_OK && err != IDENTITY_OK)
			refuse(r, identity_apierr(err), "token", why);
		return st;
	}
	json_object_object_get_ex(body, "visitor", &visitor);
	name = body_string(visitor, "name");
	email = body_string(visitor, "email");
	st = identity_typed(name, email, id, &why);
	if (st == ST_INVALID)
		return refuse(r, APIERR_INVALID_FIELD, name && *name ? "visitor.email" : "visitor.name", why);
	return st;
}

static const char *check_body(struct json_object *body, const char **field)
{
	const char *message = body_string(body, "message"), *url = body_string(body, "page_url"), *why;
	struct json_object *history = NULL;

	*field = "message";
	if (!message || !*message)
		return "it must not be empty";
	json_object_object_get_ex(body, "history", &history);
	if ((why = transfer_check_history(history)) != NULL) {
		*field = "history";
		return why;
	}
	if (url && strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		*field = "page_url";
		return "must be an http:// or https:// URL";
	}
	return NULL;
}

/* Offered, and Zendesk's Support API set up to take it. */
static int check_offered(struct db *db, struct ticket_refusal *r, int *ok)
{
	struct zendesk_account *acct = NULL;
	int offered = 0, st = config_get_bool(db, "tickets.offer_when_offline", &offered);

	*ok = 0;
	if (st == ST_OK && !offered)
		return refuse(r, APIERR_TICKETS_DISABLED, NULL, "the admin has not turned on \"Offer to leave a message\"");
	if (st == ST_OK)
		st = zendesk_account_load(db, &acct);
	if (st == ST_OK && !zendesk_support_ready(acct))
		refuse(r, APIERR_NOT_CONFIGURED, NULL,
		       "the Support API credentials (api_user, api_token) are not set");
	else if (st == ST_OK)
		*ok = 1;
	zendesk_account_free(acct);
	return st;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

static int find(struct db *db, const char *external_id, const char *client_request_id, char id[TICKET_ID_LEN])
{
	sqlite3_stmt *stmt;
	int rc, st;

	id[0] = '\0';
	if (!client_request_id)
		return ST_OK;
	st = db_stmt(db, ticket_sql_find, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, external_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, client_request_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		snprintf(id, TICKET_ID_LEN, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

static int new_id(char out[TICKET_ID_LEN])
{
	unsigned char raw[12];
	int st = crypto_random(raw, sizeof raw);

	/* Lowercase hex: the id is also a Zendesk tag, and tags are lowercased. */
	snprintf(out, TICKET_ID_LEN, "tk_");
	for (size_t i = 0; st == ST_OK && i < sizeof raw; i++)
		snprintf(out + 3 + 2 * i, 3, "%02x", raw[i]);
	return st;
}

static int insert(struct db *db, const char *id, const char *secret, const struct identity *v,
		  struct json_object *body, int64_t now)
{
	unsigned char hash[CRYPTO_SHA256_LEN];
	struct json_object *history = NULL;
	sqlite3_stmt *stmt;
	int st = crypto_sha256(secret, strlen(secret), hash);

	json_object_object_get_ex(body, "history", &history);
	if (st == ST_OK)
		st = db_stmt(db, ticket_sql_insert, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, hash, sizeof hash, SQLITE_STATIC);
	bind_text_or_null(stmt, 3, body_string(body, "client_request_id"));
	sqlite3_bind_text(stmt, 4, v->external_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, v->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, v->email, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 7, v->authenticated);
	sqlite3_bind_text(stmt, 8, body_string(body, "message"), -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 9, json_object_is_type(history, json_type_array)
			  ? json_object_to_json_string_ext(history, JSON_C_TO_STRING_PLAIN) : "[]", -1,
			  SQLITE_TRANSIENT);
	bind_text_or_null(stmt, 10, body_string(body, "page_url"));
	sqlite3_bind_int64(stmt, 11, now);
	sqlite3_bind_int64(stmt, 12, now);
	sqlite3_bind_int64(stmt, 13, now);
	return db_exec_stmt(stmt);
}

static int store(struct db *db, const struct identity *v, struct json_object *body, int64_t now,
		 char id[TICKET_ID_LEN], char **secret)
{
	int st = db_begin(db);

	if (st == ST_OK)
		st = find(db, v->external_id, body_string(body, "client_request_id"), id);
	if (st == ST_OK && !id[0]) {
		st = new_id(id);
		if (st == ST_OK)
			st = config_secret_hmac_dup(db, ticket_secret_key, id, secret);
		if (st == ST_OK)
			st = insert(db, id, *secret, v, body, now);
	} else if (st == ST_OK) {
		st = config_secret_hmac_dup(db, ticket_secret_key, id, secret);
	}
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK) {
		db_rollback(db);
		free(*secret);
		*secret = NULL;
	}
	return st;
}

int ticket_create(struct db *db, struct json_object *body, const char *bearer, int64_t now,
		  struct json_object **out, struct ticket_refusal *r)
{
	struct identity visitor = {0};
	const char *field = NULL, *why;
	char id[TICKET_ID_LEN], *secret = NULL;
	int offered = 0, due = 0, st;

	*out = NULL;
	memset(r, 0, sizeof *r);
	r->err = APIERR_INTERNAL;
	st = check_offered(db, r, &offered);
	if (st != ST_OK || !offered)
		return st;
	if ((why = check_body(body, &field)) != NULL)
		return refuse(r, APIERR_INVALID_FIELD, field, why);
	st = visitor_of(db, body, bearer, now, &visitor, r);
	if (st == ST_OK && visitor.email)
		st = store(db, &visitor, body, now, id, &secret);
	if (st == ST_OK && secret)
		st = ticket_get_json(db, id, secret, now, out, &due);
	if (st == ST_OK && *out)
		json_object_object_add(*out, "secret", json_object_new_string(secret));
	free(secret);
	identity_clear(&visitor);
	return st;
}

int ticket_get_json(struct db *db, const char *id, const char *secret, int64_t now,
		    struct json_object **out, int *due)
{
	unsigned char want[CRYPTO_SHA256_LEN] = {0}, got[CRYPTO_SHA256_LEN];
	char at[TIMEFMT_LEN];
	sqlite3_stmt *stmt;
	int rc, found, st = db_stmt(db, ticket_sql_get, &stmt);

	*out = NULL;
	*due = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	found = rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == CRYPTO_SHA256_LEN;
	if (found)
		memcpy(want, sqlite3_column_blob(stmt, 0), sizeof want);
	/* The same hash and comparison for an unknown id: timing tells neither apart. */
	st = crypto_sha256(secret ? secret : "", strlen(secret ? secret : ""), got);
	if (st == ST_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		st = db_status(rc);
	else if (st == ST_OK && (!crypto_equal(want, got, sizeof want) || !secret || !found))
		st = found ? ST_DENIED : ST_NOT_FOUND;
	if (st == ST_OK) {
		const char *state = (const char *)sqlite3_column_text(stmt, 1);
		const char *zid = (const char *)sqlite3_column_text(stmt, 2);
		int pending = strcmp(state, "pending") == 0;
		*out = json_object_new_object();
		json_object_object_add(*out, "id", json_object_new_string(id));
		json_object_object_add(*out, "state", json_object_new_string(state));
		json_object_object_add(*out, "ticket_id", zid ? json_object_new_string(zid) : NULL);
		json_object_object_add(*out, "created_at", json_object_new_string(
					       timefmt_rfc3339(sqlite3_column_int64(stmt, 3), at)));
		json_object_object_add(*out, "poll_after_ms", pending ? json_object_new_int(TICKET_POLL_MS) : NULL);
		*due = pending && sqlite3_column_int64(stmt, 4) <= now;
	}
	sqlite3_reset(stmt);
	return st;
}

/* The first comment: the message, then the bot conversation so far and the page. */
static char *comment_dup(const char *message, const char *history_json, const char *page_url)
{
	struct json_object *history = json_tokener_parse(history_json), *e, *from, *text;
	size_t n = json_object_is_type(history, json_type_array) ? json_object_array_length(history) : 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		json_object_put(history);
		return NULL;
	}
	fputs(message, f);
	if (n)
		fputs("\n\n--- The conversation with the bot before this message ---\n", f);
	for (size_t i = 0; i < n; i++) {
		e = json_object_array_get_idx(history, i);
		json_object_object_get_ex(e, "from", &from);
		json_object_object_get_ex(e, "text", &text);
		fprintf(f, "%s: %s\n", strcmp(json_object_get_string(from), "user") == 0 ? "Visitor" : "Bot",
			json_object_get_string(text));
	}
	if (page_url)
		fprintf(f, "%sPage: %s\n", n ? "" : "\n\n", page_url);
	fclose(f);
	json_object_put(history);
	return buf;
}

static int finish(struct db *db, const char *id, const char *state, const char *zendesk_id,
		  const char *error, int64_t now)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, ticket_sql_done, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, state, -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 2, zendesk_id);
	bind_text_or_null(stmt, 3, error);
	sqlite3_bind_int64(stmt, 4, now);
	sqlite3_bind_text(stmt, 5, id, -1, SQLITE_STATIC);
	return db_exec_stmt(stmt);
}

/* As the outbox backs off: from 1 s doubling to OUTBOX_BACKOFF_MAX_S, or Zendesk's
 * Retry-After up to OUTBOX_RETRY_AFTER_MAX_S. */
static int retry(struct db *db, const char *id, int attempts, const struct zendesk_call *call, int64_t now)
{
	int64_t wait = attempts >= 3 ? OUTBOX_BACKOFF_MAX_S : (int64_t)1 << attempts;
	sqlite3_stmt *stmt;
	int st = db_stmt(db, ticket_sql_retry, &stmt);

	if (wait > OUTBOX_BACKOFF_MAX_S)
		wait = OUTBOX_BACKOFF_MAX_S;
	if (call->retry_after_s > 0)
		wait = call->retry_after_s > OUTBOX_RETRY_AFTER_MAX_S ? OUTBOX_RETRY_AFTER_MAX_S : call->retry_after_s;
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now + wait);
	sqlite3_bind_text(stmt, 2, call->detail, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, now);
	sqlite3_bind_text(stmt, 4, id, -1, SQLITE_STATIC);
	return db_exec_stmt(stmt);
}

struct ticket_job {
	char *name, *email, *message, *history, *page_url;
	int attempts;
	int64_t created_at;
};

static void job_clear(struct ticket_job *j)
{
	free(j->name);
	free(j->email);
	free(j->message);
	free(j->history);
	free(j->page_url);
}

static char *column_dup(sqlite3_stmt *stmt, int col)
{
	const char *v = (const char *)sqlite3_column_text(stmt, col);

	return v ? strdup(v) : NULL;
}

static int job_get(struct db *db, const char *id, int64_t now, struct ticket_job *j, int *found)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, ticket_sql_job, &stmt);

	*found = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		j->name = column_dup(stmt, 0);
		j->email = column_dup(stmt, 1);
		j->message = column_dup(stmt, 2);
		j->history = column_dup(stmt, 3);
		j->page_url = column_dup(stmt, 4);
		j->attempts = sqlite3_column_int(stmt, 5);
		j->created_at = sqlite3_column_int64(stmt, 6);
		*found = 1;
		if (!j->name || !j->email || !j->message || !j->history)
			st = ST_NOMEM;
	} else if (rc != SQLITE_DONE) {
		st = db_status(rc);
	}
	sqlite3_reset(stmt);
	return st;
}

static int attempt(struct db *db, const char *id, const struct ticket_job *j, int64_t now, int *created)
{
	struct zendesk_account *acct = NULL;
	struct zendesk_call call = {0};
	char zid[ZENDESK_ID_LEN], subject[300], *text = comment_dup(j->message, j->history, j->page_url);
	int st = text ? zendesk_account_load(db, &acct) : ST_NOMEM;

	snprintf(subject, sizeof subject, "Message from %.250s", j->name);
	if (st == ST_OK && !zendesk_support_ready(acct)) {
		call.outcome = ZENDESK_UNREACHABLE;
		snprintf(call.detail, sizeof call.detail, "creating the Zendesk ticket: the Support API "
			 "credentials are not set");
	} else if (st == ST_OK) {
		st = zendesk_create_ticket(acct, id, j->name, j->email, subject, text, zid, &call);
	}
	if (st == ST_OK && call.outcome == ZENDESK_OK) {
		st = finish(db, id, "created", zid, NULL, now);
		*created = st == ST_OK;
	} else if (st == ST_OK && (call.outcome == ZENDESK_REJECTED || now - j->created_at >= TICKET_GIVE_UP_S)) {
		log_error("ticket %s: %s; given up", id, call.detail);
		st = finish(db, id, "failed", NULL, call.detail, now);
	} else if (st == ST_OK) {
		log_info("ticket %s: %s; retrying", id, call.detail);
		st = retry(db, id, j->attempts, &call, now);
	}
	zendesk_account_free(acct);
	free(text);
	return st;
}

static int deliver(struct db *db, const char *id, int64_t now, int *created)
{
	struct ticket_job job = {0};
	char lease[64], holder[32];
	int got = 0, found = 0, st;

	snprintf(lease, sizeof lease, "ticket:%s", id);
	snprintf(holder, sizeof holder, "%ld", (long)getpid());
	*created = 0;
	st = transfer_lease(db, lease, holder, now, OUTBOX_LEASE_S, &got);
	if (st != ST_OK || !got)
		return st;
	st = job_get(db, id, now, &job, &found);
	if (st == ST_OK && found)
		st = attempt(db, id, &job, now, created);
	job_clear(&job);
	transfer_lease_release(db, lease, holder);
	return st;
}

int ticket_deliver(struct db *db, const char *id, int64_t now)
{
	int created = 0;

	return deliver(db, id, now, &created);
}

int ticket_sweep(struct db *db, int64_t now, int64_t *created)
{
	char ids[50][TICKET_ID_LEN];
	size_t n = 0;
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, ticket_sql_due, &stmt);

	*created = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && n < 50)
		snprintf(ids[n++], TICKET_ID_LEN, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_status(rc);
	for (size_t i = 0; st == ST_OK && i < n; i++) {
		int made = 0;
		st = deliver(db, ids[i], now, &made);
		*created += made;
	}
	return st;
}

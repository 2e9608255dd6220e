/* lib/transfer.c — the transfers, events and outbox tables. */
#include "transfer.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "identity.h"
#include "metrics.h"
#include "status.h"
#include "timefmt.h"

/* Transfer secrets are HMAC(key, id): nothing stores them, yet a retried creation can
 * answer the same secret again. Only their SHA-256 is kept, to check them. */
static const char transfer_secret_key[] = "transfer.secret_key";

static const char transfer_sql_counts[] =
	"SELECT (SELECT count(*) FROM transfers WHERE state = 'waiting'),"
	" (SELECT count(*) FROM transfers WHERE state = 'active'),"
	" (SELECT count(*) FROM transfers WHERE state = 'ended'),"
	" (SELECT count(*) FROM outbox WHERE state = 'pending')";
static const char transfer_sql_stats[] =
	"SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM outbox WHERE state = 'failed'),"
	" (SELECT count(*) FROM transfers WHERE created_at > ?)";
static const char transfer_sql_expired[] =
	"SELECT id FROM transfers WHERE state != 'ended' AND ((agent_joined_at IS NULL"
	" AND created_at <= ?1 - ?2) OR last_activity_at <= ?1 - ?3) LIMIT 500";
static const char transfer_sql_purge[] =
	"DELETE FROM transfers WHERE state = 'ended' AND ended_at < ?";
static const char transfer_sql_find_request[] =
	"SELECT id, client_secret_hash, created_at FROM transfers WHERE visitor_external_id = ?"
	" AND client_request_id = ?";
static const char transfer_sql_insert[] =
	"INSERT INTO transfers (id, secret_hash, state, client_request_id, visitor_external_id,"
	" visitor_name, visitor_email, visitor_authenticated, message_to_human_agent, history,"
	" department, locale, page_url, next_seq, created_at, updated_at, last_activity_at,"
	" client_secret_hash, cap_key)"
	" VALUES (?1, ?2, 'waiting', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13, ?13, ?13, ?14, ?15)";
static const char transfer_sql_secret[] = "SELECT secret_hash FROM transfers WHERE id = ?";
static const char transfer_sql_row[] =
	"SELECT state, next_seq, created_at, last_activity_at, agent_joined_at, agent_id,"
	" agent_name FROM transfers WHERE id = ?";
static const char transfer_sql_events[] =
	"SELECT seq, type, data, created_at FROM events WHERE transfer_id = ? AND seq > ?"
	" ORDER BY seq";
static const char transfer_sql_append[] =
	"INSERT INTO events (transfer_id, seq, type, data, created_at)"
	" SELECT id, next_seq + 1, ?2, ?3, ?4 FROM transfers WHERE id = ?1";
static const char transfer_sql_bump[] =
	"UPDATE transfers SET next_seq = next_seq + 1, updated_at = ?2 WHERE id = ?1"
	" RETURNING next_seq";
/* Those still waiting for an agent who asked before this one, for the same department. */
static const char transfer_sql_queue_ahead[] =
	"SELECT count(*) FROM transfers AS o, transfers AS t WHERE t.id = ?1 "
	"AND o.state = 'waiting' AND o.id <> t.id AND o.department IS t.department "
	"AND o.created_at <= t.created_at AND (o.created_at < t.created_at OR o.rowid < t.rowid)";
static const char transfer_sql_open_of_visitor[] =
	"SELECT count(*) FROM transfers WHERE cap_key = ? AND state <> 'ended'";
static const char transfer_sql_activity[] =
	"UPDATE transfers SET last_activity_at = ?2 WHERE id = ?1";
static const char transfer_sql_set_ended[] =
	"UPDATE transfers SET state = 'ended', ended_at = ?2, updated_at = ?2 WHERE id = ?1";
static const char transfer_sql_agent_view[] =
	"SELECT state, visitor_name, visitor_email, visitor_external_id, visitor_authenticated,"
	" message_to_human_agent, history, page_url, locale, created_at FROM transfers WHERE id = ?";
static const char transfer_sql_by_conversation[] =
	"SELECT id FROM transfers WHERE zendesk_conversation_id = ?";
static const char transfer_sql_joined[] =
	"UPDATE transfers SET agent_joined_at = ?2, agent_id = ?3, agent_name = ?4, state = 'active'"
	" WHERE id = ?1";
static const char transfer_sql_job_next[] =
	"SELECT id, kind, coalesce(seq, 0), attempts, next_attempt_at, payload, created_at FROM outbox"
	" WHERE transfer_id = ? AND state = 'pending' ORDER BY id LIMIT 1";
static const char transfer_sql_job_save[] =
	"UPDATE outbox SET payload = ?2, state = CASE WHEN ?3 THEN 'sent' ELSE state END WHERE id = ?1";
static const char transfer_sql_job_retry[] =
	"UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3, payload = ?4"
	" WHERE id = ?1";
static const char transfer_sql_job_fail[] =
	"UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1";
static const char transfer_sql_poll_head[] =
	"SELECT state, next_seq, created_at, last_activity_at, agent_joined_at, agent_id, secret_hash,"
	" EXISTS (SELECT 1 FROM outbox WHERE transfer_id = ?1 AND state = 'pending'"
	" AND next_attempt_at <= ?2) AND NOT EXISTS (SELECT 1 FROM leases"
	" WHERE name = '" TRANSFER_OUTBOX_LEASE "' || ?1 AND expires_at > ?3),"
	" read_pending FROM transfers WHERE id = ?1";
static const char transfer_sql_job_due[] =
	"SELECT 1 FROM outbox WHERE transfer_id = ? AND state = 'pending' AND next_attempt_at <= ?"
	" LIMIT 1";
static const char transfer_sql_jobs_due[] =
	"SELECT DISTINCT transfer_id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? LIMIT ?";
static const char transfer_sql_handoff[] =
	"SELECT visitor_external_id, visitor_name, visitor_email, message_to_human_agent, department,"
	" history, zendesk_user_id, zendesk_conversation_id, visitor_authenticated FROM transfers WHERE id = ?";
static const char transfer_sql_set_zendesk[] =
	"UPDATE transfers SET zendesk_user_id = ?2, zendesk_conversation_id = ?3 WHERE id = ?1";
static const char transfer_sql_lease[] =
	"INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3 + ?4)"
	" ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
	" WHERE leases.expires_at <= ?3 OR leases.holder = ?2";
static const char transfer_sql_lease_release[] = "DELETE FROM leases WHERE name = ? AND holder = ?";
static const char transfer_sql_outbox_find[] =
	"SELECT seq, payload FROM outbox WHERE transfer_id = ? AND client_message_id = ?";
static const char transfer_sql_outbox_add[] =
	"INSERT INTO outbox (transfer_id, kind, client_message_id, seq, payload, next_attempt_at,"
	" created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)";
static const char transfer_sql_read[] =
	"UPDATE transfers SET visitor_read_seq = max(visitor_read_seq, ?2), read_pending = 1"
	" WHERE id = ?1 AND ?2 <= next_seq";
static const char transfer_sql_read_due[] =
	"SELECT 1 FROM transfers WHERE id = ?1 AND read_pending = 1 AND read_sent_ms <= ?2"
	" AND zendesk_conversation_id IS NOT NULL";
static const char transfer_sql_read_claim[] =
	"UPDATE transfers SET read_pending = 0, read_sent_ms = ?3, read_sent_seq = visitor_read_seq"
	" WHERE id = ?1 AND read_pending = 1 AND read_sent_ms <= ?2";
static const char transfer_sql_reads_due[] =
	"SELECT id FROM transfers WHERE read_pending = 1 AND read_sent_ms <= ?"
	" AND zendesk_conversation_id IS NOT NULL LIMIT ?";

int transfer_counts(struct db *db, struct transfer_counts *out)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_counts, &stmt);

	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		out->waiting = sqlite3_column_int64(stmt, 0);
		out->active = sqlite3_column_int64(stmt, 1);
		out->ended = sqlite3_column_int64(stmt, 2);
		out->undelivered = sqlite3_column_int64(stmt, 3);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

const char *transfer_check_history(struct json_object *history)
{
	size_t n;

	if (!history)
		return NULL;
	if (!json_object_is_type(history, json_type_array))
		return "must be a list";
	n = json_object_array_length(history);
	if (n > TRANSFER_HISTORY_MAX)
		return "has more than 500 entries";
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(history, i), *from, *text, *time;
		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "from", &from) || !json_object_is_type(from, json_type_string) ||
		    !json_object_object_get_ex(e, "text", &text) || !json_object_is_type(text, json_type_string))
			return "must hold {\"from\", \"text\", \"time\"} entries";
		if (strcmp(json_object_get_string(from), "user") != 0 &&
		    strcmp(json_object_get_string(from), "assistant") != 0)
			return "has a \"from\" that is neither \"user\" nor \"assistant\"";
		if (json_object_get_string_len(text) > TRANSFER_TEXT_MAX)
			return "has a text longer than 4096 bytes";
		if (json_object_object_get_ex(e, "time", &time) && time &&
		    (!json_object_is_type(time, json_type_string) || json_object_get_string_len(time) > 40))
			return "has a \"time\" that is not an RFC 3339 string";
	}
	return NULL;
}

static int secret_hash(const char *secret, unsigned char out[CRYPTO_SHA256_LEN])
{
	return crypto_sha256(secret, strlen(secret), out);
}

static const void *stored_secret(sqlite3_stmt *stmt, int col)
{
	return sqlite3_column_bytes(stmt, col) == CRYPTO_SHA256_LEN ? sqlite3_column_blob(stmt, col) : NULL;
}

static int new_id(const char *prefix, char out[TRANSFER_ID_LEN])
{
	unsigned char raw[12];
	int st = crypto_random(raw, sizeof raw);

	if (st != ST_OK)
		return st;
	/* Lowercase hex: ids also travel as Zendesk ticket tags, which are lowercased. */
	snprintf(out, TRANSFER_ID_LEN, "%s", prefix);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(out + strlen(prefix) + 2 * i, 3, "%02x", raw[i]);
	return ST_OK;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(stmt, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, i);
}

/* Appends one event (type plus its fields, borrowed) with the next seq. */
static int append_event(struct db *db, const char *id, const char *type, struct json_object *data,
			int64_t now, int64_t *seq)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_append, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN), -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, now);
	st = db_exec_stmt(stmt);
	if (st == ST_OK)
		st = db_stmt(db, transfer_sql_bump, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && seq)
		*seq = sqlite3_column_int64(stmt, 0);
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(stmt);   /* to SQLITE_DONE, as every statement with RETURNING */
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

/* The count(*) of an SQL with one text parameter. */
static int count_of(struct db *db, const char *sql, const char *key, int64_t *count)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, sql, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*count = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

static int check_open(struct db *db, const struct transfer_request *req)
{
	int64_t open = 0;
	int st;

	if (req->max_open <= 0 || !req->cap_key)
		return ST_OK;
	st = count_of(db, transfer_sql_open_of_visitor, req->cap_key, &open);
	if (st != ST_OK)
		return st;
	return open >= req->max_open ? ST_LIMITED : ST_OK;
}

/* Whether the retry shows the creation secret its first request did; a first request
 * that sent none can be answered to nobody. */
static int same_client(sqlite3_stmt *stmt, int col, const char *client_secret)
{
	const void *want = stored_secret(stmt, col);
	unsigned char got[CRYPTO_SHA256_LEN];

	return want && client_secret && secret_hash(client_secret, got) == ST_OK &&
	       crypto_equal(want, got, sizeof got);
}

/* The transfer an earlier request with this client_request_id made, in id; ST_CONFLICT
 * when this request cannot have it back. The id and its age alone prove nothing: with
 * visitors not authenticated, anyone may send someone's email and a request id seen once. */
static int find_request(struct db *db, const struct transfer_request *req, int64_t now,
			char id[TRANSFER_ID_LEN])
{
	sqlite3_stmt *stmt;
	int rc, st;

	id[0] = '\0';
	if (!req->client_request_id)
		return ST_OK;
	st = db_stmt(db, transfer_sql_find_request, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, req->visitor->external_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, req->client_request_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	st = rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
	if (rc == SQLITE_ROW && (!same_client(stmt, 1, req->client_secret) ||
				 sqlite3_column_int64(stmt, 2) <= now - TRANSFER_IDEMPOTENCY_S))
		st = ST_CONFLICT;
	else if (rc == SQLITE_ROW)
		snprintf(id, TRANSFER_ID_LEN, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	return st;
}

static int insert_transfer(struct db *db, const struct transfer_request *req, int64_t now,
			   const char *id, const char *secret)
{
	unsigned char hash[CRYPTO_SHA256_LEN], client_hash[CRYPTO_SHA256_LEN];
	const char *history = req->history ? json_object_to_json_string_ext(req->history,
									     JSON_C_TO_STRING_PLAIN) : "[]";
	sqlite3_stmt *stmt;
	int st = secret_hash(secret, hash);

	if (st == ST_OK && req->client_secret)
		st = secret_hash(req->client_secret, client_hash);

	if (st == ST_OK)
		st = db_stmt(db, transfer_sql_insert, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, hash, sizeof hash, SQLITE_STATIC);
	bind_text_or_null(stmt, 3, req->client_request_id);
	sqlite3_bind_text(stmt, 4, req->visitor->external_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, req->visitor->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, req->visitor->email, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 7, req->visitor->authenticated);
	bind_text_or_null(stmt, 8, req->message_to_human_agent);
	sqlite3_bind_text(stmt, 9, history, -1, SQLITE_TRANSIENT);
	bind_text_or_null(stmt, 10, req->department);
	bind_text_or_null(stmt, 11, req->locale);
	bind_text_or_null(stmt, 12, req->page_url);
	sqlite3_bind_int64(stmt, 13, now);
	if (req->client_secret)
		sqlite3_bind_blob(stmt, 14, client_hash, sizeof client_hash, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 14);
	bind_text_or_null(stmt, 15, req->cap_key);
	return db_exec_stmt(stmt);
}

static int queue(struct db *db, const char *id, const char *kind, const char *client_message_id,
		 int64_t seq, struct json_object *payload, int64_t now)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, transfer_sql_outbox_add, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, kind, -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 3, client_message_id);
	if (seq)
		sqlite3_bind_int64(stmt, 4, seq);
	else
		sqlite3_bind_null(stmt, 4);
	sqlite3_bind_text(stmt, 5, json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN), -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 6, now);
	return db_exec_stmt(stmt);
}

int transfer_create(struct db *db, const struct transfer_request *req, int64_t now,
		    struct transfer_created *out)
{
	struct json_object *start = json_object_new_object();
	int st;

	memset(out, 0, sizeof *out);
	st = db_begin(db);
	if (st == ST_OK)
		st = find_request(db, req, now, out->id);
	if (st == ST_OK && out->id[0]) {
		out->existing = 1;
	} else if (st == ST_OK && (st = check_open(db, req)) == ST_OK) {
		st = new_id("tr_", out->id);
		if (st == ST_OK)
			st = config_secret_hmac_dup(db, transfer_secret_key, out->id, &out->secret);
		if (st == ST_OK)
			st = insert_transfer(db, req, now, out->id, out->secret);
		/* The handoff itself goes through the outbox like every message, so that a
		 * Zendesk outage delays it instead of losing it. */
		if (st == ST_OK)
			st = queue(db, out->id, "start", NULL, 0, start, now);
		if (st == ST_OK)
			metrics_count(db, METRIC_TRANSFERS_CREATED, NULL);
	}
	if (st == ST_OK && out->existing)
		st = config_secret_hmac_dup(db, transfer_secret_key, out->id, &out->secret);
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK) {
		db_rollback(db);
		free(out->secret);
		out->secret = NULL;
	}
	json_object_put(start);
	return st;
}

/* Hashes and compares whether or not the id exists (want NULL), so that the time taken
 * does not tell an unknown id from a wrong secret. */
static int check_secret(const void *want_or_null, const char *secret)
{
	unsigned char want[CRYPTO_SHA256_LEN] = {0}, got[CRYPTO_SHA256_LEN];
	int st = secret_hash(secret ? secret : "", got);

	if (st != ST_OK)
		return st;
	if (want_or_null)
		memcpy(want, want_or_null, sizeof want);
	if (!crypto_equal(want, got, sizeof want) || !secret)
		return want_or_null ? ST_DENIED : ST_NOT_FOUND;
	return want_or_null ? ST_OK : ST_NOT_FOUND;
}

int transfer_authorize(struct db *db, const char *id, const char *secret)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_secret, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		st = check_secret(rc == SQLITE_ROW ? stored_secret(stmt, 0) : NULL, secret);
	else
		st = db_status(rc);
	sqlite3_reset(stmt);
	return st;
}

struct transfer_row {
	char state[16];
	int64_t next, created_at, last_activity_at;
	int agent_joined;
	char agent_id[256];   /* "" when unknown */
};

/* The columns of transfer_sql_row, which transfer_sql_poll_head begins with. */
static void row_from(sqlite3_stmt *stmt, struct transfer_row *row)
{
	snprintf(row->state, sizeof row->state, "%s", (const char *)sqlite3_column_text(stmt, 0));
	row->next = sqlite3_column_int64(stmt, 1);
	row->created_at = sqlite3_column_int64(stmt, 2);
	row->last_activity_at = sqlite3_column_int64(stmt, 3);
	row->agent_joined = sqlite3_column_type(stmt, 4) != SQLITE_NULL;
	snprintf(row->agent_id, sizeof row->agent_id, "%s",
		 sqlite3_column_type(stmt, 5) == SQLITE_NULL ? "" : (const char *)sqlite3_column_text(stmt, 5));
}

static int read_row(struct db *db, const char *id, struct transfer_row *row)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_row, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		row_from(stmt, row);
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return ST_NOT_FOUND;
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

/* A cached statement with ?1 bound to a transfer id and ?2 to a number (a time, a seq):
 * the shape of most statements here. */
static int stmt_id_int(struct db *db, const char *sql, const char *id, int64_t n, sqlite3_stmt **out)
{
	int st = db_stmt(db, sql, out);

	if (st == ST_OK) {
		sqlite3_bind_text(*out, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(*out, 2, n);
	}
	return st;
}

static int exec_id_time(struct db *db, const char *sql, const char *id, int64_t t)
{
	sqlite3_stmt *stmt;
	int st = stmt_id_int(db, sql, id, t, &stmt);

	return st == ST_OK ? db_exec_stmt(stmt) : st;
}

/* Inside a transaction: the ended event, the state, and (unless the agent's side ended
 * it) the hand-back to Zendesk through the outbox. */
static int end_locked(struct db *db, const char *id, const char *by, const char *reason, int64_t now)
{
	struct json_object *data = json_object_new_object(), *job = json_object_new_object();
	int st;

	json_object_object_add(data, "by", json_object_new_string(by));
	json_object_object_add(data, "reason", reason ? json_object_new_string(reason) : NULL);
	st = append_event(db, id, "ended", data, now, NULL);
	if (st == ST_OK)
		st = exec_id_time(db, transfer_sql_set_ended, id, now);
	if (st == ST_OK)
		metrics_count(db, METRIC_TRANSFERS_ENDED, reason);
	if (st == ST_OK && strcmp(by, "agent") != 0)
		st = queue(db, id, "end", NULL, 0, job, now);
	json_object_put(data);
	json_object_put(job);
	return st;
}

/* How long a transfer waits for an agent's first word, and for anyone's next. */
static int timeout_settings(struct db *db, int64_t *join_s, int64_t *idle_s)
{
	int st = config_get_int(db, "transfers.join_timeout_s", join_s);

	return st == ST_OK ? config_get_int(db, "transfers.idle_timeout_s", idle_s) : st;
}

/* Why the transfer should end now, or NULL: no agent joined in time, or nobody spoke. */
static const char *timeout_reason(struct db *db, const struct transfer_row *row, int64_t now, int *st)
{
	int64_t join_s, idle_s;

	*st = ST_OK;
	if (strcmp(row->state, "ended") == 0)
		return NULL;
	if ((*st = timeout_settings(db, &join_s, &idle_s)) != ST_OK)
		return NULL;
	if (!row->agent_joined && now - row->created_at >= join_s)
		return "no_agent";
	if (now - row->last_activity_at >= idle_s)
		return "idle";
	return NULL;
}

/* Ends an expired transfer; the re-check inside the write lock makes concurrent pollers
 * end it once. Ends the caller's read snapshot, if any: the write needs the latest one. */
static int apply_timeouts(struct db *db, const char *id, int64_t now, struct transfer_row *row)
{
	int st;
	const char *reason = timeout_reason(db, row, now, &st);

	if (!reason)
		return st;
	db_rollback(db);
	st = db_begin(db);
	if (st == ST_OK)
		st = read_row(db, id, row);
	if (st == ST_OK && (reason = timeout_reason(db, row, now, &st)) != NULL)
		st = end_locked(db, id, "system", reason, now);
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK) {
		db_rollback(db);
		return st;
	}
	return read_row(db, id, row);
}

static int events_since(struct db *db, const char *id, int64_t after, struct json_object *list)
{
	sqlite3_stmt *stmt;
	int rc, st = stmt_id_int(db, transfer_sql_events, id, after, &stmt);

	if (st != ST_OK)
		return st;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct json_object *e = json_object_new_object();
		struct json_object *data = json_tokener_parse((const char *)sqlite3_column_text(stmt, 2));
		char at[TIMEFMT_LEN];

		json_object_object_add(e, "seq", json_object_new_int64(sqlite3_column_int64(stmt, 0)));
		json_object_object_add(e, "type", json_object_new_string((const char *)sqlite3_column_text(stmt, 1)));
		json_object_object_add(e, "time", json_object_new_string(
			timefmt_rfc3339(sqlite3_column_int64(stmt, 3), at)));
		if (json_object_is_type(data, json_type_object)) {
			/* The envelope is the log's: no event's fields may renumber or retype it. */
			json_object_object_foreach(data, k, v)
				if (!json_object_object_get_ex(e, k, NULL))
					json_object_object_add(e, k, json_object_get(v));
		}
		json_object_put(data);
		json_object_array_add(list, e);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

/* The poll's answer for a row read in the current snapshot (apply_timeouts first). */
static int state_json_of(struct db *db, const char *id, int64_t after, const struct transfer_row *row,
			 struct json_object **out)
{
	struct json_object *events = json_object_new_array();
	/* The row's next is the latest seq in the same snapshot: most polls ask after it,
	 * and need no look at the events at all. */
	int st = after < row->next ? events_since(db, id, after, events) : ST_OK;

	if (st != ST_OK) {
		json_object_put(events);
		return st;
	}
	*out = json_object_new_object();
	json_object_object_add(*out, "id", json_object_new_string(id));
	json_object_object_add(*out, "state", json_object_new_string(row->state));
	json_object_object_add(*out, "next", json_object_new_int64(row->next));
	json_object_object_add(*out, "poll_after_ms", json_object_new_int(transfer_poll_ms(row->state)));
	json_object_object_add(*out, "events", events);
	return ST_OK;
}

static int job_due(struct db *db, const char *id, int64_t now, int *due)
{
	sqlite3_stmt *stmt;
	int rc, st = stmt_id_int(db, transfer_sql_job_due, id, now, &stmt);

	*due = 0;
	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	*due = rc == SQLITE_ROW;
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

/* The secret, the row and whether its outbox has work for a poll to deliver (due for
 * TRANSFER_POLL_DELIVERY_GRACE_S, its lease held by nobody), in one lookup. */
static int poll_head(struct db *db, const char *id, const char *secret, int64_t now,
		     struct transfer_row *row, int *delivery_due, int *read_pending)
{
	sqlite3_stmt *stmt;
	int rc, st = stmt_id_int(db, transfer_sql_poll_head, id, now - TRANSFER_POLL_DELIVERY_GRACE_S, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 3, now);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		st = check_secret(rc == SQLITE_ROW ? stored_secret(stmt, 6) : NULL, secret);
	else
		st = db_status(rc);
	if (st == ST_OK) {
		row_from(stmt, row);
		*delivery_due = sqlite3_column_int(stmt, 7);
		*read_pending = sqlite3_column_int(stmt, 8);
	}
	sqlite3_reset(stmt);
	return st;
}

/* One read snapshot and as few statements as the answer allows: a poll is the request
 * every open chat makes every few seconds. */
int transfer_poll(struct db *db, const char *id, const char *secret, int64_t after, int64_t now,
		  struct json_object **out, int *delivery_due, int *read_pending)
{
	struct transfer_row row;
	int st = db_begin_read(db);

	*out = NULL;
	*delivery_due = 0;
	*read_pending = 0;
	if (st == ST_OK)
		st = poll_head(db, id, secret, now, &row, delivery_due, read_pending);
	if (st == ST_OK && strcmp(row.state, "ended") != 0) {
		st = apply_timeouts(db, id, now, &row);
		/* Ending it just now queued the hand-back. */
		if (st == ST_OK && strcmp(row.state, "ended") == 0)
			st = job_due(db, id, now, delivery_due);
	}
	if (st == ST_OK)
		st = state_json_of(db, id, after, &row, out);
	db_end_read(db);
	if (st != ST_OK) {
		json_object_put(*out);
		*out = NULL;
		return st;
	}
	json_object_object_del(*out, "id");
	return ST_OK;
}

int transfer_get_json(struct db *db, const char *id, int64_t now, struct json_object **out)
{
	struct transfer_row row;
	int st = read_row(db, id, &row);

	if (st == ST_OK)
		st = apply_timeouts(db, id, now, &row);
	if (st == ST_OK)
		st = state_json_of(db, id, 0, &row, out);
	return st;
}

static int find_message(struct db *db, const char *id, const char *client_message_id, int *found,
			int64_t *seq, char msg_id[TRANSFER_ID_LEN])
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_outbox_find, &stmt);

	*found = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, client_message_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		struct json_object *payload = json_tokener_parse((const char *)sqlite3_column_text(stmt, 1));
		struct json_object *mid = NULL;
		*found = 1;
		*seq = sqlite3_column_int64(stmt, 0);
		json_object_object_get_ex(payload, "id", &mid);
		snprintf(msg_id, TRANSFER_ID_LEN, "%s", mid ? json_object_get_string(mid) : "");
		json_object_put(payload);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

int transfer_post_message(struct db *db, const char *id, const char *client_message_id,
			  const char *text, int64_t now, int64_t *seq, char msg_id[TRANSFER_ID_LEN])
{
	struct json_object *data = NULL;
	struct transfer_row row;
	int found = 0, st = db_begin(db);

	if (st == ST_OK)
		st = find_message(db, id, client_message_id, &found, seq, msg_id);
	if (st == ST_OK && !found)
		st = read_row(db, id, &row);
	if (st == ST_OK && !found && strcmp(row.state, "ended") == 0)
		st = ST_CONFLICT;
	if (st == ST_OK && !found)
		st = new_id("m_", msg_id);
	if (st == ST_OK && !found) {
		data = json_object_new_object();
		json_object_object_add(data, "from", json_object_new_string("user"));
		json_object_object_add(data, "id", json_object_new_string(msg_id));
		json_object_object_add(data, "text", json_object_new_string(text));
		json_object_object_add(data, "client_message_id", json_object_new_string(client_message_id));
		st = append_event(db, id, "message", data, now, seq);
	}
	if (st == ST_OK && !found)
		st = queue(db, id, "message", client_message_id, *seq, data, now);
	if (st == ST_OK && !found)
		st = exec_id_time(db, transfer_sql_activity, id, now);
	if (st == ST_OK && !found)
		metrics_count(db, METRIC_MESSAGES, "visitor_to_agent");
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK)
		db_rollback(db);
	json_object_put(data);
	return st;
}

int transfer_mark_read(struct db *db, const char *id, int64_t seq)
{
	return exec_id_time(db, transfer_sql_read, id, seq);
}

int transfer_read_due(struct db *db, const char *id, int64_t now_ms, int64_t window_ms, int *due)
{
	sqlite3_stmt *stmt;
	int rc, st = stmt_id_int(db, transfer_sql_read_due, id, now_ms - window_ms, &stmt);

	*due = 0;
	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	*due = rc == SQLITE_ROW;
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

int transfer_read_claim(struct db *db, const char *id, int64_t now_ms, int64_t window_ms, int *claimed)
{
	sqlite3_stmt *stmt;
	int st = stmt_id_int(db, transfer_sql_read_claim, id, now_ms - window_ms, &stmt);

	*claimed = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 3, now_ms);
	st = db_exec_stmt(stmt);
	*claimed = st == ST_OK && sqlite3_changes(db_handle(db)) == 1;
	return st;
}

int transfer_reads_due(struct db *db, int64_t now_ms, int64_t window_ms, char (*ids)[TRANSFER_ID_LEN],
		       size_t max, size_t *n)
{
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE, st = db_stmt(db, transfer_sql_reads_due, &stmt);

	*n = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now_ms - window_ms);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
	while (*n < max && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		snprintf(ids[(*n)++], TRANSFER_ID_LEN, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

int transfer_end(struct db *db, const char *id, int64_t now)
{
	struct transfer_row row;
	int st = db_begin(db);

	if (st == ST_OK)
		st = read_row(db, id, &row);
	if (st == ST_OK && strcmp(row.state, "ended") != 0)
		st = end_locked(db, id, "user", "visitor_left", now);
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK)
		db_rollback(db);
	return st;
}

static struct json_object *column_string(sqlite3_stmt *stmt, int i)
{
	const char *v = (const char *)sqlite3_column_text(stmt, i);

	return v ? json_object_new_string(v) : NULL;
}

int transfer_agent_json(struct db *db, const char *id, struct json_object **out)
{
	struct json_object *visitor, *history;
	char at[TIMEFMT_LEN];
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_agent_view, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*out = json_object_new_object();
		visitor = json_object_new_object();
		json_object_object_add(*out, "id", json_object_new_string(id));
		json_object_object_add(*out, "state", column_string(stmt, 0));
		json_object_object_add(visitor, "name", column_string(stmt, 1));
		json_object_object_add(visitor, "email", column_string(stmt, 2));
		json_object_object_add(visitor, "external_id", column_string(stmt, 3));
		json_object_object_add(visitor, "authenticated",
				       json_object_new_boolean(sqlite3_column_int(stmt, 4)));
		json_object_object_add(*out, "visitor", visitor);
		json_object_object_add(*out, "message_to_human_agent", column_string(stmt, 5));
		history = json_tokener_parse((const char *)sqlite3_column_text(stmt, 6));
		json_object_object_add(*out, "history", history ? history : json_object_new_array());
		json_object_object_add(*out, "page_url", column_string(stmt, 7));
		json_object_object_add(*out, "locale", column_string(stmt, 8));
		json_object_object_add(*out, "created_at", json_object_new_string(
			timefmt_rfc3339(sqlite3_column_int64(stmt, 9), at)));
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return ST_NOT_FOUND;
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

int transfer_by_conversation(struct db *db, const char *conversation_id, char id[TRANSFER_ID_LEN])
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_by_conversation, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, conversation_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		snprintf(id, TRANSFER_ID_LEN, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return ST_NOT_FOUND;
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

/* The row of a transfer that is still open, or ST_CONFLICT when it has ended. */
static int open_row(struct db *db, const char *id, struct transfer_row *row)
{
	int st = read_row(db, id, row);

	return st == ST_OK && strcmp(row->state, "ended") == 0 ? ST_CONFLICT : st;
}

static struct json_object *agent_json(const struct transfer_agent *agent)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "id", agent->id ? json_object_new_string(agent->id) : NULL);
	json_object_object_add(a, "name", agent->name ? json_object_new_string(agent->name) : NULL);
	json_object_object_add(a, "avatar_url",
			       agent->avatar_url ? json_object_new_string(agent->avatar_url) : NULL);
	return a;
}

static int join(struct db *db, const char *id, const struct transfer_agent *agent, int64_t now)
{
	struct json_object *data = json_object_new_object();
	sqlite3_stmt *stmt;
	int st;

	json_object_object_add(data, "agent", agent_json(agent));
	st = append_event(db, id, "agent_joined", data, now, NULL);
	json_object_put(data);
	if (st == ST_OK)
		st = db_stmt(db, transfer_sql_joined, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	bind_text_or_null(stmt, 3, agent->id);
	bind_text_or_null(stmt, 4, agent->name);
	return db_exec_stmt(stmt);
}

/* Zendesk announces no transfer between agents: a message from another agent than the one
 * who joined is how the visitor learns of it. */
static int new_agent(const struct transfer_row *row, const struct transfer_agent *agent)
{
	return agent->id && row->agent_id[0] && strlen(agent->id) < sizeof row->agent_id &&
	       strcmp(agent->id, row->agent_id) != 0;
}

static int hand_over(struct db *db, const char *id, const struct transfer_agent *agent, int64_t now)
{
	struct json_object *data = json_object_new_object();
	int st;

	json_object_object_add(data, "agent", agent_json(agent));
	st = append_event(db, id, "transferred", data, now, NULL);
	json_object_put(data);
	return st == ST_OK ? join(db, id, agent, now) : st;
}

static struct json_object *media_json(const struct transfer_media *media)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "kind", json_object_new_string(media->kind));
	json_object_object_add(m, "url", json_object_new_string(media->url));
	json_object_object_add(m, "media_type", media->media_type ? json_object_new_string(media->media_type) : NULL);
	json_object_object_add(m, "alt_text", media->alt_text ? json_object_new_string(media->alt_text) : NULL);
	return m;
}

int transfer_agent_message(struct db *db, const char *id, const struct transfer_agent *agent,
			   const char *message_id, const char *text, const struct transfer_media *media,
			   int64_t now)
{
	struct transfer_row row;
	struct json_object *data;
	int st = open_row(db, id, &row);

	if (st == ST_OK && !row.agent_joined)
		st = join(db, id, agent, now);
	else if (st == ST_OK && new_agent(&row, agent))
		st = hand_over(db, id, agent, now);
	if (st != ST_OK)
		return st == ST_CONFLICT ? ST_OK : st;
	metrics_agent_message(db, !row.agent_joined, now - row.created_at);
	data = json_object_new_object();
	json_object_object_add(data, "from", json_object_new_string("agent"));
	json_object_object_add(data, "id", json_object_new_string(message_id));
	json_object_object_add(data, "text", json_object_new_string(text ? text : ""));
	if (media)
		json_object_object_add(data, "media", media_json(media));
	json_object_object_add(data, "agent", agent_json(agent));
	st = append_event(db, id, "message", data, now, NULL);
	json_object_put(data);
	return st == ST_OK ? exec_id_time(db, transfer_sql_activity, id, now) : st;
}

int transfer_agent_typing(struct db *db, const char *id, const struct transfer_agent *agent, int typing,
			  int64_t now)
{
	struct transfer_row row;
	struct json_object *data;
	int st = open_row(db, id, &row);

	/* Zendesk has no join event: an agent typing is already with the visitor, who is
	 * then told who it is rather than that someone is typing. */
	if (st == ST_OK && !row.agent_joined && typing && agent->name)
		st = join(db, id, agent, now);
	if (st != ST_OK)
		return st == ST_CONFLICT ? ST_OK : st;
	data = json_object_new_object();
	json_object_object_add(data, "typing", json_object_new_boolean(typing));
	st = append_event(db, id, "agent_typing", data, now, NULL);
	json_object_put(data);
	return st;
}

int transfer_agent_read(struct db *db, const char *id, int64_t now)
{
	struct transfer_row row;
	struct json_object *data;
	int st = open_row(db, id, &row);

	if (st != ST_OK)
		return st == ST_CONFLICT ? ST_OK : st;
	data = json_object_new_object();
	json_object_object_add(data, "read_seq", json_object_new_int64(row.next));
	st = append_event(db, id, "read", data, now, NULL);
	json_object_put(data);
	return st;
}

int transfer_poll_ms(const char *state)
{
	return strcmp(state, "waiting") == 0 ? TRANSFER_POLL_WAITING_MS : TRANSFER_POLL_ACTIVE_MS;
}

int transfer_queued(struct db *db, const char *id, int64_t now)
{
	struct transfer_row row;
	struct json_object *data;
	int64_t ahead = 0;
	int st = open_row(db, id, &row);

	if (st == ST_OK && row.agent_joined)
		return ST_OK;   /* a late or repeated hand-over: the visitor is past the queue */
	/* Zendesk tells nobody their place in its queue; deskbridge knows who asked first. */
	if (st == ST_OK)
		st = count_of(db, transfer_sql_queue_ahead, id, &ahead);
	if (st != ST_OK)
		return st == ST_CONFLICT ? ST_OK : st;
	data = json_object_new_object();
	json_object_object_add(data, "position", json_object_new_int64(ahead + 1));
	json_object_object_add(data, "estimated_wait_s", NULL);
	st = append_event(db, id, "queued", data, now, NULL);
	json_object_put(data);
	return st;
}

int transfer_agent_ended(struct db *db, const char *id, const char *reason, int64_t now)
{
	struct transfer_row row;
	int st = open_row(db, id, &row);

	if (st == ST_OK)
		st = end_locked(db, id, "agent", reason, now);
	return st == ST_CONFLICT ? ST_OK : st;
}

int transfer_stats(struct db *db, int64_t now, struct transfer_stats *out)
{
	sqlite3_stmt *stmt;
	int rc, st = transfer_counts(db, &out->counts);

	if (st == ST_OK)
		st = db_stmt(db, transfer_sql_stats, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now - 24 * 60 * 60);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		out->events = sqlite3_column_int64(stmt, 0);
		out->failed_deliveries = sqlite3_column_int64(stmt, 1);
		out->created_last_day = sqlite3_column_int64(stmt, 2);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

int transfer_sweep(struct db *db, int64_t now, int64_t *ended)
{
	char ids[500][TRANSFER_ID_LEN];
	int64_t join_s, idle_s;
	size_t n = 0;
	sqlite3_stmt *stmt;
	int rc, st;

	*ended = 0;
	st = timeout_settings(db, &join_s, &idle_s);
	if (st == ST_OK)
		st = db_stmt(db, transfer_sql_expired, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, join_s);
	sqlite3_bind_int64(stmt, 3, idle_s);
	while (n < sizeof ids / sizeof *ids && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		snprintf(ids[n++], TRANSFER_ID_LEN, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	for (size_t i = 0; st == ST_OK && i < n; i++) {
		struct transfer_row row;
		st = read_row(db, ids[i], &row);
		if (st == ST_OK)
			st = apply_timeouts(db, ids[i], now, &row);
		if (st == ST_OK && strcmp(row.state, "ended") == 0)
			(*ended)++;
	}
	return st;
}

int transfer_purge(struct db *db, int64_t before, int64_t *purged)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, transfer_sql_purge, &stmt);

	*purged = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, before);
	st = db_exec_stmt(stmt);
	if (st == ST_OK)
		*purged = sqlite3_changes(db_handle(db));
	return st;
}

static char *dup_column(sqlite3_stmt *stmt, int i)
{
	const char *v = (const char *)sqlite3_column_text(stmt, i);

	return v ? strdup(v) : NULL;
}

int transfer_job_next(struct db *db, const char *id, struct transfer_job *job, int *found)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_job_next, &stmt);

	memset(job, 0, sizeof *job);
	*found = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*found = 1;
		job->id = sqlite3_column_int64(stmt, 0);
		snprintf(job->kind, sizeof job->kind, "%s", (const char *)sqlite3_column_text(stmt, 1));
		job->seq = sqlite3_column_int64(stmt, 2);
		job->attempts = sqlite3_column_int(stmt, 3);
		job->next_attempt_at = sqlite3_column_int64(stmt, 4);
		job->created_at = sqlite3_column_int64(stmt, 6);
		job->payload = json_tokener_parse((const char *)sqlite3_column_text(stmt, 5));
		if (!json_object_is_type(job->payload, json_type_object)) {
			json_object_put(job->payload);
			job->payload = json_object_new_object();
		}
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

void transfer_job_clear(struct transfer_job *job)
{
	json_object_put(job->payload);
	job->payload = NULL;
}

static const char *payload_text(const struct transfer_job *job)
{
	return json_object_to_json_string_ext(job->payload, JSON_C_TO_STRING_PLAIN);
}

int transfer_job_save(struct db *db, const struct transfer_job *job, int done)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, transfer_sql_job_save, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, job->id);
	sqlite3_bind_text(stmt, 2, payload_text(job), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 3, done);
	/* A message's "posting" mark went to the disk before the post: should its done mark
	 * be lost with a power cut, the retry finds the post in Zendesk and does not repeat it. */
	return done && strcmp(job->kind, "message") == 0 ? db_exec_unsynced(db, stmt) : db_exec_stmt(stmt);
}

int transfer_job_retry(struct db *db, const struct transfer_job *job, int64_t next_attempt_at,
		       const char *error)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, transfer_sql_job_retry, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, job->id);
	sqlite3_bind_int64(stmt, 2, next_attempt_at);
	sqlite3_bind_text(stmt, 3, error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 4, payload_text(job), -1, SQLITE_TRANSIENT);
	return db_exec_stmt(stmt);
}

int transfer_job_fail(struct db *db, const char *id, const struct transfer_job *job,
		      const char *error, int64_t now)
{
	struct json_object *data = json_object_new_object(), *mid = NULL;
	sqlite3_stmt *stmt;
	int st = db_begin(db);

	if (st == ST_OK)
		st = db_stmt(db, transfer_sql_job_fail, &stmt);
	if (st == ST_OK) {
		sqlite3_bind_int64(stmt, 1, job->id);
		sqlite3_bind_text(stmt, 2, error, -1, SQLITE_TRANSIENT);
		st = db_exec_stmt(stmt);
	}
	json_object_object_add(data, "code", json_object_new_string(
		strcmp(job->kind, "message") == 0 ? "delivery_failed" : "handoff_failed"));
	if (json_object_object_get_ex(job->payload, "id", &mid))
		json_object_object_add(data, "message_id", json_object_get(mid));
	if (job->seq)
		json_object_object_add(data, "message_seq", json_object_new_int64(job->seq));
	if (st == ST_OK)
		st = append_event(db, id, "error", data, now, NULL);
	/* A handoff Zendesk refuses for good leaves nobody to talk to: end the transfer. */
	if (st == ST_OK && strcmp(job->kind, "start") == 0)
		st = end_locked(db, id, "system", "handoff_failed", now);
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK)
		db_rollback(db);
	json_object_put(data);
	return st;
}

int transfer_jobs_due(struct db *db, int64_t now, char (*ids)[TRANSFER_ID_LEN], size_t max, size_t *n)
{
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE, st = db_stmt(db, transfer_sql_jobs_due, &stmt);

	*n = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
	while (*n < max && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		snprintf(ids[(*n)++], TRANSFER_ID_LEN, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

int transfer_handoff_get(struct db *db, const char *id, struct transfer_handoff *out)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_handoff, &stmt);

	memset(out, 0, sizeof *out);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		out->external_id = dup_column(stmt, 0);
		out->name = dup_column(stmt, 1);
		out->email = dup_column(stmt, 2);
		out->message_to_human_agent = dup_column(stmt, 3);
		out->department = dup_column(stmt, 4);
		out->history = json_tokener_parse((const char *)sqlite3_column_text(stmt, 5));
		out->zendesk_user_id = dup_column(stmt, 6);
		out->zendesk_conversation_id = dup_column(stmt, 7);
		out->authenticated = sqlite3_column_int(stmt, 8);
	}
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return ST_NOT_FOUND;
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

void transfer_handoff_clear(struct transfer_handoff *h)
{
	free(h->external_id);
	free(h->name);
	free(h->email);
	free(h->message_to_human_agent);
	free(h->department);
	json_object_put(h->history);
	free(h->zendesk_user_id);
	free(h->zendesk_conversation_id);
	memset(h, 0, sizeof *h);
}

int transfer_set_zendesk(struct db *db, const char *id, const char *user_id, const char *conversation_id)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, transfer_sql_set_zendesk, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	bind_text_or_null(stmt, 2, user_id);
	bind_text_or_null(stmt, 3, conversation_id);
	return db_exec_stmt(stmt);
}

int transfer_lease(struct db *db, const char *name, const char *holder, int64_t now, int64_t ttl_s,
		   int *got)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, transfer_sql_lease, &stmt);

	*got = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, holder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, now);
	sqlite3_bind_int64(stmt, 4, ttl_s);
	st = db_exec_unsynced(db, stmt);
	*got = st == ST_OK && sqlite3_changes(db_handle(db)) == 1;
	return st;
}

int transfer_lease_release(struct db *db, const char *name, const char *holder)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, transfer_sql_lease_release, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, holder, -1, SQLITE_STATIC);
	return db_exec_unsynced(db, stmt);
}


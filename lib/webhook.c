/* lib/webhook.c — webhook authentication and the webhook_events table. */
#include "webhook.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "desk.h"
#include "metrics.h"
#include "status.h"
#include "timefmt.h"
#include "transfer.h"
#include "zendesk.h"

/* How long an event id is remembered: far longer than Zendesk keeps retrying one. */
#define WEBHOOK_DEDUP_S (7 * 24 * 60 * 60)

static const char webhook_sql_seen[] =
	"INSERT INTO webhook_events (event_id, received_at) VALUES (?, ?)"
	" ON CONFLICT (event_id) DO NOTHING";
static const char webhook_sql_forget[] = "DELETE FROM webhook_events WHERE received_at < ?";

int webhook_authenticate(struct db *db, const char *api_key)
{
	unsigned char want[CRYPTO_SHA256_LEN], got[CRYPTO_SHA256_LEN];
	char *secret = NULL;
	int st = config_secret_get_dup(db, "zendesk.messaging.webhook_secret", &secret);

	if (st != ST_OK)
		return st;
	if (!secret || !api_key) {
		free(secret);
		return ST_DENIED;
	}
	/* Comparing digests keeps the comparison constant-time whatever the lengths. */
	st = crypto_sha256(secret, strlen(secret), want);
	if (st == ST_OK)
		st = crypto_sha256(api_key, strlen(api_key), got);
	if (st == ST_OK && !crypto_equal(want, got, sizeof want))
		st = ST_DENIED;
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	return st;
}

/* Records the event id; *first is 0 when an earlier delivery had it already. */
static int first_time(struct db *db, const char *event_id, int64_t now, int *first)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, webhook_sql_seen, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, event_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	st = db_exec_stmt(stmt);
	*first = st == ST_OK && sqlite3_changes(db_handle(db)) == 1;
	return st;
}

static int apply_one(struct db *db, const struct desk_event *e, const char *id, int64_t now)
{
	struct transfer_agent agent = {e->agent_id, e->agent_name, e->agent_avatar_url};
	struct transfer_media media = {e->media_kind, e->media_url, e->media_type, e->alt_text};

	switch (e->type) {
	case DESK_EVENT_AGENT_MESSAGE:
		return transfer_agent_message(db, id, &agent, e->message_id, e->text, e->media_url ? &media : NULL, now);
	case DESK_EVENT_AGENT_TYPING:
		return transfer_agent_typing(db, id, &agent, e->typing, now);
	case DESK_EVENT_AGENT_READ:
		return transfer_agent_read(db, id, now);
	case DESK_EVENT_QUEUED:
		return transfer_queued(db, id, now);
	case DESK_EVENT_ENDED:
		return transfer_agent_ended(db, id, e->reason, now);
	default:
		return ST_OK;
	}
}

static int apply(struct db *db, const struct desk_events *events, int64_t now, struct webhook_result *out)
{
	char id[TRANSFER_ID_LEN], at[TIMEFMT_LEN];
	sqlite3_stmt *stmt;
	int first, st;

	st = db_begin(db);
	if (st == ST_OK)
		st = cache_put(db, WEBHOOK_LAST_AT, timefmt_rfc3339(now, at), now + 365 * 24 * 3600);
	for (size_t i = 0; st == ST_OK && i < events->n; i++) {
		const struct desk_event *e = &events->event[i];
		metrics_webhook_event(db, e->type);
		if (e->type == DESK_EVENT_OTHER || e->type == DESK_EVENT_VISITOR_ECHO || !e->event_id ||
		    !e->conversation_id) {
			out->ignored++;
			continue;
		}
		st = transfer_by_conversation(db, e->conversation_id, id);
		if (st == ST_NOT_FOUND) {
			out->ignored++;
			st = ST_OK;
			continue;
		}
		if (st == ST_OK)
			st = first_time(db, e->event_id, now, &first);
		if (st == ST_OK && !first)
			out->duplicates++;
		else if (st == ST_OK && (st = apply_one(db, e, id, now)) == ST_OK)
			out->applied++;
	}
	if (st == ST_OK && (st = db_stmt(db, webhook_sql_forget, &stmt)) == ST_OK) {
		sqlite3_bind_int64(stmt, 1, now - WEBHOOK_DEDUP_S);
		st = db_exec_stmt(stmt);
	}
	/* A delivery of nothing to apply (Zendesk's echo of our own posts, mostly) leaves
	 * only the time of the last webhook and metrics to lose with a power cut. */
	if (st == ST_OK)
		st = out->applied ? db_commit(db) : db_commit_unsynced(db);
	if (st != ST_OK)
		db_rollback(db);
	return st;
}

int webhook_receive(struct db *db, struct json_object *delivery, int64_t now, struct webhook_result *out)
{
	struct desk_events *events = malloc(sizeof *events);
	char *app_id = NULL;
	int st = events ? config_get_dup(db, "zendesk.messaging.app_id", &app_id) : ST_NOMEM;

	memset(out, 0, sizeof *out);
	if (st == ST_OK)
		st = zendesk_parse_webhook(delivery, app_id, events);
	if (st == ST_TOO_LARGE)
		st = ST_INVALID;
	if (st == ST_OK && events->other_app_events)
		out->ignored = events->other_app_events > INT_MAX ? INT_MAX : (int)events->other_app_events;
	else if (st == ST_OK)
		st = apply(db, events, now, out);
	free(app_id);
	free(events);
	return st;
}

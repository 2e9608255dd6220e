/* lib/dashboard.c — the Status view's document, read in one snapshot of the main file. */
#include "dashboard.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "metrics.h"
#include "status.h"
#include "timefmt.h"

/* How a transfer turned out, each counted once: deskbridge's own ends first (the handoff
 * failed, nobody joined in time, the chat went idle), then whether an agent joined; an
 * ended transfer no agent joined was ended by the visitor or from Zendesk. */
static const char *const outcomes[] = {"agent_joined", "no_agent", "idle", "ended_before_agent",
				       "handoff_failed", "waiting"};
#define OUTCOMES (sizeof outcomes / sizeof *outcomes)

/* By the hour each transfer was requested in; transfers_created answers the range, the
 * events primary key the ended event (the newest of its transfer's events, as a rule). */
static const char dashboard_sql_outcomes[] =
	"SELECT (created_at - ?1) / 3600, CASE WHEN state <> 'ended'"
	" THEN CASE WHEN agent_joined_at IS NULL THEN 'waiting' ELSE 'agent_joined' END"
	" ELSE coalesce((SELECT CASE json_extract(e.data, '$.reason') WHEN 'handoff_failed'"
	" THEN 'handoff_failed' WHEN 'no_agent' THEN 'no_agent' WHEN 'idle' THEN 'idle' END"
	" FROM events AS e WHERE e.transfer_id = t.id AND e.type = 'ended' ORDER BY e.seq DESC LIMIT 1),"
	" CASE WHEN agent_joined_at IS NULL THEN 'ended_before_agent' ELSE 'agent_joined' END) END,"
	" count(*) FROM transfers AS t WHERE created_at >= ?1 AND created_at < ?2 GROUP BY 1, 2";
static const char dashboard_sql_waits[] =
	"SELECT max(agent_joined_at - created_at, 0) FROM transfers WHERE created_at >= ?1"
	" AND created_at < ?2 AND agent_joined_at IS NOT NULL ORDER BY 1";
static const char dashboard_sql_backlog[] =
	"SELECT count(*), min(created_at) FROM outbox WHERE state = 'pending'";

struct waits {
	int64_t *s;
	size_t n, cap;
};

static int hours_read(struct db *db, int64_t first, int64_t counts[DASHBOARD_HOURS][OUTCOMES])
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, dashboard_sql_outcomes, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, first);
	sqlite3_bind_int64(stmt, 2, first + DASHBOARD_HOURS * 3600);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t hour = sqlite3_column_int64(stmt, 0);
		const char *outcome = (const char *)sqlite3_column_text(stmt, 1);

		for (size_t i = 0; hour >= 0 && hour < DASHBOARD_HOURS && outcome && i < OUTCOMES; i++)
			if (strcmp(outcome, outcomes[i]) == 0)
				counts[hour][i] += sqlite3_column_int64(stmt, 2);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

/* Every wait of the window, shortest first; caller frees w->s. */
static int waits_read(struct db *db, int64_t first, struct waits *w)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, dashboard_sql_waits, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, first);
	sqlite3_bind_int64(stmt, 2, first + DASHBOARD_HOURS * 3600);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (w->n == w->cap) {
			size_t cap = w->cap ? 2 * w->cap : 64;
			int64_t *s = realloc(w->s, cap * sizeof *s);

			if (!s) {
				st = ST_NOMEM;
				break;
			}
			w->s = s;
			w->cap = cap;
		}
		w->s[w->n++] = sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	if (st == ST_OK && rc != SQLITE_DONE)
		st = db_status(rc);
	return st;
}

static int backlog_read(struct db *db, int64_t *pending, int64_t *oldest)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, dashboard_sql_backlog, &stmt);

	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*pending = sqlite3_column_int64(stmt, 0);
		*oldest = sqlite3_column_type(stmt, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(stmt, 1);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

/* Nearest rank: the smallest wait that at least p percent of the waits do not exceed. */
static struct json_object *percentile(const struct waits *w, size_t p)
{
	size_t rank = (p * w->n + 99) / 100;

	return w->n ? json_object_new_int64(w->s[rank - 1]) : NULL;
}

static struct json_object *hours_json(int64_t first, int64_t counts[DASHBOARD_HOURS][OUTCOMES],
				      const int64_t failures[DASHBOARD_HOURS])
{
	struct json_object *hours = json_object_new_array();
	char at[TIMEFMT_LEN];

	for (size_t h = 0; h < DASHBOARD_HOURS; h++) {
		struct json_object *hour = json_object_new_object(), *transfers = json_object_new_object();

		json_object_object_add(hour, "start", json_object_new_string(
			timefmt_rfc3339(first + (int64_t)h * 3600, at)));
		for (size_t i = 0; i < OUTCOMES; i++)
			json_object_object_add(transfers, outcomes[i], json_object_new_int64(counts[h][i]));
		json_object_object_add(hour, "transfers", transfers);
		json_object_object_add(hour, "delivery_failures", json_object_new_int64(failures[h]));
		json_object_array_add(hours, hour);
	}
	return hours;
}

int dashboard_json(struct db *db, int64_t now, struct json_object **out)
{
	/* Whole UTC hours, the current one last: the browser labels them in local time. */
	int64_t first = (now / 3600 - (DASHBOARD_HOURS - 1)) * 3600;
	int64_t counts[DASHBOARD_HOURS][OUTCOMES] = {{0}}, failures[DASHBOARD_HOURS] = {0};
	int64_t pending = 0, oldest = -1;
	struct waits w = {NULL, 0, 0};
	struct json_object *root, *wait, *outbox;
	int st = db_begin_read(db);

	*out = NULL;
	if (st == ST_OK)
		st = hours_read(db, first, counts);
	if (st == ST_OK)
		st = waits_read(db, first, &w);
	if (st == ST_OK)
		st = backlog_read(db, &pending, &oldest);
	db_end_read(db);
	if (st == ST_OK)
		st = metrics_delivery_failures(db, first / 3600, DASHBOARD_HOURS, failures);
	if (st != ST_OK) {
		free(w.s);
		return st;
	}
	root = json_object_new_object();
	json_object_object_add(root, "hours", hours_json(first, counts, failures));
	wait = json_object_new_object();
	json_object_object_add(wait, "joined", json_object_new_int64((int64_t)w.n));
	json_object_object_add(wait, "p50", percentile(&w, 50));
	json_object_object_add(wait, "p90", percentile(&w, 90));
	json_object_object_add(wait, "p99", percentile(&w, 99));
	json_object_object_add(root, "wait_s", wait);
	outbox = json_object_new_object();
	json_object_object_add(outbox, "pending", json_object_new_int64(pending));
	json_object_object_add(outbox, "oldest_pending_age_s",
			       oldest < 0 ? NULL : json_object_new_int64(now > oldest ? now - oldest : 0));
	json_object_object_add(root, "outbox", outbox);
	free(w.s);
	*out = root;
	return ST_OK;
}

/* lib/metrics.c — the metric table, its two stores (metrics.h says which holds what),
 * the scrape-time gauges and the Prometheus text exposition. */
#include "metrics.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "appcreds.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "proxy.h"
#include "status.h"
#include "webhook.h"

#define METRICS_SERIES_LEN 160
#define METRICS_BATCH_MAX 5     /* the most series one event adds to (metrics_agent_message) */
#define METRICS_ROWS_MAX 512    /* above every series the table below can make */

enum metric_kind { METRIC_COUNTER, METRIC_HISTOGRAM };
enum metric_store { METRIC_IN_MAIN, METRIC_IN_COUNTERS };

static const char *const ended_reasons[] = {"visitor_left", "no_agent", "idle", "handoff_failed",
					    "ticket_closed", "transfer_to_email", "released", "passed_on",
					    NULL};
static const char *const directions[] = {"visitor_to_agent", "agent_to_visitor", NULL};
static const char *const refusals[] = {"unauthenticated", "bad_request", NULL};
static const char *const limits[] = {"limits.token_per_minute", "limits.transfers_per_minute",
				     "limits.messages_per_minute", "limits.activity_per_minute",
				     "limits.open_transfers_per_visitor", "admin_login", NULL};
static const char *const webhook_types[] = {"agent_message", "agent_typing", "agent_read", "queued",
					    "ended", "visitor_echo", "other", NULL};
static const char *const endpoints[] = {"apps", "availability", "integrations", "switchboard", "users",
					"support_users", "conversations", "messages", "activity", "attachments",
					"tickets", "other", NULL};
/* Indexed by status / 100 - 2 for 200 to 599. */
static const char *const status_classes[] = {"2xx", "3xx", "4xx", "5xx", "error", NULL};

/* transfers.join_timeout_s is 5 minutes unless changed; the last buckets catch longer ones. */
static const double wait_buckets[] = {5, 15, 30, 60, 120, 300, 600, 1800, 3600};
/* A call gives up after 8 s, a visitor's file after 60 s (zendesk.c). */
static const double call_buckets[] = {0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

struct metric_def {
	const char *name;
	enum metric_kind kind;
	enum metric_store store;
	const char *help;
	const char *label;                  /* NULL: none */
	const char *const *values;          /* every value the label may take */
	const char *label2;
	const char *const *values2;
	const double *buckets;              /* METRIC_HISTOGRAM */
	size_t nbuckets;
};

enum {
	DEF_AGENT_JOINED = METRIC_RATE_LIMITED + 1,
	DEF_WAIT,
	DEF_WEBHOOK_EVENTS,
	DEF_ZENDESK_REQUESTS,
	DEF_ZENDESK_DURATION,
	DEFS
};

static const struct metric_def defs[DEFS] = {
	[METRIC_TRANSFERS_CREATED] = {"deskbridge_transfers_created_total", METRIC_COUNTER, METRIC_IN_MAIN,
		"Transfers started by POST /api/transfers.", NULL, NULL, NULL, NULL, NULL, 0},
	[DEF_AGENT_JOINED] = {"deskbridge_transfers_agent_joined_total", METRIC_COUNTER, METRIC_IN_MAIN,
		"Transfers an agent joined (the agent's first message).", NULL, NULL, NULL, NULL, NULL, 0},
	[DEF_WAIT] = {"deskbridge_transfer_wait_seconds", METRIC_HISTOGRAM, METRIC_IN_MAIN,
		"Time from a transfer's request to the agent joining it.", NULL, NULL, NULL, NULL,
		wait_buckets, sizeof wait_buckets / sizeof *wait_buckets},
	[METRIC_TRANSFERS_ENDED] = {"deskbridge_transfers_ended_total", METRIC_COUNTER, METRIC_IN_MAIN,
		"Transfers ended, by the reason of their ended event.", "reason", ended_reasons, NULL, NULL,
		NULL, 0},
	[METRIC_MESSAGES] = {"deskbridge_messages_total", METRIC_COUNTER, METRIC_IN_MAIN,
		"Chat messages stored, by direction.", "direction", directions, NULL, NULL, NULL, 0},
	[DEF_WEBHOOK_EVENTS] = {"deskbridge_webhook_events_total", METRIC_COUNTER, METRIC_IN_MAIN,
		"Events of authenticated Zendesk webhook deliveries, by what they are.", "type",
		webhook_types, NULL, NULL, NULL, 0},
	[METRIC_WEBHOOKS_REFUSED] = {"deskbridge_webhooks_refused_total", METRIC_COUNTER, METRIC_IN_COUNTERS,
		"Webhook deliveries refused: a wrong X-API-Key, or not a v2 delivery.", "reason", refusals,
		NULL, NULL, NULL, 0},
	[METRIC_RATE_LIMITED] = {"deskbridge_rate_limited_total", METRIC_COUNTER, METRIC_IN_COUNTERS,
		"Requests refused with 429 rate_limited, by limit.", "limit", limits, NULL, NULL, NULL, 0},
	[DEF_ZENDESK_REQUESTS] = {"deskbridge_zendesk_requests_total", METRIC_COUNTER, METRIC_IN_COUNTERS,
		"Calls to Zendesk, by endpoint and status class (error: no HTTP answer).", "endpoint",
		endpoints, "status_class", status_classes, NULL, 0},
	[DEF_ZENDESK_DURATION] = {"deskbridge_zendesk_request_duration_seconds", METRIC_HISTOGRAM,
		METRIC_IN_COUNTERS, "Duration of calls to Zendesk, by endpoint.", "endpoint", endpoints,
		NULL, NULL, call_buckets, sizeof call_buckets / sizeof *call_buckets},
};

/* One statement for every series an event adds to, so they move together. Unbound
 * pairs are NULL and skipped. The same text twice: the statement cache keys on the
 * string, and each file has its own. */
#define METRICS_SQL_ADD \
	"INSERT INTO metrics (series, value) SELECT column1, column2 FROM" \
	" (VALUES (?1, ?2), (?3, ?4), (?5, ?6), (?7, ?8), (?9, ?10)) WHERE column1 IS NOT NULL" \
	" ON CONFLICT (series) DO UPDATE SET value = value + excluded.value"
static const char metrics_sql_add_main[] = METRICS_SQL_ADD;
static const char metrics_sql_add_counters[] = METRICS_SQL_ADD;
static const char metrics_sql_all_main[] = "SELECT series, value FROM metrics";
static const char metrics_sql_all_counters[] = "SELECT series, value FROM metrics";
/* The outbox_due and transfers_state indexes answer these; the age reads only the
 * deliveries that wait. */
static const char metrics_sql_gauges[] =
	"SELECT (SELECT count(*) FROM transfers WHERE state = 'waiting'),"
	" (SELECT count(*) FROM transfers WHERE state = 'active'),"
	" (SELECT count(*) FROM outbox WHERE state = 'pending'),"
	" (SELECT min(created_at) FROM outbox WHERE state = 'pending')";

#define METRICS_FAILURE_SLOTS 48
static const char metrics_sql_failed[] =
	"INSERT INTO delivery_failures (slot, hour, count) VALUES (?2, ?1, 1)"
	" ON CONFLICT (slot) DO UPDATE SET count = CASE WHEN hour = excluded.hour THEN count + 1 ELSE 1 END,"
	" hour = excluded.hour";
static const char metrics_sql_failures[] =
	"SELECT hour, count FROM delivery_failures WHERE hour >= ?1 AND hour < ?2";

static int listed(const char *const *values, const char *v)
{
	for (; v && *values; values++)
		if (strcmp(*values, v) == 0)
			return 1;
	return 0;
}

/* label="v1",label2="v2", or "" for a metric without labels. Values come from the
 * fixed lists, which need no escaping; every name fits METRICS_SERIES_LEN. */
static void label_text(const struct metric_def *d, const char *v1, const char *v2, char *out, size_t size)
{
	int n = 0;

	out[0] = '\0';
	if (d->label)
		n = snprintf(out, size, "%s=\"%s\"", d->label, v1);
	if (d->label2 && n >= 0 && (size_t)n < size)
		n = snprintf(out + n, size - (size_t)n, ",%s=\"%s\"", d->label2, v2);
	if (n < 0)
		out[0] = '\0';
}

/* name+suffix{labels[,le="le"]}. */
static void series_name(char *out, size_t size, const struct metric_def *d, const char *suffix,
			const char *labels, const char *le)
{
	int n;

	if (le)
		n = snprintf(out, size, "%s%s{%s%sle=\"%s\"}", d->name, suffix, labels, *labels ? "," : "", le);
	else if (*labels)
		n = snprintf(out, size, "%s%s{%s}", d->name, suffix, labels);
	else
		n = snprintf(out, size, "%s%s", d->name, suffix);
	if (n < 0)
		out[0] = '\0';
}

static void bucket_text(double bound, char out[32])
{
	snprintf(out, 32, "%g", bound);
}

struct batch {
	char series[METRICS_BATCH_MAX][METRICS_SERIES_LEN];
	double value[METRICS_BATCH_MAX];
	size_t n;
};

static void batch_counter(struct batch *b, const struct metric_def *d, const char *v1, const char *v2)
{
	char labels[METRICS_SERIES_LEN];

	label_text(d, v1, v2, labels, sizeof labels);
	series_name(b->series[b->n], METRICS_SERIES_LEN, d, "", labels, NULL);
	b->value[b->n++] = 1;
}

/* The bucket of x (none above the largest: +Inf is the count), the sum and the count.
 * Buckets are stored apart and summed when rendered, so an observation is one row. */
static void batch_observe(struct batch *b, const struct metric_def *d, const char *v1, double x)
{
	char labels[METRICS_SERIES_LEN], le[32];

	label_text(d, v1, NULL, labels, sizeof labels);
	for (size_t i = 0; i < d->nbuckets; i++) {
		if (x <= d->buckets[i]) {
			bucket_text(d->buckets[i], le);
			series_name(b->series[b->n], METRICS_SERIES_LEN, d, "_bucket", labels, le);
			b->value[b->n++] = 1;
			break;
		}
	}
	series_name(b->series[b->n], METRICS_SERIES_LEN, d, "_sum", labels, NULL);
	b->value[b->n++] = x;
	series_name(b->series[b->n], METRICS_SERIES_LEN, d, "_count", labels, NULL);
	b->value[b->n++] = 1;
}

static int batch_add(struct db *db, enum metric_store store, const struct batch *b)
{
	sqlite3_stmt *stmt;
	int st = store == METRIC_IN_MAIN ? db_stmt(db, metrics_sql_add_main, &stmt)
					 : db_counters_stmt(db, metrics_sql_add_counters, &stmt);

	if (st != ST_OK)
		return st;
	for (size_t i = 0; i < b->n; i++) {
		sqlite3_bind_text(stmt, (int)(2 * i + 1), b->series[i], -1, SQLITE_STATIC);
		sqlite3_bind_double(stmt, (int)(2 * i + 2), b->value[i]);
	}
	return db_exec_stmt(stmt);
}

int metrics_count(struct db *db, enum metric m, const char *label)
{
	const struct metric_def *d = &defs[m];
	struct batch b = {.n = 0};

	if (d->label && !listed(d->values, label)) {
		log_error("metrics: %s has no label value %s", d->name, label ? label : "(none)");
		return ST_INVALID;
	}
	batch_counter(&b, d, label, NULL);
	return batch_add(db, d->store, &b);
}

int metrics_agent_message(struct db *db, int first, int64_t waited_s)
{
	struct batch b = {.n = 0};

	batch_counter(&b, &defs[METRIC_MESSAGES], "agent_to_visitor", NULL);
	if (first) {
		batch_counter(&b, &defs[DEF_AGENT_JOINED], NULL, NULL);
		batch_observe(&b, &defs[DEF_WAIT], NULL, waited_s > 0 ? (double)waited_s : 0);
	}
	return batch_add(db, METRIC_IN_MAIN, &b);
}

int metrics_webhook_event(struct db *db, enum desk_event_type type)
{
	static const char *const names[] = {
		[DESK_EVENT_OTHER] = "other", [DESK_EVENT_AGENT_MESSAGE] = "agent_message",
		[DESK_EVENT_VISITOR_ECHO] = "visitor_echo", [DESK_EVENT_AGENT_TYPING] = "agent_typing",
		[DESK_EVENT_AGENT_READ] = "agent_read", [DESK_EVENT_QUEUED] = "queued",
		[DESK_EVENT_ENDED] = "ended",
	};
	struct batch b = {.n = 0};

	batch_counter(&b, &defs[DEF_WEBHOOK_EVENTS],
		      (size_t)type < sizeof names / sizeof *names && names[type] ? names[type] : "other", NULL);
	return batch_add(db, METRIC_IN_MAIN, &b);
}

int metrics_zendesk_call(struct db *db, const char *endpoint, long status, double seconds)
{
	const char *class = status >= 200 && status < 600 ? status_classes[status / 100 - 2] : "error";
	struct batch b = {.n = 0};

	if (!listed(endpoints, endpoint))
		endpoint = "other";
	batch_counter(&b, &defs[DEF_ZENDESK_REQUESTS], endpoint, class);
	batch_observe(&b, &defs[DEF_ZENDESK_DURATION], endpoint, seconds > 0 ? seconds : 0);
	return batch_add(db, METRIC_IN_COUNTERS, &b);
}

int metrics_delivery_failed(struct db *db, int64_t now)
{
	sqlite3_stmt *stmt;
	int st = db_counters_stmt(db, metrics_sql_failed, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now / 3600);
	sqlite3_bind_int64(stmt, 2, now / 3600 % METRICS_FAILURE_SLOTS);
	st = db_exec_stmt(stmt);
	if (st != ST_OK)
		log_error("metrics: a delivery failure was not counted: %s", status_str(st));
	return st;
}

int metrics_delivery_failures(struct db *db, int64_t first_hour, size_t n, int64_t *counts)
{
	sqlite3_stmt *stmt;
	int rc, st = n <= METRICS_FAILURE_SLOTS ? db_counters_stmt(db, metrics_sql_failures, &stmt) : ST_INVALID;

	if (st != ST_OK)
		return st;
	memset(counts, 0, n * sizeof *counts);
	sqlite3_bind_int64(stmt, 1, first_hour);
	sqlite3_bind_int64(stmt, 2, first_hour + (int64_t)n);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		counts[sqlite3_column_int64(stmt, 0) - first_hour] = sqlite3_column_int64(stmt, 1);
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

int metrics_authorize(struct db *db, const char *client, const char *bearer)
{
	char *allowed = NULL;
	int token_set = 0, st = config_get_dup(db, "metrics.allowed_addresses", &allowed);

	if (st == ST_OK)
		st = appcreds_token_is_set(db, METRICS_TOKEN_SECRET, &token_set);
	if (st == ST_OK && !allowed && !token_set)
		st = ST_NOT_FOUND;
	else if (st == ST_OK && !proxy_listed(allowed, client))
		st = token_set ? appcreds_token_check(db, METRICS_TOKEN_SECRET, bearer) : ST_DENIED;
	free(allowed);
	return st;
}

int metrics_token_new_dup(struct db *db, char **out)
{
	return appcreds_token_new_dup(db, METRICS_TOKEN_SECRET, out);
}

/* Rendering. */

struct metrics_rows {
	struct {
		char series[METRICS_SERIES_LEN];
		double value;
	} row[METRICS_ROWS_MAX];
	size_t n;
};

static int load(sqlite3_stmt *stmt, struct metrics_rows *rows)
{
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && rows->n < METRICS_ROWS_MAX) {
		const char *series = (const char *)sqlite3_column_text(stmt, 0);
		if (!series || strlen(series) >= METRICS_SERIES_LEN)
			continue;
		memcpy(rows->row[rows->n].series, series, strlen(series) + 1);
		rows->row[rows->n++].value = sqlite3_column_double(stmt, 1);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? ST_OK : db_status(rc);
}

static double value_of(const struct metrics_rows *rows, const char *series)
{
	for (size_t i = 0; i < rows->n; i++)
		if (strcmp(rows->row[i].series, series) == 0)
			return rows->row[i].value;
	return 0;
}

static void write_sample(FILE *f, const char *series, double value)
{
	fprintf(f, "%s %.15g\n", series, value);
}

static void write_histogram(FILE *f, const struct metrics_rows *rows, const struct metric_def *d,
			    const char *labels)
{
	char series[METRICS_SERIES_LEN], le[32];
	double below = 0, count;

	for (size_t i = 0; i < d->nbuckets; i++) {
		bucket_text(d->buckets[i], le);
		series_name(series, sizeof series, d, "_bucket", labels, le);
		below += value_of(rows, series);
		write_sample(f, series, below);
	}
	series_name(series, sizeof series, d, "_count", labels, NULL);
	count = value_of(rows, series);
	series_name(series, sizeof series, d, "_bucket", labels, "+Inf");
	write_sample(f, series, count);
	series_name(series, sizeof series, d, "_sum", labels, NULL);
	write_sample(f, series, value_of(rows, series));
	series_name(series, sizeof series, d, "_count", labels, NULL);
	write_sample(f, series, count);
}

/* Every series of d, with every label value, so that a count that has not moved yet
 * reads 0 rather than being absent. */
static void write_metric(FILE *f, const struct metrics_rows *rows, const struct metric_def *d)
{
	static const char *const none[] = {"", NULL};
	char labels[METRICS_SERIES_LEN], series[METRICS_SERIES_LEN];

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
		d->kind == METRIC_COUNTER ? "counter" : "histogram");
	for (const char *const *v1 = d->label ? d->values : none; *v1; v1++) {
		for (const char *const *v2 = d->label2 ? d->values2 : none; *v2; v2++) {
			label_text(d, *v1, *v2, labels, sizeof labels);
			if (d->kind == METRIC_HISTOGRAM) {
				write_histogram(f, rows, d, labels);
			} else {
				series_name(series, sizeof series, d, "", labels, NULL);
				write_sample(f, series, value_of(rows, series));
			}
		}
	}
}

static void write_gauge(FILE *f, const char *name, const char *help, const char *labels, double value,
			int header)
{
	if (header)
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	fprintf(f, "%s%s%s%s %.15g\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "", value);
}

struct metrics_gauges {
	int64_t waiting, active, pending, oldest_pending_at, last_webhook_at;
};

/* "2026-11-24T10:00:00Z", as timefmt writes it, to Unix seconds; 0 when it is not that. */
static int64_t unix_time_of(const char *rfc3339)
{
	struct tm tm;
	char z = 0;

	memset(&tm, 0, sizeof tm);
	if (!rfc3339 || sscanf(rfc3339, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			       &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 || z != 'Z')
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

static int read_gauges(struct db *db, int64_t now, struct metrics_gauges *g)
{
	sqlite3_stmt *stmt;
	char *last = NULL;
	int rc, st = db_stmt(db, metrics_sql_gauges, &stmt);

	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		g->waiting = sqlite3_column_int64(stmt, 0);
		g->active = sqlite3_column_int64(stmt, 1);
		g->pending = sqlite3_column_int64(stmt, 2);
		g->oldest_pending_at = sqlite3_column_type(stmt, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(stmt, 3);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW)
		return db_status(rc);
	st = cache_get_dup(db, WEBHOOK_LAST_AT, now, &last);
	g->last_webhook_at = unix_time_of(last);
	free(last);
	return st;
}

static void write_gauges(FILE *f, const struct metrics_gauges *g, int64_t now)
{
	int64_t age = g->pending && now > g->oldest_pending_at ? now - g->oldest_pending_at : 0;

	write_gauge(f, "deskbridge_transfers_open", "Transfers waiting for an agent or in a chat now.",
		    "state=\"waiting\"", (double)g->waiting, 1);
	write_gauge(f, "deskbridge_transfers_open", NULL, "state=\"active\"", (double)g->active, 0);
	write_gauge(f, "deskbridge_outbox_pending", "Deliveries to Zendesk waiting to be sent.", NULL,
		    (double)g->pending, 1);
	write_gauge(f, "deskbridge_outbox_oldest_pending_age_seconds",
		    "Age of the oldest delivery waiting to be sent, 0 when none waits.", NULL, (double)age, 1);
	write_gauge(f, "deskbridge_last_webhook_timestamp_seconds",
		    "When the last webhook delivery for this app arrived, in Unix seconds; 0 before the first.",
		    NULL, (double)g->last_webhook_at, 1);
}

int metrics_render_dup(struct db *db, int64_t now, char **out)
{
	struct metrics_rows *rows = calloc(1, sizeof *rows);
	struct metrics_gauges g = {0};
	sqlite3_stmt *stmt;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int st = rows ? db_begin_read(db) : ST_NOMEM;

	*out = NULL;
	if (st == ST_OK && (st = db_stmt(db, metrics_sql_all_main, &stmt)) == ST_OK)
		st = load(stmt, rows);
	if (st == ST_OK)
		st = read_gauges(db, now, &g);
	db_end_read(db);
	if (st == ST_OK && (st = db_counters_stmt(db, metrics_sql_all_counters, &stmt)) == ST_OK)
		st = load(stmt, rows);
	if (st == ST_OK && !(f = open_memstream(&text, &len)))
		st = ST_NOMEM;
	if (st == ST_OK) {
		for (size_t i = 0; i < DEFS; i++)
			write_metric(f, rows, &defs[i]);
		write_gauges(f, &g, now);
		st = ferror(f) ? ST_NOMEM : ST_OK;
		if (fclose(f) != 0)
			st = ST_NOMEM;
	}
	free(rows);
	if (st != ST_OK) {
		free(text);
		text = NULL;
	}
	*out = text;
	return st;
}

/* lib/metrics.h — the operator's metrics: counters and histograms added to where their
 * events happen, gauges read at scrape time, and the Prometheus text exposition (0.0.4)
 * of GET /api/metrics with its protection (a bearer token stored as a hash, or an
 * address allow-list). Not: HTTP, or where the events come from (their modules call in).
 *
 * Counters of events that are stored (transfers, messages, webhook events) live in the
 * main database and are added to inside the caller's transaction, so they count exactly
 * what was committed and survive reboots and purges. Counters of what stores nothing
 * (Zendesk calls, refusals) live in the unsynced counters file (db.h), which a reboot
 * starts afresh: a counter reset, which Prometheus's rate() takes in its stride.
 * A failure to count is logged and returned; callers may ignore it, as a metric must
 * never stop the work it counts. */
#ifndef DESKBRIDGE_METRICS_H
#define DESKBRIDGE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "desk.h"

struct db;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* The secret that holds the SHA-256 of the scrape token. */
#define METRICS_TOKEN_SECRET "metrics.token_sha256"

/* The counters with at most one label, whose values are a fixed list (docs/api.md): a
 * value not on it is refused (ST_INVALID), so no caller can make an unbounded label. */
enum metric {
	METRIC_TRANSFERS_CREATED,   /* no label (NULL); in the caller's transaction */
	METRIC_TRANSFERS_ENDED,     /* reason, as the ended event's; in the caller's transaction */
	METRIC_MESSAGES,            /* "visitor_to_agent"; in the caller's transaction */
	METRIC_WEBHOOKS_REFUSED,    /* "unauthenticated", "bad_request" */
	METRIC_RATE_LIMITED,        /* the limit's configuration key, or "admin_login" */
};

int metrics_count(struct db *db, enum metric m, const char *label);

/* An agent's message applied to a transfer, inside the caller's transaction. first: it
 * is the agent's first, which is how an agent joins (Zendesk has no join event), so the
 * join and its wait (waited_s since the transfer was made) are counted too. */
int metrics_agent_message(struct db *db, int first, int64_t waited_s);

/* One event of an authenticated webhook delivery, inside the caller's transaction. */
int metrics_webhook_event(struct db *db, enum desk_event_type type);

/* One Zendesk call: endpoint one of the driver's fixed names ("messages", ...), status
 * the HTTP status or 0 when no answer came, seconds its duration. */
int metrics_zendesk_call(struct db *db, const char *endpoint, long status, double seconds);

/* A delivery to Zendesk that failed (to be retried or given up), counted by the hour in
 * the counters file for the setup page's Status view, which shows the last 24; a slot
 * is reused 48 hours later, so the table never grows. */
int metrics_delivery_failed(struct db *db, int64_t now);
/* The failures of the n hours from first_hour on (Unix seconds / 3600) into counts[n]. */
int metrics_delivery_failures(struct db *db, int64_t first_hour, size_t n, int64_t *counts);

/* Who may scrape: ST_OK for client on metrics.allowed_addresses or for the right bearer
 * token; ST_DENIED otherwise; ST_NOT_FOUND when neither a token nor a list is set. */
int metrics_authorize(struct db *db, const char *client, const char *bearer);
/* A new scrape token replacing the old one; caller frees *out, which is the only copy. */
int metrics_token_new_dup(struct db *db, char **out);

/* The whole exposition at now; caller frees *out. */
int metrics_render_dup(struct db *db, int64_t now, char **out);

#endif

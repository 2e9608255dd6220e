-- 006_metrics.sql — counters of GET /api/metrics that must agree with what they count:
-- each is added to in the transaction that stores its event (a transfer ending, a
-- message, a webhook event), so a rolled-back event is never counted, and purging
-- transfers never lowers a count. One row per series, as lib/metrics.c names it.
-- Counters that may be lost (Zendesk calls, refusals) live in the counters file instead.
CREATE TABLE metrics (
	series TEXT PRIMARY KEY,
	value REAL NOT NULL
) WITHOUT ROWID;

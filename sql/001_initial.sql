-- 001_initial.sql — the tables every part of deskbridge shares.
-- Times are Unix seconds (INTEGER) unless the column says otherwise; the API renders
-- them as RFC 3339. Later changes go in new numbered files, never edits of this one.

-- Typed configuration (see lib/config.c for the keys, their types and defaults).
CREATE TABLE config (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Write-only values: Zendesk credentials, the admin password hash, the private
-- app's credential hash. Never returned by the API.
CREATE TABLE secrets (
	name TEXT PRIMARY KEY,
	value BLOB NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The site's RSA public keys that verify visitor JWTs (security.site_public_keys).
CREATE TABLE site_public_keys (
	kid TEXT PRIMARY KEY,
	pem TEXT NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- deskbridge's own key pairs for user_payload encryption. The current one has
-- retired_at NULL; a rotated-out key keeps decrypting until retired_at + 24 h.
CREATE TABLE service_keys (
	id INTEGER PRIMARY KEY,
	public_pem TEXT NOT NULL,
	private_pem BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	retired_at INTEGER
);
CREATE UNIQUE INDEX service_keys_current ON service_keys(retired_at) WHERE retired_at IS NULL;

-- Admin sessions: the cookie is stored only as its SHA-256.
CREATE TABLE admin_sessions (
	id_hash BLOB PRIMARY KEY,
	csrf_token TEXT NOT NULL,
	client_addr TEXT,
	created_at INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE transfers (
	id TEXT PRIMARY KEY,
	secret_hash BLOB NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('waiting', 'active', 'ended')),
	client_request_id TEXT,
	visitor_external_id TEXT,
	visitor_name TEXT,
	visitor_email TEXT,
	visitor_authenticated INTEGER NOT NULL DEFAULT 0,
	message_to_human_agent TEXT,
	history TEXT NOT NULL DEFAULT '[]',
	department TEXT,
	locale TEXT,
	page_url TEXT,
	zendesk_user_id TEXT,
	zendesk_conversation_id TEXT,
	agent_id TEXT,
	agent_name TEXT,
	next_seq INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	last_activity_at INTEGER NOT NULL,
	ended_at INTEGER
);
CREATE UNIQUE INDEX transfers_client_request ON transfers(client_request_id)
	WHERE client_request_id IS NOT NULL;
CREATE INDEX transfers_conversation ON transfers(zendesk_conversation_id);
CREATE INDEX transfers_state ON transfers(state, last_activity_at);

-- The event log a visitor polls: seq is dense per transfer and never reused.
CREATE TABLE events (
	transfer_id TEXT NOT NULL REFERENCES transfers(id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	type TEXT NOT NULL,
	data TEXT NOT NULL DEFAULT '{}',
	created_at INTEGER NOT NULL,
	PRIMARY KEY (transfer_id, seq)
) WITHOUT ROWID;

-- What must still reach Zendesk, stored before the visitor is told it was accepted.
CREATE TABLE outbox (
	id INTEGER PRIMARY KEY,
	transfer_id TEXT NOT NULL REFERENCES transfers(id) ON DELETE CASCADE,
	kind TEXT NOT NULL,
	client_message_id TEXT,
	seq INTEGER,
	payload TEXT NOT NULL DEFAULT '{}',
	state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error TEXT,
	created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX outbox_client_message ON outbox(transfer_id, client_message_id)
	WHERE client_message_id IS NOT NULL;
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);

-- Zendesk webhook event ids already applied, so a redelivery changes nothing.
CREATE TABLE webhook_events (
	event_id TEXT PRIMARY KEY,
	received_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Fixed-window counters, e.g. bucket 'login:203.0.113.9'.
CREATE TABLE rate_limits (
	bucket TEXT PRIMARY KEY,
	window_start INTEGER NOT NULL,
	count INTEGER NOT NULL
) WITHOUT ROWID;

-- Leases let one process of many do deferred work (outbox retries, availability).
CREATE TABLE leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Short-lived values shared by all processes, e.g. the agent availability answer.
CREATE TABLE cache (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE avatar (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	media_type TEXT NOT NULL,
	data BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);

-- Configuration changes: who, when, which fields. Never a secret's value.
CREATE TABLE audit_log (
	id INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	fields TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_log_at ON audit_log(at);

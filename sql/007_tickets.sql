-- 005_tickets.sql — messages visitors leave while no agent is available, stored before
-- the answer and then created as Zendesk tickets (lib/ticket.c), retried while Zendesk
-- fails. The same visitor's same client_request_id names one ticket for good.
CREATE TABLE tickets (
	id TEXT PRIMARY KEY,
	secret_hash BLOB NOT NULL,
	client_request_id TEXT,
	visitor_external_id TEXT NOT NULL,
	visitor_name TEXT NOT NULL,
	visitor_email TEXT NOT NULL,
	visitor_authenticated INTEGER NOT NULL DEFAULT 0,
	message TEXT NOT NULL,
	history TEXT NOT NULL DEFAULT '[]',
	page_url TEXT,
	state TEXT NOT NULL CHECK (state IN ('pending', 'created', 'failed')),
	zendesk_ticket_id TEXT,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX tickets_client_request ON tickets(visitor_external_id, client_request_id)
	WHERE client_request_id IS NOT NULL;
CREATE INDEX tickets_due ON tickets(state, next_attempt_at);

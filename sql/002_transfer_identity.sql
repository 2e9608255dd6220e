-- 002_transfer_identity.sql — what transfers need beyond 001.
-- A client_request_id is unique per visitor, not across visitors: one visitor's
-- retry must never answer with another visitor's transfer.
DROP INDEX transfers_client_request;
CREATE UNIQUE INDEX transfers_client_request ON transfers(visitor_external_id, client_request_id)
	WHERE client_request_id IS NOT NULL;
-- The last seq the visitor has read, forwarded to the agent as a read receipt.
ALTER TABLE transfers ADD COLUMN visitor_read_seq INTEGER NOT NULL DEFAULT 0;
-- Whether an agent has joined (the first agent message, Zendesk has no join event).
ALTER TABLE transfers ADD COLUMN agent_joined_at INTEGER;

-- 005_transfer_abuse.sql — what a retried creation, the open-chats cap and coalesced
-- read receipts need (lib/transfer.c, lib/handoff.c, lib/outbox.c).
-- The SHA-256 of the creation secret sent with client_request_id: a retry gets the
-- transfer back only when it shows the same secret.
ALTER TABLE transfers ADD COLUMN client_secret_hash BLOB;
-- Whose open transfers limits.open_transfers_per_visitor counts: the external id a
-- site's token verified; a typed email together with the client address it came from. Open
-- transfers of unverified visitors from before this migration are not counted.
ALTER TABLE transfers ADD COLUMN cap_key TEXT;
UPDATE transfers SET cap_key = visitor_external_id WHERE visitor_external_id NOT LIKE 'unverified:%';
CREATE INDEX transfers_cap ON transfers(cap_key, state);
-- The visitor's reads reach Zendesk at most once a window per transfer: whether a read
-- came since the last receipt was sent, when that was (Unix milliseconds) and the
-- visitor_read_seq it carried.
ALTER TABLE transfers ADD COLUMN read_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transfers ADD COLUMN read_sent_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE transfers ADD COLUMN read_sent_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX transfers_read_pending ON transfers(read_sent_ms) WHERE read_pending = 1;

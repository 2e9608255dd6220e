-- 003_outbox_by_transfer.sql — a poll asks whether its own transfer has a job due;
-- this index answers that without reading anyone else's outbox.
CREATE INDEX outbox_transfer_due ON outbox(transfer_id, state, next_attempt_at);

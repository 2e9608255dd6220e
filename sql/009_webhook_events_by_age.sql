-- 009_webhook_events_by_age.sql — every webhook delivery forgets the event ids older
-- than the dedup window (lib/webhook.c): without this index that was a scan of every id
-- kept, a cost that grew with each agent message until webhooks fell behind.
CREATE INDEX webhook_events_received ON webhook_events(received_at);

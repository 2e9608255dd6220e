-- 007_dashboard.sql — the setup page's Status view counts the transfers requested in
-- each of the last 24 hours (lib/dashboard.c): this index reads that range alone.
CREATE INDEX transfers_created ON transfers(created_at);

-- 004_rate_limits_apart.sql — rate-limit counters moved to the counters file that db.c
-- opens beside this one and writes without waiting for the disk. Counts in the old
-- table only forgive a minute of requests when dropped.
DROP TABLE rate_limits;

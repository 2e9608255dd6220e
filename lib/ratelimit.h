/* lib/ratelimit.h — fixed-window counters kept in SQLite, so every handler process
 * sees the same count. They live in the counters file beside the database, which does not
 * wait for the disk: a crash of the machine may forget them, which only forgives a
 * minute of requests. Not: what a bucket means or which limit applies (callers). */
#ifndef DESKBRIDGE_RATELIMIT_H
#define DESKBRIDGE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct db;

/* The part of a client address a limit counts by: an IPv4 address as it is; an IPv6
 * one by its /64, as one subscriber gets a whole /64 and would otherwise have 2^64
 * buckets. Anything else (no address, a name) as given, or "-". */
void ratelimit_client(const char *addr, char *out, size_t size);

/* The events bucket has counted in its current window of window_s seconds (0 when that
 * window has ended or none began), and the seconds until the window ends. */
int ratelimit_count(struct db *db, const char *bucket, int64_t window_s, int64_t now,
		    int64_t *count, int64_t *retry_after_s);
/* Counts one event in bucket's window, starting a new window when the old one ended. */
int ratelimit_hit(struct db *db, const char *bucket, int64_t window_s, int64_t now);
int ratelimit_clear(struct db *db, const char *bucket);
/* Removes every bucket whose name starts with prefix. */
int ratelimit_clear_prefix(struct db *db, const char *prefix);
/* Counts one event and answers ST_LIMITED, with the seconds to wait, when that makes more
 * than limit in the bucket's current window: check and count in one statement. */
int ratelimit_take(struct db *db, const char *bucket, int64_t limit, int64_t window_s,
		   int64_t now, int64_t *retry_after_s);
/* Paces events to one every interval_ms, across processes: reserves the next free turn
 * in bucket and answers ST_OK with the milliseconds to wait for it, when that is at most
 * max_wait_ms; otherwise reserves nothing and answers ST_LIMITED with the milliseconds
 * until a turn comes within max_wait_ms. now_ms is wall-clock time in milliseconds
 * (the bucket's row then holds the time of its next free turn, not a window). */
int ratelimit_pace(struct db *db, const char *bucket, int64_t interval_ms, int64_t max_wait_ms,
		   int64_t now_ms, int64_t *wait_ms);

#endif

/* lib/ratelimit.c — the rate_limits table, in the counters file (db.c says why). */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "status.h"

static const char ratelimit_sql_get[] =
	"SELECT window_start, count FROM rate_limits WHERE bucket = ?";
static const char ratelimit_sql_hit[] =
	"INSERT INTO rate_limits (bucket, window_start, count) VALUES (?1, ?2, 1) "
	"ON CONFLICT (bucket) DO UPDATE SET "
	" count = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE count + 1 END,"
	" window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END";
static const char ratelimit_sql_take[] =
	"INSERT INTO rate_limits (bucket, window_start, count) VALUES (?1, ?2, 1) "
	"ON CONFLICT (bucket) DO UPDATE SET "
	" count = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE count + 1 END,"
	" window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END"
	" RETURNING window_start, count";
static const char ratelimit_sql_clear[] = "DELETE FROM rate_limits WHERE bucket = ?";
static const char ratelimit_sql_clear_prefix[] =
	"DELETE FROM rate_limits WHERE substr(bucket, 1, length(?1)) = ?1";
/* A pace bucket's window_start is its next free turn: the turn taken is the later of it
 * and now, when that is within the longest wait. */
static const char ratelimit_sql_pace[] =
	"INSERT INTO rate_limits (bucket, window_start, count) VALUES (?1, ?2 + ?3, 1) "
	"ON CONFLICT (bucket) DO UPDATE SET window_start = max(window_start, ?2) + ?3"
	" WHERE window_start <= ?2 + ?4"
	" RETURNING window_start - ?3";

int ratelimit_count(struct db *db, const char *bucket, int64_t window_s, int64_t now,
		    int64_t *count, int64_t *retry_after_s)
{
	sqlite3_stmt *stmt;
	int rc, st = db_counters_stmt(db, ratelimit_sql_get, &stmt);

	*count = *retry_after_s = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, bucket, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t start = sqlite3_column_int64(stmt, 0);
		if (start > now - window_s) {
			*count = sqlite3_column_int64(stmt, 1);
			*retry_after_s = start + window_s - now;
		}
	} else if (rc != SQLITE_DONE) {
		st = db_status(rc);
	}
	sqlite3_reset(stmt);
	return st;
}

int ratelimit_hit(struct db *db, const char *bucket, int64_t window_s, int64_t now)
{
	sqlite3_stmt *stmt;
	int st = db_counters_stmt(db, ratelimit_sql_hit, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, bucket, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, window_s);
	return db_exec_stmt(stmt);
}

int ratelimit_clear(struct db *db, const char *bucket)
{
	sqlite3_stmt *stmt;
	int st = db_counters_stmt(db, ratelimit_sql_clear, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, bucket, -1, SQLITE_STATIC);
	return db_exec_stmt(stmt);
}

int ratelimit_clear_prefix(struct db *db, const char *prefix)
{
	sqlite3_stmt *stmt;
	int st = db_counters_stmt(db, ratelimit_sql_clear_prefix, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, prefix, -1, SQLITE_STATIC);
	return db_exec_stmt(stmt);
}

int ratelimit_take(struct db *db, const char *bucket, int64_t limit, int64_t window_s,
		   int64_t now, int64_t *retry_after_s)
{
	sqlite3_stmt *stmt;
	int rc, st = db_counters_stmt(db, ratelimit_sql_take, &stmt);

	*retry_after_s = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, bucket, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, window_s);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_int64(stmt, 1) > limit) {
		*retry_after_s = sqlite3_column_int64(stmt, 0) + window_s - now;
		st = ST_LIMITED;
	}
	/* On to SQLITE_DONE: only there does SQLite run its after-commit work, the
	 * checkpoint among it. Reset after the row, the log grew by a page a request
	 * and was never copied back. */
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		st = db_status(rc);
	sqlite3_reset(stmt);
	return st;
}

int ratelimit_pace(struct db *db, const char *bucket, int64_t interval_ms, int64_t max_wait_ms,
		   int64_t now_ms, int64_t *wait_ms)
{
	sqlite3_stmt *stmt;
	int rc, st = db_counters_stmt(db, ratelimit_sql_pace, &stmt);

	*wait_ms = 0;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, bucket, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now_ms);
	sqlite3_bind_int64(stmt, 3, interval_ms);
	sqlite3_bind_int64(stmt, 4, max_wait_ms);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t turn = sqlite3_column_int64(stmt, 0);
		*wait_ms = turn > now_ms ? turn - now_ms : 0;
		rc = sqlite3_step(stmt);  /* to SQLITE_DONE, as in ratelimit_take */
		st = rc == SQLITE_DONE ? ST_OK : db_status(rc);
		sqlite3_reset(stmt);
		return st;
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return db_status(rc);
	/* No turn within reach: say when one will be. */
	st = db_counters_stmt(db, ratelimit_sql_get, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, bucket, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int64_t next = sqlite3_column_int64(stmt, 0);
		*wait_ms = next - max_wait_ms > now_ms ? next - max_wait_ms - now_ms : 0;
		st = ST_LIMITED;
	} else {
		st = rc == SQLITE_DONE ? ST_LIMITED : db_status(rc);
	}
	sqlite3_reset(stmt);
	return st;
}

void ratelimit_client(const char *addr, char *out, size_t size)
{
	unsigned char a6[16];

	/* An IPv4 address written as IPv6 (::ffff:a.b.c.d) counts as that one address. */
	if (addr && inet_pton(AF_INET6, addr, a6) == 1 && memcmp(a6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0) {
		snprintf(out, size, "%x:%x:%x:%x::/64", a6[0] << 8 | a6[1], a6[2] << 8 | a6[3], a6[4] << 8 | a6[5],
			 a6[6] << 8 | a6[7]);
		return;
	}
	snprintf(out, size, "%s", addr && *addr ? addr : "-");
}

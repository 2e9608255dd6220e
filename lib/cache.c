/* lib/cache.c — the cache table. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "status.h"

static const char cache_sql_get[] = "SELECT value FROM cache WHERE key = ? AND expires_at > ?";
static const char cache_sql_put[] =
	"INSERT INTO cache (key, value, expires_at) VALUES (?, ?, ?) "
	"ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";

int cache_get_dup(struct db *db, const char *key, int64_t now, char **out)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, cache_sql_get, &stmt);

	*out = NULL;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*out = strdup((const char *)sqlite3_column_text(stmt, 0));
		st = *out ? ST_OK : ST_NOMEM;
	} else if (rc != SQLITE_DONE) {
		st = db_status(rc);
	}
	sqlite3_reset(stmt);
	return st;
}

int cache_put(struct db *db, const char *key, const char *value, int64_t expires_at)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, cache_sql_put, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, expires_at);
	return db_exec_stmt(stmt);
}

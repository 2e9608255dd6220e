/* lib/transfer.c — the transfers, events and outbox tables. */
#include "transfer.h"

#include <sqlite3.h>
#include <string.h>

#include "db.h"
#include "status.h"

static const char transfer_sql_counts[] =
	"SELECT (SELECT count(*) FROM transfers WHERE state = 'waiting'),"
	" (SELECT count(*) FROM transfers WHERE state = 'active'),"
	" (SELECT count(*) FROM transfers WHERE state = 'ended'),"
	" (SELECT count(*) FROM outbox WHERE state = 'pending')";

int transfer_counts(struct db *db, struct transfer_counts *out)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, transfer_sql_counts, &stmt);

	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		out->waiting = sqlite3_column_int64(stmt, 0);
		out->active = sqlite3_column_int64(stmt, 1);
		out->ended = sqlite3_column_int64(stmt, 2);
		out->undelivered = sqlite3_column_int64(stmt, 3);
	}
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

/* lib/audit.c — the audit_log table. */
#include "audit.h"

#include <json-c/json.h>
#include <sqlite3.h>

#include "db.h"
#include "status.h"
#include "timefmt.h"

static const char audit_sql_insert[] =
	"INSERT INTO audit_log (at, actor, action, fields) VALUES (?, ?, ?, ?)";
static const char audit_sql_list[] =
	"SELECT at, actor, action, fields FROM audit_log ORDER BY id DESC LIMIT ?";

int audit_record(struct db *db, const char *actor, const char *action,
		 struct json_object *fields, int64_t now)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, audit_sql_insert, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_text(stmt, 2, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, json_object_to_json_string_ext(fields, JSON_C_TO_STRING_PLAIN),
			  -1, SQLITE_TRANSIENT);
	return db_exec_stmt(stmt);
}

int audit_list_json(struct db *db, int limit, struct json_object **out)
{
	struct json_object *list;
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, audit_sql_list, &stmt);

	if (st != ST_OK)
		return st;
	list = json_object_new_array();
	sqlite3_bind_int(stmt, 1, limit);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct json_object *e = json_object_new_object();
		struct json_object *fields = json_tokener_parse((const char *)sqlite3_column_text(stmt, 3));
		char at[TIMEFMT_LEN];
		json_object_object_add(e, "at", json_object_new_string(
			timefmt_rfc3339(sqlite3_column_int64(stmt, 0), at)));
		json_object_object_add(e, "actor",
				       json_object_new_string((const char *)sqlite3_column_text(stmt, 1)));
		json_object_object_add(e, "action",
				       json_object_new_string((const char *)sqlite3_column_text(stmt, 2)));
		json_object_object_add(e, "fields", fields ? fields : json_object_new_array());
		json_object_array_add(list, e);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_object_put(list);
		return db_status(rc);
	}
	*out = list;
	return ST_OK;
}

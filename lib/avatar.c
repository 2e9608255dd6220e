/* lib/avatar.c — the avatar table. */
#include "avatar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "image.h"
#include "status.h"

static const char avatar_sql_exists[] = "SELECT count(*) FROM avatar";
static const char avatar_sql_put[] =
	"INSERT INTO avatar (id, media_type, data, updated_at) VALUES (1, ?, ?, ?) "
	"ON CONFLICT (id) DO UPDATE SET media_type = excluded.media_type, data = excluded.data,"
	" updated_at = excluded.updated_at";
static const char avatar_sql_get[] = "SELECT media_type, data FROM avatar WHERE id = 1";
static const char avatar_sql_delete[] = "DELETE FROM avatar";

static int verdict(enum avatar_verdict *out, enum avatar_verdict v, char *why, size_t why_len,
		   const char *sentence)
{
	*out = v;
	snprintf(why, why_len, "%s", sentence);
	return ST_OK;
}

int avatar_store(struct db *db, const void *data, size_t len, const char *content_type,
		 int64_t now, enum avatar_verdict *out, char *why, size_t why_len)
{
	struct image_info info;
	enum image_format claimed = IMAGE_UNKNOWN;
	const char *claims[] = {NULL, "image/png", "image/jpeg", "image/gif"};
	sqlite3_stmt *stmt;
	int st;

	for (int f = IMAGE_PNG; f <= IMAGE_GIF; f++)
		if (content_type && strncasecmp(content_type, claims[f], strlen(claims[f])) == 0)
			claimed = (enum image_format)f;
	st = image_inspect(data, len, AVATAR_MAX_PIXELS, AVATAR_MAX_PIXELS, &info);
	if (info.format == IMAGE_UNKNOWN)
		return verdict(out, AVATAR_UNSUPPORTED, why, why_len,
			       "The file is not a PNG, JPEG or GIF image.");
	if (info.format != claimed)
		return verdict(out, AVATAR_UNSUPPORTED, why, why_len,
			       "The file's content does not match its Content-Type.");
	if (st == ST_INVALID)
		return verdict(out, AVATAR_INVALID, why, why_len,
			       "The image is damaged and cannot be decoded.");
	if (st != ST_OK)
		return st;
	if (info.width > AVATAR_MAX_PIXELS || info.height > AVATAR_MAX_PIXELS) {
		*out = AVATAR_INVALID;
		snprintf(why, why_len, "The image is %u x %u pixels; the limit is %d x %d.",
			 info.width, info.height, AVATAR_MAX_PIXELS, AVATAR_MAX_PIXELS);
		return ST_OK;
	}
	st = db_stmt(db, avatar_sql_put, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, image_media_type(info.format), -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, data, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, now);
	st = db_exec_stmt(stmt);
	if (st == ST_OK)
		verdict(out, AVATAR_ACCEPTED, why, why_len, "The avatar is stored.");
	return st;
}

int avatar_delete(struct db *db)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, avatar_sql_delete, &stmt);

	return st == ST_OK ? db_exec_stmt(stmt) : st;
}

int avatar_is_set(struct db *db, int *out)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, avatar_sql_exists, &stmt);

	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	*out = rc == SQLITE_ROW && sqlite3_column_int(stmt, 0) > 0;
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

int avatar_get_dup(struct db *db, char **media_type, unsigned char **data, size_t *len)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, avatar_sql_get, &stmt);

	*media_type = NULL;
	*data = NULL;
	*len = 0;
	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(stmt, 1);
		*media_type = strdup((const char *)sqlite3_column_text(stmt, 0));
		*data = malloc(*len ? *len : 1);
		if (*media_type && *data) {
			memcpy(*data, sqlite3_column_blob(stmt, 1), *len);
		} else {
			free(*media_type);
			free(*data);
			*media_type = NULL;
			*data = NULL;
			st = ST_NOMEM;
		}
	} else {
		st = rc == SQLITE_DONE ? ST_NOT_FOUND : db_status(rc);
	}
	sqlite3_reset(stmt);
	return st;
}

/* lib/admin.c — the admin password and the admin_sessions table. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "ratelimit.h"
#include "status.h"

static const char admin_secret_name[] = "admin.password_hash";
static const char admin_sql_end_sessions[] = "DELETE FROM admin_sessions";

int admin_password_set(struct db *db, const char *password)
{
	size_t len = strlen(password);
	char *hash = NULL;
	sqlite3_stmt *stmt;
	int st;

	if (len < ADMIN_PASSWORD_MIN || len > ADMIN_PASSWORD_MAX)
		return ST_INVALID;
	st = crypto_password_hash_dup(password, &hash);
	if (st != ST_OK)
		return st;
	st = db_begin(db);
	if (st == ST_OK)
		st = config_secret_put(db, admin_secret_name, hash);
	if (st == ST_OK)
		st = db_stmt(db, admin_sql_end_sessions, &stmt);
	if (st == ST_OK)
		st = db_exec_stmt(stmt);
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK)
		db_rollback(db);
	free(hash);
	return st;
}

int admin_password_check(struct db *db, const char *password)
{
	char *hash = NULL;
	int st = config_secret_get_dup(db, admin_secret_name, &hash);

	if (st == ST_OK)
		st = hash ? crypto_password_verify(password, hash) : ST_DENIED;
	free(hash);
	return st == ST_INVALID ? ST_DENIED : st;
}

int admin_password_is_set(struct db *db, int *out)
{
	char *hash = NULL;
	int st = config_secret_get_dup(db, admin_secret_name, &hash);

	*out = hash != NULL;
	free(hash);
	return st;
}

static const char admin_sql_session_insert[] =
	"INSERT INTO admin_sessions (id_hash, csrf_token, client_addr, created_at, last_seen_at) "
	"VALUES (?, ?, ?, ?, ?)";
static const char admin_sql_session_get[] =
	"SELECT csrf_token FROM admin_sessions WHERE id_hash = ?1 "
	" AND last_seen_at > ?2 - ?3 AND created_at > ?2 - ?4";
static const char admin_sql_session_touch[] =
	"UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ?";
static const char admin_sql_session_delete[] = "DELETE FROM admin_sessions WHERE id_hash = ?";
static const char admin_sql_session_expire[] =
	"DELETE FROM admin_sessions WHERE last_seen_at <= ?1 - ?2 OR created_at <= ?1 - ?3";

void admin_session_free(struct admin_session *s)
{
	free(s->cookie);
	free(s->csrf);
	s->cookie = s->csrf = NULL;
}

static int session_insert(struct db *db, const char *client_addr, int64_t now,
			  struct admin_session *out)
{
	unsigned char id_hash[CRYPTO_SHA256_LEN];
	sqlite3_stmt *stmt;
	int st;

	st = crypto_token_new(32, &out->cookie);
	if (st == ST_OK)
		st = crypto_token_new(32, &out->csrf);
	if (st == ST_OK)
		st = crypto_sha256(out->cookie, strlen(out->cookie), id_hash);
	if (st == ST_OK)
		st = db_stmt(db, admin_sql_session_expire, &stmt);
	if (st == ST_OK) {
		sqlite3_bind_int64(stmt, 1, now);
		sqlite3_bind_int64(stmt, 2, ADMIN_SESSION_IDLE_S);
		sqlite3_bind_int64(stmt, 3, ADMIN_SESSION_MAX_S);
		st = db_exec_stmt(stmt);
	}
	if (st == ST_OK)
		st = db_stmt(db, admin_sql_session_insert, &stmt);
	if (st == ST_OK) {
		sqlite3_bind_blob(stmt, 1, id_hash, sizeof id_hash, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, out->csrf, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, client_addr, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 4, now);
		sqlite3_bind_int64(stmt, 5, now);
		st = db_exec_stmt(stmt);
	}
	if (st != ST_OK)
		admin_session_free(out);
	return st;
}

int admin_login(struct db *db, const char *password, const char *client_addr, int64_t now,
		struct admin_session *out, int64_t *retry_after_s)
{
	char bucket[128], client[64];
	int st;

	out->cookie = out->csrf = NULL;
	ratelimit_client(client_addr, client, sizeof client);
	snprintf(bucket, sizeof bucket, "login:%s", client);
	/* Each guess is counted before its check, in one statement: guesses sent in parallel
	 * cannot all pass the limit while the slow password checks run. */
	st = ratelimit_take(db, bucket, ADMIN_LOGIN_FAILURES, ADMIN_LOGIN_WINDOW_S, now, retry_after_s);
	if (st != ST_OK)
		return st;
	st = admin_password_check(db, password);
	if (st == ST_DENIED)
		return st;
	if (st == ST_OK)
		st = ratelimit_clear(db, bucket);
	if (st == ST_OK)
		st = session_insert(db, client_addr, now, out);
	return st;
}

int admin_session_check(struct db *db, const char *cookie, const char *csrf, int need_csrf,
			int64_t now, enum admin_auth *out)
{
	unsigned char id_hash[CRYPTO_SHA256_LEN];
	sqlite3_stmt *stmt;
	int rc, st;

	*out = ADMIN_AUTH_NO_SESSION;
	if (!cookie || !*cookie)
		return ST_OK;
	st = crypto_sha256(cookie, strlen(cookie), id_hash);
	if (st == ST_OK)
		st = db_stmt(db, admin_sql_session_get, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_blob(stmt, 1, id_hash, sizeof id_hash, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, ADMIN_SESSION_IDLE_S);
	sqlite3_bind_int64(stmt, 4, ADMIN_SESSION_MAX_S);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *want = (const char *)sqlite3_column_text(stmt, 0);
		size_t n = strlen(want);
		if (!need_csrf)
			*out = ADMIN_AUTH_OK;
		else if (csrf && strlen(csrf) == n && crypto_equal(csrf, want, n))
			*out = ADMIN_AUTH_OK;
		else
			*out = ADMIN_AUTH_BAD_CSRF;
	} else if (rc != SQLITE_DONE) {
		st = db_status(rc);
	}
	sqlite3_reset(stmt);
	if (st == ST_OK && *out == ADMIN_AUTH_OK && (st = db_stmt(db, admin_sql_session_touch, &stmt)) == ST_OK) {
		sqlite3_bind_int64(stmt, 1, now);
		sqlite3_bind_blob(stmt, 2, id_hash, sizeof id_hash, SQLITE_STATIC);
		st = db_exec_stmt(stmt);
	}
	return st;
}

int admin_logout(struct db *db, const char *cookie)
{
	unsigned char id_hash[CRYPTO_SHA256_LEN];
	sqlite3_stmt *stmt;
	int st = crypto_sha256(cookie, strlen(cookie), id_hash);

	if (st == ST_OK)
		st = db_stmt(db, admin_sql_session_delete, &stmt);
	if (st != ST_OK)
		return st;
	sqlite3_bind_blob(stmt, 1, id_hash, sizeof id_hash, SQLITE_STATIC);
	return db_exec_stmt(stmt);
}

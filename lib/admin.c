/* lib/admin.c — the admin password and the admin_sessions table. */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Counters-file buckets: "login:<client>" per address, and the slow-down's two. */
static const char admin_bucket_prefix[] = "login:";
static const char admin_bucket_all_prefix[] = "login-all:";
static const char admin_bucket_failures[] = "login-all:failures";
static const char admin_bucket_turns[] = "login-all:turns";

static void sleep_ms(int64_t ms)
{
	struct timespec left = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

/* During the slow-down, how long this login waits for its turn to have its password
 * checked. An address that has not failed is never refused, so the admin gets in from a
 * clean one however many others guess; it waits the longest wait at most, which keeps
 * a FastCGI process held no longer than that, and guesses from addresses never seen
 * before to one per process per wait. An address that has failed and finds no turn
 * within reach is refused at once, without a wait and without counting the attempt. */
static int slow_down(struct db *db, const char *bucket, int64_t now_ms, int64_t *wait_ms,
		     int64_t *retry_after_s)
{
	int64_t now = now_ms / 1000, failures, attempts, window_left;
	int st = ratelimit_count(db, admin_bucket_failures, ADMIN_LOGIN_SLOW_WINDOW_S, now, &failures,
				 &window_left);

	*wait_ms = 0;
	if (st != ST_OK || failures < ADMIN_LOGIN_SLOW_AFTER)
		return st;
	st = ratelimit_count(db, bucket, ADMIN_LOGIN_WINDOW_S, now, &attempts, &window_left);
	if (st != ST_OK)
		return st;
	if (attempts >= ADMIN_LOGIN_FAILURES) {
		*retry_after_s = window_left;
		return ST_LIMITED;
	}
	st = ratelimit_pace(db, admin_bucket_turns, ADMIN_LOGIN_PACE_MS, ADMIN_LOGIN_MAX_WAIT_MS, now_ms,
			    wait_ms);
	if (st != ST_LIMITED)
		return st;
	if (attempts == 0) {
		*wait_ms = ADMIN_LOGIN_MAX_WAIT_MS;
		return ST_OK;
	}
	*retry_after_s = *wait_ms > 1000 ? (*wait_ms + 999) / 1000 : 1;
	return ST_LIMITED;
}

int admin_login(struct db *db, const char *password, const char *client_addr, int64_t now_ms,
		struct admin_session *out, int64_t *retry_after_s)
{
	char bucket[128], client[64];
	int64_t now = now_ms / 1000, wait_ms = 0;
	int st;

	out->cookie = out->csrf = NULL;
	*retry_after_s = 0;
	ratelimit_client(client_addr, client, sizeof client);
	snprintf(bucket, sizeof bucket, "%s%s", admin_bucket_prefix, client);
	st = slow_down(db, bucket, now_ms, &wait_ms, retry_after_s);
	/* Each guess is counted before its check, in one statement: guesses sent in parallel
	 * cannot all pass the limit while the slow password checks run. */
	if (st == ST_OK)
		st = ratelimit_take(db, bucket, ADMIN_LOGIN_FAILURES, ADMIN_LOGIN_WINDOW_S, now, retry_after_s);
	if (st != ST_OK)
		return st;
	if (wait_ms > 0)
		sleep_ms(wait_ms);
	st = admin_password_check(db, password);
	if (st == ST_DENIED) {
		int hit = ratelimit_hit(db, admin_bucket_failures, ADMIN_LOGIN_SLOW_WINDOW_S, now);
		return hit == ST_OK ? ST_DENIED : hit;
	}
	if (st == ST_OK)
		st = ratelimit_clear(db, bucket);
	if (st == ST_OK)
		st = session_insert(db, client_addr, now, out);
	return st;
}

int admin_login_unlock(struct db *db, const char *client_addr)
{
	unsigned char addr[16];
	char bucket[128], client[64];
	int st;

	if (!client_addr) {
		st = ratelimit_clear_prefix(db, admin_bucket_prefix);
		return st == ST_OK ? ratelimit_clear_prefix(db, admin_bucket_all_prefix) : st;
	}
	if (inet_pton(AF_INET, client_addr, addr) != 1 && inet_pton(AF_INET6, client_addr, addr) != 1)
		return ST_INVALID;
	ratelimit_client(client_addr, client, sizeof client);
	snprintf(bucket, sizeof bucket, "%s%s", admin_bucket_prefix, client);
	return ratelimit_clear(db, bucket);
}

/* The CSRF token of the live session cookie names (*csrf NULL when none), whose idle
 * timer it refreshes. */
static int session_find(struct db *db, const char *cookie, int64_t now, char **csrf)
{
	unsigned char id_hash[CRYPTO_SHA256_LEN];
	sqlite3_stmt *stmt;
	int rc, st;

	*csrf = NULL;
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
		*csrf = strdup((const char *)sqlite3_column_text(stmt, 0));
		st = *csrf ? ST_OK : ST_NOMEM;
	} else if (rc != SQLITE_DONE) {
		st = db_status(rc);
	}
	sqlite3_reset(stmt);
	if (st == ST_OK && *csrf && (st = db_stmt(db, admin_sql_session_touch, &stmt)) == ST_OK) {
		sqlite3_bind_int64(stmt, 1, now);
		sqlite3_bind_blob(stmt, 2, id_hash, sizeof id_hash, SQLITE_STATIC);
		st = db_exec_stmt(stmt);
	}
	if (st != ST_OK) {
		free(*csrf);
		*csrf = NULL;
	}
	return st;
}

int admin_session_check(struct db *db, const char *cookie, const char *csrf, int need_csrf,
			int64_t now, enum admin_auth *out)
{
	char *want = NULL;
	int st = session_find(db, cookie, now, &want);

	*out = ADMIN_AUTH_NO_SESSION;
	if (st == ST_OK && want) {
		size_t n = strlen(want);
		if (!need_csrf || (csrf && strlen(csrf) == n && crypto_equal(csrf, want, n)))
			*out = ADMIN_AUTH_OK;
		else
			*out = ADMIN_AUTH_BAD_CSRF;
	}
	free(want);
	return st;
}

int admin_session_csrf_dup(struct db *db, const char *cookie, int64_t now, char **out)
{
	return session_find(db, cookie, now, out);
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

/* lib/keys.c — the service_keys table. */
#include "keys.h"

#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "db.h"
#include "status.h"
#include "vault.h"

static const char keys_sql_current[] =
	"SELECT public_pem FROM service_keys WHERE retired_at IS NULL";
static const char keys_sql_retire[] =
	"UPDATE service_keys SET retired_at = ? WHERE retired_at IS NULL";
static const char keys_sql_purge[] = "DELETE FROM service_keys WHERE retired_at <= ?";
/* What binds a sealed private key to its use (see vault.h). */
static const char keys_label[] = "service_key";
static const char keys_sql_all[] = "SELECT id, private_pem FROM service_keys";
static const char keys_sql_set_private[] = "UPDATE service_keys SET private_pem = ? WHERE id = ?";
/* Newest first is current first, then the most recently retired: a key retires only
 * when the next is inserted. By id, SQLite walks the few rows backwards; ordering by
 * retired_at built a temporary b-tree on every token request. */
static const char keys_sql_usable[] =
	"SELECT private_pem FROM service_keys WHERE retired_at IS NULL OR retired_at > ? "
	"ORDER BY id DESC LIMIT 4";
static const char keys_sql_insert[] =
	"INSERT INTO service_keys (public_pem, private_pem, created_at) VALUES (?, ?, ?)";

int keys_current_public_dup(struct db *db, char **pem)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, keys_sql_current, &stmt);

	*pem = NULL;
	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*pem = strdup((const char *)sqlite3_column_text(stmt, 0));
		st = *pem ? ST_OK : ST_NOMEM;
	} else {
		st = rc == SQLITE_DONE ? ST_NOT_FOUND : db_status(rc);
	}
	sqlite3_reset(stmt);
	return st;
}

static int insert_new(struct db *db, int64_t now)
{
	char *pub = NULL, *priv = NULL;
	sqlite3_stmt *stmt;
	int st;

	char *sealed = NULL;

	st = crypto_rsa_generate_dup(KEYS_RSA_BITS, &priv, &pub);
	if (st == ST_OK)
		st = vault_seal_dup(priv, keys_label, &sealed);
	if (st == ST_OK)
		st = db_stmt(db, keys_sql_insert, &stmt);
	if (st == ST_OK) {
		sqlite3_bind_text(stmt, 1, pub, -1, SQLITE_STATIC);
		sqlite3_bind_blob(stmt, 2, sealed, (int)strlen(sealed), SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, now);
		st = db_exec_stmt(stmt);
	}
	if (priv)
		OPENSSL_cleanse(priv, strlen(priv));
	free(priv);
	free(pub);
	free(sealed);
	return st;
}

int keys_ensure(struct db *db)
{
	char *pub = NULL;
	int st = keys_current_public_dup(db, &pub);

	free(pub);
	return st == ST_NOT_FOUND ? insert_new(db, (int64_t)time(NULL)) : st;
}

int keys_rotate(struct db *db, int64_t now)
{
	sqlite3_stmt *stmt;
	/* The slow part, key generation, happens in insert_new inside the transaction;
	 * rotation is rare and an admin action, so holding the write lock ~0.1 s is fine. */
	int st = db_begin(db);

	if (st == ST_OK)
		st = db_stmt(db, keys_sql_purge, &stmt);
	if (st == ST_OK) {
		sqlite3_bind_int64(stmt, 1, now - KEYS_GRACE_S);
		st = db_exec_stmt(stmt);
	}
	if (st == ST_OK)
		st = db_stmt(db, keys_sql_retire, &stmt);
	if (st == ST_OK) {
		sqlite3_bind_int64(stmt, 1, now);
		st = db_exec_stmt(stmt);
	}
	if (st == ST_OK)
		st = insert_new(db, now);
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK)
		db_rollback(db);
	return st;
}

int keys_private_usable(struct db *db, int64_t now, struct keys_private *out)
{
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE, st = db_stmt(db, keys_sql_usable, &stmt);

	memset(out, 0, sizeof *out);
	if (st != ST_OK)
		return st;
	sqlite3_bind_int64(stmt, 1, now - KEYS_GRACE_S);
	while (st == ST_OK && out->n < (size_t)KEYS_USABLE_MAX &&
	       (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char *stored = strndup(sqlite3_column_blob(stmt, 0), (size_t)sqlite3_column_bytes(stmt, 0));
		st = stored ? vault_unseal_dup(stored, keys_label, &out->pem[out->n]) : ST_NOMEM;
		if (st == ST_OK)
			out->n++;
		else if (st == ST_DENIED)
			st = ST_OK;   /* a private key planted unsealed decrypts nothing */
		free(stored);
	}
	if (st == ST_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		st = db_status(rc);
	sqlite3_reset(stmt);
	if (st != ST_OK)
		keys_private_free(out);
	return st;
}

void keys_private_free(struct keys_private *keys)
{
	for (size_t i = 0; i < keys->n; i++) {
		OPENSSL_cleanse(keys->pem[i], strlen(keys->pem[i]));
		free(keys->pem[i]);
	}
	keys->n = 0;
}

int keys_reseal(struct db *db)
{
	sqlite3_stmt *stmt, *put;
	int rc = SQLITE_DONE, st = db_stmt(db, keys_sql_all, &stmt);

	while (st == ST_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char *stored = strndup(sqlite3_column_blob(stmt, 1), (size_t)sqlite3_column_bytes(stmt, 1));
		char *sealed = NULL;
		st = stored ? vault_reseal_dup(stored, keys_label, &sealed) : ST_NOMEM;
		free(stored);
		/* Sealing a planted plain key would make it trusted: it stays, refused. */
		if (st == ST_DENIED) {
			st = ST_OK;
			continue;
		}
		if (st == ST_OK)
			st = db_stmt(db, keys_sql_set_private, &put);
		if (st == ST_OK) {
			sqlite3_bind_blob(put, 1, sealed, (int)strlen(sealed), SQLITE_TRANSIENT);
			sqlite3_bind_int64(put, 2, sqlite3_column_int64(stmt, 0));
			st = db_exec_stmt(put);
		}
		free(sealed);
	}
	if (st == ST_OK && rc != SQLITE_DONE)
		st = db_status(rc);
	sqlite3_reset(stmt);
	return st;
}

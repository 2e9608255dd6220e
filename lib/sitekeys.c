/* lib/sitekeys.c — the site_public_keys table and PEM checks over OpenSSL. */
#include "sitekeys.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "pkeycache.h"
#include "status.h"

static const char sitekeys_sql_clear[] = "DELETE FROM site_public_keys";
static const char sitekeys_sql_insert[] =
	"INSERT INTO site_public_keys (kid, pem, created_at) VALUES (?, ?, ?)";
static const char sitekeys_sql_list[] =
	"SELECT kid, pem FROM site_public_keys ORDER BY created_at, kid";

/* The key's size in bits, or 0 when pem is not an RSA public key. */
static int rsa_public_bits(const char *pem)
{
	EVP_PKEY *key = NULL;
	int bits = pkeycache_public(pem, &key) == ST_OK && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA
		   ? EVP_PKEY_get_bits(key) : 0;

	EVP_PKEY_free(key);
	return bits;
}

static int kid_ok(const char *kid)
{
	size_t n = strlen(kid);

	if (n == 0 || n > SITEKEYS_KID_MAX)
		return 0;
	for (const char *p = kid; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

const char *sitekeys_check(struct json_object *keys)
{
	size_t n;

	if (!json_object_is_type(keys, json_type_array))
		return "must be a list of {\"kid\", \"pem\"}";
	n = json_object_array_length(keys);
	if (n > SITEKEYS_MAX)
		return "must hold at most 10 keys";
	for (size_t i = 0; i < n; i++) {
		struct json_object *k = json_object_array_get_idx(keys, i), *kid, *pem;
		if (!json_object_is_type(k, json_type_object) ||
		    !json_object_object_get_ex(k, "kid", &kid) || !json_object_is_type(kid, json_type_string) ||
		    !json_object_object_get_ex(k, "pem", &pem) || !json_object_is_type(pem, json_type_string) ||
		    json_object_object_length(k) != 2)
			return "must be a list of {\"kid\", \"pem\"}";
		if (!kid_ok(json_object_get_string(kid)))
			return "has a kid that is not 1 to 128 letters, digits, '-', '_' or '.'";
		if (json_object_get_string_len(pem) > SITEKEYS_PEM_MAX)
			return "has a PEM longer than 16384 characters";
		int bits = rsa_public_bits(json_object_get_string(pem));
		if (bits == 0)
			return "has a PEM that is not an RSA public key (-----BEGIN PUBLIC KEY-----)";
		if (bits < SITEKEYS_MIN_BITS)
			return "has an RSA key shorter than 2048 bits";
		for (size_t j = 0; j < i; j++) {
			struct json_object *other;
			json_object_object_get_ex(json_object_array_get_idx(keys, j), "kid", &other);
			if (strcmp(json_object_get_string(other), json_object_get_string(kid)) == 0)
				return "has two keys with the same kid";
		}
	}
	return NULL;
}

int sitekeys_replace(struct db *db, struct json_object *keys)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, sitekeys_sql_clear, &stmt);

	if (st == ST_OK)
		st = db_exec_stmt(stmt);
	for (size_t i = 0; st == ST_OK && i < json_object_array_length(keys); i++) {
		struct json_object *k = json_object_array_get_idx(keys, i), *kid, *pem;
		json_object_object_get_ex(k, "kid", &kid);
		json_object_object_get_ex(k, "pem", &pem);
		st = db_stmt(db, sitekeys_sql_insert, &stmt);
		if (st != ST_OK)
			break;
		sqlite3_bind_text(stmt, 1, json_object_get_string(kid), -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, json_object_get_string(pem), -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, (sqlite3_int64)time(NULL));
		st = db_exec_stmt(stmt);
	}
	return st;
}

int sitekeys_list_json(struct db *db, struct json_object **out)
{
	struct json_object *list;
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, sitekeys_sql_list, &stmt);

	if (st != ST_OK)
		return st;
	list = json_object_new_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *pem = (const char *)sqlite3_column_text(stmt, 1);
		struct json_object *k = json_object_new_object();
		json_object_object_add(k, "kid", json_object_new_string((const char *)sqlite3_column_text(stmt, 0)));
		json_object_object_add(k, "pem", json_object_new_string(pem));
		json_object_object_add(k, "bits", json_object_new_int(rsa_public_bits(pem)));
		json_object_array_add(list, k);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_object_put(list);
		return db_status(rc);
	}
	*out = list;
	return ST_OK;
}

int sitekeys_pems_for(struct db *db, const char *kid, struct sitekeys_pems *out)
{
	sqlite3_stmt *stmt;
	int rc = SQLITE_DONE, st = db_stmt(db, sitekeys_sql_list, &stmt);

	memset(out, 0, sizeof *out);
	if (st != ST_OK)
		return st;
	while (st == ST_OK && out->stored < (size_t)SITEKEYS_MAX && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		out->stored++;
		if (kid && strcmp(kid, (const char *)sqlite3_column_text(stmt, 0)) != 0)
			continue;
		out->pem[out->n] = strdup((const char *)sqlite3_column_text(stmt, 1));
		st = out->pem[out->n] ? ST_OK : ST_NOMEM;
		out->n += st == ST_OK;
	}
	if (st == ST_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		st = db_status(rc);
	sqlite3_reset(stmt);
	if (st != ST_OK)
		sitekeys_pems_free(out);
	return st;
}

void sitekeys_pems_free(struct sitekeys_pems *pems)
{
	for (size_t i = 0; i < pems->n; i++)
		free(pems->pem[i]);
	pems->n = 0;
}

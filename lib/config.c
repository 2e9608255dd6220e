/* lib/config.c — the configuration key table and its storage. */
#include "config.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cors.h"
#include "crypto.h"
#include "db.h"
#include "hours.h"
#include "proxy.h"
#include "status.h"
#include "utf8.h"
#include "vault.h"

static const char *valid_service_desk(const char *v)
{
	return strcmp(v, "zendesk") == 0 ? NULL : "must be \"zendesk\", the only service desk supported";
}

/* Zendesk subdomains are DNS labels: the "acme" of acme.zendesk.com. */
static const char *valid_dns_label(const char *v)
{
	static const char why[] = "must be the first part of your Zendesk address, such as acme for "
				  "acme.zendesk.com (letters, digits and inner hyphens, at most 63)";
	size_t n = strlen(v);

	if (n == 0 || n > 63 || v[0] == '-' || v[n - 1] == '-')
		return why;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return why;
	return NULL;
}

static const char *valid_url(const char *v)
{
	const char *host;

	if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else
		return "must be an http:// or https:// URL";
	if (!*host || *host == '/' || *host == ':')
		return "must name a host";
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '"' || *p == '<' || *p == '>' ||
		    *p == '\\' || *p == '#' || *p == '?')
			return "must be a URL without spaces, query or fragment";
	return NULL;
}

/* Where browsers and Zendesk reach deskbridge: an https origin, since the private app
 * runs in Zendesk's https pages and sends its credentials there. */
static const char *valid_public_url(const char *v)
{
	static const char why[] = "must be the https:// address where browsers reach deskbridge, "
				  "such as https://help.example.com, with no path, query or fragment";
	const char *host = v + 8, *end;

	if (strncmp(v, "https://", 8) != 0)
		return why;
	end = host + strcspn(host, ":/");
	if (end == host)
		return why;
	for (const char *p = host; p < end; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return why;
	if (*end == ':') {
		const char *port = end + 1;
		end = port + strspn(port, "0123456789");
		if (end == port || end - port > 5)
			return why;
	}
	return *end == '\0' || strcmp(end, "/") == 0 ? NULL : why;
}

static const char *valid_email(const char *v)
{
	const char *at = strchr(v, '@');

	if (!at || at == v || strchr(at + 1, '@') || !strchr(at + 1, '.') || at[1] == '.' ||
	    v[strlen(v) - 1] == '.')
		return "must be an email address";
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "must be an email address";
	return NULL;
}

static const char *valid_identifier(const char *v)
{
	if (!*v)
		return "must not be empty";
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			return "must use only letters, digits, '_', '-' and '.'";
	return NULL;
}

/* The kid of a messaging JWT signing key: Admin Center lists each key by an id that
 * starts with "app_", which tells it apart from its shared secret pasted here by mistake. */
static const char *valid_messaging_kid(const char *v)
{
	if (strncmp(v, "app_", 4) != 0 || !v[4])
		return "must be the key ID of a messaging signing key (app_ followed by letters and digits)";
	return valid_identifier(v + 4);
}

static const struct config_key config_table[] = {
	{"transfers_enabled", CONFIG_BOOL, "false", 0, 0, 0, NULL, 0},
	{"service_desk", CONFIG_TEXT, "zendesk", 0, 0, 32, valid_service_desk, 0},
	{"zendesk.subdomain", CONFIG_TEXT, NULL, 0, 0, 63, valid_dns_label, 0},
	{"zendesk.account_key", CONFIG_SECRET, NULL, 0, 0, 256, NULL, 0},
	{"zendesk.api_user", CONFIG_TEXT, NULL, 0, 0, 254, valid_email, 0},
	{"zendesk.api_token", CONFIG_SECRET, NULL, 0, 0, 256, NULL, 0},
	{"zendesk.account_verified_at", CONFIG_TEXT, NULL, 0, 0, 32, NULL, 1},
	{"zendesk.shared_secret", CONFIG_SECRET, NULL, 0, 0, 512, NULL, 0},
	{"zendesk.messaging.app_id", CONFIG_TEXT, NULL, 0, 0, 64, valid_identifier, 0},
	{"zendesk.messaging.key_id", CONFIG_TEXT, NULL, 0, 0, 128, valid_identifier, 0},
	{"zendesk.messaging.key_secret", CONFIG_SECRET, NULL, 0, 0, 512, NULL, 0},
	{"zendesk.messaging.webhook_secret", CONFIG_SECRET, NULL, 0, 0, 512, NULL, 0},
	{"zendesk.messaging.jwt_key_id", CONFIG_TEXT, NULL, 0, 0, 128, valid_messaging_kid, 0},
	{"zendesk.api_base", CONFIG_TEXT, NULL, 0, 0, 2048, valid_url, 0},
	{"zendesk.chat_api_base", CONFIG_TEXT, NULL, 0, 0, 2048, valid_url, 0},
	{"security.authenticate_users", CONFIG_BOOL, "false", 0, 0, 0, NULL, 0},
	{"security.allow_anonymous_transfers", CONFIG_BOOL, "false", 0, 0, 0, NULL, 0},
	{"security.issuer", CONFIG_TEXT, NULL, 0, 0, 256, NULL, 0},
	{"security.trusted_proxies", CONFIG_TEXT, NULL, 0, 0, 2048, proxy_list_check, 0},
	{"security.allowed_origins", CONFIG_TEXT, NULL, 0, 0, 2048, cors_origins_check, 0},
	{"security.clock_skew_s", CONFIG_INT, "60", 0, 300, 0, NULL, 0},
	{"transfers.join_timeout_s", CONFIG_INT, "300", 30, 86400, 0, NULL, 0},
	{"transfers.idle_timeout_s", CONFIG_INT, "1800", 30, 86400, 0, NULL, 0},
	{"transfers.unavailable_message", CONFIG_TEXT,
	 "No agent is available right now. Please try again later.", 0, 0, 500, NULL, 0},
	{"transfers.department", CONFIG_TEXT, NULL, 0, 0, 128, NULL, 0},
	{"limits.token_per_minute", CONFIG_INT, "60", 1, 100000, 0, NULL, 0},
	{"limits.transfers_per_minute", CONFIG_INT, "10", 1, 100000, 0, NULL, 0},
	{"limits.messages_per_minute", CONFIG_INT, "60", 1, 100000, 0, NULL, 0},
	{"limits.activity_per_minute", CONFIG_INT, "120", 1, 100000, 0, NULL, 0},
	{"limits.open_transfers_per_visitor", CONFIG_INT, "3", 1, 1000, 0, NULL, 0},
	/* 10 MiB by default; at most UPLOAD_MAX_BYTES, the 50 MB Zendesk is known to allow. */
	{"limits.file_upload_bytes", CONFIG_INT, "10485760", 1, 50000000, 0, NULL, 0},
	{"deployment.public_url", CONFIG_TEXT, NULL, 0, 0, 300, valid_public_url, 0},
	{"metrics.allowed_addresses", CONFIG_TEXT, NULL, 0, 0, 2048, proxy_list_check, 0},
	{"hours.time_zone", CONFIG_TEXT, NULL, 0, 0, 200, hours_check_zone, 0},
	{"hours.weekly", CONFIG_TEXT, NULL, 0, 0, 500, hours_check_weekly, 0},
	{"hours.closed_message", CONFIG_TEXT,
	 "We are closed right now. Leave a message and we will answer by email.", 0, 0, 500, NULL, 0},
	{"tickets.offer_when_offline", CONFIG_BOOL, "false", 0, 0, 0, NULL, 0},
};

const struct config_key *config_keys(size_t *n)
{
	*n = sizeof config_table / sizeof *config_table;
	return config_table;
}

const struct config_key *config_key_find(const char *name)
{
	for (size_t i = 0; i < sizeof config_table / sizeof *config_table; i++)
		if (strcmp(config_table[i].name, name) == 0)
			return &config_table[i];
	return NULL;
}

static int parse_int(const char *v, int64_t *out)
{
	char *end;
	long long n;

	if (!*v || isspace((unsigned char)*v))
		return ST_INVALID;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end)
		return ST_INVALID;
	*out = n;
	return ST_OK;
}

const char *config_check(const struct config_key *key, const char *value)
{
	static char range[64];
	int64_t n;
	size_t len = utf8_count(value, strlen(value));

	if (len == (size_t)-1)
		return "must be UTF-8 text";
	for (const char *p = value; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			return "must not contain control characters";
	switch (key->type) {
	case CONFIG_BOOL:
		return strcmp(value, "true") == 0 || strcmp(value, "false") == 0
			       ? NULL : "must be true or false";
	case CONFIG_INT:
		if (parse_int(value, &n) == ST_OK && n >= key->min && n <= key->max)
			return NULL;
		snprintf(range, sizeof range, "must be an integer from %lld to %lld",
			 (long long)key->min, (long long)key->max);
		return range;
	case CONFIG_TEXT:
	case CONFIG_SECRET:
		if (len > key->max_len) {
			snprintf(range, sizeof range, "must be at most %zu characters", key->max_len);
			return range;
		}
		if (key->type == CONFIG_SECRET && len == 0)
			return "must not be empty";
		return key->validate ? key->validate(value) : NULL;
	}
	return "has an unknown type";
}

static int ascii_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* What admins paste for their Zendesk: "acme", "acme.zendesk.com" or the address bar's
 * "https://acme.zendesk.com/agent/dashboard" all name the subdomain acme. */
static char *subdomain_dup(const char *v)
{
	static const char suffix[] = ".zendesk.com";
	size_t n, s = sizeof suffix - 1;
	char *out;

	if (ascii_prefix(v, "https://"))
		v += 8;
	else if (ascii_prefix(v, "http://"))
		v += 7;
	n = strcspn(v, "/?#:");
	if (n > s && strncasecmp(v + n - s, suffix, s) == 0)
		n -= s;
	out = strndup(v, n);
	for (char *p = out; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return out;
}

int config_normalize_dup(const struct config_key *key, const char *value, char **out)
{
	int subdomain = strcmp(key->name, "zendesk.subdomain") == 0;
	size_t n;

	if (!subdomain && strcmp(key->name, "deployment.public_url") != 0) {
		*out = strdup(value);
		return *out ? ST_OK : ST_NOMEM;
	}
	value += strspn(value, " \t\r\n");
	n = strlen(value);
	while (n && strchr(" \t\r\n", value[n - 1]))
		n--;
	if (!subdomain && n > 8 && value[n - 1] == '/')
		n--;
	*out = strndup(value, n);
	if (*out && subdomain) {
		char *label = subdomain_dup(*out);
		free(*out);
		*out = label;
	}
	return *out ? ST_OK : ST_NOMEM;
}

static const char config_sql_get[] = "SELECT value FROM config WHERE key = ?";
static const char config_sql_put[] =
	"INSERT INTO config (key, value, updated_at) VALUES (?, ?, ?) "
	"ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
static const char config_sql_delete[] = "DELETE FROM config WHERE key = ?";
static const char config_sql_secret_get[] = "SELECT value FROM secrets WHERE name = ?";
static const char config_sql_secret_put[] =
	"INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?) "
	"ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
static const char config_sql_secret_delete[] = "DELETE FROM secrets WHERE name = ?";
/* An unsealed row counts as none: it is refused on reading anyway (vault_check_sealed). */
static const char config_sql_secret_add[] =
	"INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
	"SET value = excluded.value, updated_at = excluded.updated_at "
	"WHERE secrets.value NOT GLOB '" VAULT_PREFIX "*'";
static const char config_sql_secret_all[] = "SELECT name, value FROM secrets";

static int read_one_dup(struct db *db, const char *sql, const char *name, char **out)
{
	sqlite3_stmt *stmt;
	int rc, st = db_stmt(db, sql, &stmt);

	*out = NULL;
	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(stmt, 0);
		*out = strdup(v ? v : "");
		st = *out ? ST_OK : ST_NOMEM;
	} else if (rc != SQLITE_DONE) {
		st = db_status(rc);
	}
	sqlite3_reset(stmt);
	return st;
}

static int write_one(struct db *db, const char *sql, const char *name, const char *value)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, sql, &stmt);

	if (st != ST_OK)
		return st;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	if (value) {
		sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, (sqlite3_int64)time(NULL));
	}
	return db_exec_stmt(stmt);
}

int config_get_dup(struct db *db, const char *name, char **out)
{
	const struct config_key *key = config_key_find(name);
	int st;

	*out = NULL;
	if (!key)
		return ST_NOT_FOUND;
	if (key->type == CONFIG_SECRET)
		return ST_DENIED;
	st = read_one_dup(db, config_sql_get, name, out);
	if (st == ST_OK && !*out && key->default_value) {
		*out = strdup(key->default_value);
		st = *out ? ST_OK : ST_NOMEM;
	}
	return st;
}

int config_get_int(struct db *db, const char *name, int64_t *out)
{
	char *v;
	int st = config_get_dup(db, name, &v);

	if (st == ST_OK)
		st = v ? parse_int(v, out) : ST_NOT_FOUND;
	free(v);
	return st;
}

int config_get_bool(struct db *db, const char *name, int *out)
{
	char *v;
	int st = config_get_dup(db, name, &v);

	if (st == ST_OK)
		*out = v && strcmp(v, "true") == 0;
	free(v);
	return st;
}

int config_set(struct db *db, const char *name, const char *value, const char **why)
{
	const struct config_key *key = config_key_find(name);
	char *v = NULL;
	int st;

	*why = NULL;
	if (!key) {
		*why = "is not a configuration key";
		return ST_NOT_FOUND;
	}
	if (!value)
		return write_one(db, key->type == CONFIG_SECRET ? config_sql_secret_delete : config_sql_delete,
				 name, NULL);
	st = config_normalize_dup(key, value, &v);
	if (st == ST_OK && (*why = config_check(key, v)) != NULL)
		st = ST_INVALID;
	if (st == ST_OK)
		st = key->type == CONFIG_SECRET ? config_secret_put(db, name, v)
						: write_one(db, config_sql_put, name, v);
	if (v && key->type == CONFIG_SECRET)
		memset(v, 0, strlen(v));
	free(v);
	return st;
}

int config_is_set(struct db *db, const char *name, int *out)
{
	const struct config_key *key = config_key_find(name);
	char *v = NULL;
	int st;

	if (!key)
		return ST_NOT_FOUND;
	st = read_one_dup(db, key->type == CONFIG_SECRET ? config_sql_secret_get : config_sql_get,
			  name, &v);
	*out = v && (key->type != CONFIG_SECRET || vault_check_sealed(v, name) == ST_OK);
	if (v)
		memset(v, 0, strlen(v));
	free(v);
	return st;
}

int config_secret_get_dup(struct db *db, const char *name, char **out)
{
	char *stored = NULL;
	int st = read_one_dup(db, config_sql_secret_get, name, &stored);

	*out = NULL;
	if (st == ST_OK && stored)
		st = vault_unseal_dup(stored, name, out);
	free(stored);
	/* A value that is not sealed is no value: each feature then asks for it to be set. */
	return st == ST_DENIED ? ST_OK : st;
}

static int put_sealed(struct db *db, const char *sql, const char *name, const char *value)
{
	char *sealed = NULL;
	int st = vault_seal_dup(value, name, &sealed);

	if (st == ST_OK)
		st = write_one(db, sql, name, sealed);
	free(sealed);
	return st;
}

int config_secret_put(struct db *db, const char *name, const char *value)
{
	return put_sealed(db, config_sql_secret_put, name, value);
}

int config_secret_put_new(struct db *db, const char *name, const char *value)
{
	return put_sealed(db, config_sql_secret_add, name, value);
}

int config_secret_hmac_dup(struct db *db, const char *key_name, const char *msg, char **out)
{
	char *key = NULL, *fresh = NULL;
	int st = config_secret_get_dup(db, key_name, &key);

	*out = NULL;
	if (st == ST_OK && !key) {
		st = crypto_token_new(32, &fresh);
		if (st == ST_OK)
			st = config_secret_put_new(db, key_name, fresh);
		free(fresh);
		if (st == ST_OK)
			st = config_secret_get_dup(db, key_name, &key);
		if (st == ST_OK && !key)
			st = ST_DB;
	}
	if (st == ST_OK)
		st = crypto_hmac_sha256_b64url_dup(key, strlen(key), msg, out);
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(key);
	return st;
}

int config_secrets_reseal(struct db *db)
{
	sqlite3_stmt *stmt, *put;
	int rc, st = db_stmt(db, config_sql_secret_all, &stmt);

	while (st == ST_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);
		char *sealed = NULL;
		st = vault_reseal_dup((const char *)sqlite3_column_text(stmt, 1), name, &sealed);
		/* Sealing a planted plain value would make it trusted: it stays, refused. */
		if (st == ST_DENIED) {
			st = ST_OK;
			continue;
		}
		if (st == ST_OK)
			st = db_stmt(db, config_sql_secret_put, &put);
		if (st == ST_OK) {
			sqlite3_bind_text(put, 1, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(put, 2, sealed, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(put, 3, (sqlite3_int64)time(NULL));
			st = db_exec_stmt(put);
		}
		free(sealed);
	}
	if (st == ST_OK && rc != SQLITE_DONE)
		st = db_status(rc);
	sqlite3_reset(stmt);
	return st;
}

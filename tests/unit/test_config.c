/* tests/unit/test_config.c — lib/config: the key table and its validators, and values
 * stored in a real migrated database (defaults, round trips, write-only secrets);
 * with lib/admin (the admin password), lib/keys (the service key pair) and the settings
 * lib/token needs before it mints anything. */
#include <check.h>
#include <dirent.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "config.h"
#include "cors.h"
#include "db.h"
#include "keys.h"
#include "proxy.h"
#include "ratelimit.h"
#include "status.h"
#include "token.h"
#include "vault.h"

/* Check functions. */

static const struct config_key *key(const char *name)
{
	const struct config_key *k = config_key_find(name);

	ck_assert_msg(k != NULL, "no key %s", name);
	return k;
}

/* value with bytes outside printable ASCII as \xNN, so that a failure message cannot
 * break the TAP line it is printed on. */
static const char *esc(const char *value, char *buf, size_t size)
{
	size_t j = 0;

	for (const unsigned char *p = (const unsigned char *)value; *p && j + 5 < size; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			buf[j++] = (char)*p;
		else
			j += (size_t)snprintf(buf + j, size - j, "\\x%02x", *p);
	}
	buf[j] = '\0';
	return buf;
}

#define ck_valid(name, value)                                                          \
	do {                                                                           \
		char esc_[128];                                                        \
		const char *why_ = config_check(key(name), (value));                   \
		ck_assert_msg(why_ == NULL, "%s = \"%s\" refused: %s", (name),          \
			      esc((value), esc_, sizeof esc_), why_);                  \
	} while (0)

#define ck_invalid(name, value)                                                        \
	do {                                                                           \
		char esc_[128];                                                        \
		const char *why_ = config_check(key(name), (value));                   \
		ck_assert_msg(why_ != NULL && *why_, "%s = \"%s\" accepted", (name),    \
			      esc((value), esc_, sizeof esc_));                        \
	} while (0)

/* A string of n copies of the UTF-8 sequence unit; caller frees. */
static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

START_TEST(key_table)
{
	size_t n = 0;
	const struct config_key *keys = config_keys(&n);

	ck_assert_uint_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		const struct config_key *k = &keys[i];
		ck_assert_ptr_nonnull(k->name);
		ck_assert_ptr_eq(config_key_find(k->name), k);
		if (k->type == CONFIG_INT)
			ck_assert_msg(k->min < k->max, "%s", k->name);
		if (k->type == CONFIG_TEXT || k->type == CONFIG_SECRET)
			ck_assert_msg(k->max_len > 0, "%s", k->name);
		if (k->type == CONFIG_SECRET)
			ck_assert_msg(k->default_value == NULL, "secret %s has a default", k->name);
		/* Every default passes its own key's check. */
		if (k->default_value)
			ck_assert_msg(config_check(k, k->default_value) == NULL, "default of %s", k->name);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(k->name, keys[j].name);
	}
	ck_assert_ptr_null(config_key_find("no.such.key"));
	ck_assert_ptr_null(config_key_find(""));
	ck_assert_ptr_null(config_key_find("zendesk"));
	ck_assert_int_eq(key("transfers_enabled")->type, CONFIG_BOOL);
	ck_assert_int_eq(key("zendesk.api_token")->type, CONFIG_SECRET);
	ck_assert_int_eq(key("security.clock_skew_s")->type, CONFIG_INT);
}
END_TEST

START_TEST(check_bool)
{
	ck_valid("transfers_enabled", "true");
	ck_valid("transfers_enabled", "false");
	ck_valid("security.authenticate_users", "true");
	ck_invalid("transfers_enabled", "TRUE");
	ck_invalid("transfers_enabled", "True");
	ck_invalid("transfers_enabled", "1");
	ck_invalid("transfers_enabled", "0");
	ck_invalid("transfers_enabled", "yes");
	ck_invalid("transfers_enabled", "");
	ck_invalid("transfers_enabled", "true ");
	ck_invalid("transfers_enabled", " false");
}
END_TEST

START_TEST(check_int_range)
{
	const char *why;

	ck_valid("security.clock_skew_s", "0");
	ck_valid("security.clock_skew_s", "300");
	ck_valid("security.clock_skew_s", "60");
	ck_invalid("security.clock_skew_s", "-1");
	ck_invalid("security.clock_skew_s", "301");
	ck_invalid("transfers.join_timeout_s", "29");
	ck_valid("transfers.join_timeout_s", "30");
	ck_valid("transfers.join_timeout_s", "86400");
	ck_invalid("transfers.join_timeout_s", "86401");
	ck_invalid("transfers.idle_timeout_s", "29");
	ck_valid("transfers.idle_timeout_s", "86400");
	/* Not integers. */
	ck_invalid("security.clock_skew_s", "");
	ck_invalid("security.clock_skew_s", "abc");
	ck_invalid("security.clock_skew_s", " 60");
	ck_invalid("security.clock_skew_s", "60 ");
	ck_invalid("security.clock_skew_s", "6e1");
	ck_invalid("security.clock_skew_s", "60.0");
	ck_invalid("security.clock_skew_s", "0x10");
	ck_invalid("security.clock_skew_s", "99999999999999999999999");
	ck_invalid("security.clock_skew_s", "-99999999999999999999999");
	/* The reason names the range. */
	why = config_check(key("transfers.join_timeout_s"), "1");
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "30"));
	ck_assert_ptr_nonnull(strstr(why, "86400"));
}
END_TEST

START_TEST(check_dns_label)
{
	char *s;

	ck_valid("zendesk.subdomain", "acme");
	ck_valid("zendesk.subdomain", "a");
	ck_valid("zendesk.subdomain", "acme-support");
	ck_valid("zendesk.subdomain", "a1b2");
	ck_valid("zendesk.subdomain", "ACME");
	s = repeat("a", 63);
	ck_valid("zendesk.subdomain", s);
	free(s);
	s = repeat("a", 64);
	ck_invalid("zendesk.subdomain", s);
	free(s);
	ck_invalid("zendesk.subdomain", "");
	ck_invalid("zendesk.subdomain", "-acme");
	ck_invalid("zendesk.subdomain", "acme-");
	ck_invalid("zendesk.subdomain", "-");
	ck_invalid("zendesk.subdomain", "ac_me");
	ck_invalid("zendesk.subdomain", "acme.zendesk.com");
	ck_invalid("zendesk.subdomain", "ac me");
	ck_invalid("zendesk.subdomain", "https://acme");
	ck_invalid("zendesk.subdomain", "\xc3\xa1" "cme");
	ck_invalid("zendesk.subdomain", "acme\n");
}
END_TEST

/* What config_set stores for what an admin pasted. */
static void ck_normalized(const char *name, const char *pasted, const char *stored)
{
	char *out = NULL;

	ck_assert_int_eq(config_normalize_dup(key(name), pasted, &out), ST_OK);
	ck_assert_str_eq(out, stored);
	free(out);
}

START_TEST(normalize_pasted_values)
{
	ck_normalized("zendesk.subdomain", "acme", "acme");
	ck_normalized("zendesk.subdomain", "acme.zendesk.com", "acme");
	ck_normalized("zendesk.subdomain", "https://acme.zendesk.com/agent", "acme");
	ck_normalized("zendesk.subdomain", " HTTPS://Acme-Support.Zendesk.com/agent/dashboard?x=1 \n",
		      "acme-support");
	ck_normalized("zendesk.subdomain", "http://acme.zendesk.com:443", "acme");
	ck_normalized("zendesk.subdomain", "acme.example.com", "acme.example.com");
	ck_invalid("zendesk.subdomain", "acme.example.com");
	ck_normalized("deployment.public_url", " https://help.example.com/ ", "https://help.example.com");
	ck_normalized("deployment.public_url", "https://help.example.com/x/", "https://help.example.com/x");
	ck_normalized("transfers.unavailable_message", " Back at 9. ", " Back at 9. ");
}
END_TEST

START_TEST(check_public_url)
{
	ck_valid("deployment.public_url", "https://help.example.com");
	ck_valid("deployment.public_url", "https://help.example.com/");
	ck_valid("deployment.public_url", "https://help.example.com:8443");
	ck_invalid("deployment.public_url", "http://help.example.com");
	ck_invalid("deployment.public_url", "https://");
	ck_invalid("deployment.public_url", "https://help.example.com/deskbridge");
	ck_invalid("deployment.public_url", "https://help.example.com/?a=1");
	ck_invalid("deployment.public_url", "https://help.example.com?a=1");
	ck_invalid("deployment.public_url", "https://help.example.com#top");
	ck_invalid("deployment.public_url", "https://user@help.example.com");
	ck_invalid("deployment.public_url", "https://help.example.com:");
	ck_invalid("deployment.public_url", "https://help.example.com:123456");
}
END_TEST

START_TEST(check_messaging_kid)
{
	char *s, *kid;

	ck_valid("zendesk.messaging.jwt_key_id", "app_64f1c2a8e4b0d1001f2c3d4e");
	ck_valid("zendesk.messaging.jwt_key_id", "app_1");
	s = repeat("a", 124);
	kid = malloc(4 + 124 + 2);
	ck_assert_ptr_nonnull(kid);
	snprintf(kid, 4 + 124 + 1, "app_%s", s);
	ck_valid("zendesk.messaging.jwt_key_id", kid);
	snprintf(kid, 4 + 124 + 2, "app_%sa", s);
	ck_invalid("zendesk.messaging.jwt_key_id", kid);
	free(kid);
	free(s);
	ck_invalid("zendesk.messaging.jwt_key_id", "");
	ck_invalid("zendesk.messaging.jwt_key_id", "app_");
	ck_invalid("zendesk.messaging.jwt_key_id", "64f1c2a8e4b0d1001f2c3d4e");
	/* Its shared secret, pasted into the wrong field. */
	ck_invalid("zendesk.messaging.jwt_key_id", "kR9-x2_Vb3nQ7LwZ0pTfYc4sHd8mEa1u");
	ck_invalid("zendesk.messaging.jwt_key_id", "APP_64f1");
	ck_invalid("zendesk.messaging.jwt_key_id", " app_64f1");
	ck_invalid("zendesk.messaging.jwt_key_id", "app_64f1 ");
	ck_invalid("zendesk.messaging.jwt_key_id", "app_64/f1");
	ck_invalid("zendesk.messaging.jwt_key_id", "app_64\"f1");
	ck_invalid("zendesk.messaging.jwt_key_id", "app_\xc3\xa9");
	ck_assert_int_eq(key("zendesk.messaging.jwt_key_id")->type, CONFIG_TEXT);
}
END_TEST

START_TEST(check_url)
{
	char *s, *url;

	ck_valid("zendesk.api_base", "https://acme.zendesk.com");
	ck_valid("zendesk.api_base", "https://acme.zendesk.com/");
	ck_valid("zendesk.api_base", "http://127.0.0.1:8080");
	ck_valid("zendesk.api_base", "https://api.example/v2/path");
	ck_valid("zendesk.chat_api_base", "https://api.smooch.io");
	ck_invalid("zendesk.api_base", "");
	ck_invalid("zendesk.api_base", "acme.zendesk.com");
	ck_invalid("zendesk.api_base", "ftp://acme.zendesk.com");
	ck_invalid("zendesk.api_base", "javascript:alert(1)");
	ck_invalid("zendesk.api_base", "https://");
	ck_invalid("zendesk.api_base", "https:///path");
	ck_invalid("zendesk.api_base", "https://:443");
	ck_invalid("zendesk.api_base", "https://a b.com");
	ck_invalid("zendesk.api_base", "https://a.com?x=1");
	ck_invalid("zendesk.api_base", "https://a.com#frag");
	ck_invalid("zendesk.api_base", "https://a.com/\"x");
	ck_invalid("zendesk.api_base", "https://a.com/<x>");
	ck_invalid("zendesk.api_base", "https://a.com\\x");
	ck_invalid("zendesk.api_base", "https://a.com\r\nX: y");
	/* 2048 characters at most. */
	s = repeat("a", 2048 - 8);
	url = malloc(2049 + 1);
	ck_assert_ptr_nonnull(url);
	snprintf(url, 2050, "https://%s", s);
	ck_valid("zendesk.api_base", url);
	snprintf(url, 2050, "https://%sa", s);
	ck_invalid("zendesk.api_base", url);
	free(url);
	free(s);
}
END_TEST

START_TEST(check_email)
{
	ck_valid("zendesk.api_user", "admin@acme.com");
	ck_valid("zendesk.api_user", "a.b+c@mail.example.org");
	ck_invalid("zendesk.api_user", "");
	ck_invalid("zendesk.api_user", "admin");
	ck_invalid("zendesk.api_user", "@acme.com");
	ck_invalid("zendesk.api_user", "admin@");
	ck_invalid("zendesk.api_user", "admin@acme");
	ck_invalid("zendesk.api_user", "admin@.com");
	ck_invalid("zendesk.api_user", "admin@acme.");
	ck_invalid("zendesk.api_user", "admin@@acme.com");
	ck_invalid("zendesk.api_user", "a@b@acme.com");
	ck_invalid("zendesk.api_user", "ad min@acme.com");
	ck_invalid("zendesk.api_user", "admin@acme.com\n");
}
END_TEST

START_TEST(check_max_length)
{
	char *s;

	s = repeat("x", 128);
	ck_valid("transfers.department", s);
	free(s);
	s = repeat("x", 129);
	ck_invalid("transfers.department", s);
	free(s);
	/* Characters, not bytes. */
	s = repeat("\xc3\xa9", 128);
	ck_valid("transfers.department", s);
	free(s);
	s = repeat("\xe2\x82\xac", 129);
	ck_invalid("transfers.department", s);
	free(s);
	s = repeat("m", 500);
	ck_valid("transfers.unavailable_message", s);
	free(s);
	s = repeat("m", 501);
	ck_invalid("transfers.unavailable_message", s);
	free(s);
	/* Secrets: bounded, and never empty. */
	s = repeat("k", 256);
	ck_valid("zendesk.api_token", s);
	free(s);
	s = repeat("k", 257);
	ck_invalid("zendesk.api_token", s);
	free(s);
	ck_invalid("zendesk.api_token", "");
	ck_invalid("zendesk.shared_secret", "");
	ck_valid("zendesk.shared_secret", "s");
	/* Text without a validator may be empty. */
	ck_valid("transfers.department", "");
}
END_TEST

START_TEST(check_utf8_and_controls)
{
	static const char *const not_utf8[] = {
		"\xff", "abc\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe2\x82", "\xe2\x82x", "\xf0\x9f\x98",
	};
	static const char *const controls[] = {
		"\x01", "a\rb", "a\x1b[31mb", "\x1f",
	};
	static const char *const keys_text[] = {
		"transfers.department", "security.issuer", "zendesk.api_token",
	};

	for (size_t k = 0; k < sizeof keys_text / sizeof *keys_text; k++) {
		for (size_t i = 0; i < sizeof not_utf8 / sizeof *not_utf8; i++)
			ck_invalid(keys_text[k], not_utf8[i]);
		for (size_t i = 0; i < sizeof controls / sizeof *controls; i++)
			ck_invalid(keys_text[k], controls[i]);
	}
	/* DEL is a control character too (log.c replaces it like the C0 ones). */
	for (size_t k = 0; k < sizeof keys_text / sizeof *keys_text; k++)
		ck_assert_msg(config_check(key(keys_text[k]), "a\x7f" "b") != NULL,
			      "%s accepts DEL (0x7f)", keys_text[k]);
	ck_invalid("transfers_enabled", "\xfftrue");
	ck_invalid("security.clock_skew_s", "6\x01");
	/* Valid text of every length class, and the two allowed controls. */
	ck_valid("transfers.department", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
	ck_valid("transfers.unavailable_message", "Sorry.\nTry again later.\tThanks");
}
END_TEST

/* Stored values: a migrated database in a temporary directory. */

/* Made once by main() and removed at the end even when a test fails; each test
 * gets its own directory and database inside it. */
static char basedir[64];
static char tmpdir[128];
static struct db *db;

static void rm_rf(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &sb) != 0)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char child[1024];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(child, sizeof child, "%s/%s", path, e->d_name);
		rm_rf(child);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

static void db_setup(void)
{
	const char *srcdir = getenv("DESKBRIDGE_SRCDIR");
	char path[256], sql[1024];
	int v = 0;

	snprintf(tmpdir, sizeof tmpdir, "%s/t-XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof path, "%s/config.db", tmpdir);
	snprintf(sql, sizeof sql, "%s/sql", srcdir && *srcdir ? srcdir : "..");
	ck_assert_int_eq(db_open(path, DB_OPEN_CREATE, &db), ST_OK);
	ck_assert_int_eq(db_migrate(db, sql, &v), ST_OK);
	ck_assert_int_ge(v, 1);
	/* Secrets are sealed with the key file beside the database (lib/vault). */
	setenv("DESKBRIDGE_DB", path, 1);
	ck_assert_int_eq(vault_key_create(), ST_OK);
	ck_assert_int_eq(vault_load(), ST_OK);
}

static void db_teardown(void)
{
	db_close(db);
	db = NULL;
	rm_rf(tmpdir);
}

static long long count(const char *sql, const char *param)
{
	sqlite3_stmt *stmt;
	long long n = -1;

	ck_assert_int_eq(sqlite3_prepare_v2(db_handle(db), sql, -1, &stmt, NULL), SQLITE_OK);
	if (param)
		sqlite3_bind_text(stmt, 1, param, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

/* Asserts config_get_dup(name) is want (NULL: nothing). */
static void check_get(const char *name, const char *want)
{
	char *v = (char *)"sentinel";

	ck_assert_int_eq(config_get_dup(db, name, &v), ST_OK);
	if (want) {
		ck_assert_msg(v != NULL, "%s is unset", name);
		ck_assert_str_eq(v, want);
	} else {
		ck_assert_msg(v == NULL, "%s = %s", name, v);
	}
	free(v);
}

static int is_set(const char *name)
{
	int set = -1;

	ck_assert_int_eq(config_is_set(db, name, &set), ST_OK);
	ck_assert(set == 0 || set == 1);
	return set;
}

START_TEST(defaults_when_unset)
{
	size_t n;
	const struct config_key *keys = config_keys(&n);
	int64_t i = 0;
	int b = -1;

	check_get("transfers.join_timeout_s", "300");
	check_get("transfers.idle_timeout_s", "1800");
	check_get("security.clock_skew_s", "60");
	check_get("service_desk", "zendesk");
	check_get("transfers_enabled", "false");
	check_get("transfers.unavailable_message",
		  "No agent is available right now. Please try again later.");
	check_get("zendesk.subdomain", NULL);
	check_get("zendesk.api_base", NULL);
	ck_assert_int_eq(config_get_int(db, "transfers.join_timeout_s", &i), ST_OK);
	ck_assert_int_eq(i, 300);
	ck_assert_int_eq(config_get_bool(db, "transfers_enabled", &b), ST_OK);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(config_get_int(db, "zendesk.subdomain", &i), ST_NOT_FOUND);
	/* Nothing is stored, so nothing is "set". */
	for (size_t k = 0; k < n; k++)
		ck_assert_msg(is_set(keys[k].name) == 0, "%s", keys[k].name);
	ck_assert_int_eq(count("SELECT count(*) FROM config", NULL), 0);
}
END_TEST

START_TEST(unknown_keys)
{
	char *v = NULL;
	const char *why = NULL;
	int set = -1;

	ck_assert_int_eq(config_get_dup(db, "no.such.key", &v), ST_NOT_FOUND);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(config_set(db, "no.such.key", "x", &why), ST_NOT_FOUND);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(config_is_set(db, "no.such.key", &set), ST_NOT_FOUND);
	ck_assert_int_eq(count("SELECT count(*) FROM config", NULL), 0);
}
END_TEST

START_TEST(set_get_round_trip)
{
	const char *why = "x";
	int64_t i = 0;
	int b = -1;

	ck_assert_int_eq(config_set(db, "zendesk.subdomain", "acme", &why), ST_OK);
	ck_assert_ptr_null(why);
	check_get("zendesk.subdomain", "acme");
	ck_assert_int_eq(is_set("zendesk.subdomain"), 1);

	ck_assert_int_eq(config_set(db, "zendesk.subdomain", "other", &why), ST_OK);
	check_get("zendesk.subdomain", "other");
	ck_assert_int_eq(count("SELECT count(*) FROM config WHERE key = ?", "zendesk.subdomain"), 1);

	ck_assert_int_eq(config_set(db, "transfers.join_timeout_s", "45", &why), ST_OK);
	ck_assert_int_eq(config_get_int(db, "transfers.join_timeout_s", &i), ST_OK);
	ck_assert_int_eq(i, 45);
	ck_assert_int_eq(is_set("transfers.join_timeout_s"), 1);

	ck_assert_int_eq(config_set(db, "transfers_enabled", "true", &why), ST_OK);
	ck_assert_int_eq(config_get_bool(db, "transfers_enabled", &b), ST_OK);
	ck_assert_int_eq(b, 1);

	ck_assert_int_eq(config_set(db, "transfers.unavailable_message", "caf\xc3\xa9\nbye", &why), ST_OK);
	check_get("transfers.unavailable_message", "caf\xc3\xa9\nbye");

	/* Unset: back to the default, or to nothing. */
	ck_assert_int_eq(config_set(db, "transfers.join_timeout_s", NULL, &why), ST_OK);
	check_get("transfers.join_timeout_s", "300");
	ck_assert_int_eq(is_set("transfers.join_timeout_s"), 0);
	ck_assert_int_eq(config_set(db, "zendesk.subdomain", NULL, &why), ST_OK);
	check_get("zendesk.subdomain", NULL);
	ck_assert_int_eq(is_set("zendesk.subdomain"), 0);
	/* Unsetting what is not set is fine. */
	ck_assert_int_eq(config_set(db, "zendesk.subdomain", NULL, &why), ST_OK);
	/* Others are untouched. */
	check_get("transfers_enabled", "true");
}
END_TEST

START_TEST(sealed_at_rest)
{
	char *v = NULL, *sealed = NULL, *stored = NULL, keyfile[300], kept;
	struct stat sb;
	sqlite3_stmt *stmt;

	snprintf(keyfile, sizeof keyfile, "%s.key", getenv("DESKBRIDGE_DB"));
	ck_assert_int_eq(stat(keyfile, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(config_secret_put(db, "zendesk.api_token", "tok-sealed-123"), ST_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db_handle(db), "SELECT value FROM secrets WHERE name = 'zendesk.api_token'",
					    -1, &stmt, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	stored = strdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	ck_assert_ptr_null(strstr(stored, "tok-sealed"));
	ck_assert_int_eq(strncmp(stored, "v1:", 3), 0);
	/* Bound to its name, and tamper-evident. */
	ck_assert_int_eq(vault_unseal_dup(stored, "zendesk.shared_secret", &v), ST_CRYPTO);
	kept = stored[10];
	stored[10] = stored[10] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(vault_unseal_dup(stored, "zendesk.api_token", &v), ST_CRYPTO);
	ck_assert_int_eq(vault_unseal_dup("plain-from-before", "x", &v), ST_DENIED);
	ck_assert_ptr_null(v);
	/* Opened once (and remembered), a value is still tamper-evident. */
	stored[10] = kept;
	ck_assert_int_eq(vault_unseal_dup(stored, "zendesk.api_token", &v), ST_OK);
	ck_assert_str_eq(v, "tok-sealed-123");
	free(v);
	stored[20] = stored[20] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(vault_unseal_dup(stored, "zendesk.api_token", &v), ST_CRYPTO);
	/* Rotation: every value re-sealed, the old key gone, the values the same. */
	ck_assert_int_eq(vault_seal_dup("x", "label", &sealed), ST_OK);
	ck_assert_int_eq(vault_unseal_dup(sealed, "label", &v), ST_OK);
	ck_assert_str_eq(v, "x");
	free(v);
	ck_assert_int_eq(vault_rekey_begin(), ST_OK);
	ck_assert_int_eq(db_begin(db), ST_OK);
	ck_assert_int_eq(config_secrets_reseal(db), ST_OK);
	ck_assert_int_eq(db_commit(db), ST_OK);
	ck_assert_int_eq(vault_rekey_finish(), ST_OK);
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.api_token", &v), ST_OK);
	ck_assert_str_eq(v, "tok-sealed-123");
	free(v);
	/* Opened before the rotation, yet the retired key's value opens no more. */
	ck_assert_int_eq(vault_unseal_dup(sealed, "label", &v), ST_CRYPTO);
	/* A key file others can read is refused. */
	ck_assert_int_eq(chmod(keyfile, 0640), 0);
	ck_assert_int_ne(vault_load(), ST_OK);
	free(sealed);
	free(stored);
}
END_TEST

/* A plain row, as written by someone who can write the database but not read the key. */
static void plant(const char *name, const char *value)
{
	sqlite3_stmt *stmt;

	ck_assert_int_eq(sqlite3_prepare_v2(db_handle(db), "INSERT INTO secrets (name, value, updated_at) "
					    "VALUES (?, ?, 0) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
					    -1, &stmt, NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_DONE);
	sqlite3_finalize(stmt);
}

START_TEST(unsealed_refused)
{
	char *v = (char *)"sentinel";

	plant("zendesk.api_token", "planted-token");
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.api_token", &v), ST_OK);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(is_set("zendesk.api_token"), 0);
	ck_assert_int_eq(vault_check_sealed("planted-token", "zendesk.api_token"), ST_DENIED);
	ck_assert_int_eq(vault_check_sealed("", "zendesk.api_token"), ST_DENIED);
	/* Re-entering the secret is what mends it. */
	ck_assert_int_eq(config_secret_put(db, "zendesk.api_token", "entered-again"), ST_OK);
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.api_token", &v), ST_OK);
	ck_assert_str_eq(v, "entered-again");
	free(v);

	/* A value made on first use replaces a planted one, never a sealed one. */
	plant("internal.key", "planted-key");
	ck_assert_int_eq(config_secret_put_new(db, "internal.key", "fresh"), ST_OK);
	ck_assert_int_eq(config_secret_get_dup(db, "internal.key", &v), ST_OK);
	ck_assert_str_eq(v, "fresh");
	free(v);
	ck_assert_int_eq(config_secret_put_new(db, "internal.key", "later"), ST_OK);
	ck_assert_int_eq(config_secret_get_dup(db, "internal.key", &v), ST_OK);
	ck_assert_str_eq(v, "fresh");
	free(v);

	/* Rotation does not seal a planted value into trust. */
	plant("zendesk.shared_secret", "planted-shared");
	ck_assert_int_eq(vault_rekey_begin(), ST_OK);
	ck_assert_int_eq(db_begin(db), ST_OK);
	ck_assert_int_eq(config_secrets_reseal(db), ST_OK);
	ck_assert_int_eq(db_commit(db), ST_OK);
	ck_assert_int_eq(vault_rekey_finish(), ST_OK);
	ck_assert_int_eq(count("SELECT count(*) FROM secrets WHERE value = ?", "planted-shared"), 1);
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.shared_secret", &v), ST_OK);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.api_token", &v), ST_OK);
	ck_assert_str_eq(v, "entered-again");
	free(v);
}
END_TEST

START_TEST(rate_limit_take)
{
	int64_t retry = -1;

	ck_assert_int_eq(ratelimit_take(db, "unit:1", 2, 60, 1000, &retry), ST_OK);
	ck_assert_int_eq(ratelimit_take(db, "unit:1", 2, 60, 1010, &retry), ST_OK);
	ck_assert_int_eq(ratelimit_take(db, "unit:1", 2, 60, 1020, &retry), ST_LIMITED);
	ck_assert_int_eq(retry, 40);
	ck_assert_int_eq(ratelimit_take(db, "unit:2", 2, 60, 1020, &retry), ST_OK);
	ck_assert_int_eq(ratelimit_take(db, "unit:1", 2, 60, 1060, &retry), ST_OK);  /* a new window */
}
END_TEST

START_TEST(rate_limit_client)
{
	char out[64];

	ratelimit_client("2001:db8:1:2:aaaa:bbbb:cccc:dddd", out, sizeof out);
	ck_assert_str_eq(out, "2001:db8:1:2::/64");
	ratelimit_client("2001:db8:1:2::7", out, sizeof out);
	ck_assert_str_eq(out, "2001:db8:1:2::/64");
	ratelimit_client("2001:db8:1:3::7", out, sizeof out);
	ck_assert_str_eq(out, "2001:db8:1:3::/64");
	ratelimit_client("192.0.2.7", out, sizeof out);
	ck_assert_str_eq(out, "192.0.2.7");
	ratelimit_client("::ffff:192.0.2.7", out, sizeof out);
	ck_assert_str_eq(out, "::ffff:192.0.2.7");
	ratelimit_client(NULL, out, sizeof out);
	ck_assert_str_eq(out, "-");
	ratelimit_client("", out, sizeof out);
	ck_assert_str_eq(out, "-");
}
END_TEST

START_TEST(proxy_clients)
{
	char client[PROXY_ADDR_LEN];
	int https = -1;

	ck_assert_ptr_null(proxy_list_check("192.0.2.10, 10.0.0.0/8 2001:db8::/32"));
	ck_assert_ptr_nonnull(proxy_list_check("10.0.0.0/33"));
	ck_assert_ptr_nonnull(proxy_list_check("proxy.example"));
	/* Not from a trusted proxy: its headers are not believed. */
	proxy_client("10.0.0.0/8", "198.51.100.9", "203.0.113.5", "https", client, &https);
	ck_assert_str_eq(client, "198.51.100.9");
	ck_assert_int_eq(https, 0);
	/* The right-most untrusted hop; a hop the client wrote on the left is not it. */
	proxy_client("10.0.0.0/8", "10.1.2.3", "6.6.6.6, 203.0.113.5, 10.9.9.9", "http, https", client, &https);
	ck_assert_str_eq(client, "203.0.113.5");
	ck_assert_int_eq(https, 1);
	proxy_client("10.0.0.0/8 2001:db8::/32", "2001:db8::1", "2001:db8:aa::7", "http", client, &https);
	ck_assert_str_eq(client, "2001:db8:aa::7");
	ck_assert_int_eq(https, 0);
	/* A hop that is no address stops the walk at the proxy before it. */
	proxy_client("10.0.0.0/8", "10.1.2.3", "203.0.113.5, unknown", NULL, client, &https);
	ck_assert_str_eq(client, "10.1.2.3");
	/* No list: nobody is trusted. */
	proxy_client(NULL, "10.1.2.3", "203.0.113.5", "https", client, &https);
	ck_assert_str_eq(client, "10.1.2.3");
	ck_assert_int_eq(https, 0);
}
END_TEST

START_TEST(secrets_write_only)
{
	const char *why = "x";
	char *v = (char *)"sentinel";

	ck_assert_int_eq(is_set("zendesk.api_token"), 0);
	ck_assert_int_eq(config_set(db, "zendesk.api_token", "tok-123", &why), ST_OK);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(config_get_dup(db, "zendesk.api_token", &v), ST_DENIED);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(is_set("zendesk.api_token"), 1);
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.api_token", &v), ST_OK);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "tok-123");
	free(v);
	/* Kept apart from the readable configuration. */
	ck_assert_int_eq(count("SELECT count(*) FROM config WHERE value = ?", "tok-123"), 0);
	ck_assert_int_eq(count("SELECT count(*) FROM secrets WHERE name = ?", "zendesk.api_token"), 1);

	ck_assert_int_eq(config_set(db, "zendesk.api_token", "tok-456", &why), ST_OK);
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.api_token", &v), ST_OK);
	ck_assert_str_eq(v, "tok-456");
	free(v);

	ck_assert_int_eq(config_set(db, "zendesk.api_token", NULL, &why), ST_OK);
	ck_assert_int_eq(is_set("zendesk.api_token"), 0);
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.api_token", &v), ST_OK);
	ck_assert_ptr_null(v);

	/* Internal secrets by name. */
	ck_assert_int_eq(config_secret_put(db, "internal.thing", "value"), ST_OK);
	ck_assert_int_eq(config_secret_get_dup(db, "internal.thing", &v), ST_OK);
	ck_assert_str_eq(v, "value");
	free(v);
	ck_assert_int_eq(config_secret_get_dup(db, "internal.missing", &v), ST_OK);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(invalid_changes_nothing)
{
	const char *why = NULL;
	char *v = NULL;

	ck_assert_int_eq(config_set(db, "security.clock_skew_s", "100", &why), ST_OK);
	ck_assert_int_eq(config_set(db, "security.clock_skew_s", "301", &why), ST_INVALID);
	ck_assert_ptr_nonnull(why);
	ck_assert_uint_gt(strlen(why), 0);
	check_get("security.clock_skew_s", "100");

	ck_assert_int_eq(config_set(db, "zendesk.subdomain", "acme", &why), ST_OK);
	ck_assert_int_eq(config_set(db, "zendesk.subdomain", "not a label", &why), ST_INVALID);
	ck_assert_ptr_nonnull(why);
	check_get("zendesk.subdomain", "acme");

	ck_assert_int_eq(config_set(db, "transfers_enabled", "yes", &why), ST_INVALID);
	check_get("transfers_enabled", "false");
	ck_assert_int_eq(is_set("transfers_enabled"), 0);

	ck_assert_int_eq(config_set(db, "zendesk.api_base", "https://a.com?x", &why), ST_INVALID);
	check_get("zendesk.api_base", NULL);

	ck_assert_int_eq(config_set(db, "transfers.department", "bad\xff", &why), ST_INVALID);
	check_get("transfers.department", NULL);

	ck_assert_int_eq(config_set(db, "zendesk.shared_secret", "s3cret", &why), ST_OK);
	ck_assert_int_eq(config_set(db, "zendesk.shared_secret", "", &why), ST_INVALID);
	ck_assert_int_eq(config_secret_get_dup(db, "zendesk.shared_secret", &v), ST_OK);
	ck_assert_str_eq(v, "s3cret");
	free(v);

	ck_assert_int_eq(count("SELECT count(*) FROM config", NULL), 2);
}
END_TEST

/* token_mint's refusal for want of a setting: why names every missing one. */
static void mint_refused(const char *want_why)
{
	struct json_object *body = json_object_new_object(), *out = NULL;
	enum apierr err = APIERR_INTERNAL;
	const char *why = NULL;

	json_object_object_add(body, "token", json_object_new_string("a.b.c"));
	ck_assert_int_eq(token_mint(db, body, NULL, 1764000000, &out, &err, &why), ST_OK);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(err, APIERR_NOT_CONFIGURED);
	ck_assert_msg(why && strstr(why, want_why), "why: %s", why ? why : "(null)");
	json_object_put(body);
}

START_TEST(token_needs_the_signing_key)
{
	const char *why = NULL;

	mint_refused("zendesk.shared_secret and zendesk.messaging.jwt_key_id");
	ck_assert_int_eq(config_set(db, "zendesk.messaging.jwt_key_id", "app_64f1", &why), ST_OK);
	mint_refused("zendesk.shared_secret (");
	ck_assert_int_eq(config_set(db, "zendesk.shared_secret", "s3cret", &why), ST_OK);
	ck_assert_int_eq(config_set(db, "zendesk.messaging.jwt_key_id", NULL, &why), ST_OK);
	mint_refused("zendesk.messaging.jwt_key_id (");
	/* With both, the site token is next: visitor authentication is still off. */
	ck_assert_int_eq(config_set(db, "zendesk.messaging.jwt_key_id", "app_64f1", &why), ST_OK);
	mint_refused("visitor authentication");
}
END_TEST

/* lib/admin. */

START_TEST(admin_password)
{
	char *hash = NULL, *long_pw;
	struct admin_session sess = {0};
	enum admin_auth auth = ADMIN_AUTH_OK;
	int64_t retry = 0;
	int set = -1;

	ck_assert_int_eq(admin_password_is_set(db, &set), ST_OK);
	ck_assert_int_eq(set, 0);
	ck_assert_int_eq(admin_password_check(db, "whatever password"), ST_DENIED);

	ck_assert_int_eq(admin_password_set(db, "elevenchars"), ST_INVALID);  /* 11 */
	ck_assert_int_eq(admin_password_set(db, ""), ST_INVALID);
	ck_assert_int_eq(admin_password_is_set(db, &set), ST_OK);
	ck_assert_int_eq(set, 0);
	long_pw = repeat("p", ADMIN_PASSWORD_MAX + 1);
	ck_assert_int_eq(admin_password_set(db, long_pw), ST_INVALID);
	free(long_pw);

	ck_assert_int_eq(admin_password_set(db, "twelve chars"), ST_OK);      /* 12 */
	ck_assert_int_eq(admin_password_is_set(db, &set), ST_OK);
	ck_assert_int_eq(set, 1);
	ck_assert_int_eq(admin_password_check(db, "twelve chars"), ST_OK);
	ck_assert_int_eq(admin_password_check(db, "twelve chars "), ST_DENIED);
	ck_assert_int_eq(admin_password_check(db, "Twelve chars"), ST_DENIED);
	ck_assert_int_eq(admin_password_check(db, ""), ST_DENIED);
	/* Stored as a salted scrypt hash, not the password. */
	ck_assert_int_eq(config_secret_get_dup(db, "admin.password_hash", &hash), ST_OK);
	ck_assert_ptr_nonnull(hash);
	ck_assert_int_eq(strncmp(hash, "$scrypt$", 8), 0);
	ck_assert_ptr_null(strstr(hash, "twelve"));
	free(hash);

	/* A new password replaces the old one and ends the sessions. */
	ck_assert_int_eq(admin_login(db, "twelve chars", "192.0.2.1", 1000 * 1000, &sess, &retry), ST_OK);
	ck_assert_ptr_nonnull(sess.cookie);
	ck_assert_int_eq(admin_session_check(db, sess.cookie, NULL, 0, 1001, &auth), ST_OK);
	ck_assert_int_eq(auth, ADMIN_AUTH_OK);
	ck_assert_int_eq(admin_password_set(db, "another password"), ST_OK);
	ck_assert_int_eq(admin_session_check(db, sess.cookie, NULL, 0, 1002, &auth), ST_OK);
	ck_assert_int_eq(auth, ADMIN_AUTH_NO_SESSION);
	ck_assert_int_eq(admin_password_check(db, "twelve chars"), ST_DENIED);
	ck_assert_int_eq(admin_password_check(db, "another password"), ST_OK);
	admin_session_free(&sess);

	/* A corrupt stored hash denies rather than failing open. */
	ck_assert_int_eq(config_secret_put(db, "admin.password_hash", "not a hash"), ST_OK);
	ck_assert_int_eq(admin_password_check(db, "another password"), ST_DENIED);
}
END_TEST

/* lib/keys. */

START_TEST(keys_ensure_once)
{
	char *pem = (char *)"sentinel", *pem2 = NULL;
	BIO *bio;
	EVP_PKEY *pkey;

	ck_assert_int_eq(keys_current_public_dup(db, &pem), ST_NOT_FOUND);
	ck_assert_ptr_null(pem);
	ck_assert_int_eq(keys_ensure(db), ST_OK);
	ck_assert_int_eq(count("SELECT count(*) FROM service_keys", NULL), 1);
	ck_assert_int_eq(count("SELECT count(*) FROM service_keys WHERE retired_at IS NULL", NULL), 1);

	ck_assert_int_eq(keys_current_public_dup(db, &pem), ST_OK);
	ck_assert_ptr_nonnull(pem);
	ck_assert_int_eq(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27), 0);
	ck_assert_ptr_null(strstr(pem, "PRIVATE"));
	bio = BIO_new_mem_buf(pem, -1);
	ck_assert_ptr_nonnull(bio);
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ck_assert_ptr_nonnull(pkey);
	ck_assert_int_eq(EVP_PKEY_get_base_id(pkey), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(pkey), KEYS_RSA_BITS);
	EVP_PKEY_free(pkey);

	/* Idempotent: no second key, the same public key. */
	ck_assert_int_eq(keys_ensure(db), ST_OK);
	ck_assert_int_eq(keys_ensure(db), ST_OK);
	ck_assert_int_eq(count("SELECT count(*) FROM service_keys", NULL), 1);
	ck_assert_int_eq(keys_current_public_dup(db, &pem2), ST_OK);
	ck_assert_str_eq(pem, pem2);
	free(pem);
	free(pem2);
}
END_TEST

START_TEST(cors_origins)
{
	const char *list = "https://shop.example, https://127.0.0.1:8443\nhttps://b.example:8080";

	ck_assert_ptr_null(cors_origins_check(list));
	ck_assert_ptr_null(cors_origins_check(""));
	ck_assert(key("security.allowed_origins")->validate == cors_origins_check);
	ck_assert_ptr_nonnull(config_check(key("security.allowed_origins"), "http://shop.example"));
	for (const char *const *bad = (const char *const[]){
		     "http://shop.example", "https://shop.example/", "https://shop.example/x", "*", "https://*.shop.example",
		     "https://shop.example:443", "https://shop.example:65536", "https://shop.example:0",
		     "https://shop.example:", "https://", "shop.example", "https://user@shop.example",
		     "https://[::1]:8443", "https://shop.example.", "https://.shop.example", "https://shop.example?a",
		     NULL};
	     *bad; bad++)
		ck_assert_msg(cors_origins_check(*bad) != NULL, "%s accepted", *bad);
	ck_assert_int_eq(cors_origin_listed(list, "https://shop.example"), 1);
	ck_assert_int_eq(cors_origin_listed(list, "https://SHOP.example"), 1);
	ck_assert_int_eq(cors_origin_listed(list, "https://127.0.0.1:8443"), 1);
	ck_assert_int_eq(cors_origin_listed(list, "https://b.example:8080"), 1);
	ck_assert_int_eq(cors_origin_listed(list, "https://b.example"), 0);
	ck_assert_int_eq(cors_origin_listed(list, "https://shop.example:8443"), 0);
	ck_assert_int_eq(cors_origin_listed(list, "http://shop.example"), 0);
	ck_assert_int_eq(cors_origin_listed(list, "https://shop.exampl"), 0);
	ck_assert_int_eq(cors_origin_listed(list, "https://shop.example.evil"), 0);
	ck_assert_int_eq(cors_origin_listed(list, ""), 0);
	ck_assert_int_eq(cors_origin_listed(list, NULL), 0);
	ck_assert_int_eq(cors_origin_listed(NULL, "https://shop.example"), 0);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *check = tcase_create("check");
	TCase *store = tcase_create("store");
	TCase *admin = tcase_create("admin_keys");

	tcase_add_test(check, key_table);
	tcase_add_test(check, check_bool);
	tcase_add_test(check, check_int_range);
	tcase_add_test(check, check_dns_label);
	tcase_add_test(check, check_messaging_kid);
	tcase_add_test(check, normalize_pasted_values);
	tcase_add_test(check, check_public_url);
	tcase_add_test(check, check_url);
	tcase_add_test(check, check_email);
	tcase_add_test(check, check_max_length);
	tcase_add_test(check, check_utf8_and_controls);
	suite_add_tcase(s, check);

	tcase_add_checked_fixture(store, db_setup, db_teardown);
	tcase_set_timeout(store, 30);
	tcase_add_test(store, defaults_when_unset);
	tcase_add_test(store, unknown_keys);
	tcase_add_test(store, set_get_round_trip);
	tcase_add_test(store, secrets_write_only);
	tcase_add_test(store, sealed_at_rest);
	tcase_add_test(store, unsealed_refused);
	tcase_add_test(store, rate_limit_take);
	tcase_add_test(check, rate_limit_client);
	tcase_add_test(check, proxy_clients);
	tcase_add_test(check, cors_origins);
	tcase_add_test(store, invalid_changes_nothing);
	tcase_add_test(store, token_needs_the_signing_key);
	suite_add_tcase(s, store);

	/* scrypt and RSA key generation are slow under the sanitizers. */
	tcase_add_checked_fixture(admin, db_setup, db_teardown);
	tcase_set_timeout(admin, 120);
	tcase_add_test(admin, admin_password);
	tcase_add_test(admin, keys_ensure_once);
	suite_add_tcase(s, admin);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	snprintf(basedir, sizeof basedir, "/tmp/deskbridge-test-config-XXXXXX");
	if (!mkdtemp(basedir)) {
		perror("mkdtemp");
		return 1;
	}
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rm_rf(basedir);
	return failed ? 1 : 0;
}

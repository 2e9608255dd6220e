/* tests/fuzz/fuzz_bodies.c — libFuzzer harness for what the endpoints do with their JSON
 * bodies once lib/http has parsed them (fuzz_http covers the parsing): the first byte
 * picks the endpoint, the rest is the body.
 *   0  PATCH /api/setup/config     setup_config_patch
 *   1  POST /api/transfers          handoff_create, visitors not authenticated
 *   2  POST /api/transfers          handoff_create, visitors authenticated (the site's JWT)
 *   3  POST /api/token              token_mint
 * Each kind has its own SQLite file in a temporary folder, set up once, so a fuzzed
 * configuration never turns on a Zendesk that the other kinds would then call. */
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "handoff.h"
#include "keys.h"
#include "setup.h"
#include "sitekeys.h"
#include "status.h"
#include "token.h"
#include "vault.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *dbs[3];   /* patched; visitors not authenticated; authenticated */
static const char *const names[3] = {"patched", "anonymous", "authenticated"};
static char dir[] = "/tmp/deskbridge-fuzz-bodies-XXXXXX";

/* Leaves nothing behind in /tmp. */
static void remove_dir(void)
{
	static const char *const suffixes[] = {".db", ".db-wal", ".db-shm"};
	char path[512];

	for (int i = 0; i < 3; i++) {
		db_close(dbs[i]);
		for (int j = 0; j < 3; j++) {
			snprintf(path, sizeof path, "%s/%s%s", dir, names[i], suffixes[j]);
			unlink(path);
		}
	}
	snprintf(path, sizeof path, "%s/vault.key", dir);
	unlink(path);
	rmdir(dir);
}

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_bodies: %s failed\n", what);
		exit(1);
	}
}

static struct db *open_db(const char *dir, const char *name)
{
	char path[512];
	struct db *db = NULL;
	const char *why = NULL;
	int version = 0;

	snprintf(path, sizeof path, "%s/%s.db", dir, name);
	must(db_open(path, DB_OPEN_CREATE, &db) == ST_OK, "db_open");
	must(db_migrate(db, DESKBRIDGE_SRCDIR "/sql", &version) == ST_OK, "db_migrate");
	/* Speed over durability: these files live for one run. */
	sqlite3_exec(db_handle(db), "PRAGMA synchronous=OFF", NULL, NULL, NULL);
	must(keys_ensure(db) == ST_OK, "keys_ensure");
	must(config_set(db, "transfers_enabled", "true", &why) == ST_OK, "transfers_enabled");
	must(config_set(db, "limits.open_transfers_per_visitor", "1000", &why) == ST_OK, "open transfers");
	return db;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char key[600], *site_private = NULL, *site_public = NULL;
	struct json_object *site_keys = json_object_new_array(), *k = json_object_new_object();
	const char *why = NULL;

	(void)argc;
	(void)argv;
	must(mkdtemp(dir) != NULL, "mkdtemp");
	atexit(remove_dir);
	snprintf(key, sizeof key, "%s/vault.key", dir);
	setenv("DESKBRIDGE_KEY_FILE", key, 1);
	must(vault_key_create() == ST_OK && vault_load() == ST_OK, "the vault key");
	for (int i = 0; i < 3; i++)
		dbs[i] = open_db(dir, names[i]);
	must(crypto_rsa_generate_dup(2048, &site_private, &site_public) == ST_OK, "a site key");
	json_object_object_add(k, "kid", json_object_new_string("shop"));
	json_object_object_add(k, "pem", json_object_new_string(site_public));
	json_object_array_add(site_keys, k);
	must(sitekeys_replace(dbs[2], site_keys) == ST_OK, "sitekeys_replace");
	must(config_set(dbs[2], "security.authenticate_users", "true", &why) == ST_OK, "authenticate_users");
	must(config_secret_put(dbs[2], "zendesk.shared_secret", "fuzz-shared-secret-0123456789") == ST_OK,
	     "shared secret");
	must(config_set(dbs[2], "zendesk.messaging.jwt_key_id", "app_fuzz", &why) == ST_OK, "jwt key id");
	json_object_put(site_keys);
	free(site_private);
	free(site_public);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok;
	struct json_object *body, *out = NULL;
	struct handoff_refusal refusal;
	struct setup_error err;
	enum apierr api_err;
	const char *why;
	int kind;

	if (size < 1)
		return 0;
	kind = data[0] % 4;
	tok = json_tokener_new_ex(32);   /* the depth lib/http allows */
	body = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1 > 65536 ? 65536 : size - 1));
	json_tokener_free(tok);
	if (!json_object_is_type(body, json_type_object)) {
		json_object_put(body);
		return 0;
	}
	memset(&err, 0, sizeof err);
	switch (kind) {
	case 0:
		setup_config_patch(dbs[0], body, "fuzz", 1764000000, &err);
		break;
	case 1:
	case 2:
		handoff_create(dbs[kind], body, NULL, "192.0.2.1", 1764000000, &out, &refusal);
		break;
	default:
		token_mint(dbs[2], body, NULL, 1764000000, &out, &api_err, &why);
		break;
	}
	json_object_put(out);
	json_object_put(body);
	return 0;
}

/* lib/config.h — the typed configuration: every key, its type, default and validator
 * in one table; values in SQLite; secrets write-only. Not: the HTTP shape of
 * /api/setup/config, or the site public keys (their own table). */
#ifndef DESKBRIDGE_CONFIG_H
#define DESKBRIDGE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct db;

enum config_type {
	CONFIG_BOOL,     /* "true" / "false" */
	CONFIG_INT,      /* decimal, within [min, max] */
	CONFIG_TEXT,     /* UTF-8 up to max_len characters, then the key's validator */
	CONFIG_SECRET,   /* write-only: only whether it is set can be read back */
};

struct config_key {
	const char *name;            /* dotted, as in the API's JSON: "transfers.join_timeout_s" */
	enum config_type type;
	const char *default_value;   /* NULL: unset */
	int64_t min, max;            /* CONFIG_INT */
	size_t max_len;              /* CONFIG_TEXT and CONFIG_SECRET */
	/* NULL when valid, else why not, as a phrase ("must be a DNS label"). */
	const char *(*validate)(const char *value);
	int readonly;                /* state deskbridge records; no admin sets it */
};

const struct config_key *config_key_find(const char *name);
const struct config_key *config_keys(size_t *n);

/* The value as stored, from what an admin typed or pasted (caller frees): a Zendesk
 * subdomain loses surrounding white space, its scheme, path and ".zendesk.com" and is
 * lower-cased; a public URL loses white space and its trailing "/"; anything else is
 * kept as it is. Then config_check decides whether it is valid. */
int config_normalize_dup(const struct config_key *key, const char *value, char **out);

/* NULL when value is valid for key, else a phrase saying why not. */
const char *config_check(const struct config_key *key, const char *value);

/* The value or the default; *out is NULL when neither exists. Refuses secrets
 * (ST_DENIED): they are read only through config_secret_get_dup. Caller frees. */
int config_get_dup(struct db *db, const char *name, char **out);
int config_get_int(struct db *db, const char *name, int64_t *out);
int config_get_bool(struct db *db, const char *name, int *out);
/* Sets a normalized, validated value (ST_INVALID, with *why, when not valid); NULL unsets. */
int config_set(struct db *db, const char *name, const char *value, const char **why);
/* Whether a secret (sealed: see config_secret_get_dup), or a non-default value, is stored. */
int config_is_set(struct db *db, const char *name, int *out);

/* Secrets by name, for the key table's CONFIG_SECRET keys and for internal ones such
 * as the admin password hash. Caller frees; *out is NULL when unset, and when the
 * stored value is not sealed (refused and logged: see vault_check_sealed). */
int config_secret_get_dup(struct db *db, const char *name, char **out);
int config_secret_put(struct db *db, const char *name, const char *value);
/* Stores value only when name has none yet, or only an unsealed one (the first of
 * racing processes wins). */
int config_secret_put_new(struct db *db, const char *name, const char *value);
/* HMAC-SHA-256 of msg, base64url, under the secret key_name, which is made on first use
 * (of racing processes the first to store it wins, and all then use it). Caller frees. */
int config_secret_hmac_dup(struct db *db, const char *key_name, const char *msg, char **out);
/* Key rotation: re-seals every secret with the vault's new key (see vault.h); one that
 * is not sealed is left as it is, refused. */
int config_secrets_reseal(struct db *db);

#endif

/* lib/identity.c — site JWT -> visitor, over jwt, keys, sitekeys and OpenSSL. */
#include "identity.h"

#include <ctype.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "db.h"
#include "jsonnul.h"
#include "jwt.h"
#include "keys.h"
#include "pkeycache.h"
#include "sitekeys.h"
#include "status.h"
#include "utf8.h"

void identity_clear(struct identity *id)
{
	free(id->external_id);
	free(id->name);
	free(id->email);
	memset(id, 0, sizeof *id);
}

enum apierr identity_apierr(enum identity_error e)
{
	switch (e) {
	case IDENTITY_NOT_CONFIGURED: return APIERR_NOT_CONFIGURED;
	case IDENTITY_INVALID_TOKEN: return APIERR_INVALID_TOKEN;
	case IDENTITY_INVALID_PAYLOAD: return APIERR_INVALID_USER_PAYLOAD;
	case IDENTITY_ANONYMOUS_NOT_ALLOWED: return APIERR_ANONYMOUS_NOT_ALLOWED;
	default: return APIERR_INTERNAL;
	}
}

/* Decrypts every block with one key; ST_DENIED when any block does not open. */
static int decrypt_blocks(const char *private_pem, const unsigned char *cipher, size_t len,
			  unsigned char *plain, size_t *plain_len)
{
	EVP_PKEY_CTX *decrypter;
	size_t block, total = 0;

	*plain_len = 0;
	if (pkeycache_oaep_sha1_decrypter(private_pem, &decrypter) != ST_OK)
		return ST_DENIED;
	block = (size_t)EVP_PKEY_get_size(EVP_PKEY_CTX_get0_pkey(decrypter));
	if (block == 0 || len % block != 0)
		return ST_DENIED;
	for (size_t off = 0; off < len; off += block) {
		size_t out = block;
		if (EVP_PKEY_decrypt(decrypter, plain + total, &out, cipher + off, block) != 1)
			return ST_DENIED;
		total += out;
	}
	*plain_len = total;
	return ST_OK;
}

int identity_decrypt_payload_dup(const char *b64, size_t b64_len, char *const *private_pems,
				 size_t npems, char **plain, size_t *plain_len)
{
	unsigned char *cipher = NULL, *buf;
	size_t cipher_len = 0;
	int st;

	*plain = NULL;
	if (b64_len == 0 || b64_len > IDENTITY_PAYLOAD_MAX * 4 / 3 + 4)
		return ST_INVALID;
	st = crypto_b64_decode_dup(b64, b64_len, &cipher, &cipher_len);
	if (st != ST_OK)
		return st;
	buf = malloc(cipher_len + 1);
	if (!buf) {
		free(cipher);
		return ST_NOMEM;
	}
	st = ST_DENIED;
	for (size_t i = 0; st == ST_DENIED && i < npems; i++)
		st = decrypt_blocks(private_pems[i], cipher, cipher_len, buf, plain_len);
	free(cipher);
	if (st != ST_OK) {
		OPENSSL_cleanse(buf, cipher_len + 1);
		free(buf);
		return st == ST_DENIED ? ST_INVALID : st;
	}
	buf[*plain_len] = '\0';
	*plain = (char *)buf;
	return ST_OK;
}

static int has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* A sane address, not RFC 5322's every corner: one @, a non-empty local part, a
 * dotted domain of letters, digits and hyphens, nothing that breaks a header. */
static int email_ok(const char *e)
{
	const char *at = strchr(e, '@'), *d;

	if (!at || at == e || strchr(at + 1, '@') || strlen(e) > IDENTITY_EMAIL_MAX)
		return 0;
	for (const char *p = e; p < at; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || strchr("()<>,;:\\\"[]", *p))
			return 0;
	d = at + 1;
	if (!*d || *d == '.' || *d == '-' || d[strlen(d) - 1] == '.' || !strchr(d, '.') || strstr(d, ".."))
		return 0;
	for (const char *p = d; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return 0;
	return 1;
}

const char *identity_check_visitor(const char *name, const char *email)
{
	if (!name || !*name)
		return "the name is missing";
	if (utf8_count(name, strlen(name)) > IDENTITY_NAME_MAX || has_control(name))
		return "the name is longer than 255 characters or has control characters";
	if (!email)
		return "the email is missing";
	if (!email_ok(email))
		return "the email is not a valid address";
	return NULL;
}

int identity_parse_payload(const char *json, size_t len, char **name, char **email,
			   const char **why)
{
	struct json_tokener *tok = json_tokener_new_ex(8);
	struct json_object *obj, *n = NULL, *e = NULL;
	int st = ST_INVALID;

	*name = *email = NULL;
	if (!tok)
		return ST_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, json, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(obj, json_type_object))
		*why = "the user payload is not a JSON object";
	else if (jsonnul_check(json, len, obj, NULL, 0) != ST_OK)
		*why = "the user payload contains a NUL character";
	else if (!json_object_object_get_ex(obj, "name", &n) || !json_object_is_type(n, json_type_string))
		*why = "the user payload has no name";
	else if (!json_object_object_get_ex(obj, "email", &e) || !json_object_is_type(e, json_type_string))
		*why = "the user payload has no email";
	else if ((*why = identity_check_visitor(json_object_get_string(n), json_object_get_string(e))) == NULL)
		st = ST_OK;
	if (st == ST_OK) {
		*name = strdup(json_object_get_string(n));
		*email = strdup(json_object_get_string(e));
		if (!*name || !*email) {
			free(*name);
			free(*email);
			*name = *email = NULL;
			st = ST_NOMEM;
		}
	}
	json_object_put(obj);
	json_tokener_free(tok);
	return st;
}

int identity_anonymous(const char *sub, char **name, char **email)
{
	unsigned char digest[CRYPTO_SHA256_LEN];
	char hex[2 * CRYPTO_SHA256_LEN + 1];
	int st = crypto_sha256(sub, strlen(sub), digest);

	*name = *email = NULL;
	if (st != ST_OK)
		return st;
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	*name = malloc(16);
	*email = malloc(64);
	if (!*name || !*email) {
		free(*name);
		free(*email);
		*name = *email = NULL;
		return ST_NOMEM;
	}
	snprintf(*name, 16, "Visitor %.4s", hex);
	snprintf(*email, 64, "visitor-%.16s@anonymous.invalid", hex);
	return ST_OK;
}

/* Verifies the signature with the key the header names, or with any key. */
static int verify_signature(struct db *db, const struct jwt *jwt, int *verified, size_t *nkeys)
{
	struct sitekeys_pems pems;
	int st = sitekeys_pems_for(db, jwt_kid(jwt), &pems);

	*verified = 0;
	*nkeys = st == ST_OK ? pems.stored : 0;
	for (size_t i = 0; st == ST_OK && !*verified && i < pems.n; i++)
		*verified = jwt_verify_rs256(jwt, pems.pem[i]) == ST_OK;
	sitekeys_pems_free(&pems);
	return st;
}

static int refuse(enum identity_error *err, enum identity_error e, const char **why, const char *w)
{
	*err = e;
	*why = w;
	return ST_OK;
}

static int decrypt_identity(struct db *db, struct json_object *payload, int64_t now,
			    struct identity *out, enum identity_error *err, const char **why)
{
	struct keys_private keys;
	char *plain = NULL;
	size_t plain_len = 0;
	int st;

	if (!json_object_is_type(payload, json_type_string))
		return refuse(err, IDENTITY_INVALID_PAYLOAD, why, "user_payload must be a base64 string");
	st = keys_private_usable(db, now, &keys);
	if (st != ST_OK)
		return st;
	st = identity_decrypt_payload_dup(json_object_get_string(payload),
					  (size_t)json_object_get_string_len(payload), keys.pem, keys.n,
					  &plain, &plain_len);
	keys_private_free(&keys);
	if (st == ST_INVALID)
		return refuse(err, IDENTITY_INVALID_PAYLOAD, why,
			      "user_payload cannot be decrypted with this deployment's public key");
	if (st == ST_OK) {
		st = identity_parse_payload(plain, plain_len, &out->name, &out->email, why);
		OPENSSL_cleanse(plain, plain_len);
		free(plain);
		if (st == ST_INVALID)
			return refuse(err, IDENTITY_INVALID_PAYLOAD, why, *why);
	}
	out->authenticated = 1;
	return st;
}

/* Name and email of a verified token's visitor: from user_payload, or the anonymous
 * placeholder when the policy allows it. */
static int resolve_visitor(struct db *db, struct json_object *claims, int64_t now,
			   struct identity *out, enum identity_error *err, const char **why)
{
	struct json_object *sub, *payload = NULL;
	int anonymous_ok = 0, st;

	json_object_object_get_ex(claims, "sub", &sub);
	out->external_id = strdup(json_object_get_string(sub));
	if (!out->external_id)
		return ST_NOMEM;
	if (json_object_object_get_ex(claims, "user_payload", &payload) && payload)
		return decrypt_identity(db, payload, now, out, err, why);
	st = config_get_bool(db, "security.allow_anonymous_transfers", &anonymous_ok);
	if (st != ST_OK)
		return st;
	if (!anonymous_ok)
		return refuse(err, IDENTITY_ANONYMOUS_NOT_ALLOWED, why,
			      "the token has no user_payload and anonymous transfers are off");
	return identity_anonymous(out->external_id, &out->name, &out->email);
}

int identity_verify(struct db *db, const char *token, size_t token_len, int64_t now,
		    struct identity *out, enum identity_error *err, const char **why)
{
	struct jwt_claim_rules rules = {NULL, 60};
	struct jwt *jwt = NULL;
	char *issuer = NULL;
	int on = 0, verified = 0, st;
	size_t nkeys = 0;

	memset(out, 0, sizeof *out);
	*err = IDENTITY_OK;
	*why = NULL;
	st = config_get_bool(db, "security.authenticate_users", &on);
	if (st != ST_OK)
		return st;
	if (!on)
		return refuse(err, IDENTITY_NOT_CONFIGURED, why, "visitor authentication is turned off");
	if (jwt_parse(token, token_len, &jwt) != ST_OK)
		return refuse(err, IDENTITY_INVALID_TOKEN, why, "the token is not a well-formed JWS");
	st = verify_signature(db, jwt, &verified, &nkeys);
	if (st == ST_OK)
		st = config_get_int(db, "security.clock_skew_s", &rules.clock_skew_s);
	if (st == ST_OK)
		st = config_get_dup(db, "security.issuer", &issuer);
	rules.issuer = issuer;
	if (st == ST_OK && nkeys == 0)
		refuse(err, IDENTITY_NOT_CONFIGURED, why, "no site public key is configured");
	else if (st == ST_OK && !verified)
		refuse(err, IDENTITY_INVALID_TOKEN, why,
		       "the signature does not verify with a configured RS256 site key");
	else if (st == ST_OK && jwt_check_claims(jwt, &rules, now, why) != ST_OK)
		*err = IDENTITY_INVALID_TOKEN;
	else if (st == ST_OK)
		st = resolve_visitor(db, jwt_claims(jwt), now, out, err, why);
	free(issuer);
	jwt_free(jwt);
	if (st != ST_OK || *err != IDENTITY_OK)
		identity_clear(out);
	return st;
}

int identity_typed(const char *name, const char *email, struct identity *id, const char **why)
{
	size_t n;

	if ((*why = identity_check_visitor(name, email)) != NULL)
		return ST_INVALID;
	n = strlen(email) + 12;
	id->external_id = malloc(n);
	id->name = strdup(name);
	id->email = strdup(email);
	if (!id->external_id || !id->name || !id->email)
		return ST_NOMEM;
	snprintf(id->external_id, n, "unverified:%s", email);
	return ST_OK;
}

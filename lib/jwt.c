/* lib/jwt.c — compact JWS over OpenSSL and json-c. */
#include "jwt.h"

#include <ctype.h>
#include <json-c/json.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jsonnul.h"
#include "pkeycache.h"
#include "status.h"

struct jwt {
	struct json_object *header;
	struct json_object *claims;
	char *signing_input;          /* "header.claims", as received */
	unsigned char *signature;
	size_t signature_len;
};

/* Members at the top level of a JSON object text that json-c has already accepted:
 * one ':' each, outside strings. json-c keeps only the last of duplicate names, so a
 * count above its member count reveals a duplicate however the name was escaped. */
static size_t top_level_members(const char *s, size_t len)
{
	size_t members = 0;
	int depth = 0, in_string = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == ':' && depth == 1) {
			members++;
		}
	}
	return members;
}

static int parse_segment(const char *b64, size_t b64_len, struct json_object **out)
{
	unsigned char *raw = NULL;
	size_t raw_len = 0, end;
	struct json_tokener *tok;
	int st = crypto_b64url_decode_dup(b64, b64_len, &raw, &raw_len);

	*out = NULL;
	if (st != ST_OK)
		return st;
	if (raw_len == 0 || raw_len > JWT_MAX_SEGMENT_JSON) {
		free(raw);
		return ST_INVALID;
	}
	tok = json_tokener_new_ex(16);
	if (!tok) {
		free(raw);
		return ST_NOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	*out = json_tokener_parse_ex(tok, (const char *)raw, (int)raw_len);
	end = json_tokener_get_parse_end(tok);
	while (end < raw_len && isspace(raw[end]))
		end++;
	if (json_tokener_get_error(tok) != json_tokener_success || end != raw_len ||
	    !json_object_is_type(*out, json_type_object) ||
	    top_level_members((const char *)raw, raw_len) != (size_t)json_object_object_length(*out) ||
	    jsonnul_check((const char *)raw, raw_len, *out, NULL, 0) != ST_OK) {
		json_object_put(*out);
		*out = NULL;
		st = ST_INVALID;
	}
	json_tokener_free(tok);
	free(raw);
	return st;
}

int jwt_parse(const char *token, size_t len, struct jwt **out)
{
	const char *dot1, *dot2;
	struct jwt *jwt;
	int st;

	*out = NULL;
	if (len == 0 || len > JWT_MAX_LEN || memchr(token, '\0', len))
		return ST_INVALID;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + len ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return ST_INVALID;
	jwt = calloc(1, sizeof *jwt);
	if (!jwt)
		return ST_NOMEM;
	st = parse_segment(token, (size_t)(dot1 - token), &jwt->header);
	if (st == ST_OK)
		st = parse_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1), &jwt->claims);
	if (st == ST_OK)
		st = crypto_b64url_decode_dup(dot2 + 1, len - (size_t)(dot2 + 1 - token),
					      &jwt->signature, &jwt->signature_len);
	if (st == ST_OK) {
		jwt->signing_input = strndup(token, (size_t)(dot2 - token));
		if (!jwt->signing_input)
			st = ST_NOMEM;
	}
	if (st != ST_OK) {
		jwt_free(jwt);
		return st;
	}
	*out = jwt;
	return ST_OK;
}

void jwt_free(struct jwt *jwt)
{
	if (!jwt)
		return;
	json_object_put(jwt->header);
	json_object_put(jwt->claims);
	free(jwt->signing_input);
	free(jwt->signature);
	free(jwt);
}

static const char *header_string(const struct jwt *jwt, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(jwt->header, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *jwt_alg(const struct jwt *jwt)
{
	return header_string(jwt, "alg");
}

const char *jwt_kid(const struct jwt *jwt)
{
	return header_string(jwt, "kid");
}

struct json_object *jwt_claims(const struct jwt *jwt)
{
	return jwt->claims;
}

int jwt_verify_rs256(const struct jwt *jwt, const char *public_pem)
{
	const char *alg = jwt_alg(jwt);
	unsigned char digest[CRYPTO_SHA256_LEN];
	EVP_PKEY_CTX *verifier;

	/* Only RS256, and no header extension we would have to understand. */
	if (!alg || strcmp(alg, "RS256") != 0 || json_object_object_get_ex(jwt->header, "crit", NULL))
		return ST_DENIED;
	if (pkeycache_rs256_verifier(public_pem, &verifier) != ST_OK ||
	    crypto_sha256(jwt->signing_input, strlen(jwt->signing_input), digest) != ST_OK)
		return ST_DENIED;
	return EVP_PKEY_verify(verifier, jwt->signature, jwt->signature_len, digest, sizeof digest) == 1
	       ? ST_OK : ST_DENIED;
}

/* A NumericDate claim: *present is 0 when absent; ST_INVALID when not a number. */
static int numeric_date(struct json_object *claims, const char *name, int *present, double *out)
{
	struct json_object *v;

	*present = json_object_object_get_ex(claims, name, &v);
	if (!*present)
		return ST_OK;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return ST_INVALID;
	*out = json_object_get_double(v);
	return isfinite(*out) ? ST_OK : ST_INVALID;
}

static int required_string(struct json_object *claims, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(claims, name, &v) && json_object_is_type(v, json_type_string) &&
	       json_object_get_string_len(v) > 0;
}

int jwt_check_claims(const struct jwt *jwt, const struct jwt_claim_rules *rules, int64_t now,
		     const char **why)
{
	double exp = 0, nbf = 0, iat = 0, skew = (double)rules->clock_skew_s;
	int has_exp, has_nbf, has_iat;
	struct json_object *iss;

	if (numeric_date(jwt->claims, "exp", &has_exp, &exp) != ST_OK ||
	    numeric_date(jwt->claims, "nbf", &has_nbf, &nbf) != ST_OK ||
	    numeric_date(jwt->claims, "iat", &has_iat, &iat) != ST_OK)
		*why = "a time claim is not a number";
	else if (!has_exp)
		*why = "the exp claim is missing";
	else if (exp + skew <= (double)now)
		*why = "the token has expired";
	else if (exp > (double)now + JWT_MAX_AHEAD_S + skew)
		*why = "exp is more than 24 hours ahead";
	else if (has_nbf && nbf > (double)now + skew)
		*why = "the token is not valid yet (nbf)";
	else if (has_iat && iat > (double)now + skew)
		*why = "the token was issued in the future (iat)";
	else if (!required_string(jwt->claims, "sub"))
		*why = "the sub claim is missing";
	else if (!required_string(jwt->claims, "iss"))
		*why = "the iss claim is missing";
	else if (!required_string(jwt->claims, "acr"))
		*why = "the acr claim is missing";
	else if (rules->issuer && json_object_object_get_ex(jwt->claims, "iss", &iss) &&
		 strcmp(json_object_get_string(iss), rules->issuer) != 0)
		*why = "the issuer is not the configured one";
	else
		return ST_OK;
	return ST_DENIED;
}

int jwt_hs256_signature_dup(const char *signing_input, const void *key, size_t key_len, char **out)
{
	return crypto_hmac_sha256_b64url_dup(key, key_len, signing_input, out);
}

static int b64_json_dup(struct json_object *obj, char **out)
{
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE);

	return crypto_b64url_encode_dup(text, strlen(text), out);
}

int jwt_sign_hs256_dup(const char *kid, struct json_object *claims, const void *key, size_t key_len,
		       char **out)
{
	struct json_object *header = json_object_new_object();
	char *h = NULL, *c = NULL, *sig = NULL, *input = NULL;
	size_t n;
	int st;

	json_object_object_add(header, "alg", json_object_new_string("HS256"));
	json_object_object_add(header, "typ", json_object_new_string("JWT"));
	json_object_object_add(header, "kid", json_object_new_string(kid));
	st = b64_json_dup(header, &h);
	if (st == ST_OK)
		st = b64_json_dup(claims, &c);
	if (st == ST_OK) {
		n = strlen(h) + strlen(c) + 2;
		input = malloc(n);
		st = input ? ST_OK : ST_NOMEM;
	}
	if (st == ST_OK) {
		snprintf(input, n, "%s.%s", h, c);
		st = jwt_hs256_signature_dup(input, key, key_len, &sig);
	}
	if (st == ST_OK) {
		n = strlen(input) + strlen(sig) + 2;
		*out = malloc(n);
		if (*out)
			snprintf(*out, n, "%s.%s", input, sig);
		else
			st = ST_NOMEM;
	}
	json_object_put(header);
	free(h);
	free(c);
	free(sig);
	free(input);
	return st;
}

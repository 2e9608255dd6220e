/* lib/jwt.h — compact JWS: strict parsing, RS256 verification against a set of
 * public keys, claim checks, HS256 signing. Not: which keys or claims a site must
 * use (identity.h), or the user payload. */
#ifndef DESKBRIDGE_JWT_H
#define DESKBRIDGE_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_LEN 8192          /* a whole compact token */
#define JWT_MAX_SEGMENT_JSON 4096 /* decoded header or claims */
#define JWT_MAX_AHEAD_S (24 * 60 * 60)

struct jwt;   /* opaque: one parsed, not yet verified token */
struct json_object;

/* Parses "header.claims.signature": exactly three non-empty segments of strict
 * base64url, header and claims JSON objects without duplicate member names or NUL
 * characters, within the size limits. ST_INVALID for anything else. */
int jwt_parse(const char *token, size_t len, struct jwt **out);
void jwt_free(struct jwt *jwt);

const char *jwt_alg(const struct jwt *jwt);               /* NULL when absent */
const char *jwt_kid(const struct jwt *jwt);               /* NULL when absent */
struct json_object *jwt_claims(const struct jwt *jwt);    /* borrowed */

/* ST_OK when alg is RS256 and the signature verifies with the PEM public key;
 * ST_DENIED otherwise (any other alg included, "none" and HS256 among them). */
int jwt_verify_rs256(const struct jwt *jwt, const char *public_pem);

struct jwt_claim_rules {
	const char *issuer;     /* when not NULL, iss must equal it */
	int64_t clock_skew_s;   /* allowed for exp, nbf and iat */
};

/* Checks exp (required, not past, at most JWT_MAX_AHEAD_S ahead), nbf and iat (not in
 * the future), and the required string claims sub, iss, acr. *why names the first
 * failure (a phrase, static) when ST_DENIED. */
int jwt_check_claims(const struct jwt *jwt, const struct jwt_claim_rules *rules, int64_t now,
		     const char **why);

/* base64url(HMAC-SHA256(key, signing_input)); caller frees. */
int jwt_hs256_signature_dup(const char *signing_input, const void *key, size_t key_len,
			    char **out);
/* A compact HS256 token over claims (borrowed), its header exactly
 * {"alg":"HS256","typ":"JWT","kid":kid}; caller frees. */
int jwt_sign_hs256_dup(const char *kid, struct json_object *claims, const void *key, size_t key_len,
		       char **out);

#endif

/* lib/crypto.h — the cryptographic primitives the rest of lib/ shares, all over
 * OpenSSL: random tokens, base64url, SHA-256, constant-time comparison, password
 * hashing (scrypt) and RSA key pairs. Not: JWTs or payload decryption (jwt.h, identity.h). */
#ifndef DESKBRIDGE_CRYPTO_H
#define DESKBRIDGE_CRYPTO_H

#include <stddef.h>

#define CRYPTO_SHA256_LEN 32

int crypto_random(void *buf, size_t len);

/* A new random token of nbytes of entropy, base64url without padding; caller frees. */
int crypto_token_new(size_t nbytes, char **out);

/* Base64url without padding; caller frees *out. */
int crypto_b64url_encode_dup(const void *data, size_t len, char **out);
/* Strict: refuses padding, whitespace and non-canonical trailing bits; caller frees. */
int crypto_b64url_decode_dup(const char *text, size_t text_len, unsigned char **out, size_t *out_len);
/* Standard base64 (RFC 4648 section 4), padding optional but correct when present;
 * refuses whitespace and non-canonical trailing bits; caller frees. */
int crypto_b64_decode_dup(const char *text, size_t text_len, unsigned char **out, size_t *out_len);

int crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN]);
/* base64url(HMAC-SHA256(key, text)); caller frees. */
int crypto_hmac_sha256_b64url_dup(const void *key, size_t key_len, const char *text, char **out);

/* 1 when equal; the time taken depends only on len. */
int crypto_equal(const void *a, const void *b, size_t len);

/* "$scrypt$ln=15,r=8,p=1$<salt>$<hash>"; caller frees *out. */
int crypto_password_hash_dup(const char *password, char **out);
/* ST_OK when it matches, ST_DENIED when not, ST_INVALID for a malformed stored hash. */
int crypto_password_verify(const char *password, const char *stored);

/* A new RSA key pair as PEM (PKCS#8 private, SubjectPublicKeyInfo public); caller frees both. */
int crypto_rsa_generate_dup(int bits, char **private_pem, char **public_pem);

#endif

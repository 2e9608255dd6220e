/* lib/pkeycache.h — parsed RSA keys kept for the life of a FastCGI process.
 * OpenSSL 3 decodes a PEM key through its provider machinery, which costs more than
 * the RSA operation that follows; a handler serving many requests parses each key once.
 * Keys are found by the SHA-256 of their PEM text, so a rotated or replaced key is
 * simply a different entry. Not: where keys come from (keys.h, sitekeys.h). */
#ifndef DESKBRIDGE_PKEYCACHE_H
#define DESKBRIDGE_PKEYCACHE_H

#include <openssl/evp.h>

/* *out is a new reference to the key the PEM holds (caller EVP_PKEY_free()s it);
 * ST_INVALID when the PEM holds no such key. */
int pkeycache_public(const char *pem, EVP_PKEY **out);

/* *ctx is the key's context set up for one operation. The cache owns it; it stays valid
 * until the next pkeycache call, which may replace the key. ST_INVALID when the PEM
 * holds no RSA key of that kind. */
/* Verifies PKCS#1 v1.5 signatures over a SHA-256 digest (RS256). */
int pkeycache_rs256_verifier(const char *pem, EVP_PKEY_CTX **ctx);
/* Decrypts RSA-OAEP with SHA-1 and MGF1-SHA-1, node-rsa's default padding. */
int pkeycache_oaep_sha1_decrypter(const char *pem, EVP_PKEY_CTX **ctx);

#endif

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
int pkeycache_private(const char *pem, EVP_PKEY **out);
int pkeycache_public(const char *pem, EVP_PKEY **out);

#endif

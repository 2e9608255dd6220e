/* lib/crypto.c — primitives over OpenSSL 3. */
#include "crypto.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

/* scrypt work factor: N = 2^15, r = 8 needs 32 MiB and about 0.1 s per login, which
 * makes guessing offline expensive while keeping a login prompt snappy. */
#define CRYPTO_SCRYPT_LN 15
#define CRYPTO_SCRYPT_R 8
#define CRYPTO_SCRYPT_P 1
#define CRYPTO_SCRYPT_MAXMEM (256UL * 1024 * 1024)
#define CRYPTO_SALT_LEN 16
#define CRYPTO_HASH_LEN 32

int crypto_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? ST_OK : ST_CRYPTO;
}

int crypto_token_new(size_t nbytes, char **out)
{
	unsigned char raw[64];
	int st;

	if (nbytes > sizeof raw)
		return ST_INVALID;
	st = crypto_random(raw, nbytes);
	if (st == ST_OK)
		st = crypto_b64url_encode_dup(raw, nbytes, out);
	OPENSSL_cleanse(raw, sizeof raw);
	return st;
}

static int b64_decode(const signed char *values, const char *text, size_t n, unsigned char **out,
		      size_t *out_len);

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int crypto_b64url_encode_dup(const void *data, size_t len, char **out)
{
	const unsigned char *in = data;
	char *s = malloc(len / 3 * 4 + 5);
	size_t j = 0, i = 0;

	if (!s)
		return ST_NOMEM;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		s[j++] = b64url_alphabet[v >> 18 & 63];
		s[j++] = b64url_alphabet[v >> 12 & 63];
		s[j++] = b64url_alphabet[v >> 6 & 63];
		s[j++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		s[j++] = b64url_alphabet[v >> 18 & 63];
		s[j++] = b64url_alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		s[j++] = b64url_alphabet[v >> 18 & 63];
		s[j++] = b64url_alphabet[v >> 12 & 63];
		s[j++] = b64url_alphabet[v >> 6 & 63];
	}
	s[j] = '\0';
	*out = s;
	return ST_OK;
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Each letter's value, -1 for what is not a letter, in a table filled on first use:
 * every token request decodes a sealed key of a few kilobytes, and testing each letter
 * against the ranges cost about 10 us of it. */
struct b64_reverse {
	int ready;
	signed char value[256];
};

static const signed char *b64_values(const char *alphabet, struct b64_reverse *rev)
{
	if (!rev->ready) {
		memset(rev->value, -1, sizeof rev->value);
		for (int i = 0; i < 64; i++)
			rev->value[(unsigned char)alphabet[i]] = (signed char)i;
		rev->ready = 1;
	}
	return rev->value;
}

int crypto_b64url_decode_dup(const char *text, size_t n, unsigned char **out, size_t *out_len)
{
	static struct b64_reverse rev;

	return b64_decode(b64_values(b64url_alphabet, &rev), text, n, out, out_len);
}

int crypto_b64_decode_dup(const char *text, size_t n, unsigned char **out, size_t *out_len)
{
	static struct b64_reverse rev;

	/* Padding is all or nothing: a padded text is a whole number of quads. */
	if (n >= 4 && n % 4 == 0 && text[n - 1] == '=')
		n -= text[n - 2] == '=' ? 2 : 1;
	return b64_decode(b64_values(b64_alphabet, &rev), text, n, out, out_len);
}

static int b64_decode(const signed char *values, const char *text, size_t n, unsigned char **out,
		      size_t *out_len)
{
	unsigned char *d;
	size_t j = 0, i = 0;
	int v[4];

	if (n % 4 == 1)
		return ST_INVALID;
	d = malloc(n / 4 * 3 + 3);
	if (!d)
		return ST_NOMEM;
	for (; i < n; i += 4) {
		size_t chunk = n - i < 4 ? n - i : 4;
		for (size_t k = 0; k < 4; k++)
			v[k] = k < chunk ? values[(unsigned char)text[i + k]] : 0;
		for (size_t k = 0; k < chunk; k++) {
			if (v[k] < 0) {
				free(d);
				return ST_INVALID;
			}
		}
		d[j++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (chunk > 2)
			d[j++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (chunk > 3)
			d[j++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
		/* Leftover bits of a short final chunk must be zero, or two texts would
		 * decode to the same bytes. */
		if ((chunk == 2 && (v[1] & 15)) || (chunk == 3 && (v[2] & 3))) {
			free(d);
			return ST_INVALID;
		}
	}
	*out = d;
	*out_len = j;
	return ST_OK;
}

int crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256_LEN])
{
	/* Fetched and allocated once, held for the life of the process: every poll hashes
	 * its secret, and looking the algorithm up and allocating a context each time cost
	 * more than the hashing. */
	static EVP_MD *sha256;
	static EVP_MD_CTX *ctx;
	unsigned int n = 0;

	if (!sha256 && !(sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
		return ST_CRYPTO;
	if (!ctx && !(ctx = EVP_MD_CTX_new()))
		return ST_NOMEM;
	return EVP_DigestInit_ex2(ctx, sha256, NULL) == 1 && EVP_DigestUpdate(ctx, data, len) == 1 &&
	       EVP_DigestFinal_ex(ctx, out, &n) == 1 ? ST_OK : ST_CRYPTO;
}

int crypto_hmac_sha256_b64url_dup(const void *key, size_t key_len, const char *text, char **out)
{
	/* Set up once for the life of the process, like crypto_sha256: every token request
	 * signs a JWT, and the one-shot EVP_Q_mac looked up HMAC and SHA-256 each time. */
	static EVP_MAC_CTX *ctx;
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;

	if (!ctx) {
		EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
			OSSL_PARAM_construct_end(),
		};
		ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
		EVP_MAC_free(hmac);
		if (ctx && EVP_MAC_CTX_set_params(ctx, params) != 1) {
			EVP_MAC_CTX_free(ctx);
			ctx = NULL;
		}
		if (!ctx)
			return ST_CRYPTO;
	}
	if (EVP_MAC_init(ctx, key, key_len, NULL) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)text, strlen(text)) != 1 ||
	    EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) != 1)
		return ST_CRYPTO;
	return crypto_b64url_encode_dup(mac, mac_len, out);
}

int crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

static int scrypt(const char *password, const unsigned char *salt, size_t salt_len,
		  int ln, int r, int p, unsigned char *out, size_t out_len)
{
	return EVP_PBE_scrypt(password, strlen(password), salt, salt_len, 1ULL << ln,
			      (uint64_t)r, (uint64_t)p, CRYPTO_SCRYPT_MAXMEM, out, out_len) == 1
		       ? ST_OK
		       : ST_CRYPTO;
}

int crypto_password_hash_dup(const char *password, char **out)
{
	unsigned char salt[CRYPTO_SALT_LEN], hash[CRYPTO_HASH_LEN];
	char *salt_s = NULL, *hash_s = NULL;
	int st;

	st = crypto_random(salt, sizeof salt);
	if (st == ST_OK)
		st = scrypt(password, salt, sizeof salt, CRYPTO_SCRYPT_LN, CRYPTO_SCRYPT_R,
			    CRYPTO_SCRYPT_P, hash, sizeof hash);
	if (st == ST_OK)
		st = crypto_b64url_encode_dup(salt, sizeof salt, &salt_s);
	if (st == ST_OK)
		st = crypto_b64url_encode_dup(hash, sizeof hash, &hash_s);
	if (st == ST_OK) {
		size_t n = strlen(salt_s) + strlen(hash_s) + 64;
		*out = malloc(n);
		if (*out)
			snprintf(*out, n, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", CRYPTO_SCRYPT_LN,
				 CRYPTO_SCRYPT_R, CRYPTO_SCRYPT_P, salt_s, hash_s);
		else
			st = ST_NOMEM;
	}
	OPENSSL_cleanse(hash, sizeof hash);
	free(salt_s);
	free(hash_s);
	return st;
}

int crypto_password_verify(const char *password, const char *stored)
{
	char salt_s[64], hash_s[128];
	unsigned char *salt = NULL, *want = NULL, got[CRYPTO_HASH_LEN];
	size_t salt_len = 0, want_len = 0;
	int ln, r, p, end = 0, st;

	if (sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%63[A-Za-z0-9_-]$%127[A-Za-z0-9_-]%n", &ln, &r,
		   &p, salt_s, hash_s, &end) != 5 || stored[end] != '\0' ||
	    ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 4)
		return ST_INVALID;
	st = crypto_b64url_decode_dup(salt_s, strlen(salt_s), &salt, &salt_len);
	if (st == ST_OK)
		st = crypto_b64url_decode_dup(hash_s, strlen(hash_s), &want, &want_len);
	if (st == ST_OK && want_len != sizeof got)
		st = ST_INVALID;
	if (st == ST_OK)
		st = scrypt(password, salt, salt_len, ln, r, p, got, sizeof got);
	if (st == ST_OK && !crypto_equal(got, want, sizeof got))
		st = ST_DENIED;
	OPENSSL_cleanse(got, sizeof got);
	free(salt);
	free(want);
	return st;
}

static int bio_to_dup(BIO *bio, char **out)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);

	*out = len > 0 ? strndup(data, (size_t)len) : NULL;
	return *out ? ST_OK : ST_NOMEM;
}

int crypto_rsa_generate_dup(int bits, char **private_pem, char **public_pem)
{
	EVP_PKEY *key = EVP_RSA_gen((unsigned int)bits);
	BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
	int st = key && priv && pub ? ST_OK : ST_CRYPTO;

	*private_pem = *public_pem = NULL;
	if (st == ST_OK && (PEM_write_bio_PrivateKey(priv, key, NULL, NULL, 0, NULL, NULL) != 1 ||
			    PEM_write_bio_PUBKEY(pub, key) != 1))
		st = ST_CRYPTO;
	if (st == ST_OK)
		st = bio_to_dup(priv, private_pem);
	if (st == ST_OK)
		st = bio_to_dup(pub, public_pem);
	if (st != ST_OK) {
		free(*private_pem);
		free(*public_pem);
		*private_pem = *public_pem = NULL;
	}
	BIO_free(priv);
	BIO_free(pub);
	EVP_PKEY_free(key);
	return st;
}

/* lib/pkeycache.c — a few parsed keys per process, replaced round-robin. */
#include "pkeycache.h"

#include <openssl/pem.h>
#include <string.h>

#include "crypto.h"
#include "status.h"

/* The service key, the one retired in the last 24 h, and a handful of site keys. */
#define PKEYCACHE_SLOTS 8

struct slot {
	unsigned char digest[CRYPTO_SHA256_LEN];
	int is_private;
	EVP_PKEY *key;   /* owned by the cache */
};

static struct slot slots[PKEYCACHE_SLOTS];
static size_t next_victim;

static int lookup(const char *pem, int is_private, EVP_PKEY **out)
{
	unsigned char digest[CRYPTO_SHA256_LEN];
	struct slot *s;
	BIO *bio;
	EVP_PKEY *key;
	int st = crypto_sha256(pem, strlen(pem), digest);

	*out = NULL;
	if (st != ST_OK)
		return st;
	for (size_t i = 0; i < PKEYCACHE_SLOTS; i++) {
		s = &slots[i];
		if (s->key && s->is_private == is_private && memcmp(s->digest, digest, sizeof digest) == 0)
			return EVP_PKEY_up_ref(s->key) == 1 ? (*out = s->key, ST_OK) : ST_CRYPTO;
	}
	bio = BIO_new_mem_buf(pem, -1);
	if (!bio)
		return ST_NOMEM;
	key = is_private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
			 : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!key)
		return ST_INVALID;
	s = &slots[next_victim];
	next_victim = (next_victim + 1) % PKEYCACHE_SLOTS;
	EVP_PKEY_free(s->key);
	memcpy(s->digest, digest, sizeof digest);
	s->is_private = is_private;
	s->key = key;
	return EVP_PKEY_up_ref(key) == 1 ? (*out = key, ST_OK) : ST_CRYPTO;
}

int pkeycache_private(const char *pem, EVP_PKEY **out)
{
	return lookup(pem, 1, out);
}

int pkeycache_public(const char *pem, EVP_PKEY **out)
{
	return lookup(pem, 0, out);
}

/* lib/pkeycache.c — a few parsed keys per process, replaced round-robin. */
#include "pkeycache.h"

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <string.h>

#include "crypto.h"
#include "status.h"

/* The service key, the one retired in the last 24 h, and a handful of site keys. */
#define PKEYCACHE_SLOTS 8

/* A context is set up for its operation once and reused: OpenSSL 3 looks up the
 * provider's implementation and sets the padding parameters on every set-up, which cost
 * an RS256 check two thirds as much again as the RSA public-key operation itself. */
struct slot {
	unsigned char digest[CRYPTO_SHA256_LEN];
	int is_private;
	EVP_PKEY *key;            /* owned by the cache, as is the context */
	/* Made on first use: RS256 verification for a public key, RSA-OAEP (SHA-1)
	 * decryption for a private one. */
	EVP_PKEY_CTX *operation;
};

static struct slot slots[PKEYCACHE_SLOTS];
static size_t next_victim;

static void slot_clear(struct slot *s)
{
	EVP_PKEY_CTX_free(s->operation);
	EVP_PKEY_free(s->key);
	memset(s, 0, sizeof *s);
}

/* The slot holding the PEM's key, parsing it into a slot when no slot does. */
static int lookup(const char *pem, int is_private, struct slot **out)
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
		if (s->key && s->is_private == is_private && memcmp(s->digest, digest, sizeof digest) == 0) {
			*out = s;
			return ST_OK;
		}
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
	slot_clear(s);
	memcpy(s->digest, digest, sizeof digest);
	s->is_private = is_private;
	s->key = key;
	*out = s;
	return ST_OK;
}

int pkeycache_public(const char *pem, EVP_PKEY **out)
{
	struct slot *s;
	int st = lookup(pem, 0, &s);

	*out = NULL;
	if (st != ST_OK)
		return st;
	return EVP_PKEY_up_ref(s->key) == 1 ? (*out = s->key, ST_OK) : ST_CRYPTO;
}

static int setup_rs256_verify(EVP_PKEY_CTX *c)
{
	return EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
	       EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1;
}

static int setup_oaep_sha1_decrypt(EVP_PKEY_CTX *c)
{
	return EVP_PKEY_decrypt_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
	       EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha1()) == 1 &&
	       EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha1()) == 1;
}

static int operation(const char *pem, int is_private, int (*setup)(EVP_PKEY_CTX *), EVP_PKEY_CTX **ctx)
{
	struct slot *s;
	EVP_PKEY_CTX *c;
	int st = lookup(pem, is_private, &s);

	*ctx = NULL;
	if (st != ST_OK)
		return st;
	if (!s->operation) {
		if (EVP_PKEY_get_base_id(s->key) != EVP_PKEY_RSA)
			return ST_INVALID;
		c = EVP_PKEY_CTX_new(s->key, NULL);
		if (!c)
			return ST_NOMEM;
		if (!setup(c)) {
			EVP_PKEY_CTX_free(c);
			return ST_CRYPTO;
		}
		s->operation = c;
	}
	*ctx = s->operation;
	return ST_OK;
}

int pkeycache_rs256_verifier(const char *pem, EVP_PKEY_CTX **ctx)
{
	return operation(pem, 0, setup_rs256_verify, ctx);
}

int pkeycache_oaep_sha1_decrypter(const char *pem, EVP_PKEY_CTX **ctx)
{
	return operation(pem, 1, setup_oaep_sha1_decrypt, ctx);
}

/* lib/keys.h — deskbridge's own RSA key pairs, to which sites encrypt user_payload.
 * Not: the sites' public keys (config), or decryption (identity.h). */
#ifndef DESKBRIDGE_KEYS_H
#define DESKBRIDGE_KEYS_H

#define KEYS_RSA_BITS 2048
/* How long a rotated-out key keeps decrypting payloads sites encrypted before they
 * fetched the new public key. */
#define KEYS_GRACE_S (24 * 60 * 60)

#include <stddef.h>
#include <stdint.h>

struct db;

/* Creates the first key pair; ST_OK without change when one exists already. */
int keys_ensure(struct db *db);
/* The current public key as PEM; ST_NOT_FOUND before init. Caller frees. */
int keys_current_public_dup(struct db *db, char **pem);
/* A new current key pair; the old one retires now and still decrypts for
 * KEYS_GRACE_S. Keys retired longer ago are deleted. */
int keys_rotate(struct db *db, int64_t now);

#define KEYS_USABLE_MAX 4

/* The private keys that may decrypt at now, current first: PEMs the caller frees
 * with keys_private_free. One stored unsealed is left out (vault_check_sealed). */
struct keys_private {
	char *pem[KEYS_USABLE_MAX];
	size_t n;
};
int keys_private_usable(struct db *db, int64_t now, struct keys_private *out);
void keys_private_free(struct keys_private *keys);
/* Key rotation of the vault: re-seals every private key with the new key (vault.h). */
int keys_reseal(struct db *db);

#endif

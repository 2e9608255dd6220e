/* lib/vault.h — secrets at rest: every secret and private key is sealed with
 * AES-256-GCM under a key kept in a file outside the database (mode 0600), so a copied
 * database file alone reveals none of them. Not: which values are secret (config.h). */
#ifndef DESKBRIDGE_VAULT_H
#define DESKBRIDGE_VAULT_H

#define VAULT_KEY_LEN 32

/* $DESKBRIDGE_KEY_FILE, else the database path with ".key" appended. */
const char *vault_key_path(void);

/* Creates the key file (0600) unless it exists. */
int vault_key_create(void);
/* Reads the key file now, so that a missing or unsafe one shows at start-up. */
int vault_load(void);

/* Seals plain, bound to label (the secret's name: a sealed value moved to another
 * name does not open). Caller frees *out. */
int vault_seal_dup(const char *plain, const char *label, char **out);
/* ST_OK and the plain text; values stored before sealing existed are returned as they
 * are. ST_CRYPTO when the value does not open with the key. Caller frees *out. */
int vault_unseal_dup(const char *stored, const char *label, char **out);

/* Key rotation, step one: a new key in "<key file>.new", which unseal also tries, so a
 * crash between re-sealing and step two loses nothing. */
int vault_rekey_begin(void);
/* Seals with the new key (after vault_rekey_begin). Caller frees *out. */
int vault_reseal_dup(const char *stored, const char *label, char **out);
/* Step two, once every value is re-sealed and committed: the new key replaces the old. */
int vault_rekey_finish(void);

#endif

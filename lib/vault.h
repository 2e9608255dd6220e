/* lib/vault.h — secrets at rest: every secret and private key is sealed with
 * AES-256-GCM under a key kept in a file outside the database (mode 0600), so a copied
 * database file alone reveals none of them. Not: which values are secret (config.h). */
#ifndef DESKBRIDGE_VAULT_H
#define DESKBRIDGE_VAULT_H

#define VAULT_KEY_LEN 32
/* What every sealed value starts with (no GLOB or LIKE metacharacters). */
#define VAULT_PREFIX "v1:"

/* $DESKBRIDGE_KEY_FILE, else the database path with ".key" appended. */
const char *vault_key_path(void);

/* Creates the key file (0600) unless it exists. */
int vault_key_create(void);
/* Reads the key file now, so that a missing or unsafe one shows at start-up. */
int vault_load(void);

/* Seals plain, bound to label (the secret's name: a sealed value moved to another
 * name does not open). Caller frees *out. */
int vault_seal_dup(const char *plain, const char *label, char **out);
/* ST_OK when stored has the form of a sealed value; else ST_DENIED, logged with label.
 * Whoever can write the database but not read the key file could plant a plain value,
 * so one is never used, whatever its name. */
int vault_check_sealed(const char *stored, const char *label);
/* ST_OK and the plain text. ST_DENIED when the value is not sealed (see
 * vault_check_sealed), ST_CRYPTO when it does not open with the key. Caller frees *out. */
int vault_unseal_dup(const char *stored, const char *label, char **out);

/* Key rotation, step one: a new key in "<key file>.new", which unseal also tries, so a
 * crash between re-sealing and step two loses nothing. */
int vault_rekey_begin(void);
/* Seals with the new key (after vault_rekey_begin). Caller frees *out. */
int vault_reseal_dup(const char *stored, const char *label, char **out);
/* Step two, once every value is re-sealed and committed: the new key replaces the old. */
int vault_rekey_finish(void);

#endif

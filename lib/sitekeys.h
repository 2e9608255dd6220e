/* lib/sitekeys.h — the site's RSA public keys that verify visitor JWTs
 * (security.site_public_keys). Not: JWT verification itself (jwt.h). */
#ifndef DESKBRIDGE_SITEKEYS_H
#define DESKBRIDGE_SITEKEYS_H

#include <stddef.h>

#define SITEKEYS_MAX 10
#define SITEKEYS_MIN_BITS 2048
#define SITEKEYS_KID_MAX 128
#define SITEKEYS_PEM_MAX 16384

struct db;
struct json_object;

/* NULL when keys is a valid list of {"kid", "pem"} (each PEM an RSA public key of
 * SITEKEYS_MIN_BITS or more, kids unique), else a phrase saying why not. */
const char *sitekeys_check(struct json_object *keys);
/* Replaces every stored key with the list (already checked). */
int sitekeys_replace(struct db *db, struct json_object *keys);
/* [{"kid", "pem", "bits"}], oldest first; caller puts *out. */
int sitekeys_list_json(struct db *db, struct json_object **out);

/* The PEMs that may have signed a token: the stored keys with the token's kid, or every
 * stored key when it names none. Free with sitekeys_pems_free. */
struct sitekeys_pems {
	size_t n;
	char *pem[SITEKEYS_MAX];   /* owned */
	size_t stored;             /* keys stored, chosen or not */
};
/* Oldest first; kid may be NULL. */
int sitekeys_pems_for(struct db *db, const char *kid, struct sitekeys_pems *out);
void sitekeys_pems_free(struct sitekeys_pems *pems);

#endif

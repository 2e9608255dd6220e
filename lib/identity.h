/* lib/identity.h — who the visitor is: the site's RS256 JWT verified against the
 * configured site keys, its user_payload decrypted with deskbridge's own keys, or the
 * anonymous policy. One code path for /api/token and POST /api/transfers.
 * Not: HTTP, or the Zendesk JWT (minted by the token handler through jwt.h). */
#ifndef DESKBRIDGE_IDENTITY_H
#define DESKBRIDGE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "apierr.h"

#define IDENTITY_NAME_MAX 255     /* characters */
#define IDENTITY_EMAIL_MAX 254    /* bytes, as RFC 5321 allows */
#define IDENTITY_PAYLOAD_MAX 4096 /* decoded ciphertext bytes */

struct db;

struct identity {
	char *external_id;   /* the site's sub */
	char *name;
	char *email;
	int authenticated;   /* 0 when the anonymous placeholder was used */
};

enum identity_error {
	IDENTITY_OK,
	IDENTITY_NOT_CONFIGURED,          /* security off, or no site key */
	IDENTITY_INVALID_TOKEN,           /* 401: signature, alg, kid, times, claims */
	IDENTITY_INVALID_PAYLOAD,         /* 422: cannot decrypt, not JSON, bad name/email */
	IDENTITY_ANONYMOUS_NOT_ALLOWED,   /* 403 */
};

/* ST_OK with *err == IDENTITY_OK and *out filled, or ST_OK with *err and *why (a static
 * phrase for the API's message) saying why the visitor is refused. Other statuses are
 * local failures (database, memory). Free *out with identity_clear. */
int identity_verify(struct db *db, const char *token, size_t token_len, int64_t now,
		    struct identity *out, enum identity_error *err, const char **why);
void identity_clear(struct identity *id);
/* The API error that answers a refusal. */
enum apierr identity_apierr(enum identity_error e);

/* The steps, for tests and fuzzing. Decrypts base64 of RSA-OAEP (SHA-1) blocks with
 * the first private key that opens every block; caller frees *plain. */
int identity_decrypt_payload_dup(const char *b64, size_t b64_len, char *const *private_pems,
				 size_t npems, char **plain, size_t *plain_len);
/* {"name", "email"} from the decrypted JSON; ST_INVALID with *why; caller frees. */
int identity_parse_payload(const char *json, size_t len, char **name, char **email,
			   const char **why);
/* NULL when name and email are acceptable (the rules user_payload follows), else why. */
const char *identity_check_visitor(const char *name, const char *email);
/* An unverified visitor from the name and email they typed (external id
 * "unverified:<email>"): ST_INVALID with *why when identity_check_visitor refuses them.
 * The caller frees id's fields. */
int identity_typed(const char *name, const char *email, struct identity *id, const char **why);
/* The stable placeholder for an anonymous visitor; caller frees. */
int identity_anonymous(const char *sub, char **name, char **email);

#endif

/* lib/token.h — POST /api/token's work: the site token (from the body or a Bearer
 * header) through the identity module, then the Zendesk messaging end-user JWT (HS256
 * with the messaging signing key: zendesk.shared_secret, kid zendesk.messaging.jwt_key_id).
 * Not: HTTP. */
#ifndef DESKBRIDGE_TOKEN_H
#define DESKBRIDGE_TOKEN_H

#include <stdint.h>

#include "apierr.h"
#include "identity.h"

/* A short life bounds what a leaked visitor JWT is worth; the Web Widget asks for a
 * fresh one when it expires. */
#define TOKEN_ZENDESK_TTL_S (10 * 60)

struct db;
struct json_object;

/* The site token is body's "token", else bearer (the Authorization: Bearer credentials).
 * ST_OK and *out = {"jwt", "external_id", "name", "email", "expires_at"} (caller puts),
 * or ST_OK, *out NULL and the refusal in *err and *why (a static phrase). */
int token_mint(struct db *db, struct json_object *body, const char *bearer, int64_t now,
	       struct json_object **out, enum apierr *err, const char **why);

#endif

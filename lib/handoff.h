/* lib/handoff.h — POST /api/transfers: who is asking (the site token through the
 * identity module, or the visitor fields when security is off), whether transfers are
 * on, and the request's checks, before lib/transfer records it. Not: HTTP. */
#ifndef DESKBRIDGE_HANDOFF_H
#define DESKBRIDGE_HANDOFF_H

#include <stdint.h>

#include "apierr.h"

struct db;
struct json_object;

/* client_secret: the shortest base64url of 128 bits, and the longest accepted. */
#define HANDOFF_CLIENT_SECRET_MIN 22
#define HANDOFF_CLIENT_SECRET_MAX 128

struct handoff_refusal {
	enum apierr err;
	const char *field;   /* the body field at fault, or NULL */
	const char *why;     /* a static phrase */
	char message[512];   /* when set, the whole message (the admin's unavailable_message) */
	int retry_after;     /* seconds for Retry-After, or 0 */
};

/* ST_OK and *out = {"id", "secret", "state", "next", "poll_after_ms"} (caller puts), or
 * ST_OK, *out NULL and the refusal. The site token is body's "token", else bearer (the
 * Authorization: Bearer credentials); client is the client address the request came from. */
int handoff_create(struct db *db, struct json_object *body, const char *bearer, const char *client,
		   int64_t now, struct json_object **out, struct handoff_refusal *refusal);

#endif

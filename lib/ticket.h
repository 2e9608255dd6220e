/* lib/ticket.h — messages a visitor leaves while no agent is available (POST
 * /api/tickets): who is asking (as for transfers), the checks, storing it first, then
 * creating it as a Zendesk ticket after the response, retried while Zendesk fails and
 * created once (Zendesk's Idempotency-Key is the ticket's id). Not: HTTP, or Zendesk's
 * API (zendesk.h). */
#ifndef DESKBRIDGE_TICKET_H
#define DESKBRIDGE_TICKET_H

#include <stdint.h>

#include "apierr.h"

struct db;
struct json_object;

#define TICKET_ID_LEN 40
/* Zendesk keeps an Idempotency-Key 2 hours: deliveries stop well within that, so that a
 * retry can never make a second ticket. */
#define TICKET_GIVE_UP_S 3600
#define TICKET_MESSAGE_MAX 4096
/* How soon a client asking for the ticket's state should ask again while it is pending. */
#define TICKET_POLL_MS 2000

struct ticket_refusal {
	enum apierr err;
	const char *field;   /* the body field at fault, or NULL */
	const char *why;     /* a static phrase */
};

/* ST_OK and *out = {"id", "secret", "state", "poll_after_ms"} (caller puts), or ST_OK,
 * *out NULL and the refusal. The site token is body's "token", else bearer. The same
 * client_request_id from the same visitor answers the same ticket. */
int ticket_create(struct db *db, struct json_object *body, const char *bearer, int64_t now,
		  struct json_object **out, struct ticket_refusal *refusal);

/* {"id", "state", "ticket_id", "created_at", "poll_after_ms"} when secret opens ticket id
 * (ST_NOT_FOUND for an unknown id, ST_DENIED for a wrong secret, after the same work);
 * *due 1 when a delivery attempt is due. Caller puts *out. */
int ticket_get_json(struct db *db, const char *id, const char *secret, int64_t now,
		    struct json_object **out, int *due);

/* Tries to create the ticket in Zendesk when it is pending and due (one process at a
 * time: a lease). */
int ticket_deliver(struct db *db, const char *id, int64_t now);
/* The same for every ticket due (deskbridge-admin sweep); *created counts the new ones. */
int ticket_sweep(struct db *db, int64_t now, int64_t *created);

#endif

/* lib/webhook.h — Zendesk's webhook: authenticating a delivery and turning its
 * Sunshine Conversations v2 events into transfer events, each exactly once.
 * Not: HTTP (the webhook handler), or calls to Zendesk (zendesk.h). */
#ifndef DESKBRIDGE_WEBHOOK_H
#define DESKBRIDGE_WEBHOOK_H

#include <stdint.h>

struct db;

/* ST_OK when api_key (the X-API-Key header Zendesk sends) equals the configured webhook
 * secret, compared in constant time; ST_DENIED otherwise or when none is configured. */
int webhook_authenticate(struct db *db, const char *api_key);

struct webhook_result {
	int applied;     /* events that changed a transfer */
	int duplicates;  /* events already applied by an earlier delivery */
	int ignored;     /* unknown conversations, echoes of the visitor, other types */
};

struct desk_events;
struct json_object;

/* Parses an authenticated delivery with the service desk's driver, for the configured
 * app, and applies its events in one transaction, each event id at most once across
 * deliveries; a delivery for another app is acknowledged and changes nothing.
 * ST_INVALID when the body is not a delivery. */
int webhook_receive(struct db *db, struct json_object *delivery, int64_t now, struct webhook_result *out);

/* When the last delivery for the configured app arrived (GET /api/setup/status). */
#define WEBHOOK_LAST_AT "webhook.last_at"

#endif

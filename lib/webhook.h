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

/* Applies the events of one delivery (as the driver parsed them) in one transaction,
 * each event id at most once across deliveries. */
int webhook_apply(struct db *db, const struct desk_events *events, int64_t now,
		  struct webhook_result *out);

#endif

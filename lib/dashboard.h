/* lib/dashboard.h — the numbers of the setup page's Status view (GET
 * /api/setup/dashboard): the last 24 hours by the hour (transfers by how they turned
 * out, failed deliveries to Zendesk), the waits for an agent as percentiles, and the
 * outbox backlog now. Read-only. Like metrics, it reads tables of other modules
 * (transfers, events and outbox of transfer.c) and metrics' hourly delivery failures.
 * Not: HTTP, or the drawing (www/setup/dashboard.js). */
#ifndef DESKBRIDGE_DASHBOARD_H
#define DESKBRIDGE_DASHBOARD_H

#include <json-c/json.h>
#include <stdint.h>

struct db;

#define DASHBOARD_HOURS 24

/* The whole document at now (docs/api.md); caller frees *out with json_object_put. */
int dashboard_json(struct db *db, int64_t now, struct json_object **out);

#endif

/* lib/setup.h — the admin's configuration document of /api/setup/config: the typed
 * keys, the site keys, the service key and the set/unset flags assembled in the API's
 * JSON shape; a PATCH validated whole, applied in one transaction, audited.
 * Not: sessions or HTTP (admin.h, the setup handler). */
#ifndef DESKBRIDGE_SETUP_H
#define DESKBRIDGE_SETUP_H

#include <stdint.h>

struct db;
struct json_object;

struct setup_error {
	char field[128];   /* dotted, as in the JSON */
	const char *why;   /* a phrase: "must be an integer from 30 to 86400" */
	int bad_shape;     /* the JSON type is wrong (400), rather than the value (422) */
};

/* GET /api/setup/config; caller puts *out. */
int setup_config_json(struct db *db, struct json_object **out);
/* PATCH /api/setup/config: ST_INVALID with *err when any field is invalid, and then
 * nothing changed; else every given field is stored and the change audited as actor. */
int setup_config_patch(struct db *db, struct json_object *patch, const char *actor,
		       int64_t now, struct setup_error *err);

/* GET /api/setup/status: transfer counts, undelivered messages, the last Zendesk
 * error and the schema version; caller puts *out. */
int setup_status_json(struct db *db, int64_t now, struct json_object **out);

/* Where the Zendesk driver records its last failure, as {"message", "at"}. */
#define SETUP_LAST_ZENDESK_ERROR "zendesk.last_error"

struct zendesk_verify_result;

/* "Access account": checks the stored Zendesk credentials live and, when both checks
 * pass, records zendesk.account_verified_at. */
int setup_zendesk_verify(struct db *db, int64_t now, struct zendesk_verify_result *out);

#endif

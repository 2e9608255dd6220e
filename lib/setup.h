/* lib/setup.h — the admin's configuration document of /api/setup/config: the typed
 * keys, the site keys, the service key and the set/unset flags assembled in the API's
 * JSON shape; a PATCH validated whole, applied in one transaction, audited.
 * Not: sessions or HTTP (admin.h, the setup handler). */
#ifndef DESKBRIDGE_SETUP_H
#define DESKBRIDGE_SETUP_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct json_object;

struct setup_error {
	char field[128];   /* dotted, as in the JSON */
	/* The API's message: the field by its label in the form, then why not:
	 * "Wait for an agent (seconds): must be an integer from 30 to 86400." */
	char message[384];
	int bad_shape;     /* the JSON type is wrong (400), rather than the value (422) */
};

/* GET /api/setup/config; caller puts *out. */
int setup_config_json(struct db *db, struct json_object **out);
/* PATCH /api/setup/config: ST_INVALID with *err when any field is invalid, and then
 * nothing changed; else every given field is stored and the change audited as actor. */
int setup_config_patch(struct db *db, struct json_object *patch, const char *actor,
		       int64_t now, struct setup_error *err);

/* GET /api/setup/status: transfer counts, undelivered messages, the last Zendesk
 * error (with "checks" when it was Access account's), the last webhook and handoff
 * times and the schema version; caller puts *out. */
int setup_status_json(struct db *db, int64_t now, struct json_object **out);

/* Where the Zendesk driver records its last failure, as {"message", "at"}. */
#define SETUP_LAST_ZENDESK_ERROR "zendesk.last_error"

struct zendesk_verify_result;

/* "Access account": checks the stored Zendesk credentials live and, when every check
 * passes, records zendesk.account_verified_at. A failure becomes the last Zendesk error,
 * with its failed checks, until a later Access account passes. */
int setup_zendesk_verify(struct db *db, int64_t now, struct zendesk_verify_result *out);
/* The checks as the API lists them ([{"name", "ok", "ran", "message"}]), only the failed
 * ones when failed_only; caller puts. */
struct json_object *setup_checks_json(const struct zendesk_verify_result *r, int failed_only);

/* The private app ZIP for deployment.public_url; ST_NOT_FOUND while that is not set.
 * Caller frees *zip. */
int setup_app_zip_dup(struct db *db, const char *template_dir, unsigned char **zip, size_t *len);

#endif

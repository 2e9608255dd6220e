/* lib/audit.h — the audit log of configuration changes: who, when, which fields.
 * Never a value: callers pass field names only. */
#ifndef DESKBRIDGE_AUDIT_H
#define DESKBRIDGE_AUDIT_H

#include <stdint.h>

struct db;
struct json_object;

/* fields: a JSON array of field names (borrowed). */
int audit_record(struct db *db, const char *actor, const char *action,
		 struct json_object *fields, int64_t now);
/* The newest entries first, as [{"at", "actor", "action", "fields"}]; caller puts *out. */
int audit_list_json(struct db *db, int limit, struct json_object **out);

#endif

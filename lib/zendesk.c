/* lib/zendesk.c — placeholder until the driver lands (being written now). */
#include "zendesk.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "desk.h"
#include "status.h"

struct zendesk_account {
	int unused;
};

int zendesk_account_load(struct db *db, struct zendesk_account **out)
{
	(void)db;
	*out = NULL;
	return ST_OK;
}

void zendesk_account_free(struct zendesk_account *acct)
{
	(void)acct;
}

int zendesk_verify(const struct zendesk_account *acct, struct zendesk_verify_result *out)
{
	(void)acct;
	memset(out, 0, sizeof *out);
	out->messaging = out->support = ZENDESK_MISSING;
	snprintf(out->detail, sizeof out->detail, "The Zendesk driver is not built yet.");
	return ST_OK;
}

/* Webhooks. Sunshine Conversations v2 delivers {"app", "webhook", "events": [...]}, each
 * event {"id", "type", "createdAt", "payload"}; the agent workspace posts as a
 * "business" author, deskbridge's own messages come back as the "user" author. */

static const char *jstr(struct json_object *obj, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, name, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static struct json_object *jobj(struct json_object *obj, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, name, &v) && json_object_is_type(v, json_type_object) ? v : NULL;
}

static int is_business(struct json_object *author)
{
	const char *type = jstr(author, "type");

	return type && strcmp(type, "business") == 0;
}

static void take_agent(struct desk_event *e, struct json_object *author)
{
	e->agent_name = jstr(author, "displayName");
	e->agent_avatar_url = jstr(author, "avatarUrl");
	e->agent_id = jstr(author, "userId") ? jstr(author, "userId") : e->agent_name;
}

static void parse_message(struct desk_event *e, struct json_object *payload)
{
	struct json_object *message = jobj(payload, "message");
	struct json_object *author = jobj(message, "author"), *content = jobj(message, "content");

	if (!is_business(author)) {
		e->type = author ? DESK_EVENT_VISITOR_ECHO : DESK_EVENT_OTHER;
		return;
	}
	e->message_id = jstr(message, "id");
	e->text = jstr(content, "text");
	if (!e->message_id || !e->text)
		return;
	e->type = DESK_EVENT_AGENT_MESSAGE;
	take_agent(e, author);
}

static void parse_activity(struct desk_event *e, struct json_object *payload, const char *event_type)
{
	struct json_object *activity = jobj(payload, "activity");
	const char *type = jstr(activity, "type");

	if (!is_business(jobj(activity, "author")) || !type)
		return;
	if (strcmp(event_type, "conversation:read") == 0) {
		e->type = DESK_EVENT_AGENT_READ;
	} else if (strcmp(type, "typing:start") == 0 || strcmp(type, "typing:stop") == 0) {
		e->type = DESK_EVENT_AGENT_TYPING;
		e->typing = strcmp(type, "typing:start") == 0;
	}
}

static const char *release_reason(const char *reason)
{
	if (!reason)
		return "released";
	if (strcmp(reason, "ticketClosed") == 0)
		return "ticket_closed";
	if (strcmp(reason, "transferToEmail") == 0)
		return "transfer_to_email";
	return "released";
}

static void parse_switchboard(struct desk_event *e, struct json_object *payload, const char *type)
{
	struct json_object *target = jobj(payload, "switchboardIntegration");
	const char *integration = jstr(target, "integrationType");
	int to_agents = integration && strcmp(integration, ZENDESK_AGENT_WORKSPACE) == 0;

	if (strcmp(type, "switchboard:releaseControl") == 0) {
		e->type = DESK_EVENT_ENDED;
		e->reason = release_reason(jstr(payload, "reason"));
	} else if (to_agents) {
		e->type = DESK_EVENT_QUEUED;
	} else if (strcmp(type, "switchboard:passControl") == 0 && integration) {
		/* Passed on from the agent workspace to something else: the agent is done. */
		e->type = DESK_EVENT_ENDED;
		e->reason = "passed_on";
	}
}

int zendesk_parse_webhook(struct json_object *delivery, struct desk_events *out)
{
	struct json_object *events;
	size_t n;

	out->n = 0;
	if (!json_object_object_get_ex(delivery, "events", &events) ||
	    !json_object_is_type(events, json_type_array))
		return ST_INVALID;
	n = json_object_array_length(events);
	if (n > DESK_EVENTS_MAX)
		return ST_TOO_LARGE;
	for (size_t i = 0; i < n; i++) {
		struct json_object *ev = json_object_array_get_idx(events, i);
		struct json_object *payload = jobj(ev, "payload");
		const char *type = jstr(ev, "type");
		struct desk_event *e = &out->event[out->n++];

		memset(e, 0, sizeof *e);
		if (!json_object_is_type(ev, json_type_object))
			return ST_INVALID;
		e->event_id = jstr(ev, "id");
		e->conversation_id = jstr(jobj(payload, "conversation"), "id");
		if (!type || !payload)
			continue;
		if (strcmp(type, "conversation:message") == 0)
			parse_message(e, payload);
		else if (strcmp(type, "conversation:typing") == 0 || strcmp(type, "conversation:read") == 0)
			parse_activity(e, payload, type);
		else if (strncmp(type, "switchboard:", 12) == 0)
			parse_switchboard(e, payload, type);
	}
	return ST_OK;
}

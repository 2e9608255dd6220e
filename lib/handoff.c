/* lib/handoff.c — the checks and identity of a new transfer. */
#include "handoff.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "availability.h"
#include "config.h"
#include "identity.h"
#include "ratelimit.h"
#include "metrics.h"
#include "status.h"
#include "transfer.h"

static const char *body_string(struct json_object *body, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(body, name, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static int refuse(struct handoff_refusal *r, enum apierr err, const char *field, const char *why)
{
	r->err = err;
	r->field = field;
	r->why = why;
	return ST_OK;
}

/* An unverified visitor (security off) from the body's visitor fields. */
static int body_visitor(struct json_object *body, struct identity *id, struct handoff_refusal *r)
{
	struct json_object *visitor = NULL;
	const char *name, *email, *why;
	int st;

	json_object_object_get_ex(body, "visitor", &visitor);
	name = body_string(visitor, "name");
	email = body_string(visitor, "email");
	/* Without a verified sub, the email scopes the visitor's retries. */
	st = identity_typed(name, email, id, &why);
	if (st == ST_INVALID)
		return refuse(r, APIERR_INVALID_FIELD, name && *name ? "visitor.email" : "visitor.name", why);
	return st;
}

static int verified_visitor(struct db *db, struct json_object *body, const char *bearer,
			    int64_t now, struct identity *id, struct handoff_refusal *r)
{
	const char *token = body_string(body, "token") ? body_string(body, "token") : bearer;
	enum identity_error err;
	const char *why;
	int st;

	if (!token)
		return refuse(r, APIERR_INVALID_TOKEN, "token", "the site's token is required");
	st = identity_verify(db, token, strlen(token), now, id, &err, &why);
	if (st == ST_OK && err != IDENTITY_OK)
		refuse(r, identity_apierr(err), "token", why);
	return st;
}

/* A creation secret is what only the client that made a transfer knows: at least 128
 * random bits, base64url as the Web Chat library writes them. */
static const char *check_client_secret(const char *v)
{
	static const char base64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	if (v && (strlen(v) < HANDOFF_CLIENT_SECRET_MIN || strspn(v, base64url) != strlen(v)))
		return "must be 22 to 128 base64url characters (at least 128 random bits)";
	return NULL;
}

static const char *check_request(struct json_object *body, const char **field)
{
	const char *url = body_string(body, "page_url"), *why;
	struct json_object *history = NULL;

	json_object_object_get_ex(body, "history", &history);
	if ((why = transfer_check_history(history)) != NULL) {
		*field = "history";
		return why;
	}
	if (url && strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
		*field = "page_url";
		return "must be an http:// or https:// URL";
	}
	if ((why = check_client_secret(body_string(body, "client_secret"))) != NULL) {
		*field = "client_secret";
		return why;
	}
	return NULL;
}

/* Whose open transfers the cap counts, in *out (caller frees). A site's token verified the
 * external id: nobody else can open chats under it. A typed email proves nothing, so an
 * unverified visitor is that email from that client address (an IPv6 /64, as the rate
 * limits count): someone elsewhere who types the victim's email fills only their own cap.
 * The address alone would make everyone behind one NAT share three chats; an attacker
 * typing many emails is held by limits.transfers_per_minute. */
static int cap_key_dup(const struct identity *visitor, int verified, const char *client, char **out)
{
	char addr[64];
	size_t n;

	if (verified) {
		*out = strdup(visitor->external_id);
		return *out ? ST_OK : ST_NOMEM;
	}
	ratelimit_client(client, addr, sizeof addr);
	n = strlen(visitor->external_id) + strlen(addr) + 7;
	if (!(*out = malloc(n)))
		return ST_NOMEM;
	snprintf(*out, n, "%s from %s", visitor->external_id, addr);
	return ST_OK;
}

/* No agent online: the admin's message. Unknown availability (Zendesk not set up for it,
 * or not answering) lets the handoff go ahead: the agent workspace queues it. */
static int check_agents(struct db *db, int64_t now, struct handoff_refusal *r)
{
	struct availability a;
	char *message = NULL;
	int closed = 0, st = availability_closed_dup(db, now, &closed, &message);

	r->message[0] = '\0';
	/* Outside business hours no agent is expected: the admin's closed message. */
	if (st == ST_OK && closed) {
		r->err = APIERR_AGENTS_UNAVAILABLE;
		snprintf(r->message, sizeof r->message, "%s", message ? message : "The desk is closed.");
	}
	free(message);
	message = NULL;
	if (st != ST_OK || closed)
		return st;
	st = availability_get(db, now, &a);
	if (st != ST_OK || !a.known || a.count > 0)
		return st;
	st = config_get_dup(db, "transfers.unavailable_message", &message);
	if (st == ST_OK) {
		r->err = APIERR_AGENTS_UNAVAILABLE;
		snprintf(r->message, sizeof r->message, "%s", message ? message : "No agent is available.");
	}
	free(message);
	return st;
}

static struct json_object *created_json(const struct transfer_created *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(c->id));
	json_object_object_add(o, "secret", json_object_new_string(c->secret));
	json_object_object_add(o, "state", json_object_new_string("waiting"));
	json_object_object_add(o, "next", json_object_new_int(0));
	json_object_object_add(o, "poll_after_ms", json_object_new_int(transfer_poll_ms("waiting")));
	return o;
}

int handoff_create(struct db *db, struct json_object *body, const char *bearer, const char *client,
		   int64_t now, struct json_object **out, struct handoff_refusal *r)
{
	struct identity visitor = {0};
	struct transfer_request req = {0};
	struct transfer_created created = {0};
	char *department = NULL, *cap_key = NULL;
	const char *field = NULL, *why;
	int enabled = 0, secure = 0, st;

	*out = NULL;
	memset(r, 0, sizeof *r);
	r->err = APIERR_INTERNAL;
	st = config_get_bool(db, "transfers_enabled", &enabled);
	if (st == ST_OK)
		st = config_get_bool(db, "security.authenticate_users", &secure);
	if (st != ST_OK)
		return st;
	if (!enabled)
		return refuse(r, APIERR_TRANSFERS_DISABLED, NULL, "the admin has not turned them on");
	st = check_agents(db, now, r);
	if (st != ST_OK || r->message[0])
		return st;
	if ((why = check_request(body, &field)) != NULL)
		return refuse(r, APIERR_INVALID_FIELD, field, why);
	st = secure ? verified_visitor(db, body, bearer, now, &visitor, r)
		    : body_visitor(body, &visitor, r);
	if (st == ST_OK && visitor.email) {
		req.visitor = &visitor;
		req.message_to_human_agent = body_string(body, "message_to_human_agent");
		json_object_object_get_ex(body, "history", &req.history);
		req.department = body_string(body, "department");
		if (!req.department && (st = config_get_dup(db, "transfers.department", &department)) == ST_OK)
			req.department = department;
		req.locale = body_string(body, "locale");
		req.page_url = body_string(body, "page_url");
		req.client_request_id = body_string(body, "client_request_id");
		req.client_secret = body_string(body, "client_secret");
	}
	if (st == ST_OK && visitor.email && (st = cap_key_dup(&visitor, secure, client, &cap_key)) == ST_OK)
		req.cap_key = cap_key;
	if (st == ST_OK && visitor.email)
		st = config_get_int(db, "limits.open_transfers_per_visitor", &req.max_open);
	if (st == ST_OK && visitor.email)
		st = transfer_create(db, &req, now, &created);
	if (st == ST_LIMITED) {
		metrics_count(db, METRIC_RATE_LIMITED, "limits.open_transfers_per_visitor");
		r->err = APIERR_RATE_LIMITED;
		r->retry_after = 60;
		snprintf(r->message, sizeof r->message, "This visitor already has %lld open chats with "
			 "agents (the limit). End one, or wait for it to end, before starting another.",
			 (long long)req.max_open);
		st = ST_OK;
	} else if (st == ST_CONFLICT) {
		/* Nothing about the transfer that id made: not whether it is open, nor whose. */
		r->err = APIERR_CONFLICT;
		snprintf(r->message, sizeof r->message, "This client_request_id has been used already. "
			 "Start a transfer with a new client_request_id and client_secret.");
		st = ST_OK;
	}
	if (st == ST_OK && created.secret)
		*out = created_json(&created);
	free(created.secret);
	free(cap_key);
	free(department);
	identity_clear(&visitor);
	return st;
}

/* lib/availability.c — the shared, rate-limited agent availability. */
#include "availability.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "hours.h"
#include "log.h"
#include "status.h"
#include "transfer.h"
#include "zendesk.h"

static const char availability_key[] = "availability";
static const char availability_lease[] = "availability:refresh";

/* The last answer, even a stale one; *fresh tells whether it is younger than the TTL. */
static int read_cached(struct db *db, int64_t now, struct availability *out, int *fresh)
{
	struct json_object *o, *count, *at;
	char *text = NULL;
	int st = cache_get_dup(db, availability_key, 0, &text);

	*fresh = 0;
	if (st != ST_OK || !text)
		return st;
	o = json_tokener_parse(text);
	if (json_object_object_get_ex(o, "count", &count) && json_object_object_get_ex(o, "checked_at", &at)) {
		out->known = 1;
		out->count = json_object_get_int(count);
		out->checked_at = json_object_get_int64(at);
		*fresh = now - out->checked_at < AVAILABILITY_TTL_S;
	}
	json_object_put(o);
	free(text);
	return ST_OK;
}

static int refresh(struct db *db, int64_t now, struct zendesk_account *acct, struct availability *out)
{
	struct zendesk_call call;
	struct json_object *o;
	int count = 0;
	int st = zendesk_agents_online(acct, &count, &call);

	if (st != ST_OK)
		return st;
	if (call.outcome != ZENDESK_OK) {
		snprintf(out->detail, sizeof out->detail, "%s", call.detail);
		return ST_OK;
	}
	out->known = 1;
	out->count = count;
	out->checked_at = now;
	o = json_object_new_object();
	json_object_object_add(o, "count", json_object_new_int(count));
	json_object_object_add(o, "checked_at", json_object_new_int64(now));
	/* Kept a day: a stale answer beats none while Zendesk is briefly unreachable. */
	st = cache_put(db, availability_key, json_object_to_json_string(o), now + 24 * 3600);
	json_object_put(o);
	return st;
}

int availability_get(struct db *db, int64_t now, struct availability *out)
{
	struct zendesk_account *acct = NULL;
	char holder[32];
	int fresh = 0, got = 0, st;

	memset(out, 0, sizeof *out);
	st = zendesk_account_load(db, &acct);
	if (st == ST_OK)
		out->configured = zendesk_support_ready(acct);
	if (st == ST_OK && out->configured)
		st = read_cached(db, now, out, &fresh);
	if (st == ST_OK && out->configured && !fresh) {
		snprintf(holder, sizeof holder, "%ld", (long)getpid());
		st = transfer_lease(db, availability_lease, holder, now, AVAILABILITY_TTL_S, &got);
		/* Without the lease another process is asking Zendesk: serve the last answer. */
		if (st == ST_OK && got)
			st = refresh(db, now, acct, out);
		if (st == ST_OK && !out->known)
			snprintf(out->detail, sizeof out->detail, "%s",
				 got ? out->detail : "Zendesk is being asked; try again in a moment.");
	}
	if (!out->configured)
		snprintf(out->detail, sizeof out->detail, "The Support API credentials (api_user, api_token) "
			 "are not set, so agent availability is unknown.");
	zendesk_account_free(acct);
	return st;
}

int availability_closed_dup(struct db *db, int64_t now, int *closed, char **message)
{
	char *zone = NULL, *weekly = NULL;
	int open = 1, st;

	*closed = 0;
	*message = NULL;
	st = config_get_dup(db, "hours.time_zone", &zone);
	if (st == ST_OK)
		st = config_get_dup(db, "hours.weekly", &weekly);
	if (st == ST_OK && hours_open_at(zone, weekly, now, &open) == ST_INVALID) {
		log_error("availability: hours.weekly or hours.time_zone does not check; treated as always open");
		open = 1;
	}
	if (st == ST_OK && !open) {
		*closed = 1;
		st = config_get_dup(db, "hours.closed_message", message);
	}
	free(zone);
	free(weekly);
	return st;
}

int availability_answer_get(struct db *db, int64_t now, struct availability_answer *out)
{
	char *message = NULL;
	int offer = 0, st;

	memset(out, 0, sizeof *out);
	st = config_get_bool(db, "transfers_enabled", &out->enabled);
	if (st == ST_OK)
		st = config_get_bool(db, "tickets.offer_when_offline", &offer);
	if (st == ST_OK && out->enabled)
		st = availability_closed_dup(db, now, &out->closed, &message);
	if (st == ST_OK && out->enabled && !out->closed)
		st = availability_get(db, now, &out->zendesk);
	if (st != ST_OK) {
		free(message);
		return st;
	}
	out->no_agent = !out->enabled || out->closed || (out->zendesk.known && out->zendesk.count == 0);
	out->leave_message = out->no_agent && offer;
	if (out->closed) {
		snprintf(out->message, sizeof out->message, "%s", message ? message : "");
		free(message);
		return ST_OK;
	}
	if (!out->enabled)
		log_info("availability: transfers_enabled is off, so visitors are told no agent is available");
	if (!out->no_agent)
		return ST_OK;
	st = config_get_dup(db, "transfers.unavailable_message", &message);
	if (st == ST_OK)
		snprintf(out->message, sizeof out->message, "%s", message ? message : "");
	free(message);
	return st;
}

/* lib/zendesk.h — the Zendesk driver: the only code that knows Zendesk's URLs and JSON.
 * This part: the account's credentials and the live "Access account" check.
 * Not: what deskbridge stores or shows (config.h, setup.h). */
#ifndef DESKBRIDGE_ZENDESK_H
#define DESKBRIDGE_ZENDESK_H

struct db;

/* Every Zendesk credential from the configuration; zendesk_account_free releases it. */
struct zendesk_account;

/* ST_OK and an account (possibly incomplete: see zendesk_verify) from the stored config. */
int zendesk_account_load(struct db *db, struct zendesk_account **out);
void zendesk_account_free(struct zendesk_account *acct);

enum zendesk_outcome {
	ZENDESK_OK,
	ZENDESK_MISSING,      /* a credential needed for this check is not configured */
	ZENDESK_REJECTED,     /* Zendesk answered 401/403 (or 404 for an unknown app) */
	ZENDESK_UNREACHABLE,  /* DNS, connect, TLS, timeout, 5xx or an unreadable answer */
};

struct zendesk_verify_result {
	enum zendesk_outcome messaging;   /* the messaging app with its API key */
	enum zendesk_outcome support;     /* agent availability with the API token */
	int agents_online;                /* valid when support == ZENDESK_OK */
	char detail[256];                 /* which credential failed and how; never a secret */
};

/* Calls Zendesk with each credential, with connect and total timeouts; never hangs.
 * Returns ST_OK whatever Zendesk answered: the outcome is in *out. */
int zendesk_verify(const struct zendesk_account *acct, struct zendesk_verify_result *out);

/* Whether the credentials each API needs are all set. */
int zendesk_messaging_ready(const struct zendesk_account *acct);
int zendesk_support_ready(const struct zendesk_account *acct);

/* How one call went, for the outbox to decide: ZENDESK_OK, ZENDESK_UNREACHABLE (no
 * answer, 429 or 5xx: retry, after retry_after_s when Zendesk named one) or
 * ZENDESK_REJECTED (any other 4xx: retrying will not help). */
struct zendesk_call {
	enum zendesk_outcome outcome;
	long retry_after_s;
	char detail[256];      /* what failed and how; never a secret */
};

#define ZENDESK_ID_LEN 128

/* The handoff, step by step; each returns ST_OK with the result in *call (other
 * statuses are local failures). */
int zendesk_user(const struct zendesk_account *acct, const char *external_id, const char *name,
		 const char *email, char user_id[ZENDESK_ID_LEN], struct zendesk_call *call);
int zendesk_conversation(const struct zendesk_account *acct, const char *user_id,
			 const char *transfer_id, char conversation_id[ZENDESK_ID_LEN],
			 struct zendesk_call *call);
/* A text message by the visitor (user_id) or, with user_id NULL, by the bot. mark, unique
 * to this message, goes into its metadata: a retry after an answer that never came asks
 * Zendesk for it (zendesk_find_marked) instead of posting the message twice. */
int zendesk_post(const struct zendesk_account *acct, const char *conversation_id, const char *user_id,
		 const char *text, const char *mark, char message_id[ZENDESK_ID_LEN],
		 struct zendesk_call *call);
/* How far back the mark is looked for: pages of 100 messages, the latest first. A post
 * whose answer was lost is looked for soon after, so it is among the latest; the bound
 * keeps a long conversation from costing a handler more than this many calls. */
#define ZENDESK_FIND_PAGES_MAX 5
/* *found 1 and its id when the conversation's latest ZENDESK_FIND_PAGES_MAX pages of
 * messages hold the one posted with mark. */
int zendesk_find_marked(const struct zendesk_account *acct, const char *conversation_id,
			const char *mark, char message_id[ZENDESK_ID_LEN], int *found,
			struct zendesk_call *call);
/* Hands the conversation to the agent workspace: the ticket shows it from
 * first_message_id on and carries the tag "deskbridge_<transfer id>"; department (may be
 * NULL) becomes the tag "deskbridge_dept_<department>" for the admin's routing triggers,
 * as messaging has no department field of its own. */
int zendesk_pass_control(const struct zendesk_account *acct, const char *conversation_id,
			 const char *first_message_id, const char *transfer_id, const char *department,
			 struct zendesk_call *call);
/* "typing:start", "typing:stop" or "conversation:read" on the visitor's behalf. */
int zendesk_activity(const struct zendesk_account *acct, const char *conversation_id,
		     const char *user_id, const char *type, struct zendesk_call *call);
int zendesk_agents_online(const struct zendesk_account *acct, int *count, struct zendesk_call *call);

/* The switchboard integration of Zendesk's agent workspace. */
#define ZENDESK_AGENT_WORKSPACE "zd:agentWorkspace"

struct desk_events;
struct json_object;

/* The events of a webhook delivery (borrowed from it), in the driver-neutral terms of
 * desk.h; ST_INVALID when the body is not a delivery, ST_TOO_LARGE past DESK_EVENTS_MAX. */
int zendesk_parse_webhook(struct json_object *delivery, struct desk_events *out);

#endif

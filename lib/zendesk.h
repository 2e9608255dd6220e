/* lib/zendesk.h — the Zendesk driver: the only code that knows Zendesk's URLs and JSON.
 * This part: the account's credentials and the live "Access account" check.
 * Not: what deskbridge stores or shows (config.h, setup.h). */
#ifndef DESKBRIDGE_ZENDESK_H
#define DESKBRIDGE_ZENDESK_H

#include <stddef.h>

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

/* One thing "Access account" checks, in the order a handoff needs them. */
enum zendesk_check_name {
	ZENDESK_CHECK_MESSAGING_KEY,        /* the messaging app with its API key */
	ZENDESK_CHECK_SUPPORT_TOKEN,        /* agent availability with the API token */
	ZENDESK_CHECK_AGENT_WORKSPACE,      /* the switchboard can pass control to agents */
	ZENDESK_CHECK_WEBHOOK_INTEGRATION,  /* deskbridge's webhook hears the agent's side */
	ZENDESK_CHECKS
};

struct zendesk_check {
	enum zendesk_outcome outcome;   /* ZENDESK_MISSING too when not reached */
	int ran;
	char message[256];              /* what was found or what is missing; never a secret */
};

struct zendesk_verify_result {
	struct zendesk_check check[ZENDESK_CHECKS];
	int agents_online;                        /* valid when the support token passed */
	char agent_workspace_id[128];             /* the switchboard integration, when found */
	const char *detail;                       /* the first failed check's message, or NULL */
};

/* "messaging_key", "support_token", ... for the API. */
const char *zendesk_check_name(enum zendesk_check_name check);

/* Calls Zendesk with each credential, with connect and total timeouts; never hangs.
 * Returns ST_OK whatever Zendesk answered: the outcome is in *out. */
int zendesk_verify(const struct zendesk_account *acct, struct zendesk_verify_result *out);

/* The configured messaging app id, or NULL; borrowed from acct. */
const char *zendesk_app_id(const struct zendesk_account *acct);

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
/* The Support user for a verified visitor, created or updated by external_id with the
 * verified name and email, so the messaging ticket's requester is that user. */
int zendesk_support_user(const struct zendesk_account *acct, const char *external_id, const char *name,
			 const char *email, struct zendesk_call *call);
/* A Zendesk ticket for a message left while no agent was available, requested by
 * name and email, with comment text; key (deskbridge's ticket id) makes a repeat answer
 * the ticket already made. ticket_id: Zendesk's number, as text. */
int zendesk_create_ticket(const struct zendesk_account *acct, const char *key, const char *name,
			  const char *email, const char *subject, const char *text,
			  char ticket_id[ZENDESK_ID_LEN], struct zendesk_call *call);
/* The id of the agent workspace's switchboard integration, read from the switchboard:
 * passControl names an integration by id or name, never by its type. */
int zendesk_agent_workspace(const struct zendesk_account *acct, char integration_id[ZENDESK_ID_LEN],
			    struct zendesk_call *call);
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
/* Files the visitor sends. A mediaUrl Zendesk answers fits in ZENDESK_URL_LEN. */
#define ZENDESK_URL_LEN 2048
/* Uploads the file (streamed from data, not copied) to the app's attachments, public
 * and tied to the conversation, under filename and media_type; *media_url is where
 * Zendesk keeps it. A refusal's detail carries Zendesk's reason. */
int zendesk_upload_attachment(const struct zendesk_account *acct, const char *conversation_id, const void *data,
			      size_t len, const char *filename, const char *media_type,
			      char media_url[ZENDESK_URL_LEN], struct zendesk_call *call);
/* An image (image 1) or file message of the uploaded media by the visitor, marked as
 * zendesk_post's are; alt_text (may be NULL) at most 128 characters. */
int zendesk_post_media(const struct zendesk_account *acct, const char *conversation_id, const char *user_id,
		       int image, const char *media_url, const char *alt_text, const char *mark,
		       char message_id[ZENDESK_ID_LEN], struct zendesk_call *call);
/* Deletes an uploaded file no message uses. */
int zendesk_remove_attachment(const struct zendesk_account *acct, const char *media_url, struct zendesk_call *call);
/* Whether url is an https: address on a host Zendesk serves messaging media from: what an
 * agent's image or file may point a visitor's browser at. */
int zendesk_media_url_ok(const char *url);
/* How far back the mark is looked for: pages of 100 messages, the latest first. A post
 * whose answer was lost is looked for soon after, so it is among the latest; the bound
 * keeps a long conversation from costing a handler more than this many calls. */
#define ZENDESK_FIND_PAGES_MAX 5
/* *found 1 and its id when the conversation's latest ZENDESK_FIND_PAGES_MAX pages of
 * messages hold the one posted with mark. */
int zendesk_find_marked(const struct zendesk_account *acct, const char *conversation_id,
			const char *mark, char message_id[ZENDESK_ID_LEN], int *found,
			struct zendesk_call *call);
/* Hands the conversation to the agent workspace (its switchboard integration's id, from
 * zendesk_agent_workspace): the ticket shows it from
 * first_message_id on and carries the tag "deskbridge_<transfer id>"; department (may be
 * NULL) becomes the tag "deskbridge_dept_<department>" for the admin's routing triggers,
 * as messaging has no department field of its own. */
int zendesk_pass_control(const struct zendesk_account *acct, const char *conversation_id,
			 const char *integration_id, const char *first_message_id, const char *transfer_id, const char *department,
			 struct zendesk_call *call);
/* The visitor has left: no integration keeps control, so the agent workspace lets the
 * conversation go instead of leaving it with an agent nobody answers. */
int zendesk_release_control(const struct zendesk_account *acct, const char *conversation_id,
			    struct zendesk_call *call);
/* The visitor has read the conversation: the only activity Zendesk takes from a user. */
int zendesk_read(const struct zendesk_account *acct, const char *conversation_id,
		 const char *user_id, struct zendesk_call *call);
int zendesk_agents_online(const struct zendesk_account *acct, int *count, struct zendesk_call *call);

/* The integration type of Zendesk's agent workspace, in the switchboard and as the
 * source of the agent's messages. */
#define ZENDESK_AGENT_WORKSPACE "zd:agentWorkspace"
/* The path of deskbridge's webhook, which Access account looks for among the app's
 * webhook targets. */
#define ZENDESK_WEBHOOK_PATH "/api/zendesk/webhook"

struct desk_events;
struct json_object;

/* The events of a webhook delivery (borrowed from it), in the driver-neutral terms of
 * desk.h; ST_INVALID when the body is not a delivery, ST_TOO_LARGE past DESK_EVENTS_MAX.
 * A delivery for another app than app_id (the configured one) has no events for us:
 * out->n is 0 and out->other_app_events counts its events. */
int zendesk_parse_webhook(struct json_object *delivery, const char *app_id, struct desk_events *out);

#endif

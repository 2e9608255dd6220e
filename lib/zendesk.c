/* lib/zendesk.c — the Zendesk driver over libcurl: the only code that knows Zendesk's
 * URLs and JSON.
 *
 * Endpoints, each with the documentation it follows ({base} is zendesk.api_base or
 * https://{subdomain}.zendesk.com; messaging calls use Basic key_id:key_secret, the
 * Support API Basic {api_user}/token:{api_token}):
 *
 *  GET  {base}/sc/v2/apps/{appId}                          verify the messaging key
 *       developer.zendesk.com/api-reference/conversations/#tag/Apps (Get App)
 *  GET  {base}/api/v2/agent_availabilities?filter[channel_status]=messaging:online
 *       developer.zendesk.com/api-reference/agent-availability/agent-availability-api/
 *       (JSON:API shape: {"data": [...], "meta", "links"}; only the first page is counted)
 *  GET  {base}/sc/v2/apps/{appId}/switchboards              {"switchboards": [{"id", ...}]}
 *  GET  {base}/sc/v2/apps/{appId}/switchboards/{id}/switchboardIntegrations
 *       {"switchboardIntegrations": [{"id", "name", "integrationId", "integrationType",
 *        "deliverStandbyEvents", ...}]}: the one of type zd:agentWorkspace is the target of
 *       passControl, by its id (kept a day; Access account renews it)
 *       developer.zendesk.com/api-reference/conversations/#tag/Switchboards and
 *       #tag/SwitchboardIntegrations (List Switchboards, List Switchboard Integrations)
 *  GET  {base}/sc/v2/apps/{appId}/integrations               {"integrations": [{"id", "type",
 *       "webhooks": [{"target"}]}]}: Access account finds deskbridge's own (a custom
 *       integration whose webhook targets /api/zendesk/webhook) in the switchboard
 *       developer.zendesk.com/api-reference/conversations/#tag/Integrations (List Integrations)
 *  POST {base}/api/v2/users/create_or_update                 {"user": {"name", "email",
 *       "external_id", "verified": true}}, Support API credentials, a verified visitor
 *       only, before the conversation: Zendesk matches the messaging user to the Support
 *       user by externalId, so the ticket's requester is the customer's own user with the
 *       verified name and email; a typed name and email never reach the Support API
 *       developer.zendesk.com/api-reference/ticketing/users/users/#create-or-update-user;
 *       the matching: support.zendesk.com/hc/en-us/articles/5851837582490 ("What is the
 *       difference between a user in Zendesk and a user in Sunshine Conversations")
 *  POST {base}/api/v2/tickets                               {"ticket": {"subject", "comment":
 *       {"body"}, "requester": {"name", "email"}, "tags"}}, Support API credentials, with
 *       "Idempotency-Key: <deskbridge's ticket id>": a message a visitor left while no
 *       agent was available. The Tickets API, not the Requests API: Requests are made by
 *       the end user themselves (their own credentials, or anonymous requests, which
 *       admins can turn off), Tickets by an agent on a requester's behalf, "requester"
 *       creating or matching the end user by email
 *       (developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket;
 *       developer.zendesk.com/documentation/ticketing/managing-tickets/
 *       tickets-vs-requests-apis-how-to-select-the-right-option-for-your-project).
 *       Ticket creation takes an Idempotency-Key, kept 2 hours: a repeat answers the
 *       first ticket (x-idempotency-lookup: hit), the same key with other parameters 400
 *       IdempotentRequestError (developer.zendesk.com/api-reference/ticketing/
 *       introduction/#idempotency); 201 {"ticket": {"id", ...}}
 *  POST {base}/sc/v2/apps/{appId}/users                    {"externalId", "profile": {"givenName",
 *  GET  {base}/sc/v2/apps/{appId}/users/{externalId}        "email"}}; 409 when it exists, then fetched
 *       developer.zendesk.com/api-reference/conversations/#tag/Users
 *  POST {base}/sc/v2/apps/{appId}/conversations            {"type": "personal", "participants",
 *       "metadata": {"deskbridge_transfer_id"}}
 *       developer.zendesk.com/api-reference/conversations/#tag/Conversations
 *  POST {base}/sc/v2/apps/{appId}/conversations/{id}/messages   {"author", "content",
 *       "metadata": {"deskbridge_mark"}}: the mark finds a post whose answer was lost, and
 *       tells deskbridge's own posts from the agent's when Zendesk echoes them
 *       developer.zendesk.com/api-reference/conversations/#tag/Messages (Post Message)
 *  GET  {base}/sc/v2/apps/{appId}/conversations/{id}/messages[?page[before]={cursor}]
 *       {"messages", "meta": {"hasMore", "beforeCursor"}, "links"}: pages of 100, the latest
 *       first, searched backwards for a mark before a post whose answer was lost is retried
 *       developer.zendesk.com/api-reference/conversations/#tag/Messages (List Messages)
 *  POST {base}/sc/v2/apps/{appId}/attachments?access=public&for=message&conversationId={id}
 *       multipart/form-data with the file as "source" (attachmentUploadBody), answered
 *       201 {"attachment": {"mediaUrl", "mediaType"}}; then a Post Message of content
 *       {"type": "image" | "file", "mediaUrl", "altText"} (imageMessage, fileMessage) as
 *       the visitor. for=message has Zendesk delete the file with its message or
 *       conversation. Zendesk checks the file's extension and its first bytes, and
 *       refuses others with 415 unsupported_media_type (docs.smooch.io/guide/
 *       validating-files/). The spec says only that the size is limited ("file
 *       validation" guide); deskbridge caps uploads at 50 MB, the limit Zendesk is known
 *       to apply to messaging attachments (not confirmed here)
 *       developer.zendesk.com/api-reference/conversations/#tag/Attachments (Upload Attachment)
 *  POST {base}/sc/v2/apps/{appId}/attachments/remove        {"mediaUrl"} (attachmentDeleteBody):
 *       a file whose message could not be posted (Delete Attachment)
 *  POST {base}/sc/v2/apps/{appId}/conversations/{id}/passControl
 *       {"switchboardIntegration": <the agent workspace's switchboard integration id>,
 *        "metadata": {"first_message_id", "dataCapture.systemField.tags"}}: the spec's
 *       passControlBody takes "the id or the name of the switchboard integration", never
 *       its type. The ticket shows the bot conversation from first_message_id on and
 *       carries the tag the private app looks up, plus "deskbridge_dept_<department>"
 *       when the transfer names one, for the admin's routing triggers (messaging has no
 *       department field to set). Switchboard:
 *       developer.zendesk.com/api-reference/conversations/#tag/Switchboard-Actions;
 *       the metadata keys first_message_id and dataCapture.systemField.tags:
 *       developer.zendesk.com/documentation/conversations/messaging-platform/
 *       programmable-conversations/passing-metadata-to-the-ticket/
 *  POST {base}/sc/v2/apps/{appId}/conversations/{id}/releaseControl   {"metadata":
 *       {"deskbridge_reason": "visitor_left"}}: after the visitor ends the chat, so that no
 *       conversation stays with an agent nobody answers ("releases the control of the
 *       conversation by nullifying its switchboard state"; releaseControlBody)
 *       developer.zendesk.com/api-reference/conversations/#tag/Switchboard-Actions
 *  POST {base}/sc/v2/apps/{appId}/conversations/{id}/activity   {"author": {"type": "user"},
 *       "type": "conversation:read"}: ActivityPost takes only conversation:read from a
 *       user author, so the visitor's typing is not sent
 *       developer.zendesk.com/api-reference/conversations/#tag/Activities
 *  Webhook deliveries (parsed below): developer.zendesk.com/api-reference/webhooks/
 *       conversations-webhooks/ (v2 payloads; X-API-Key carries the webhook secret; app.id
 *       names the app, and another app's delivery is acknowledged and ignored).
 *       conversation:message comes "whenever a message is sent in a conversation,
 *       regardless of author" (developer.zendesk.com/documentation/conversations/
 *       messaging-platform/programmable-conversations/receiving-messages/): the agent's
 *       are the business messages whose source.type is zd:agentWorkspace and that carry
 *       no deskbridge mark. The switchboard events' payload is {"conversation",
 *       "metadata"}, the integration in control being
 *       conversation.activeSwitchboardIntegration (as in the official client's
 *       SwitchboardPassControlAllOfPayload and ConversationTruncated models).
 *
 * Metadata keys of deskbridge's own (deskbridge_transfer_id on the conversation,
 * deskbridge_mark on each message, deskbridge_reason on releaseControl) are custom
 * properties, which the spec's metadata schema allows on each of those bodies as "a flat
 * object containing custom properties" of strings, numbers and booleans, 4 KB at most.
 *
 * Not confirmed against a live account here (no machine reaches Zendesk): the exact
 * error bodies; that passControl's metadata tags reach the ticket as documented; that
 * the ticket's requester is the Support user created by external_id; that every
 * echo of an API post carries the metadata it was posted with; Zendesk's size limit for
 * an uploaded file (50 MB assumed); and which hosts agents' mediaUrls use beyond the
 * spec's examples.
 */
#include "zendesk.h"

#include <ctype.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "desk.h"
#include "jsonnul.h"
#include "metrics.h"
#include "status.h"

#define ZENDESK_CONNECT_TIMEOUT_MS 3000L
#define ZENDESK_TIMEOUT_MS 8000L
#define ZENDESK_MAX_RESPONSE (1024 * 1024)
/* A visitor's file of up to 50 MB goes up within the request that brought it; 8 s would
 * need 50 MB/s to Zendesk. */
#define ZENDESK_UPLOAD_TIMEOUT_MS 60000L
/* The metadata key of the mark on each message deskbridge posts. */
#define ZENDESK_MARK_KEY "deskbridge_mark"

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

struct zendesk_account {
	struct db *db;       /* borrowed: where each call is counted */
	char *base;          /* no trailing slash */
	char *app_id, *key_id, *key_secret;
	char *api_user, *api_token;
};

static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void zendesk_account_free(struct zendesk_account *acct)
{
	if (!acct)
		return;
	free(acct->base);
	free(acct->app_id);
	free(acct->key_id);
	free_secret(acct->key_secret);
	free(acct->api_user);
	free_secret(acct->api_token);
	free(acct);
}

int zendesk_account_load(struct db *db, struct zendesk_account **out)
{
	struct zendesk_account *a = calloc(1, sizeof *a);
	char *subdomain = NULL, *base = NULL;
	int st = a ? ST_OK : ST_NOMEM;

	if (st == ST_OK) {
		a->db = db;
		st = config_get_dup(db, "zendesk.api_base", &base);
	}
	if (st == ST_OK && !base)
		st = config_get_dup(db, "zendesk.subdomain", &subdomain);
	if (st == ST_OK && (base || subdomain)) {
		size_t n = (base ? strlen(base) : strlen(subdomain) + 32) + 1;
		a->base = malloc(n);
		if (!a->base)
			st = ST_NOMEM;
		else if (base)
			snprintf(a->base, n, "%s", base);
		else
			snprintf(a->base, n, "https://%s.zendesk.com", subdomain);
		if (a->base && a->base[0] && a->base[strlen(a->base) - 1] == '/')
			a->base[strlen(a->base) - 1] = '\0';
	}
	if (st == ST_OK)
		st = config_get_dup(db, "zendesk.messaging.app_id", &a->app_id);
	if (st == ST_OK)
		st = config_get_dup(db, "zendesk.messaging.key_id", &a->key_id);
	if (st == ST_OK)
		st = config_secret_get_dup(db, "zendesk.messaging.key_secret", &a->key_secret);
	if (st == ST_OK)
		st = config_get_dup(db, "zendesk.api_user", &a->api_user);
	if (st == ST_OK)
		st = config_secret_get_dup(db, "zendesk.api_token", &a->api_token);
	free(subdomain);
	free(base);
	if (st != ST_OK) {
		zendesk_account_free(a);
		a = NULL;
	}
	*out = a;
	return st;
}

const char *zendesk_app_id(const struct zendesk_account *acct)
{
	return acct ? acct->app_id : NULL;
}

int zendesk_messaging_ready(const struct zendesk_account *acct)
{
	return acct && acct->base && acct->app_id && acct->key_id && acct->key_secret;
}

int zendesk_support_ready(const struct zendesk_account *acct)
{
	return acct && acct->base && acct->api_user && acct->api_token;
}

/* One HTTP exchange. */

struct zendesk_body {
	char *data;
	size_t len;
	int too_large;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct zendesk_body *b = userdata;
	size_t n = size * nmemb;
	char *grown;

	if (b->len + n > ZENDESK_MAX_RESPONSE) {
		b->too_large = 1;
		return 0;
	}
	grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return 0;
	b->data = grown;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

struct zendesk_reply {
	long status;                 /* 0: no HTTP answer (DNS, connect, TLS, timeout) */
	long retry_after_s;          /* from a 429 or 503, else 0 */
	struct json_object *json;    /* the parsed body, or NULL */
	char error[CURL_ERROR_SIZE];
};

static void reply_free(struct zendesk_reply *r)
{
	json_object_put(r->json);
	r->json = NULL;
}

/* Whether the path segment at p is word. */
static int segment_is(const char *p, const char *word)
{
	size_t n = strlen(word);

	return strncmp(p, word, n) == 0 && (p[n] == '\0' || p[n] == '/' || p[n] == '?');
}

/* The metrics label of a call to url (built on a->base): a fixed name per resource,
 * never an id. */
static const char *endpoint_of(const struct zendesk_account *a, const char *url)
{
	static const struct {
		const char *segment, *endpoint;
	} collections[] = {{"switchboards", "switchboard"}, {"integrations", "integrations"}, {"users", "users"},
			   {"conversations", "conversations"}, {"attachments", "attachments"}},
	  actions[] = {{"messages", "messages"}, {"activity", "activity"}, {"passControl", "switchboard"},
		       {"releaseControl", "switchboard"}};
	size_t base = strlen(a->base);
	const char *path = url + base, *action;

	if (strncmp(url, a->base, base) != 0)
		return "other";
	if (segment_is(path, "/api/v2/agent_availabilities"))
		return "availability";
	if (strncmp(path, "/api/v2/users/", 14) == 0)
		return "support_users";
	if (segment_is(path, "/api/v2/tickets"))
		return "tickets";
	if (strncmp(path, "/sc/v2/apps/", 12) != 0)
		return "other";
	path += 12 + strcspn(path + 12, "/?");   /* past the app id */
	if (*path != '/')
		return "apps";
	path++;
	if (segment_is(path, "conversations") && path[13] == '/') {
		/* conversations/{id}/{action} */
		action = path + 14 + strcspn(path + 14, "/?");
		for (size_t i = 0; *action == '/' && i < sizeof actions / sizeof *actions; i++)
			if (segment_is(action + 1, actions[i].segment))
				return actions[i].endpoint;
		return "conversations";
	}
	for (size_t i = 0; i < sizeof collections / sizeof *collections; i++)
		if (segment_is(path, collections[i].segment))
			return collections[i].endpoint;
	return "other";
}

/* libcurl's global state, set up once per process before the first handle or mime. */
static int curl_ready(void)
{
	static int initialised;

	if (!initialised) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return ST_IO;
		initialised = 1;
	}
	return ST_OK;
}

/* The process's one handle, its options reset before each call: the handle keeps its
 * connections, so a handler's calls to Zendesk reuse one TLS connection instead of a
 * handshake each (and libcurl opens a new one when Zendesk has closed it). Lives as long
 * as the process. */
static CURL *process_curl(void)
{
	static CURL *curl;

	if (curl)
		curl_easy_reset(curl);
	else
		curl = curl_easy_init();
	return curl;
}

/* Sends method url with body (NULL: none), or else mime (NULL: none), as Basic
 * user:password, timed and counted in the metrics under the url's endpoint. Never hangs:
 * connect and total timeouts on every call, TLS verification left on, no redirects
 * followed. header (NULL: none) is one more request header, "Name: value". */
static int exchange_with(const struct zendesk_account *a, const char *method, const char *url, const char *header,
			 struct json_object *body, curl_mime *mime, const char *user, const char *password,
			 struct zendesk_reply *out)
{
	struct zendesk_body resp = {0};
	struct curl_slist *headers = NULL;
	CURL *curl;
	CURLcode rc;
	curl_off_t retry_after = 0, took_us = 0;

	memset(out, 0, sizeof *out);
	if (curl_ready() != ST_OK)
		return ST_IO;
	curl = process_curl();
	if (!curl)
		return ST_NOMEM;
	headers = curl_slist_append(headers, "Accept: application/json");
	if (body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	if (header)
		headers = curl_slist_append(headers, header);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
				 json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(curl, CURLOPT_USERNAME, user);
	curl_easy_setopt(curl, CURLOPT_PASSWORD, password);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, ZENDESK_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, mime ? ZENDESK_UPLOAD_TIMEOUT_MS : ZENDESK_TIMEOUT_MS);
	if (mime)
		curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "deskbridge/" PACKAGE_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, out->error);
	rc = curl_easy_perform(curl);
	if (mime)
		curl_easy_setopt(curl, CURLOPT_MIMEPOST, NULL);   /* the caller frees it */
	if (rc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
		if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK)
			out->retry_after_s = (long)retry_after;
		if (resp.data)
			out->json = json_tokener_parse(resp.data);
		/* An id cut at a NUL would name another conversation: such an answer is unreadable. */
		if (out->json && jsonnul_check(resp.data, resp.len, out->json, NULL, 0) != ST_OK) {
			json_object_put(out->json);
			out->json = NULL;
		}
	} else if (!out->error[0]) {
		snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
	}
	curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &took_us);
	metrics_zendesk_call(a->db, endpoint_of(a, url), out->status, (double)took_us / 1e6);
	curl_slist_free_all(headers);
	free(resp.data);
	return ST_OK;
}

static int exchange(const struct zendesk_account *a, const char *method, const char *url,
		    struct json_object *body, const char *user, const char *password, struct zendesk_reply *out)
{
	return exchange_with(a, method, url, NULL, body, NULL, user, password, out);
}

static enum zendesk_outcome outcome_of(const struct zendesk_reply *r, long ok_status)
{
	if (r->status == ok_status || (ok_status == 200 && r->status == 201))
		return ZENDESK_OK;
	if (r->status == 401 || r->status == 403 || r->status == 404)
		return ZENDESK_REJECTED;
	return ZENDESK_UNREACHABLE;
}

/* "Access account". */

/* {base}/sc/v2/apps/{appId}{suffix}{id}{suffix2}; ids are escaped for the path. */
static int messaging_url(const struct zendesk_account *a, char *url, size_t size, const char *suffix,
			 const char *id, const char *suffix2)
{
	char *escaped = id ? curl_easy_escape(NULL, id, 0) : NULL;
	int n = snprintf(url, size, "%s/sc/v2/apps/%s%s%s%s", a->base, a->app_id, suffix ? suffix : "",
			 escaped ? escaped : "", suffix2 ? suffix2 : "");

	curl_free(escaped);
	return n < 0 || (size_t)n >= size || (id && !escaped) ? ST_TOO_LARGE : ST_OK;
}

static int agents_online(const struct zendesk_account *a, struct zendesk_reply *r, int *count)
{
	char url[2048], user[600];
	struct json_object *data;
	int st;

	snprintf(url, sizeof url, "%s/api/v2/agent_availabilities?filter%%5Bchannel_status%%5D=messaging%%3Aonline",
		 a->base);
	snprintf(user, sizeof user, "%s/token", a->api_user);
	st = exchange(a, "GET", url, NULL, user, a->api_token, r);
	*count = 0;
	if (st == ST_OK && r->status == 200) {
		if (json_object_object_get_ex(r->json, "data", &data) && json_object_is_type(data, json_type_array))
			*count = (int)json_object_array_length(data);
		else
			r->status = 0;
	}
	return st;
}

/* 2xx: done; 429, 5xx or no answer: worth retrying; any other 4xx: Zendesk refused it. */
static void classify(const struct zendesk_reply *r, const char *what, struct zendesk_call *call)
{
	memset(call, 0, sizeof *call);
	call->retry_after_s = r->retry_after_s;
	if (r->status >= 200 && r->status < 300) {
		call->outcome = ZENDESK_OK;
		return;
	}
	call->outcome = r->status == 0 || r->status == 429 || r->status >= 500 ? ZENDESK_UNREACHABLE
									   : ZENDESK_REJECTED;
	if (r->status)
		snprintf(call->detail, sizeof call->detail, "%s: HTTP %ld", what, r->status);
	else
		snprintf(call->detail, sizeof call->detail, "%s: %.150s", what, r->error);
}

const char *zendesk_check_name(enum zendesk_check_name check)
{
	static const char *const names[ZENDESK_CHECKS] = {
		[ZENDESK_CHECK_MESSAGING_KEY] = "messaging_key",
		[ZENDESK_CHECK_SUPPORT_TOKEN] = "support_token",
		[ZENDESK_CHECK_AGENT_WORKSPACE] = "agent_workspace",
		[ZENDESK_CHECK_WEBHOOK_INTEGRATION] = "webhook_integration",
	};

	return check < ZENDESK_CHECKS ? names[check] : "unknown";
}

static void check_result(struct zendesk_verify_result *out, enum zendesk_check_name which,
			 enum zendesk_outcome outcome, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void check_result(struct zendesk_verify_result *out, enum zendesk_check_name which,
			 enum zendesk_outcome outcome, const char *fmt, ...)
{
	struct zendesk_check *c = &out->check[which];
	va_list ap;

	c->ran = 1;
	c->outcome = outcome;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof c->message, fmt, ap);
	va_end(ap);
	if (outcome != ZENDESK_OK && !out->detail)
		out->detail = c->message;
}

static void verify_messaging(const struct zendesk_account *acct, struct zendesk_verify_result *out, int *st)
{
	struct zendesk_reply r;
	enum zendesk_outcome o;
	char url[2048];

	if (!acct->base || !acct->app_id || !acct->key_id || !acct->key_secret) {
		check_result(out, ZENDESK_CHECK_MESSAGING_KEY, ZENDESK_MISSING, "The messaging credentials are "
			     "incomplete: set the subdomain, the app id, the key id and the key secret.");
		return;
	}
	if ((*st = messaging_url(acct, url, sizeof url, NULL, NULL, NULL)) != ST_OK ||
	    (*st = exchange(acct, "GET", url, NULL, acct->key_id, acct->key_secret, &r)) != ST_OK)
		return;
	o = outcome_of(&r, 200);
	if (o == ZENDESK_OK && !json_object_object_get_ex(r.json, "app", NULL))
		o = ZENDESK_UNREACHABLE;
	if (o == ZENDESK_OK)
		check_result(out, ZENDESK_CHECK_MESSAGING_KEY, o, "Zendesk accepted the messaging API key of app %s.",
			     acct->app_id);
	else if (o == ZENDESK_REJECTED)
		check_result(out, ZENDESK_CHECK_MESSAGING_KEY, o, "Zendesk rejected the messaging API key "
			     "(key id %s, app %s): HTTP %ld.", acct->key_id, acct->app_id, r.status);
	else
		check_result(out, ZENDESK_CHECK_MESSAGING_KEY, o, "Zendesk's messaging API did not answer "
			     "properly: %.150s.", r.status ? "an unexpected answer" : r.error);
	reply_free(&r);
}

static void verify_support(const struct zendesk_account *acct, struct zendesk_verify_result *out, int *st)
{
	struct zendesk_reply r;
	enum zendesk_outcome o;

	if (!acct->base || !acct->api_user || !acct->api_token) {
		check_result(out, ZENDESK_CHECK_SUPPORT_TOKEN, ZENDESK_MISSING, "The agent's email (API user) and "
			     "the API token are needed to read agent availability.");
		return;
	}
	if ((*st = agents_online(acct, &r, &out->agents_online)) != ST_OK)
		return;
	o = outcome_of(&r, 200);
	if (o == ZENDESK_OK)
		check_result(out, ZENDESK_CHECK_SUPPORT_TOKEN, o, "Zendesk accepted the API token of %s: %d "
			     "agent(s) online for messaging.", acct->api_user, out->agents_online);
	else if (o == ZENDESK_REJECTED)
		check_result(out, ZENDESK_CHECK_SUPPORT_TOKEN, o, "Zendesk rejected the API token of %s: HTTP %ld.",
			     acct->api_user, r.status);
	else
		check_result(out, ZENDESK_CHECK_SUPPORT_TOKEN, o, "Zendesk's Support API did not answer "
			     "properly: %.150s.", r.status ? "an unexpected answer" : r.error);
	reply_free(&r);
}

/* GETs a messaging URL and keeps the array at name of the answer (caller puts *array). */
static int get_list(const struct zendesk_account *a, const char *url, const char *name, const char *what,
		    struct json_object **array, struct zendesk_call *call)
{
	struct zendesk_reply r;
	struct json_object *v = NULL;
	int st = exchange(a, "GET", url, NULL, a->key_id, a->key_secret, &r);

	*array = NULL;
	if (st != ST_OK)
		return st;
	classify(&r, what, call);
	if (call->outcome == ZENDESK_OK) {
		if (json_object_object_get_ex(r.json, name, &v) && json_object_is_type(v, json_type_array)) {
			*array = json_object_get(v);
		} else {
			call->outcome = ZENDESK_UNREACHABLE;
			snprintf(call->detail, sizeof call->detail, "%s: the answer has no %s", what, name);
		}
	}
	reply_free(&r);
	return ST_OK;
}

/* The switchboard integrations of the app's switchboard (an app has one). */
static int switchboard_integrations(const struct zendesk_account *a, struct json_object **out,
				    struct zendesk_call *call)
{
	struct json_object *boards = NULL;
	const char *board = NULL;
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/switchboards", NULL, NULL);

	*out = NULL;
	if (st == ST_OK)
		st = get_list(a, url, "switchboards", "reading the switchboard", &boards, call);
	if (st == ST_OK && call->outcome == ZENDESK_OK) {
		if (json_object_array_length(boards) > 0)
			board = jstr(json_object_array_get_idx(boards, 0), "id");
		if (!board) {
			call->outcome = ZENDESK_REJECTED;
			snprintf(call->detail, sizeof call->detail, "the messaging app has no switchboard");
		}
	}
	if (st == ST_OK && board && (st = messaging_url(a, url, sizeof url, "/switchboards/", board,
							"/switchboardIntegrations")) == ST_OK)
		st = get_list(a, url, "switchboardIntegrations", "reading the switchboard integrations", out, call);
	json_object_put(boards);
	return st;
}

static struct json_object *find_by(struct json_object *array, const char *field, const char *value)
{
	for (size_t i = 0; array && i < json_object_array_length(array); i++) {
		struct json_object *e = json_object_array_get_idx(array, i);
		const char *v = jstr(e, field);
		if (v && strcmp(v, value) == 0)
			return e;
	}
	return NULL;
}

/* The id of the agent workspace's entry in a switchboard integration list, into id;
 * 0 when it has none. */
static int agent_workspace_of(struct json_object *list, char *id, size_t size)
{
	struct json_object *aw = find_by(list, "integrationType", ZENDESK_AGENT_WORKSPACE);

	if (!aw || !jstr(aw, "id"))
		return 0;
	snprintf(id, size, "%s", jstr(aw, "id"));
	return 1;
}

int zendesk_agent_workspace(const struct zendesk_account *a, char integration_id[ZENDESK_ID_LEN],
			    struct zendesk_call *call)
{
	struct json_object *list = NULL;
	int st = switchboard_integrations(a, &list, call);

	integration_id[0] = '\0';
	if (st == ST_OK && call->outcome == ZENDESK_OK && !agent_workspace_of(list, integration_id, ZENDESK_ID_LEN)) {
		call->outcome = ZENDESK_REJECTED;
		snprintf(call->detail, sizeof call->detail, "the switchboard has no agent workspace "
			 "integration (type %s)", ZENDESK_AGENT_WORKSPACE);
	}
	json_object_put(list);
	return st;
}

/* A custom integration with a webhook whose target is deskbridge's webhook path. */
static int is_ours(struct json_object *integration)
{
	struct json_object *hooks = NULL;
	const char *type = jstr(integration, "type");
	size_t path = strlen(ZENDESK_WEBHOOK_PATH);

	if (!type || strcmp(type, "custom") != 0 || !json_object_object_get_ex(integration, "webhooks", &hooks) ||
	    !json_object_is_type(hooks, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(hooks); i++) {
		const char *target = jstr(json_object_array_get_idx(hooks, i), "target");
		size_t n = target ? strlen(target) : 0;
		if (n >= path && strcmp(target + n - path, ZENDESK_WEBHOOK_PATH) == 0)
			return 1;
	}
	return 0;
}

static void verify_switchboard(const struct zendesk_account *acct, struct zendesk_verify_result *out, int *st)
{
	struct json_object *list = NULL, *integrations = NULL, *aw, *ours = NULL, *standby;
	struct zendesk_call call;
	char url[2048];

	if ((*st = switchboard_integrations(acct, &list, &call)) != ST_OK)
		return;
	if (call.outcome != ZENDESK_OK) {
		check_result(out, ZENDESK_CHECK_AGENT_WORKSPACE, call.outcome, "Zendesk did not show the "
			     "switchboard: %s.", call.detail);
		goto done;
	}
	if (agent_workspace_of(list, out->agent_workspace_id, sizeof out->agent_workspace_id)) {
		check_result(out, ZENDESK_CHECK_AGENT_WORKSPACE, ZENDESK_OK, "The switchboard passes "
			     "conversations to the agent workspace (integration %s).", out->agent_workspace_id);
	} else {
		check_result(out, ZENDESK_CHECK_AGENT_WORKSPACE, ZENDESK_MISSING, "The switchboard has no agent "
			     "workspace integration, so no conversation can reach an agent: turn on messaging "
			     "in Admin Center (Channels > Messaging).");
	}
	if ((*st = messaging_url(acct, url, sizeof url, "/integrations", NULL, NULL)) != ST_OK ||
	    (*st = get_list(acct, url, "integrations", "reading the integrations", &integrations, &call)) != ST_OK)
		goto done;
	for (size_t i = 0; call.outcome == ZENDESK_OK && !ours && i < json_object_array_length(integrations); i++)
		if (is_ours(json_object_array_get_idx(integrations, i)))
			ours = json_object_array_get_idx(integrations, i);
	if (call.outcome != ZENDESK_OK) {
		check_result(out, ZENDESK_CHECK_WEBHOOK_INTEGRATION, call.outcome, "Zendesk did not list the "
			     "integrations: %s.", call.detail);
	} else if (!ours || !jstr(ours, "id")) {
		check_result(out, ZENDESK_CHECK_WEBHOOK_INTEGRATION, ZENDESK_MISSING, "No integration of the app "
			     "has a webhook to deskbridge (a target ending in %s), so agent replies will not "
			     "arrive: add one in Admin Center (Apps and integrations > Conversations API).",
			     ZENDESK_WEBHOOK_PATH);
	} else if (!(aw = find_by(list, "integrationId", jstr(ours, "id")))) {
		check_result(out, ZENDESK_CHECK_WEBHOOK_INTEGRATION, ZENDESK_MISSING, "deskbridge's integration "
			     "(%s) is not in the switchboard: add it, with standby events on, so it hears the "
			     "agent while the agent workspace is in control.", jstr(ours, "id"));
	} else if (json_object_object_get_ex(aw, "deliverStandbyEvents", &standby) &&
		   !json_object_get_boolean(standby)) {
		check_result(out, ZENDESK_CHECK_WEBHOOK_INTEGRATION, ZENDESK_MISSING, "deskbridge's switchboard "
			     "integration (%s) does not take standby events, so it would not hear the agent: "
			     "turn deliverStandbyEvents on.", jstr(aw, "id"));
	} else {
		check_result(out, ZENDESK_CHECK_WEBHOOK_INTEGRATION, ZENDESK_OK, "deskbridge's webhook integration "
			     "(%s) is in the switchboard.", jstr(ours, "id"));
	}
done:
	json_object_put(list);
	json_object_put(integrations);
}

int zendesk_verify(const struct zendesk_account *acct, struct zendesk_verify_result *out)
{
	int st = ST_OK;

	memset(out, 0, sizeof *out);
	verify_messaging(acct, out, &st);
	/* A Zendesk that does not answer is not asked again for the token: one timeout is enough. */
	if (st == ST_OK && out->check[ZENDESK_CHECK_MESSAGING_KEY].outcome != ZENDESK_UNREACHABLE)
		verify_support(acct, out, &st);
	if (st == ST_OK && out->check[ZENDESK_CHECK_MESSAGING_KEY].outcome == ZENDESK_OK &&
	    out->check[ZENDESK_CHECK_MESSAGING_KEY].ran)
		verify_switchboard(acct, out, &st);
	for (int i = 0; st == ST_OK && i < ZENDESK_CHECKS; i++)
		if (!out->check[i].ran) {
			out->check[i].outcome = ZENDESK_MISSING;
			snprintf(out->check[i].message, sizeof out->check[i].message, "Not checked: %s",
				 i == ZENDESK_CHECK_SUPPORT_TOKEN ? "Zendesk did not answer."
								  : "the messaging API key must work first.");
		}
	return st;
}

/* The handoff, one step per call, so that the outbox can record each step and a retry
 * resumes where the last attempt stopped. */

/* POSTs body to a messaging URL and copies the string at obj.field[.0].id of the answer. */
static int post_messaging(const struct zendesk_account *a, const char *url, struct json_object *body,
			  const char *what, const char *obj, char *id, size_t id_size,
			  struct zendesk_call *call)
{
	struct zendesk_reply r;
	struct json_object *o = NULL, *v = NULL;
	int st = exchange(a, "POST", url, body, a->key_id, a->key_secret, &r);

	if (st != ST_OK)
		return st;
	classify(&r, what, call);
	if (call->outcome == ZENDESK_OK && id) {
		json_object_object_get_ex(r.json, obj, &o);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, 0);
		if (json_object_object_get_ex(o, "id", &v) && json_object_is_type(v, json_type_string))
			snprintf(id, id_size, "%s", json_object_get_string(v));
		else {
			call->outcome = ZENDESK_UNREACHABLE;
			snprintf(call->detail, sizeof call->detail, "%s: the answer has no %s id", what, obj);
		}
	}
	reply_free(&r);
	return ST_OK;
}

int zendesk_support_user(const struct zendesk_account *a, const char *external_id, const char *name,
			 const char *email, struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *user = json_object_new_object();
	struct zendesk_reply r;
	char url[2048], login[600];
	int st;

	snprintf(url, sizeof url, "%s/api/v2/users/create_or_update", a->base);
	snprintf(login, sizeof login, "%s/token", a->api_user);
	json_object_object_add(user, "name", json_object_new_string(name));
	json_object_object_add(user, "email", json_object_new_string(email));
	json_object_object_add(user, "external_id", json_object_new_string(external_id));
	json_object_object_add(user, "verified", json_object_new_boolean(1));
	json_object_object_add(body, "user", user);
	st = exchange(a, "POST", url, body, login, a->api_token, &r);
	json_object_put(body);
	if (st != ST_OK)
		return st;
	classify(&r, "creating or updating the Zendesk requester", call);
	if (call->outcome == ZENDESK_OK && !jobj(r.json, "user")) {
		call->outcome = ZENDESK_UNREACHABLE;
		snprintf(call->detail, sizeof call->detail, "creating or updating the Zendesk requester: "
			 "the answer has no user");
	}
	reply_free(&r);
	return ST_OK;
}

int zendesk_create_ticket(const struct zendesk_account *a, const char *key, const char *name,
			  const char *email, const char *subject, const char *text,
			  char ticket_id[ZENDESK_ID_LEN], struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *ticket = json_object_new_object();
	struct json_object *requester = json_object_new_object(), *comment = json_object_new_object();
	struct json_object *tags = json_object_new_array(), *t = NULL, *id = NULL;
	struct zendesk_reply r;
	char url[2048], login[600], header[300], tag[64];
	int st;

	snprintf(url, sizeof url, "%s/api/v2/tickets", a->base);
	snprintf(login, sizeof login, "%s/token", a->api_user);
	snprintf(header, sizeof header, "Idempotency-Key: %s", key);
	/* Lower case: Zendesk lowercases tags. */
	snprintf(tag, sizeof tag, "deskbridge_%s", key);
	json_object_object_add(requester, "name", json_object_new_string(name));
	json_object_object_add(requester, "email", json_object_new_string(email));
	json_object_object_add(comment, "body", json_object_new_string(text));
	json_object_array_add(tags, json_object_new_string("deskbridge_message"));
	json_object_array_add(tags, json_object_new_string(tag));
	json_object_object_add(ticket, "subject", json_object_new_string(subject));
	json_object_object_add(ticket, "comment", comment);
	json_object_object_add(ticket, "requester", requester);
	json_object_object_add(ticket, "tags", tags);
	json_object_object_add(body, "ticket", ticket);
	st = exchange_with(a, "POST", url, header, body, NULL, login, a->api_token, &r);
	json_object_put(body);
	if (st != ST_OK)
		return st;
	classify(&r, "creating the Zendesk ticket", call);
	/* The same key while Zendesk still carries out the first request: ask again later. */
	if (r.status == 409)
		call->outcome = ZENDESK_UNREACHABLE;
	ticket_id[0] = '\0';
	if (call->outcome == ZENDESK_OK && json_object_object_get_ex(r.json, "ticket", &t) &&
	    json_object_object_get_ex(t, "id", &id) && json_object_is_type(id, json_type_int))
		snprintf(ticket_id, ZENDESK_ID_LEN, "%lld", (long long)json_object_get_int64(id));
	else if (call->outcome == ZENDESK_OK) {
		call->outcome = ZENDESK_UNREACHABLE;
		snprintf(call->detail, sizeof call->detail, "creating the Zendesk ticket: the answer has no ticket id");
	}
	reply_free(&r);
	return ST_OK;
}

int zendesk_user(const struct zendesk_account *a, const char *external_id, const char *name,
		 const char *email, char user_id[ZENDESK_ID_LEN], struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *profile = json_object_new_object();
	struct zendesk_reply r;
	struct json_object *user, *id;
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/users", NULL, NULL);

	json_object_object_add(body, "externalId", json_object_new_string(external_id));
	json_object_object_add(profile, "givenName", json_object_new_string(name));
	json_object_object_add(profile, "email", json_object_new_string(email));
	json_object_object_add(body, "profile", profile);
	if (st == ST_OK)
		st = exchange(a, "POST", url, body, a->key_id, a->key_secret, &r);
	json_object_put(body);
	if (st != ST_OK)
		return st;
	if (r.status == 409) {
		/* The visitor talked to an agent before: the user exists; use it. */
		reply_free(&r);
		st = messaging_url(a, url, sizeof url, "/users/", external_id, NULL);
		if (st == ST_OK)
			st = exchange(a, "GET", url, NULL, a->key_id, a->key_secret, &r);
		if (st != ST_OK)
			return st;
	}
	classify(&r, "creating the Zendesk user", call);
	if (call->outcome == ZENDESK_OK) {
		if (json_object_object_get_ex(r.json, "user", &user) && json_object_object_get_ex(user, "id", &id))
			snprintf(user_id, ZENDESK_ID_LEN, "%s", json_object_get_string(id));
		else
			call->outcome = ZENDESK_UNREACHABLE;
	}
	reply_free(&r);
	return ST_OK;
}

int zendesk_conversation(const struct zendesk_account *a, const char *user_id, const char *transfer_id,
			 char conversation_id[ZENDESK_ID_LEN], struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *participants = json_object_new_array();
	struct json_object *p = json_object_new_object(), *meta = json_object_new_object();
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/conversations", NULL, NULL);

	json_object_object_add(body, "type", json_object_new_string("personal"));
	json_object_object_add(p, "userId", json_object_new_string(user_id));
	json_object_object_add(p, "subscribeSDKClient", json_object_new_boolean(0));
	json_object_array_add(participants, p);
	json_object_object_add(body, "participants", participants);
	json_object_object_add(meta, "deskbridge_transfer_id", json_object_new_string(transfer_id));
	json_object_object_add(body, "metadata", meta);
	if (st == ST_OK)
		st = post_messaging(a, url, body, "creating the Zendesk conversation", "conversation",
				    conversation_id, ZENDESK_ID_LEN, call);
	json_object_put(body);
	return st;
}

int zendesk_post(const struct zendesk_account *a, const char *conversation_id, const char *user_id,
		 const char *text, const char *mark, char message_id[ZENDESK_ID_LEN],
		 struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *author = json_object_new_object();
	struct json_object *content = json_object_new_object(), *meta = json_object_new_object();
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/conversations/", conversation_id, "/messages");

	/* The visitor's words as the visitor; the bot's as the business, named so. */
	json_object_object_add(author, "type", json_object_new_string(user_id ? "user" : "business"));
	if (user_id)
		json_object_object_add(author, "userId", json_object_new_string(user_id));
	else
		json_object_object_add(author, "displayName", json_object_new_string("Bot"));
	json_object_object_add(body, "author", author);
	json_object_object_add(content, "type", json_object_new_string("text"));
	json_object_object_add(content, "text", json_object_new_string(text));
	json_object_object_add(body, "content", content);
	json_object_object_add(meta, ZENDESK_MARK_KEY, json_object_new_string(mark));
	json_object_object_add(body, "metadata", meta);
	if (st == ST_OK)
		st = post_messaging(a, url, body, "posting a message", "messages", message_id,
				    ZENDESK_ID_LEN, call);
	json_object_put(body);
	return st;
}

/* Files. */

struct upload_source {
	const unsigned char *data;
	size_t len, pos;
};

static size_t upload_read(char *buffer, size_t size, size_t nitems, void *arg)
{
	struct upload_source *src = arg;
	size_t n = size * nitems;

	if (n > src->len - src->pos)
		n = src->len - src->pos;
	memcpy(buffer, src->data + src->pos, n);
	src->pos += n;
	return n;
}

static int upload_seek(void *arg, curl_off_t offset, int origin)
{
	struct upload_source *src = arg;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > src->len)
		return CURL_SEEKFUNC_CANTSEEK;
	src->pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Zendesk's own words for a refusal (the spec's errorResponse: errors[0].title). */
static void add_zendesk_reason(const struct zendesk_reply *r, struct zendesk_call *call)
{
	struct json_object *errors;
	const char *title = NULL;
	size_t n = strlen(call->detail);

	if (json_object_object_get_ex(r->json, "errors", &errors) && json_object_is_type(errors, json_type_array))
		title = jstr(json_object_array_get_idx(errors, 0), "title");
	if (title && n < sizeof call->detail)
		snprintf(call->detail + n, sizeof call->detail - n, " (%.120s)", title);
}

int zendesk_upload_attachment(const struct zendesk_account *a, const char *conversation_id, const void *data,
			      size_t len, const char *filename, const char *media_type,
			      char media_url[ZENDESK_URL_LEN], struct zendesk_call *call)
{
	struct upload_source src = {data, len, 0};
	struct zendesk_reply r;
	struct json_object *attachment;
	const char *url_got;
	char url[2048], *escaped = curl_easy_escape(NULL, conversation_id, 0);
	curl_mime *mime = NULL;
	curl_mimepart *part;
	int st = escaped ? messaging_url(a, url, sizeof url, "/attachments", NULL, NULL) : ST_NOMEM;
	size_t n = st == ST_OK ? strlen(url) : 0;

	/* access=public is the only level the spec offers; for=message with the conversation
	 * has Zendesk delete the file with the conversation. */
	if (st == ST_OK && (size_t)snprintf(url + n, sizeof url - n, "?access=public&for=message&conversationId=%s",
					    escaped) >= sizeof url - n)
		st = ST_TOO_LARGE;
	curl_free(escaped);
	/* The mime is built before exchange_with's handle. */
	if (st == ST_OK && curl_ready() != ST_OK)
		st = ST_IO;
	if (st == ST_OK && !(mime = curl_mime_init(NULL)))
		st = ST_NOMEM;
	if (st == ST_OK) {
		part = curl_mime_addpart(mime);
		if (!part || curl_mime_name(part, "source") != CURLE_OK ||
		    curl_mime_filename(part, filename) != CURLE_OK || curl_mime_type(part, media_type) != CURLE_OK ||
		    curl_mime_data_cb(part, (curl_off_t)len, upload_read, upload_seek, NULL, &src) != CURLE_OK)
			st = ST_NOMEM;
	}
	if (st == ST_OK)
		st = exchange_with(a, "POST", url, NULL, NULL, mime, a->key_id, a->key_secret, &r);
	curl_mime_free(mime);
	if (st != ST_OK)
		return st;
	classify(&r, "uploading the file to Zendesk", call);
	if (call->outcome != ZENDESK_OK)
		add_zendesk_reason(&r, call);
	attachment = jobj(r.json, "attachment");
	url_got = jstr(attachment, "mediaUrl");
	if (call->outcome == ZENDESK_OK && (!url_got || strlen(url_got) >= ZENDESK_URL_LEN)) {
		call->outcome = ZENDESK_UNREACHABLE;
		snprintf(call->detail, sizeof call->detail, "uploading the file to Zendesk: the answer has no mediaUrl");
	} else if (call->outcome == ZENDESK_OK) {
		snprintf(media_url, ZENDESK_URL_LEN, "%s", url_got);
	}
	reply_free(&r);
	return ST_OK;
}

int zendesk_post_media(const struct zendesk_account *a, const char *conversation_id, const char *user_id,
		       int image, const char *media_url, const char *alt_text, const char *mark,
		       char message_id[ZENDESK_ID_LEN], struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *author = json_object_new_object();
	struct json_object *content = json_object_new_object(), *meta = json_object_new_object();
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/conversations/", conversation_id, "/messages");

	json_object_object_add(author, "type", json_object_new_string("user"));
	json_object_object_add(author, "userId", json_object_new_string(user_id));
	json_object_object_add(body, "author", author);
	/* imageMessage and fileMessage: type and mediaUrl, altText at most 128 characters;
	 * mediaType is read-only, Zendesk's own reading of the file. */
	json_object_object_add(content, "type", json_object_new_string(image ? "image" : "file"));
	json_object_object_add(content, "mediaUrl", json_object_new_string(media_url));
	if (alt_text && *alt_text)
		json_object_object_add(content, "altText", json_object_new_string(alt_text));
	json_object_object_add(body, "content", content);
	json_object_object_add(meta, ZENDESK_MARK_KEY, json_object_new_string(mark));
	json_object_object_add(body, "metadata", meta);
	if (st == ST_OK)
		st = post_messaging(a, url, body, "posting the file message", "messages", message_id,
				    ZENDESK_ID_LEN, call);
	json_object_put(body);
	return st;
}

int zendesk_remove_attachment(const struct zendesk_account *a, const char *media_url, struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object();
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/attachments/remove", NULL, NULL);

	json_object_object_add(body, "mediaUrl", json_object_new_string(media_url));
	if (st == ST_OK)
		st = post_messaging(a, url, body, "removing the uploaded file", NULL, NULL, 0, call);
	json_object_put(body);
	return st;
}

static int host_ends_with(const char *host, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && strncasecmp(host + len - n, suffix, n) == 0;
}

int zendesk_media_url_ok(const char *url)
{
	/* Sunshine Conversations serves messaging media from the account's own
	 * {subdomain}.zendesk.com/sc/attachments/... (the spec's uploadAttachment example),
	 * from *.zdusercontent.com (Zendesk's user-content host) and, for older apps, from
	 * smooch.io (the spec's attachmentSchema example). */
	static const char *const hosts[] = {".zendesk.com", ".zdusercontent.com", ".smooch.io"};
	const char *host, *end;
	size_t len;

	if (!url || strncasecmp(url, "https://", 8) != 0 || strlen(url) >= ZENDESK_URL_LEN)
		return 0;
	host = url + 8;
	len = strcspn(host, "/?#");
	end = host + len;
	/* No userinfo, port or odd characters: the host is exactly what the check reads. */
	for (const char *c = host; c < end; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.')
			return 0;
	for (const char *c = end; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '\\' || *c == '"' || *c == '<' || *c == '>' || *c == 127)
			return 0;
	if (len == strlen("smooch.io") && strncasecmp(host, "smooch.io", len) == 0)
		return 1;
	for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++)
		if (host_ends_with(host, len, hosts[i]))
			return 1;
	return 0;
}

/* Looks through one page of messages for the mark; *before is the cursor of the page
 * before it (caller frees), or NULL when this was the oldest. */
static int find_on_page(const struct zendesk_account *a, const char *conversation_id, const char *mark,
			const char *cursor, char message_id[ZENDESK_ID_LEN], int *found, char **before,
			struct zendesk_call *call)
{
	struct zendesk_reply r;
	struct json_object *messages = NULL, *meta, *more;
	char url[2048], *escaped = cursor ? curl_easy_escape(NULL, cursor, 0) : NULL;
	int st = messaging_url(a, url, sizeof url, "/conversations/", conversation_id, "/messages");
	size_t len = strlen(url);

	*before = NULL;
	if (cursor && !escaped)
		st = ST_NOMEM;
	else if (st == ST_OK && escaped &&
		 (size_t)snprintf(url + len, sizeof url - len, "?page%%5Bbefore%%5D=%s", escaped) >= sizeof url - len)
		st = ST_TOO_LARGE;
	curl_free(escaped);
	if (st == ST_OK)
		st = exchange(a, "GET", url, NULL, a->key_id, a->key_secret, &r);
	if (st != ST_OK)
		return st;
	classify(&r, "looking for a message sent before", call);
	json_object_object_get_ex(r.json, "messages", &messages);
	for (size_t i = 0; call->outcome == ZENDESK_OK && !*found &&
			   json_object_is_type(messages, json_type_array) && i < json_object_array_length(messages); i++) {
		struct json_object *m = json_object_array_get_idx(messages, i);
		const char *got = jstr(jobj(m, "metadata"), ZENDESK_MARK_KEY);
		if (got && strcmp(got, mark) == 0 && jstr(m, "id")) {
			snprintf(message_id, ZENDESK_ID_LEN, "%s", jstr(m, "id"));
			*found = 1;
		}
	}
	meta = jobj(r.json, "meta");
	if (call->outcome == ZENDESK_OK && !*found && json_object_object_get_ex(meta, "hasMore", &more) &&
	    json_object_get_boolean(more) && jstr(meta, "beforeCursor") && !(*before = strdup(jstr(meta, "beforeCursor"))))
		st = ST_NOMEM;
	reply_free(&r);
	return st;
}

int zendesk_find_marked(const struct zendesk_account *a, const char *conversation_id, const char *mark,
			char message_id[ZENDESK_ID_LEN], int *found, struct zendesk_call *call)
{
	char *cursor = NULL, *before = NULL;
	int st = ST_OK;

	*found = 0;
	for (int page = 0; st == ST_OK && page < ZENDESK_FIND_PAGES_MAX && (page == 0 || cursor); page++) {
		st = find_on_page(a, conversation_id, mark, cursor, message_id, found, &before, call);
		free(cursor);
		cursor = before;
		before = NULL;
		if (call->outcome != ZENDESK_OK || *found)
			break;
	}
	free(cursor);
	return st;
}

/* Zendesk tags are lower case, without spaces (a space separates two tags). */
static void department_tag(const char *department, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, " deskbridge_dept_");

	for (const unsigned char *p = (const unsigned char *)department; *p && n + 1 < size; p++)
		out[n++] = isalnum(*p) || *p == '-' ? (char)tolower(*p) : '_';
	out[n] = '\0';
}

int zendesk_pass_control(const struct zendesk_account *a, const char *conversation_id,
			 const char *integration_id, const char *first_message_id, const char *transfer_id,
			 const char *department, struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *meta = json_object_new_object();
	char url[2048], tag[96 + 160];
	int st = messaging_url(a, url, sizeof url, "/conversations/", conversation_id, "/passControl");
	int n = snprintf(tag, sizeof tag, "deskbridge_%s", transfer_id);

	if (department && *department && n > 0 && (size_t)n < sizeof tag)
		department_tag(department, tag + n, sizeof tag - (size_t)n);
	json_object_object_add(body, "switchboardIntegration", json_object_new_string(integration_id));
	if (first_message_id && *first_message_id)
		json_object_object_add(meta, "first_message_id", json_object_new_string(first_message_id));
	json_object_object_add(meta, "dataCapture.systemField.tags", json_object_new_string(tag));
	json_object_object_add(body, "metadata", meta);
	if (st == ST_OK)
		st = post_messaging(a, url, body, "passing the conversation to the agent workspace", NULL, NULL,
				    0, call);
	json_object_put(body);
	return st;
}

int zendesk_release_control(const struct zendesk_account *a, const char *conversation_id,
			    struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *meta = json_object_new_object();
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/conversations/", conversation_id, "/releaseControl");

	json_object_object_add(meta, "deskbridge_reason", json_object_new_string("visitor_left"));
	json_object_object_add(body, "metadata", meta);
	if (st == ST_OK)
		st = post_messaging(a, url, body, "releasing the conversation", NULL, NULL, 0, call);
	json_object_put(body);
	return st;
}

int zendesk_read(const struct zendesk_account *a, const char *conversation_id, const char *user_id,
		 struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *author = json_object_new_object();
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/conversations/", conversation_id, "/activity");

	json_object_object_add(author, "type", json_object_new_string("user"));
	json_object_object_add(author, "userId", json_object_new_string(user_id));
	json_object_object_add(body, "author", author);
	json_object_object_add(body, "type", json_object_new_string("conversation:read"));
	if (st == ST_OK)
		st = post_messaging(a, url, body, "sending the visitor's read receipt", NULL, NULL, 0, call);
	json_object_put(body);
	return st;
}

int zendesk_agents_online(const struct zendesk_account *a, int *count, struct zendesk_call *call)
{
	struct zendesk_reply r;
	int st = agents_online(a, &r, count);

	if (st == ST_OK) {
		classify(&r, "reading agent availability", call);
		reply_free(&r);
	}
	return st;
}

/* Webhooks. Sunshine Conversations v2 delivers {"app", "webhook", "events": [...]}, each
 * event {"id", "type", "createdAt", "payload"}; the agent workspace posts as a
 * "business" author, deskbridge's own messages come back as the "user" author. */


static int is_business(struct json_object *author)
{
	const char *type = jstr(author, "type");

	return type && strcmp(type, "business") == 0;
}

/* A business author has no userId (Zendesk supports it for type "user" only): the agent
 * is known by the name the agent workspace shows, so two agents of one name are one. */
static void take_agent(struct desk_event *e, struct json_object *author)
{
	e->agent_name = jstr(author, "displayName");
	e->agent_avatar_url = jstr(author, "avatarUrl");
	e->agent_id = e->agent_name;
}

/* The spec's imageMessage and fileMessage: mediaUrl, and the read-only mediaType and
 * altText. A mediaUrl off Zendesk's media hosts, or not https:, is dropped here, so no
 * visitor's browser is sent to it; the message's text, if any, still arrives. */
static void parse_media(struct desk_event *e, struct json_object *content)
{
	const char *type = jstr(content, "type");
	const char *url = jstr(content, "mediaUrl");

	if (!type || (strcmp(type, "image") != 0 && strcmp(type, "file") != 0) || !zendesk_media_url_ok(url))
		return;
	e->media_kind = type;
	e->media_url = url;
	e->media_type = jstr(content, "mediaType");
	e->alt_text = jstr(content, "altText");
}

/* Zendesk sends conversation:message for every message, whoever wrote it: deskbridge's
 * own posts (the visitor's, the bot history, the note to the agent) come back too, as
 * do other integrations'. The agent's are the business messages from the agent
 * workspace; a message carrying deskbridge's mark is one of its own whatever its source. */
static void parse_message(struct desk_event *e, struct json_object *payload)
{
	struct json_object *message = jobj(payload, "message");
	struct json_object *author = jobj(message, "author"), *content = jobj(message, "content");
	const char *source = jstr(jobj(message, "source"), "type");

	if (jstr(jobj(message, "metadata"), ZENDESK_MARK_KEY) || !is_business(author)) {
		e->type = author ? DESK_EVENT_VISITOR_ECHO : DESK_EVENT_OTHER;
		return;
	}
	e->message_id = jstr(message, "id");
	e->text = jstr(content, "text");
	parse_media(e, content);
	if (!source || strcmp(source, ZENDESK_AGENT_WORKSPACE) != 0 || !e->message_id || (!e->text && !e->media_url))
		return;
	e->type = DESK_EVENT_AGENT_MESSAGE;
	take_agent(e, author);
}

static int with_agent_workspace(struct json_object *payload)
{
	const char *integration = jstr(jobj(jobj(payload, "conversation"), "activeSwitchboardIntegration"),
				       "integrationType");

	return integration && strcmp(integration, ZENDESK_AGENT_WORKSPACE) == 0;
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
		/* An activity names no source; while the agent workspace has the conversation,
		 * a business author typing is its agent, whose name the visitor may then see. */
		if (with_agent_workspace(payload))
			take_agent(e, jobj(activity, "author"));
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

/* passControl and acceptControl name no target of their own: the conversation they carry
 * has the integration now in control as activeSwitchboardIntegration. */
static void parse_switchboard(struct desk_event *e, struct json_object *payload, const char *type)
{
	struct json_object *active = jobj(jobj(payload, "conversation"), "activeSwitchboardIntegration");
	const char *integration = jstr(active, "integrationType");
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

int zendesk_parse_webhook(struct json_object *delivery, const char *app_id, struct desk_events *out)
{
	struct json_object *events;
	const char *for_app = jstr(jobj(delivery, "app"), "id");
	size_t n;

	out->n = 0;
	out->other_app_events = 0;
	if (!json_object_object_get_ex(delivery, "events", &events) ||
	    !json_object_is_type(events, json_type_array))
		return ST_INVALID;
	/* One Zendesk account may send several apps' webhooks to the same URL. */
	if (!for_app || !app_id || strcmp(for_app, app_id) != 0) {
		out->other_app_events = json_object_array_length(events);
		return ST_OK;
	}
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

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
 *  POST {base}/sc/v2/apps/{appId}/users                    {"externalId", "profile"}; 409 when
 *  GET  {base}/sc/v2/apps/{appId}/users/{externalId}       it exists, then fetched
 *       developer.zendesk.com/api-reference/conversations/#tag/Users
 *  POST {base}/sc/v2/apps/{appId}/conversations            {"type": "personal", "participants"}
 *       developer.zendesk.com/api-reference/conversations/#tag/Conversations
 *  POST {base}/sc/v2/apps/{appId}/conversations/{id}/messages   {"author", "content",
 *       "metadata": {"deskbridge_mark"}}
 *  GET  {base}/sc/v2/apps/{appId}/conversations/{id}/messages[?page[before]={cursor}]
 *       {"messages", "meta": {"hasMore", "beforeCursor"}, "links"}: pages of 100, the latest
 *       first, searched backwards for a mark before a post whose answer was lost is retried
 *       developer.zendesk.com/api-reference/conversations/#tag/Messages (List Messages)
 *  POST {base}/sc/v2/apps/{appId}/conversations/{id}/passControl
 *       {"switchboardIntegration": "zd:agentWorkspace", "metadata": {"first_message_id",
 *        "dataCapture.systemField.tags"}}: the ticket shows the bot conversation from
 *       first_message_id on and carries the tag the private app looks up, plus
 *       "deskbridge_dept_<department>" when the transfer names one, for the admin's
 *       routing triggers (messaging has no department field to set). Switchboard:
 *       developer.zendesk.com/api-reference/conversations/#tag/Switchboard-Actions;
 *       the metadata keys: developer.zendesk.com/documentation/conversations/messaging-
 *       platform/programmable-conversations/passing-metadata-to-the-ticket/
 *  POST {base}/sc/v2/apps/{appId}/conversations/{id}/activity   {"author", "type"}
 *       developer.zendesk.com/api-reference/conversations/#tag/Activities
 *  Webhook deliveries (parsed below): developer.zendesk.com/api-reference/webhooks/
 *       conversations-webhooks/ (v2 payloads; X-API-Key carries the webhook secret). The
 *       switchboard events' payload is {"conversation", "metadata"}, the integration in
 *       control being conversation.activeSwitchboardIntegration (as in the official
 *       client's SwitchboardPassControlAllOfPayload and ConversationTruncated models).
 *
 * Not confirmed against a live account here (no machine reaches Zendesk): the exact
 * error bodies, and that passControl's metadata tags reach the ticket as documented.
 */
#include "zendesk.h"

#include <ctype.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "desk.h"
#include "status.h"

#define ZENDESK_CONNECT_TIMEOUT_MS 3000L
#define ZENDESK_TIMEOUT_MS 8000L
#define ZENDESK_MAX_RESPONSE (1024 * 1024)
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

	if (st == ST_OK)
		st = config_get_dup(db, "zendesk.api_base", &base);
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

/* Sends method url with body (NULL: none) as Basic user:password. Never hangs: connect
 * and total timeouts on every call, TLS verification left on, no redirects followed. */
static int exchange(const char *method, const char *url, struct json_object *body,
		    const char *user, const char *password, struct zendesk_reply *out)
{
	static int initialised;
	struct zendesk_body resp = {0};
	struct curl_slist *headers = NULL;
	CURL *curl;
	CURLcode rc;
	curl_off_t retry_after = 0;

	memset(out, 0, sizeof *out);
	if (!initialised) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return ST_IO;
		initialised = 1;
	}
	curl = curl_easy_init();
	if (!curl)
		return ST_NOMEM;
	headers = curl_slist_append(headers, "Accept: application/json");
	if (body)
		headers = curl_slist_append(headers, "Content-Type: application/json");
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
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ZENDESK_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "deskbridge/" PACKAGE_VERSION);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, out->error);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
		if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK)
			out->retry_after_s = (long)retry_after;
		if (resp.data)
			out->json = json_tokener_parse(resp.data);
	} else if (!out->error[0]) {
		snprintf(out->error, sizeof out->error, "%s", curl_easy_strerror(rc));
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(resp.data);
	return ST_OK;
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
	st = exchange("GET", url, NULL, user, a->api_token, r);
	*count = 0;
	if (st == ST_OK && r->status == 200) {
		if (json_object_object_get_ex(r->json, "data", &data) && json_object_is_type(data, json_type_array))
			*count = (int)json_object_array_length(data);
		else
			r->status = 0;
	}
	return st;
}

int zendesk_verify(const struct zendesk_account *acct, struct zendesk_verify_result *out)
{
	struct zendesk_reply r;
	char url[2048];
	int st = ST_OK;

	memset(out, 0, sizeof *out);
	if (!acct->base || !acct->app_id || !acct->key_id || !acct->key_secret) {
		out->messaging = ZENDESK_MISSING;
		snprintf(out->detail, sizeof out->detail, "The messaging credentials are incomplete: set the "
			 "subdomain, the app id, the key id and the key secret.");
	} else if ((st = messaging_url(acct, url, sizeof url, NULL, NULL, NULL)) == ST_OK &&
		   (st = exchange("GET", url, NULL, acct->key_id, acct->key_secret, &r)) == ST_OK) {
		out->messaging = outcome_of(&r, 200);
		if (out->messaging == ZENDESK_OK && !json_object_object_get_ex(r.json, "app", NULL))
			out->messaging = ZENDESK_UNREACHABLE;
		if (out->messaging == ZENDESK_REJECTED)
			snprintf(out->detail, sizeof out->detail, "Zendesk rejected the messaging API key "
				 "(key id %s, app %s): HTTP %ld.", acct->key_id, acct->app_id, r.status);
		else if (out->messaging != ZENDESK_OK)
			snprintf(out->detail, sizeof out->detail, "Zendesk's messaging API did not answer "
				 "properly: %.150s.", r.status ? "an unexpected answer" : r.error);
		reply_free(&r);
	}
	if (st != ST_OK || out->messaging != ZENDESK_OK)
		return st;
	if (!acct->api_user || !acct->api_token) {
		out->support = ZENDESK_MISSING;
		snprintf(out->detail, sizeof out->detail,
			 "The agent's email (api_user) and the API token are needed to read agent availability.");
		return ST_OK;
	}
	st = agents_online(acct, &r, &out->agents_online);
	if (st == ST_OK) {
		out->support = outcome_of(&r, 200);
		if (out->support == ZENDESK_REJECTED)
			snprintf(out->detail, sizeof out->detail, "Zendesk rejected the API token of %s: HTTP %ld.",
				 acct->api_user, r.status);
		else if (out->support != ZENDESK_OK)
			snprintf(out->detail, sizeof out->detail, "Zendesk's Support API did not answer properly: %.150s.",
				 r.status ? "an unexpected answer" : r.error);
		reply_free(&r);
	}
	return st;
}

/* The handoff, one step per call, so that the outbox can record each step and a retry
 * resumes where the last attempt stopped. */

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

/* POSTs body to a messaging URL and copies the string at obj.field[.0].id of the answer. */
static int post_messaging(const struct zendesk_account *a, const char *url, struct json_object *body,
			  const char *what, const char *obj, char *id, size_t id_size,
			  struct zendesk_call *call)
{
	struct zendesk_reply r;
	struct json_object *o = NULL, *v = NULL;
	int st = exchange("POST", url, body, a->key_id, a->key_secret, &r);

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
		st = exchange("POST", url, body, a->key_id, a->key_secret, &r);
	json_object_put(body);
	if (st != ST_OK)
		return st;
	if (r.status == 409) {
		/* The visitor talked to an agent before: the user exists; use it. */
		reply_free(&r);
		st = messaging_url(a, url, sizeof url, "/users/", external_id, NULL);
		if (st == ST_OK)
			st = exchange("GET", url, NULL, a->key_id, a->key_secret, &r);
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
		st = exchange("GET", url, NULL, a->key_id, a->key_secret, &r);
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
			 const char *first_message_id, const char *transfer_id, const char *department,
			 struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *meta = json_object_new_object();
	char url[2048], tag[96 + 160];
	int st = messaging_url(a, url, sizeof url, "/conversations/", conversation_id, "/passControl");
	int n = snprintf(tag, sizeof tag, "deskbridge_%s", transfer_id);

	if (department && *department && n > 0 && (size_t)n < sizeof tag)
		department_tag(department, tag + n, sizeof tag - (size_t)n);
	json_object_object_add(body, "switchboardIntegration", json_object_new_string(ZENDESK_AGENT_WORKSPACE));
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

int zendesk_activity(const struct zendesk_account *a, const char *conversation_id, const char *user_id,
		     const char *type, struct zendesk_call *call)
{
	struct json_object *body = json_object_new_object(), *author = json_object_new_object();
	char url[2048];
	int st = messaging_url(a, url, sizeof url, "/conversations/", conversation_id, "/activity");

	json_object_object_add(author, "type", json_object_new_string("user"));
	json_object_object_add(author, "userId", json_object_new_string(user_id));
	json_object_object_add(body, "author", author);
	json_object_object_add(body, "type", json_object_new_string(type));
	if (st == ST_OK)
		st = post_messaging(a, url, body, "sending activity", NULL, NULL, 0, call);
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

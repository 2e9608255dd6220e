/* lib/setup.c — the /api/setup/config document over config, sitekeys, keys and avatar. */
#include "setup.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appcreds.h"
#include "appzip.h"
#include "audit.h"
#include "avatar.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "keys.h"
#include "sitekeys.h"
#include "outbox.h"
#include "status.h"
#include "timefmt.h"
#include "webhook.h"
#include "transfer.h"
#include "zendesk.h"

#define SETUP_SITE_KEYS "security.site_public_keys"

/* Objects of the document that hold fields rather than being one. */
static const char *const setup_sections[] = {"zendesk", "zendesk.messaging", "security", "transfers",
					      "limits", "deployment", "hours", "tickets"};

/* Each field by the label the setup form shows it under (www/setup/index.html), so that
 * an error names what the admin sees; the dotted name stays in the error's "field". */
static const struct {
	const char *field, *label;
} setup_labels[] = {
	{"transfers_enabled", "Allow transfers to live agents"},
	{"service_desk", "Service desk"},
	{"zendesk.subdomain", "Zendesk subdomain"},
	{"zendesk.account_key", "Chat account key"},
	{"zendesk.api_user", "Agent email (API user)"},
	{"zendesk.api_token", "API token"},
	{"zendesk.account_verified_at", "Zendesk account checked"},
	{"zendesk.shared_secret", "Zendesk shared secret"},
	{"zendesk.messaging.app_id", "App ID"},
	{"zendesk.messaging.key_id", "Key ID"},
	{"zendesk.messaging.key_secret", "Key secret"},
	{"zendesk.messaging.webhook_secret", "Webhook secret"},
	{"zendesk.messaging.jwt_key_id", "Messaging JWT key ID"},
	{"zendesk.api_base", "Zendesk API address"},
	{"zendesk.chat_api_base", "Zendesk Chat API address"},
	{"security.authenticate_users", "Authenticate users"},
	{"security.allow_anonymous_transfers", "Authenticate anonymous user chat transfers"},
	{"security.issuer", "Issuer"},
	{"security.trusted_proxies", "Trusted proxies"},
	{"security.allowed_origins", "Sites on other origins"},
	{"security.clock_skew_s", "Allowed clock difference (seconds)"},
	{"security.site_public_keys", "Site public keys"},
	{"transfers.join_timeout_s", "Wait for an agent (seconds)"},
	{"transfers.idle_timeout_s", "End an idle chat after (seconds)"},
	{"transfers.unavailable_message", "Message when no agent is available"},
	{"transfers.department", "Department"},
	{"limits.token_per_minute", "Tokens per minute"},
	{"limits.transfers_per_minute", "Transfers per minute"},
	{"limits.messages_per_minute", "Messages per minute"},
	{"limits.open_transfers_per_visitor", "Open chats per visitor"},
	{"limits.file_upload_bytes", "Largest file a visitor may send (bytes)"},
	{"deployment.public_url", "deskbridge's public address"},
	{"hours.time_zone", "Time zone"},
	{"hours.weekly", "Opening hours"},
	{"hours.closed_message", "Message when closed"},
	{"tickets.offer_when_offline", "Offer to leave a message"},
};

/* Fields shown by GET but owned by other endpoints; a PATCH naming them is refused. */
static const char *const setup_readonly[] = {
	"agent_avatar", "app_credentials_set", "service_public_key",
};

/* Changing any of these makes the last "Access account" check stale. */
static const char *const setup_zendesk_credentials[] = {
	"zendesk.subdomain", "zendesk.api_user", "zendesk.api_token", "zendesk.messaging.app_id",
	"zendesk.messaging.key_id", "zendesk.messaging.key_secret", "zendesk.api_base",
};

/* Where, or as whom, deskbridge talks to Zendesk, and the secrets it sends there. An admin
 * session that changes one without the other must not have deskbridge send the stored
 * secret to a new place: the secret is cleared, to be entered again. */
static const struct {
	const char *changed, *secret;
} setup_secret_bindings[] = {
	{"zendesk.api_base", "zendesk.messaging.key_secret"},
	{"zendesk.api_base", "zendesk.api_token"},
	{"zendesk.subdomain", "zendesk.messaging.key_secret"},
	{"zendesk.subdomain", "zendesk.api_token"},
	{"zendesk.messaging.app_id", "zendesk.messaging.key_secret"},
	{"zendesk.messaging.key_id", "zendesk.messaging.key_secret"},
	{"zendesk.api_user", "zendesk.api_token"},
};

static int in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

#define IN_LIST(name, list) in_list(name, list, sizeof list / sizeof *list)

/* The object at a dotted section path inside root, created on the way. */
static struct json_object *section(struct json_object *root, const char *dotted, size_t len)
{
	char part[64];
	struct json_object *cur = root, *next;
	const char *p = dotted, *end = dotted + len;

	while (p < end) {
		size_t n = strcspn(p, ".");
		if (p + n > end)
			n = (size_t)(end - p);
		snprintf(part, sizeof part, "%.*s", (int)n, p);
		if (!json_object_object_get_ex(cur, part, &next)) {
			next = json_object_new_object();
			json_object_object_add(cur, part, next);
		}
		cur = next;
		p += n + 1;
	}
	return cur;
}

static int add_key(struct db *db, struct json_object *root, const struct config_key *key)
{
	const char *dot = strrchr(key->name, '.');
	const char *leaf = dot ? dot + 1 : key->name;
	struct json_object *obj = section(root, key->name, dot ? (size_t)(dot - key->name) : 0);
	struct json_object *v = NULL;
	char *value = NULL, name[96];
	int is_set, st;

	if (key->type == CONFIG_SECRET) {
		st = config_is_set(db, key->name, &is_set);
		snprintf(name, sizeof name, "%s_set", leaf);
		if (st == ST_OK)
			json_object_object_add(obj, name, json_object_new_boolean(is_set));
		return st;
	}
	st = config_get_dup(db, key->name, &value);
	if (st != ST_OK)
		return st;
	if (value && key->type == CONFIG_BOOL)
		v = json_object_new_boolean(strcmp(value, "true") == 0);
	else if (value && key->type == CONFIG_INT)
		v = json_object_new_int64(strtoll(value, NULL, 10));
	else if (value)
		v = json_object_new_string(value);
	json_object_object_add(obj, leaf, v);
	free(value);
	return ST_OK;
}

int setup_config_json(struct db *db, struct json_object **out)
{
	struct json_object *root = json_object_new_object(), *keys = NULL, *avatar;
	const struct config_key *table;
	char *pem = NULL;
	int avatar_set = 0, creds_set = 0, st = ST_OK;
	size_t n;

	table = config_keys(&n);
	for (size_t i = 0; st == ST_OK && i < n; i++)
		st = add_key(db, root, &table[i]);
	if (st == ST_OK)
		st = sitekeys_list_json(db, &keys);
	if (st == ST_OK) {
		json_object_object_add(section(root, "security", 8), "site_public_keys", keys);
		st = avatar_is_set(db, &avatar_set);
	}
	if (st == ST_OK)
		st = appcreds_is_set(db, &creds_set);
	if (st == ST_OK) {
		st = keys_current_public_dup(db, &pem);
		if (st == ST_NOT_FOUND)
			st = ST_OK;
	}
	if (st == ST_OK) {
		avatar = json_object_new_object();
		json_object_object_add(avatar, "set", json_object_new_boolean(avatar_set));
		json_object_object_add(root, "agent_avatar", avatar);
		json_object_object_add(root, "app_credentials_set", json_object_new_boolean(creds_set));
		json_object_object_add(root, "service_public_key", pem ? json_object_new_string(pem) : NULL);
		*out = root;
	} else {
		json_object_put(root);
	}
	free(pem);
	return st;
}

/* One validated change waiting for the transaction. */
struct setup_change {
	const struct config_key *key;
	char *value;              /* NULL: unset */
};

struct setup_patch {
	struct setup_change changes[64];
	size_t n;
	struct json_object *site_keys;  /* borrowed from the patch; NULL: unchanged */
};

static int fail(struct setup_error *err, const char *field, const char *why, int bad_shape)
{
	const char *label = NULL;
	size_t n = strlen(field);

	/* A secret's "<name>_set" flag goes by the secret's label. */
	if (n > 4 && strcmp(field + n - 4, "_set") == 0)
		n -= 4;
	for (size_t i = 0; !label && i < sizeof setup_labels / sizeof *setup_labels; i++)
		if (strlen(setup_labels[i].field) == n && strncmp(setup_labels[i].field, field, n) == 0)
			label = setup_labels[i].label;
	snprintf(err->field, sizeof err->field, "%s", field);
	/* The reason may already end its sentence. */
	n = strlen(why);
	n = n && why[n - 1] == '.' ? n - 1 : n;
	if (label)
		snprintf(err->message, sizeof err->message, "%s: %.*s.", label, (int)n, why);
	else
		snprintf(err->message, sizeof err->message, "\"%s\" %.*s.", field, (int)n, why);
	err->bad_shape = bad_shape;
	return ST_INVALID;
}

/* The stored text form of a JSON value for key, or a shape error. */
static int value_text_dup(const struct config_key *key, struct json_object *v, char **out,
			  const char **why)
{
	char num[32];

	*out = NULL;
	if (!v) {
		/* null returns a key to its default: an emptied number field means "the default". */
		if (!key->default_value && (key->type == CONFIG_BOOL || key->type == CONFIG_INT)) {
			*why = key->type == CONFIG_BOOL ? "must be true or false" : "must be an integer";
			return ST_INVALID;
		}
		return ST_OK;
	}
	switch (key->type) {
	case CONFIG_BOOL:
		if (!json_object_is_type(v, json_type_boolean)) {
			*why = "must be true or false";
			return ST_INVALID;
		}
		*out = strdup(json_object_get_boolean(v) ? "true" : "false");
		break;
	case CONFIG_INT:
		if (!json_object_is_type(v, json_type_int)) {
			*why = "must be an integer";
			return ST_INVALID;
		}
		snprintf(num, sizeof num, "%lld", (long long)json_object_get_int64(v));
		*out = strdup(num);
		break;
	case CONFIG_TEXT:
	case CONFIG_SECRET:
		if (!json_object_is_type(v, json_type_string)) {
			*why = "must be a string or null";
			return ST_INVALID;
		}
		return config_normalize_dup(key, json_object_get_string(v), out);
	}
	return *out ? ST_OK : ST_NOMEM;
}

static int collect(struct json_object *obj, const char *prefix, struct setup_patch *p,
		   struct setup_error *err)
{
	json_object_object_foreach(obj, name, v) {
		char path[128];
		const struct config_key *key;
		const char *why = NULL;
		char *text;
		int st;

		if ((size_t)snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name) >= sizeof path)
			return fail(err, prefix, "has a field name that is too long", 1);
		if (strcmp(path, SETUP_SITE_KEYS) == 0) {
			if ((why = sitekeys_check(v)) != NULL)
				return fail(err, path, why, !json_object_is_type(v, json_type_array));
			p->site_keys = v;
			continue;
		}
		key = config_key_find(path);
		if (key && !key->readonly) {
			st = value_text_dup(key, v, &text, &why);
			if (st == ST_NOMEM)
				return st;
			if (st != ST_OK)
				return fail(err, path, why, 1);
			if (text && (why = config_check(key, text)) != NULL) {
				free(text);
				return fail(err, path, why, 0);
			}
			p->changes[p->n].key = key;
			p->changes[p->n++].value = text;
			continue;
		}
		if (key || IN_LIST(path, setup_readonly) ||
		    (strlen(path) > 4 && strcmp(path + strlen(path) - 4, "_set") == 0))
			return fail(err, path, "is read-only", 0);
		if (IN_LIST(path, setup_sections)) {
			if (!json_object_is_type(v, json_type_object))
				return fail(err, path, "must be an object", 1);
			st = collect(v, path, p, err);
			if (st != ST_OK)
				return st;
			continue;
		}
		return fail(err, path, "is not a configuration field", 0);
	}
	return ST_OK;
}

/* Whether a change alters the stored value; secrets always count, unread. */
static int changes_value(struct db *db, const struct setup_change *c, int *out)
{
	char *cur = NULL;
	int st;

	*out = 1;
	if (c->key->type == CONFIG_SECRET)
		return ST_OK;
	if (!c->value)
		return config_is_set(db, c->key->name, out);
	st = config_get_dup(db, c->key->name, &cur);
	if (st == ST_OK)
		*out = !(cur && c->value ? strcmp(cur, c->value) == 0 : cur == c->value);
	free(cur);
	return st;
}

static int json_array_has(struct json_object *array, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(array); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(array, i)), name) == 0)
			return 1;
	return 0;
}

static int patch_sets(const struct setup_patch *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->changes[i].key->name, name) == 0 && p->changes[i].value)
			return 1;
	return 0;
}

/* Clears each secret bound to a changed destination, unless the patch sets it anew. */
static int clear_unbound_secrets(struct db *db, const struct setup_patch *p, struct json_object *changed)
{
	const char *why;
	int set, st = ST_OK;

	for (size_t i = 0; st == ST_OK && i < sizeof setup_secret_bindings / sizeof *setup_secret_bindings; i++) {
		const char *secret = setup_secret_bindings[i].secret;
		if (!json_array_has(changed, setup_secret_bindings[i].changed) || patch_sets(p, secret) ||
		    json_array_has(changed, secret))
			continue;
		st = config_is_set(db, secret, &set);
		if (st == ST_OK && set && (st = config_set(db, secret, NULL, &why)) == ST_OK)
			json_object_array_add(changed, json_object_new_string(secret));
	}
	return st;
}

static int apply(struct db *db, struct setup_patch *p, struct json_object *changed)
{
	const char *why;
	int differs, stale = 0, st = ST_OK;

	for (size_t i = 0; st == ST_OK && i < p->n; i++) {
		st = changes_value(db, &p->changes[i], &differs);
		if (st != ST_OK || !differs)
			continue;
		st = config_set(db, p->changes[i].key->name, p->changes[i].value, &why);
		json_object_array_add(changed, json_object_new_string(p->changes[i].key->name));
		stale |= IN_LIST(p->changes[i].key->name, setup_zendesk_credentials);
	}
	if (st == ST_OK)
		st = clear_unbound_secrets(db, p, changed);
	if (st == ST_OK && p->site_keys) {
		st = sitekeys_replace(db, p->site_keys);
		json_object_array_add(changed, json_object_new_string(SETUP_SITE_KEYS));
	}
	if (st == ST_OK && stale)
		st = config_set(db, "zendesk.account_verified_at", NULL, &why);
	return st;
}

int setup_config_patch(struct db *db, struct json_object *patch, const char *actor,
		       int64_t now, struct setup_error *err)
{
	struct setup_patch p = {.n = 0, .site_keys = NULL};
	struct json_object *changed = json_object_new_array();
	int st;

	memset(err, 0, sizeof *err);
	st = collect(patch, "", &p, err);
	if (st == ST_OK)
		st = db_begin(db);
	if (st == ST_OK) {
		st = apply(db, &p, changed);
		if (st == ST_OK && json_object_array_length(changed) > 0)
			st = audit_record(db, actor, "config.update", changed, now);
		if (st == ST_OK)
			st = db_commit(db);
		if (st != ST_OK)
			db_rollback(db);
	}
	for (size_t i = 0; i < p.n; i++)
		free(p.changes[i].value);
	json_object_put(changed);
	return st;
}

struct json_object *setup_checks_json(const struct zendesk_verify_result *r, int failed_only)
{
	struct json_object *list = json_object_new_array();

	for (int i = 0; i < ZENDESK_CHECKS; i++) {
		struct json_object *c;
		int ok = r->check[i].outcome == ZENDESK_OK;
		if (failed_only && ok)
			continue;
		c = json_object_new_object();
		json_object_object_add(c, "name", json_object_new_string(zendesk_check_name((enum zendesk_check_name)i)));
		json_object_object_add(c, "ok", json_object_new_boolean(ok));
		json_object_object_add(c, "ran", json_object_new_boolean(r->check[i].ran));
		json_object_object_add(c, "message", json_object_new_string(r->check[i].message));
		json_object_array_add(list, c);
	}
	return list;
}

/* The status panel's "Last Zendesk error": a failed Access account with the checks that
 * failed, or, once it passes, nothing in place of such an error (a delivery's stays). */
static int remember_verify(struct db *db, const struct zendesk_verify_result *r, int64_t now)
{
	struct json_object *e, *last = NULL;
	char at[TIMEFMT_LEN], *text = NULL;
	int st;

	if (!r->detail) {
		st = cache_get_dup(db, SETUP_LAST_ZENDESK_ERROR, now, &text);
		if (st == ST_OK && text)
			last = json_tokener_parse(text);
		if (st == ST_OK && last && json_object_object_get_ex(last, "checks", NULL))
			st = cache_put(db, SETUP_LAST_ZENDESK_ERROR, "", now);
		json_object_put(last);
		free(text);
		return st;
	}
	e = json_object_new_object();
	json_object_object_add(e, "message", json_object_new_string(r->detail));
	json_object_object_add(e, "at", json_object_new_string(timefmt_rfc3339(now, at)));
	json_object_object_add(e, "checks", setup_checks_json(r, 1));
	st = cache_put(db, SETUP_LAST_ZENDESK_ERROR, json_object_to_json_string(e), now + 7 * 24 * 3600);
	json_object_put(e);
	return st;
}

int setup_zendesk_verify(struct db *db, int64_t now, struct zendesk_verify_result *out)
{
	struct zendesk_account *acct = NULL;
	const char *why;
	char stamp[TIMEFMT_LEN];
	int st;

	st = zendesk_account_load(db, &acct);
	if (st == ST_OK)
		st = zendesk_verify(acct, out);
	if (st == ST_OK && out->agent_workspace_id[0])
		st = outbox_remember_agent_workspace(db, zendesk_app_id(acct), out->agent_workspace_id, now);
	zendesk_account_free(acct);
	if (st == ST_OK)
		st = remember_verify(db, out, now);
	if (st != ST_OK || out->detail)
		return st;
	return config_set(db, "zendesk.account_verified_at", timefmt_rfc3339(now, stamp), &why);
}

int setup_app_zip_dup(struct db *db, const char *template_dir, unsigned char **zip, size_t *len)
{
	char *url = NULL;
	int st = config_get_dup(db, "deployment.public_url", &url);

	*zip = NULL;
	if (st == ST_OK && !url)
		st = ST_NOT_FOUND;
	if (st == ST_OK) {
		st = appzip_build_dup(template_dir, url, zip, len);
		/* A stored address passed its validator; the package refusing it is our bug. */
		if (st == ST_INVALID)
			st = ST_IO;
	}
	free(url);
	return st;
}

/* A time kept in the cache as RFC 3339 text, or JSON null. */
static int cached_time(struct db *db, const char *key, int64_t now, struct json_object **out)
{
	char *text = NULL;
	int st = cache_get_dup(db, key, now, &text);

	*out = st == ST_OK && text && *text ? json_object_new_string(text) : NULL;
	free(text);
	return st;
}

int setup_status_json(struct db *db, int64_t now, struct json_object **out)
{
	struct transfer_counts counts;
	struct json_object *root, *transfers, *last = NULL, *webhook_at = NULL, *handoff_at = NULL;
	char *last_text = NULL;
	int version, st;

	st = transfer_counts(db, &counts);
	if (st == ST_OK)
		st = db_schema_version(db, &version);
	if (st == ST_OK)
		st = cache_get_dup(db, SETUP_LAST_ZENDESK_ERROR, now, &last_text);
	if (st == ST_OK)
		st = cached_time(db, WEBHOOK_LAST_AT, now, &webhook_at);
	if (st == ST_OK)
		st = cached_time(db, OUTBOX_LAST_HANDOFF, now, &handoff_at);
	if (st != ST_OK) {
		free(last_text);
		json_object_put(webhook_at);
		return st;
	}
	if (last_text)
		last = json_tokener_parse(last_text);
	free(last_text);
	root = json_object_new_object();
	transfers = json_object_new_object();
	json_object_object_add(transfers, "waiting", json_object_new_int64(counts.waiting));
	json_object_object_add(transfers, "active", json_object_new_int64(counts.active));
	json_object_object_add(transfers, "ended", json_object_new_int64(counts.ended));
	json_object_object_add(root, "transfers", transfers);
	json_object_object_add(root, "undelivered_messages", json_object_new_int64(counts.undelivered));
	json_object_object_add(root, "last_zendesk_error", last);
	json_object_object_add(root, "last_webhook_at", webhook_at);
	json_object_object_add(root, "last_handoff_at", handoff_at);
	json_object_object_add(root, "schema_version", json_object_new_int(version));
	*out = root;
	return ST_OK;
}

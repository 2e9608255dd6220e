/* lib/token.c — the Zendesk messaging end-user JWT. */
#include "token.h"

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "jwt.h"
#include "status.h"
#include "timefmt.h"

/* The site token from {"token": ...}, else the Bearer credentials; NULL when neither. */
static const char *site_token(struct json_object *body, const char *bearer)
{
	struct json_object *t;

	if (body && json_object_object_get_ex(body, "token", &t) && json_object_is_type(t, json_type_string))
		return json_object_get_string(t);
	return bearer;
}

/* The claims Zendesk messaging takes from an end user's JWT, and no others: "Enabling
 * authenticated visitors for messaging", Creating a JWT token
 * (https://developer.zendesk.com/documentation/zendesk-web-widget-sdks/sdks/web/enabling_auth_visitors/):
 * scope "user" (required), external_id (required), then name, email, email_verified and
 * exp. The email is verified only when the site signed it: Zendesk identifies no one by
 * an email whose email_verified is false, such as the anonymous placeholder. */
static struct json_object *visitor_claims(const struct identity *id, int64_t now)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "scope", json_object_new_string("user"));
	json_object_object_add(c, "external_id", json_object_new_string(id->external_id));
	json_object_object_add(c, "name", json_object_new_string(id->name));
	json_object_object_add(c, "email", json_object_new_string(id->email));
	json_object_object_add(c, "email_verified", json_object_new_boolean(id->authenticated));
	json_object_object_add(c, "exp", json_object_new_int64(now + TOKEN_ZENDESK_TTL_S));
	return c;
}

/* Why the token cannot be minted for want of a setting, naming it; NULL when both are set. */
static const char *missing_setting(const char *secret, const char *kid)
{
	if (!secret && !kid)
		return "zendesk.shared_secret and zendesk.messaging.jwt_key_id (the messaging signing "
		       "key's secret and key ID) are not set";
	if (!secret)
		return "zendesk.shared_secret (the messaging signing key's shared secret) is not set";
	if (!kid)
		return "zendesk.messaging.jwt_key_id (the messaging signing key's ID) is not set";
	return NULL;
}

int token_mint(struct db *db, struct json_object *body, const char *bearer, int64_t now,
	       struct json_object **out, enum apierr *err, const char **why)
{
	const char *token = site_token(body, bearer);
	struct identity id = {0};
	enum identity_error refused = IDENTITY_OK;
	struct json_object *claims;
	char *secret = NULL, *kid = NULL, *jwt = NULL, expires[TIMEFMT_LEN];
	int st;

	*out = NULL;
	if (!token) {
		*err = APIERR_BAD_REQUEST;
		*why = "send the site's JWT as {\"token\": ...} or Authorization: Bearer";
		return ST_OK;
	}
	st = db_begin_read(db);
	if (st == ST_OK)
		st = config_secret_get_dup(db, "zendesk.shared_secret", &secret);
	if (st == ST_OK)
		st = config_get_dup(db, "zendesk.messaging.jwt_key_id", &kid);
	if (st == ST_OK && !missing_setting(secret, kid))
		st = identity_verify(db, token, strlen(token), now, &id, &refused, why);
	db_end_read(db);
	if (st == ST_OK && missing_setting(secret, kid)) {
		*err = APIERR_NOT_CONFIGURED;
		*why = missing_setting(secret, kid);
	} else if (st == ST_OK && refused != IDENTITY_OK) {
		*err = identity_apierr(refused);
	} else if (st == ST_OK) {
		claims = visitor_claims(&id, now);
		st = jwt_sign_hs256_dup(kid, claims, secret, strlen(secret), &jwt);
		json_object_put(claims);
	}
	if (st == ST_OK && jwt) {
		*out = json_object_new_object();
		json_object_object_add(*out, "jwt", json_object_new_string(jwt));
		json_object_object_add(*out, "external_id", json_object_new_string(id.external_id));
		json_object_object_add(*out, "name", json_object_new_string(id.name));
		json_object_object_add(*out, "email", json_object_new_string(id.email));
		json_object_object_add(*out, "expires_at", json_object_new_string(
			timefmt_rfc3339(now + TOKEN_ZENDESK_TTL_S, expires)));
	}
	identity_clear(&id);
	if (secret)
		OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	free(kid);
	free(jwt);
	return st;
}

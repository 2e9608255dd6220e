/* lib/apierr.c — the table of API errors and the status-to-error mapping. */
#include "apierr.h"
#include "status.h"

static const struct {
	int http_status;
	const char *code;
	const char *message;
} apierr_table[APIERR_COUNT] = {
	[APIERR_BAD_REQUEST] = {400, "bad_request",
		"The request is malformed: send valid UTF-8 JSON of the documented shape."},
	[APIERR_UNAUTHENTICATED] = {401, "unauthenticated",
		"Authentication is required: log in or send valid credentials."},
	[APIERR_INVALID_CREDENTIALS] = {401, "invalid_credentials",
		"The credentials are wrong."},
	[APIERR_CSRF_FAILED] = {403, "csrf_failed",
		"The X-CSRF-Token header is missing or does not match this session."},
	[APIERR_NOT_FOUND] = {404, "not_found",
		"There is nothing at this path."},
	[APIERR_METHOD_NOT_ALLOWED] = {405, "method_not_allowed",
		"This path does not accept this method; the Allow header lists the ones it does."},
	[APIERR_CONFLICT] = {409, "conflict",
		"The request conflicts with the current state."},
	[APIERR_PAYLOAD_TOO_LARGE] = {413, "payload_too_large",
		"The request body is larger than this endpoint accepts."},
	[APIERR_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type",
		"The Content-Type is not one this endpoint accepts."},
	[APIERR_INVALID_FIELD] = {422, "invalid_field",
		"A field has an invalid value."},
	[APIERR_RATE_LIMITED] = {429, "rate_limited",
		"Too many requests: wait for the time in Retry-After, then try again."},
	[APIERR_INTERNAL] = {500, "internal_error",
		"Something went wrong on the server; the error is logged. Try again later."},
	[APIERR_NOT_CONFIGURED] = {503, "not_configured",
		"This feature needs setup that has not been done yet."},
	[APIERR_DB_UNAVAILABLE] = {503, "db_unavailable",
		"The service's database cannot be opened; try again later."},
	[APIERR_ZENDESK_REJECTED] = {502, "zendesk_rejected_credentials",
		"Zendesk refused the credentials: check them in the setup form."},
	[APIERR_ZENDESK_UNREACHABLE] = {502, "zendesk_unreachable",
		"Zendesk could not be reached or did not answer in time; try again later."},
	[APIERR_ZENDESK_INCOMPLETE] = {502, "zendesk_setup_incomplete",
		"Zendesk accepted the credentials, but a handoff needs more set up there: see the checks."},
	[APIERR_INVALID_TOKEN] = {401, "invalid_token",
		"The site's token is invalid: get a fresh one from the site and try again."},
	[APIERR_INVALID_USER_PAYLOAD] = {422, "invalid_user_payload",
		"The token's user_payload cannot be used."},
	[APIERR_ANONYMOUS_NOT_ALLOWED] = {403, "anonymous_not_allowed",
		"This deployment does not accept visitors without a name and email."},
	[APIERR_TRANSFER_ENDED] = {409, "transfer_ended",
		"This chat with an agent has ended; start a new one to continue."},
	[APIERR_TRANSFERS_DISABLED] = {503, "transfers_disabled",
		"Transfers to live agents are turned off."},
	[APIERR_AGENTS_UNAVAILABLE] = {503, "agents_unavailable",
		"No agent is available right now. Please try again later."},
	[APIERR_ORIGIN_NOT_ALLOWED] = {403, "origin_not_allowed",
		"This API does not answer pages of this origin: the admin lists the sites that may "
		"call it under Sites on other origins (security.allowed_origins)."},
	[APIERR_TICKETS_DISABLED] = {403, "tickets_disabled",
		"Leaving a message is turned off."},
	[APIERR_ZENDESK_REFUSED] = {502, "zendesk_refused",
		"Zendesk refused what deskbridge sent on; the message says why."},
};

int apierr_http_status(enum apierr e)
{
	return e < APIERR_COUNT ? apierr_table[e].http_status : 500;
}

const char *apierr_code(enum apierr e)
{
	return e < APIERR_COUNT ? apierr_table[e].code : "internal_error";
}

const char *apierr_message(enum apierr e)
{
	return e < APIERR_COUNT ? apierr_table[e].message : apierr_table[APIERR_INTERNAL].message;
}

enum apierr apierr_from_status(int st)
{
	switch (st) {
	case ST_INVALID:
		return APIERR_BAD_REQUEST;
	case ST_TRUNCATED:
		return APIERR_BAD_REQUEST;
	case ST_TOO_LARGE:
		return APIERR_PAYLOAD_TOO_LARGE;
	case ST_NOT_FOUND:
		return APIERR_NOT_FOUND;
	case ST_DENIED:
		return APIERR_UNAUTHENTICATED;
	case ST_LIMITED:
		return APIERR_RATE_LIMITED;
	case ST_CONFLICT:
		return APIERR_CONFLICT;
	case ST_BUSY:
	case ST_DB:
		return APIERR_DB_UNAVAILABLE;
	default:
		return APIERR_INTERNAL;
	}
}

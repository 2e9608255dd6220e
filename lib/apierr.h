/* lib/apierr.h — the API's error codes: each one's HTTP status, machine code and
 * default sentence, in one table. Not: writing responses (see http.h). */
#ifndef DESKBRIDGE_APIERR_H
#define DESKBRIDGE_APIERR_H

enum apierr {
	APIERR_BAD_REQUEST,
	APIERR_UNAUTHENTICATED,
	APIERR_INVALID_CREDENTIALS,
	APIERR_CSRF_FAILED,
	APIERR_NOT_FOUND,
	APIERR_METHOD_NOT_ALLOWED,
	APIERR_CONFLICT,
	APIERR_PAYLOAD_TOO_LARGE,
	APIERR_UNSUPPORTED_MEDIA_TYPE,
	APIERR_INVALID_FIELD,
	APIERR_RATE_LIMITED,
	APIERR_INTERNAL,
	APIERR_NOT_CONFIGURED,
	APIERR_DB_UNAVAILABLE,
	APIERR_ZENDESK_REJECTED,
	APIERR_ZENDESK_UNREACHABLE,
	APIERR_ZENDESK_INCOMPLETE,
	APIERR_INVALID_TOKEN,
	APIERR_INVALID_USER_PAYLOAD,
	APIERR_ANONYMOUS_NOT_ALLOWED,
	APIERR_TRANSFER_ENDED,
	APIERR_TRANSFERS_DISABLED,
	APIERR_AGENTS_UNAVAILABLE,
	APIERR_ORIGIN_NOT_ALLOWED,
	APIERR_TICKETS_DISABLED,
	APIERR_ZENDESK_REFUSED,
	APIERR_COUNT
};

int apierr_http_status(enum apierr e);
const char *apierr_code(enum apierr e);
const char *apierr_message(enum apierr e);

/* The API error that answers a lib/ status (see status.h) nobody handled
 * more specifically. */
enum apierr apierr_from_status(int st);

#endif

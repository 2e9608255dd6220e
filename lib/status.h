/* lib/status.h — the status codes every lib/ function returns.
 * Not: HTTP statuses or API error codes (see apierr.h, which maps these). */
#ifndef DESKBRIDGE_STATUS_H
#define DESKBRIDGE_STATUS_H

enum status {
	ST_OK = 0,
	ST_NOMEM,        /* an allocation failed */
	ST_INVALID,      /* the caller's input is malformed */
	ST_NOT_FOUND,    /* the thing asked for does not exist */
	ST_TOO_LARGE,    /* input exceeds a fixed limit */
	ST_TRUNCATED,    /* input ended before its declared length */
	ST_IO,           /* reading or writing a stream or file failed */
	ST_DB,           /* SQLite reported an error */
	ST_BUSY,         /* the database stayed locked past busy_timeout */
	ST_CRYPTO,       /* OpenSSL reported an error */
	ST_DENIED,       /* credentials did not match */
	ST_LIMITED,      /* a rate limit is exhausted; try again later */
	ST_CONFLICT,     /* the request does not fit the current state */
};

/* A short English phrase for logs and the admin tool; never NULL. */
const char *status_str(int st);

#endif

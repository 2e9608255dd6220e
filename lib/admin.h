/* lib/admin.h — the admin account: its password (scrypt hash in the secrets table),
 * login with a per-address limit on failures, and server-side sessions with a CSRF
 * token. Not: HTTP cookies or headers (the setup handler). */
#ifndef DESKBRIDGE_ADMIN_H
#define DESKBRIDGE_ADMIN_H

#define ADMIN_PASSWORD_MIN 12
#define ADMIN_PASSWORD_MAX 1024
#define ADMIN_LOGIN_FAILURES 5          /* per client address ... */
#define ADMIN_LOGIN_WINDOW_S (15 * 60)  /* ... in this many seconds */
#define ADMIN_SESSION_IDLE_S (30 * 60)
#define ADMIN_SESSION_MAX_S (12 * 60 * 60)

#include <stdint.h>

struct db;

/* Stores a new password (ST_INVALID when shorter than ADMIN_PASSWORD_MIN or longer than
 * ADMIN_PASSWORD_MAX) and ends every admin session. */
int admin_password_set(struct db *db, const char *password);
/* ST_OK when it matches, ST_DENIED when not or when no password is set. */
int admin_password_check(struct db *db, const char *password);
int admin_password_is_set(struct db *db, int *out);

/* A session's two tokens, each base64url; the caller frees them with admin_session_free. */
struct admin_session {
	char *cookie;  /* the browser's cookie value; stored only as its SHA-256 */
	char *csrf;    /* echoed by the browser in X-CSRF-Token on every non-GET */
};
void admin_session_free(struct admin_session *s);

/* ST_OK and a new session; ST_DENIED for a wrong password; ST_LIMITED, with the
 * seconds to wait, once client_addr has had ADMIN_LOGIN_FAILURES failures in the
 * window (then even the right password is refused until the window ends). */
int admin_login(struct db *db, const char *password, const char *client_addr, int64_t now,
		struct admin_session *out, int64_t *retry_after_s);

enum admin_auth {
	ADMIN_AUTH_OK,
	ADMIN_AUTH_NO_SESSION,  /* missing, unknown or expired cookie */
	ADMIN_AUTH_BAD_CSRF,    /* a session, but the CSRF token does not match */
};
/* Checks a cookie and, when need_csrf, the CSRF token (csrf may be NULL: a mismatch);
 * refreshes the idle timer of a valid session. */
int admin_session_check(struct db *db, const char *cookie, const char *csrf, int need_csrf,
			int64_t now, enum admin_auth *out);
int admin_logout(struct db *db, const char *cookie);

#endif

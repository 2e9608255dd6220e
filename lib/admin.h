/* lib/admin.h — the admin account: its password (scrypt hash in the secrets table),
 * login with a per-address limit on failures and a slow-down of guesses from everywhere,
 * and server-side sessions with a CSRF token. Not: HTTP cookies or headers (the setup
 * handler). */
#ifndef DESKBRIDGE_ADMIN_H
#define DESKBRIDGE_ADMIN_H

#define ADMIN_PASSWORD_MIN 12
#define ADMIN_PASSWORD_MAX 1024
#define ADMIN_LOGIN_FAILURES 5          /* per client address ... */
#define ADMIN_LOGIN_WINDOW_S (15 * 60)  /* ... in this many seconds */
/* The slow-down: once this many logins failed within a minute, from all addresses
 * together, password checks take turns, one every ADMIN_LOGIN_PACE_MS, and no login
 * waits more than ADMIN_LOGIN_MAX_WAIT_MS for its turn. */
#define ADMIN_LOGIN_SLOW_AFTER 10
#define ADMIN_LOGIN_SLOW_WINDOW_S 60
#define ADMIN_LOGIN_PACE_MS 500
#define ADMIN_LOGIN_MAX_WAIT_MS 1000
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
 * seconds to wait, once client_addr has had ADMIN_LOGIN_FAILURES attempts without
 * success in the window (then even the right password is refused until the window
 * ends), or during the slow-down when client_addr has such an attempt and no turn is
 * free within ADMIN_LOGIN_MAX_WAIT_MS. An address without one is never refused: it
 * waits at most that long. now_ms is wall-clock time in milliseconds; the call may
 * sleep up to ADMIN_LOGIN_MAX_WAIT_MS. */
int admin_login(struct db *db, const char *password, const char *client_addr, int64_t now_ms,
		struct admin_session *out, int64_t *retry_after_s);
/* Forgets the failed logins of client_addr, or of every address and the slow-down
 * when client_addr is NULL. */
int admin_login_unlock(struct db *db, const char *client_addr);

enum admin_auth {
	ADMIN_AUTH_OK,
	ADMIN_AUTH_NO_SESSION,  /* missing, unknown or expired cookie */
	ADMIN_AUTH_BAD_CSRF,    /* a session, but the CSRF token does not match */
};
/* Checks a cookie and, when need_csrf, the CSRF token (csrf may be NULL: a mismatch);
 * refreshes the idle timer of a valid session. */
int admin_session_check(struct db *db, const char *cookie, const char *csrf, int need_csrf,
			int64_t now, enum admin_auth *out);
/* The CSRF token of the live session cookie names, for a page reloaded within it (*out
 * NULL when there is none); refreshes its idle timer. Caller frees. */
int admin_session_csrf_dup(struct db *db, const char *cookie, int64_t now, char **out);
int admin_logout(struct db *db, const char *cookie);

#endif

/* tests/unit/test_admin.c — lib/admin's login limits (per address, the slow-down from
 * everywhere, unlocking) and session restore, with lib/ratelimit's counting and pacing
 * under them, on a real migrated database in a temporary directory. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "db.h"
#include "ratelimit.h"
#include "status.h"
#include "vault.h"

#define PASSWORD "the admin password"

/* Made once by main() and removed at the end even when a test fails; each test gets
 * its own directory and database inside it. */
static char basedir[64];
static char tmpdir[128];
static struct db *db;

static void rm_rf(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &sb) != 0)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char child[1024];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(child, sizeof child, "%s/%s", path, e->d_name);
		rm_rf(child);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

static void db_setup(void)
{
	const char *srcdir = getenv("DESKBRIDGE_SRCDIR");
	char path[256], sql[1024];
	int v = 0;

	snprintf(tmpdir, sizeof tmpdir, "%s/t-XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof path, "%s/admin.db", tmpdir);
	snprintf(sql, sizeof sql, "%s/sql", srcdir && *srcdir ? srcdir : "..");
	ck_assert_int_eq(db_open(path, DB_OPEN_CREATE, &db), ST_OK);
	ck_assert_int_eq(db_migrate(db, sql, &v), ST_OK);
	setenv("DESKBRIDGE_DB", path, 1);
	ck_assert_int_eq(vault_key_create(), ST_OK);
	ck_assert_int_eq(vault_load(), ST_OK);
	ck_assert_int_eq(admin_password_set(db, PASSWORD), ST_OK);
}

static void db_teardown(void)
{
	db_close(db);
	db = NULL;
	rm_rf(tmpdir);
}

static int64_t wall_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* admin_login, freeing any session; the status, and the wait asked for in *retry. */
static int login(const char *password, const char *addr, int64_t now_ms, int64_t *retry)
{
	struct admin_session s;
	int st = admin_login(db, password, addr, now_ms, &s, retry);

	if (st == ST_OK) {
		ck_assert_ptr_nonnull(s.cookie);
		admin_session_free(&s);
	}
	return st;
}

START_TEST(count_and_clear_prefix)
{
	int64_t n = -1, left = -1;

	ck_assert_int_eq(ratelimit_count(db, "a:1", 60, 1000, &n, &left), ST_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(ratelimit_hit(db, "a:1", 60, 1000), ST_OK);
	ck_assert_int_eq(ratelimit_hit(db, "a:1", 60, 1010), ST_OK);
	ck_assert_int_eq(ratelimit_hit(db, "a:2", 60, 1010), ST_OK);
	ck_assert_int_eq(ratelimit_hit(db, "ab:1", 60, 1010), ST_OK);
	ck_assert_int_eq(ratelimit_count(db, "a:1", 60, 1020, &n, &left), ST_OK);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(left, 40);
	ck_assert_int_eq(ratelimit_count(db, "a:1", 60, 1060, &n, &left), ST_OK);  /* window over */
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(ratelimit_clear_prefix(db, "a:"), ST_OK);
	ck_assert_int_eq(ratelimit_count(db, "a:2", 60, 1020, &n, &left), ST_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(ratelimit_count(db, "ab:1", 60, 1020, &n, &left), ST_OK);
	ck_assert_int_eq(n, 1);
	/* A prefix is matched as text, not as a LIKE pattern. */
	ck_assert_int_eq(ratelimit_clear_prefix(db, "a_"), ST_OK);
	ck_assert_int_eq(ratelimit_count(db, "ab:1", 60, 1020, &n, &left), ST_OK);
	ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(pace_takes_turns)
{
	int64_t wait = -1;

	/* One turn every 500 ms, none further than 1000 ms away. */
	ck_assert_int_eq(ratelimit_pace(db, "p", 500, 1000, 10000, &wait), ST_OK);
	ck_assert_int_eq(wait, 0);
	ck_assert_int_eq(ratelimit_pace(db, "p", 500, 1000, 10000, &wait), ST_OK);
	ck_assert_int_eq(wait, 500);
	ck_assert_int_eq(ratelimit_pace(db, "p", 500, 1000, 10100, &wait), ST_OK);
	ck_assert_int_eq(wait, 900);
	/* The next free turn, at 11500, is 1400 ms away: refused, and nothing reserved. */
	ck_assert_int_eq(ratelimit_pace(db, "p", 500, 1000, 10100, &wait), ST_LIMITED);
	ck_assert_int_eq(wait, 400);
	ck_assert_int_eq(ratelimit_pace(db, "p", 500, 1000, 10500, &wait), ST_OK);
	ck_assert_int_eq(wait, 1000);
	/* Idle for a while: the next one goes at once. */
	ck_assert_int_eq(ratelimit_pace(db, "p", 500, 1000, 60000, &wait), ST_OK);
	ck_assert_int_eq(wait, 0);
}
END_TEST

START_TEST(per_address_limit)
{
	int64_t retry = 0, now = 1700000000000;

	for (int i = 0; i < ADMIN_LOGIN_FAILURES; i++)
		ck_assert_int_eq(login("wrong password!", "192.0.2.1", now, &retry), ST_DENIED);
	/* Even the right password, from that address, until its window ends. */
	ck_assert_int_eq(login(PASSWORD, "192.0.2.1", now + 1000, &retry), ST_LIMITED);
	ck_assert_int_eq(retry, ADMIN_LOGIN_WINDOW_S - 1);
	/* Another address, and the same one once the window is over. */
	ck_assert_int_eq(login(PASSWORD, "192.0.2.2", now, &retry), ST_OK);
	ck_assert_int_eq(login(PASSWORD, "192.0.2.1", now + ADMIN_LOGIN_WINDOW_S * 1000, &retry), ST_OK);
	/* A success forgets the address's failures. */
	for (int i = 0; i < ADMIN_LOGIN_FAILURES - 1; i++)
		ck_assert_int_eq(login("wrong password!", "192.0.2.3", now, &retry), ST_DENIED);
	ck_assert_int_eq(login(PASSWORD, "192.0.2.3", now, &retry), ST_OK);
	ck_assert_int_eq(login("wrong password!", "192.0.2.3", now, &retry), ST_DENIED);
	ck_assert_int_eq(login(PASSWORD, "192.0.2.3", now, &retry), ST_OK);
}
END_TEST

START_TEST(slow_down_never_refuses_a_clean_address)
{
	int64_t retry = 0, now = wall_ms(), started, n = 0, left = 0;
	char addr[32];

	/* Failures from many addresses, each under its own limit, engage the slow-down. */
	for (int i = 0; i < ADMIN_LOGIN_SLOW_AFTER; i++) {
		snprintf(addr, sizeof addr, "198.51.100.%d", i / 2);
		ck_assert_int_eq(login("wrong password!", addr, now, &retry), ST_DENIED);
	}
	/* Now every check takes a turn: the first waits for none, the next two for theirs. */
	ck_assert_int_eq(login("wrong password!", "198.51.100.0", now, &retry), ST_DENIED);
	ck_assert_int_eq(login("wrong password!", "198.51.100.1", now, &retry), ST_DENIED);
	ck_assert_int_eq(login("wrong password!", "198.51.100.2", now, &retry), ST_DENIED);
	/* No turn within 1 s: an address that has failed is refused at once, and that
	 * refusal is not counted against it. */
	ck_assert_int_eq(ratelimit_count(db, "login:198.51.100.3", ADMIN_LOGIN_WINDOW_S, now / 1000, &n, &left),
			 ST_OK);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(login(PASSWORD, "198.51.100.3", now, &retry), ST_LIMITED);
	ck_assert_int_ge(retry, 1);
	ck_assert_int_le(retry, 2);
	ck_assert_int_eq(ratelimit_count(db, "login:198.51.100.3", ADMIN_LOGIN_WINDOW_S, now / 1000, &n, &left),
			 ST_OK);
	ck_assert_int_eq(n, 2);
	/* The right password from an address that has not failed gets in, after at most
	 * the longest wait. */
	started = wall_ms();
	ck_assert_int_eq(login(PASSWORD, "203.0.113.5", now, &retry), ST_OK);
	ck_assert_int_ge(wall_ms() - started, ADMIN_LOGIN_MAX_WAIT_MS);
	/* Unlocking everything ends the slow-down: the refused address gets in at once. */
	ck_assert_int_eq(admin_login_unlock(db, NULL), ST_OK);
	ck_assert_int_eq(login(PASSWORD, "198.51.100.3", now, &retry), ST_OK);
}
END_TEST

START_TEST(unlock_one_address)
{
	int64_t retry = 0, now = 1700000000000;

	for (int i = 0; i < ADMIN_LOGIN_FAILURES; i++) {
		ck_assert_int_eq(login("wrong password!", "192.0.2.9", now, &retry), ST_DENIED);
		ck_assert_int_eq(login("wrong password!", "2001:db8:1:2::9", now, &retry), ST_DENIED);
	}
	ck_assert_int_eq(login(PASSWORD, "192.0.2.9", now, &retry), ST_LIMITED);
	ck_assert_int_eq(admin_login_unlock(db, "not an address"), ST_INVALID);
	ck_assert_int_eq(admin_login_unlock(db, "192.0.2.9"), ST_OK);
	ck_assert_int_eq(login(PASSWORD, "192.0.2.9", now, &retry), ST_OK);
	/* Only that one. An IPv6 address frees its /64, the unit its limit counts by. */
	ck_assert_int_eq(login(PASSWORD, "2001:db8:1:2::1", now, &retry), ST_LIMITED);
	ck_assert_int_eq(admin_login_unlock(db, "2001:db8:1:2::abcd"), ST_OK);
	ck_assert_int_eq(login(PASSWORD, "2001:db8:1:2::1", now, &retry), ST_OK);
}
END_TEST

START_TEST(session_restore)
{
	struct admin_session s;
	int64_t retry = 0, now = 1700000000;
	char *csrf = (char *)"sentinel";

	ck_assert_int_eq(admin_login(db, PASSWORD, "192.0.2.1", now * 1000, &s, &retry), ST_OK);
	ck_assert_int_eq(admin_session_csrf_dup(db, s.cookie, now + 60, &csrf), ST_OK);
	ck_assert_ptr_nonnull(csrf);
	ck_assert_str_eq(csrf, s.csrf);
	free(csrf);
	/* Restoring counts as use: the idle timer starts again from there. */
	ck_assert_int_eq(admin_session_csrf_dup(db, s.cookie, now + 60 + ADMIN_SESSION_IDLE_S - 1, &csrf), ST_OK);
	ck_assert_ptr_nonnull(csrf);
	free(csrf);
	ck_assert_int_eq(admin_session_csrf_dup(db, "bogus", now + 60, &csrf), ST_OK);
	ck_assert_ptr_null(csrf);
	ck_assert_int_eq(admin_session_csrf_dup(db, s.cookie, now + ADMIN_SESSION_MAX_S, &csrf), ST_OK);
	ck_assert_ptr_null(csrf);
	admin_session_free(&s);
}
END_TEST

static Suite *admin_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *limits = tcase_create("limits");

	/* scrypt is slow under the sanitizers, and the slow-down sleeps. */
	tcase_add_checked_fixture(limits, db_setup, db_teardown);
	tcase_set_timeout(limits, 120);
	tcase_add_test(limits, count_and_clear_prefix);
	tcase_add_test(limits, pace_takes_turns);
	tcase_add_test(limits, per_address_limit);
	tcase_add_test(limits, slow_down_never_refuses_a_clean_address);
	tcase_add_test(limits, unlock_one_address);
	tcase_add_test(limits, session_restore);
	suite_add_tcase(s, limits);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	snprintf(basedir, sizeof basedir, "/tmp/deskbridge-test-admin-XXXXXX");
	if (!mkdtemp(basedir)) {
		perror("mkdtemp");
		return 1;
	}
	sr = srunner_create(admin_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rm_rf(basedir);
	return failed ? 1 : 0;
}

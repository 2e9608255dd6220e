/* tests/unit/test_db.c — lib/db on real SQLite files in a temporary directory: file
 * mode, pragmas, migrations (order, idempotence, failure, naming), the project's own
 * migrations, the statement cache and transactions. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "ratelimit.h"
#include "status.h"

/* Made once by main() and removed at the end even when a test fails; each test
 * gets its own directory inside it. */
static char basedir[64];
static char tmpdir[128];

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

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/t-XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	rm_rf(tmpdir);
}

/* tmpdir/name into buf. */
static const char *tmp_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
	return buf;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* A fresh migrations directory under tmpdir. */
static const char *make_sql_dir(char *buf, size_t size, const char *name)
{
	tmp_path(buf, size, name);
	ck_assert_int_eq(mkdir(buf, 0700), 0);
	return buf;
}

static struct db *open_new(const char *name)
{
	char path[1024];
	struct db *db = NULL;

	ck_assert_int_eq(db_open(tmp_path(path, sizeof path, name), DB_OPEN_CREATE, &db), ST_OK);
	ck_assert_ptr_nonnull(db);
	return db;
}

/* The single integer a query on conn returns; -1 when it returns no row. */
static long long conn_int(sqlite3 *conn, const char *sql)
{
	sqlite3_stmt *stmt;
	long long v = -1;

	ck_assert_int_eq(sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

static long long query_int(struct db *db, const char *sql)
{
	return conn_int(db_handle(db), sql);
}

/* The text of the first column of the first row, copied into buf. */
static const char *query_text(struct db *db, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *stmt;

	buf[0] = '\0';
	ck_assert_int_eq(sqlite3_prepare_v2(db_handle(db), sql, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0))
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	return buf;
}

static int table_exists(struct db *db, const char *table)
{
	sqlite3_stmt *stmt;
	int found;

	ck_assert_int_eq(sqlite3_prepare_v2(db_handle(db),
					    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
					    -1, &stmt, NULL), SQLITE_OK);
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	found = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_finalize(stmt);
	return found;
}

/* The detail of the first step of a statement's query plan, into buf. */
static const char *query_plan(struct db *db, const char *sql, char *buf, size_t size)
{
	sqlite3_stmt *stmt;
	char explain[512];

	snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
	buf[0] = '\0';
	ck_assert_int_eq(sqlite3_prepare_v2(db_handle(db), explain, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 3))
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(stmt, 3));
	sqlite3_finalize(stmt);
	return buf;
}

static int schema_version(struct db *db)
{
	int v = -1;

	ck_assert_int_eq(db_schema_version(db, &v), ST_OK);
	return v;
}

/* Opening. */

START_TEST(open_create_mode_0600)
{
	char path[1024], wal[1100];
	struct stat sb;
	struct db *db = NULL;
	mode_t old = umask(022);

	tmp_path(path, sizeof path, "new.db");
	ck_assert_int_eq(db_open(path, DB_OPEN_CREATE, &db), ST_OK);
	umask(old);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	/* The WAL file holds the same secrets and gets the same mode. */
	ck_assert_int_eq(sqlite3_exec(db_handle(db), "CREATE TABLE t (x); INSERT INTO t VALUES (1)",
				      NULL, NULL, NULL), SQLITE_OK);
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (stat(wal, &sb) == 0)
		ck_assert_uint_eq(sb.st_mode & 077, 0);
	db_close(db);

	/* Opening an existing file with DB_OPEN_CREATE keeps its contents. */
	ck_assert_int_eq(db_open(path, DB_OPEN_CREATE, &db), ST_OK);
	ck_assert_int_eq(query_int(db, "SELECT x FROM t"), 1);
	db_close(db);
	ck_assert_int_eq(db_open(path, DB_OPEN_EXISTING, &db), ST_OK);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 1);
	db_close(db);
}
END_TEST

START_TEST(open_existing_missing_fails)
{
	char path[1024];
	struct stat sb;
	struct db *db = NULL;

	tmp_path(path, sizeof path, "missing.db");
	ck_assert_int_ne(db_open(path, DB_OPEN_EXISTING, &db), ST_OK);
	ck_assert_ptr_null(db);
	ck_assert_int_ne(stat(path, &sb), 0);
	ck_assert_int_eq(errno, ENOENT);

	/* Nor can a file be created in a directory that does not exist. */
	tmp_path(path, sizeof path, "no/such/dir.db");
	ck_assert_int_ne(db_open(path, DB_OPEN_CREATE, &db), ST_OK);
	ck_assert_ptr_null(db);
}
END_TEST

START_TEST(open_not_a_database)
{
	char path[1024];
	struct db *db = NULL;

	write_file(tmpdir, "garbage.db",
		   "This is not an SQLite database, just text that is long enough to look like a header.\n");
	tmp_path(path, sizeof path, "garbage.db");
	ck_assert_int_ne(db_open(path, DB_OPEN_EXISTING, &db), ST_OK);
	ck_assert_ptr_null(db);
}
END_TEST

START_TEST(pragmas)
{
	struct db *db = open_new("pragmas.db");
	char mode[32];

	ck_assert_str_eq(query_text(db, "PRAGMA journal_mode", mode, sizeof mode), "wal");
	ck_assert_int_eq(query_int(db, "PRAGMA foreign_keys"), 1);
	ck_assert_int_eq(query_int(db, "PRAGMA synchronous"), 1);  /* NORMAL: db.c syncs itself */
	ck_assert_int_eq(conn_int(db_counters_handle(db), "PRAGMA synchronous"), 0);  /* OFF */
	ck_assert_int_eq(conn_int(db_counters_handle(db), "SELECT count(*) FROM rate_limits"), 0);
	ck_assert_int_eq(query_int(db, "PRAGMA trusted_schema"), 0);
	ck_assert_int_eq(db_ping(db), ST_OK);
	db_close(db);

	/* The same on a second open of the existing file. */
	{
		char path[1024];
		ck_assert_int_eq(db_open(tmp_path(path, sizeof path, "pragmas.db"), DB_OPEN_EXISTING, &db),
				 ST_OK);
		ck_assert_str_eq(query_text(db, "PRAGMA journal_mode", mode, sizeof mode), "wal");
		ck_assert_int_eq(query_int(db, "PRAGMA foreign_keys"), 1);
		db_close(db);
	}
}
END_TEST

/* The database log's sync, counted, with whether another connection could take the
 * write lock at that moment: a sync under the lock would hold up every other writer. */
static struct {
	const sqlite3_io_methods *real;
	sqlite3_io_methods counting;
	sqlite3 *other;
	int syncs, syncs_under_lock;
} wal_spy;

static int spy_sync(sqlite3_file *file, int flags)
{
	wal_spy.syncs++;
	if (sqlite3_exec(wal_spy.other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
		sqlite3_exec(wal_spy.other, "ROLLBACK", NULL, NULL, NULL);
	else
		wal_spy.syncs_under_lock++;
	return wal_spy.real->xSync(file, flags);
}

static void spy_on_wal(struct db *db, const char *path)
{
	sqlite3_file *wal = NULL;

	ck_assert_int_eq(sqlite3_file_control(db_handle(db), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal),
			 SQLITE_OK);
	ck_assert_ptr_nonnull(wal->pMethods);
	wal_spy.real = wal->pMethods;
	wal_spy.counting = *wal->pMethods;
	wal_spy.counting.xSync = spy_sync;
	wal->pMethods = &wal_spy.counting;
	ck_assert_int_eq(sqlite3_open(path, &wal_spy.other), SQLITE_OK);
	wal_spy.syncs = wal_spy.syncs_under_lock = 0;
}

/* Every commit is on disk when its statement returns, synced once the write lock is
 * free; a write or a transaction that may be lost with a power cut is not synced on its
 * own, and an unsynced write in a transaction is synced with its commit. */
START_TEST(commits_synced_after_the_lock)
{
	struct db *db = open_new("synced.db");
	sqlite3_stmt *stmt;
	char path[1024];
	sqlite3_file *wal = NULL;

	ck_assert_int_eq(sqlite3_exec(db_handle(db), "CREATE TABLE t (x INTEGER)", NULL, NULL, NULL), SQLITE_OK);
	spy_on_wal(db, tmp_path(path, sizeof path, "synced.db"));
	ck_assert_int_eq(db_stmt(db, "INSERT INTO t VALUES (1)", &stmt), ST_OK);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);
	ck_assert_int_eq(wal_spy.syncs, 1);
	ck_assert_int_eq(db_exec_unsynced(db, stmt), ST_OK);
	ck_assert_int_eq(wal_spy.syncs, 1);
	ck_assert_int_eq(db_begin(db), ST_OK);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);
	ck_assert_int_eq(db_exec_unsynced(db, stmt), ST_OK);
	ck_assert_int_eq(wal_spy.syncs, 1);
	ck_assert_int_eq(db_commit(db), ST_OK);
	ck_assert_int_eq(wal_spy.syncs, 2);
	ck_assert_int_eq(db_begin(db), ST_OK);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);
	ck_assert_int_eq(db_commit_unsynced(db), ST_OK);
	ck_assert_int_eq(wal_spy.syncs, 2);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);   /* and the next commit is synced again */
	ck_assert_int_eq(wal_spy.syncs, 3);
	ck_assert_int_eq(wal_spy.syncs_under_lock, 0);
	/* Reads sync nothing. */
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 6);
	ck_assert_int_eq(wal_spy.syncs, 3);
	ck_assert_int_eq(sqlite3_file_control(db_handle(db), "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal),
			 SQLITE_OK);
	wal->pMethods = wal_spy.real;
	sqlite3_close(wal_spy.other);
	db_close(db);
}
END_TEST

/* The log is still checkpointed into the database file as it grows. */
START_TEST(log_checkpointed)
{
	struct db *db = open_new("checkpoint.db");
	sqlite3_stmt *stmt;
	char path[1024], wal[1100];
	struct stat st;

	ck_assert_int_eq(sqlite3_exec(db_handle(db), "CREATE TABLE t (x BLOB)", NULL, NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(db_stmt(db, "INSERT INTO t VALUES (randomblob(3000))", &stmt), ST_OK);
	for (int i = 0; i < 3000; i++)
		ck_assert_int_eq(db_exec_unsynced(db, stmt), ST_OK);
	snprintf(wal, sizeof wal, "%s-wal", tmp_path(path, sizeof path, "checkpoint.db"));
	ck_assert_int_eq(stat(wal, &st), 0);
	/* Without checkpoints the log would hold 3,000 rows of 3 kB. */
	ck_assert_int_lt(st.st_size, 2 * 1000 * 4096 + 4096 * 8);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_gt(st.st_size, 2000 * 3000);
	db_close(db);
}
END_TEST

/* Migrations. */

START_TEST(migrate_in_order)
{
	char dir[1024];
	struct db *db = open_new("m.db");
	int v = -1;

	make_sql_dir(dir, sizeof dir, "sql");
	/* Written in reverse so the directory order is unlikely to be the numeric one;
	 * each file depends on the ones before it. */
	write_file(dir, "010_third.sql", "ALTER TABLE b ADD COLUMN note TEXT;"
					 "UPDATE b SET note = 'from 010';");
	write_file(dir, "002_second.sql", "CREATE TABLE b (a_id INTEGER NOT NULL REFERENCES a(id));"
					  "INSERT INTO a (id) VALUES (1);"
					  "INSERT INTO b (a_id) VALUES (1);");
	write_file(dir, "001_first.sql", "-- the first table\nCREATE TABLE a (id INTEGER PRIMARY KEY);");

	ck_assert_int_eq(schema_version(db), 0);
	ck_assert_int_eq(db_migrate(db, dir, &v), ST_OK);
	ck_assert_int_eq(v, 10);
	ck_assert_int_eq(schema_version(db), 10);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM b WHERE note = 'from 010'"), 1);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM schema_migrations"), 3);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM schema_migrations WHERE "
				       "(version = 1 AND name = '001_first.sql') OR "
				       "(version = 2 AND name = '002_second.sql') OR "
				       "(version = 10 AND name = '010_third.sql')"), 3);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM schema_migrations "
				       "WHERE applied_at GLOB '[0-9][0-9][0-9][0-9]-*T*Z'"), 3);
	/* The foreign key of 002 is enforced. */
	ck_assert_int_ne(sqlite3_exec(db_handle(db), "INSERT INTO b (a_id) VALUES (99)", NULL, NULL, NULL),
			 SQLITE_OK);
	db_close(db);
}
END_TEST

START_TEST(migrate_idempotent)
{
	char dir[1024], path[1024];
	struct db *db = open_new("idem.db");
	int v = -1;

	make_sql_dir(dir, sizeof dir, "sql");
	/* No IF NOT EXISTS: applying either twice would fail. */
	write_file(dir, "001_a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);");
	write_file(dir, "002_b.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY); INSERT INTO b VALUES (1);");
	ck_assert_int_eq(db_migrate(db, dir, &v), ST_OK);
	ck_assert_int_eq(v, 2);

	v = -1;
	ck_assert_int_eq(db_migrate(db, dir, &v), ST_OK);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM schema_migrations"), 2);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM b"), 1);
	ck_assert_int_eq(db_migrate(db, dir, NULL), ST_OK);
	db_close(db);

	/* Another connection (another process, in production) applies nothing either. */
	ck_assert_int_eq(db_open(tmp_path(path, sizeof path, "idem.db"), DB_OPEN_EXISTING, &db), ST_OK);
	v = -1;
	ck_assert_int_eq(db_migrate(db, dir, &v), ST_OK);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM b"), 1);

	/* A new file later applies alone. */
	write_file(dir, "003_c.sql", "INSERT INTO b VALUES (2);");
	ck_assert_int_eq(db_migrate(db, dir, &v), ST_OK);
	ck_assert_int_eq(v, 3);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM b"), 2);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM schema_migrations"), 3);
	db_close(db);
}
END_TEST

START_TEST(migrate_failure_rolls_back)
{
	char dir[1024];
	struct db *db = open_new("fail.db");
	int v = -1;

	make_sql_dir(dir, sizeof dir, "sql");
	write_file(dir, "001_a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);");
	write_file(dir, "002_b.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);");
	write_file(dir, "003_bad.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);"
				       "INSERT INTO a VALUES (99);"
				       "THIS IS NOT SQL;");
	write_file(dir, "004_after.sql", "CREATE TABLE d (id INTEGER PRIMARY KEY);");

	ck_assert_int_ne(db_migrate(db, dir, &v), ST_OK);
	ck_assert_int_eq(schema_version(db), 2);
	ck_assert(table_exists(db, "a"));
	ck_assert(table_exists(db, "b"));
	ck_assert(!table_exists(db, "c"));
	ck_assert(!table_exists(db, "d"));
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM a"), 0);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM schema_migrations WHERE version >= 3"), 0);
	/* No transaction is left open. */
	ck_assert_int_eq(sqlite3_get_autocommit(db_handle(db)), 1);
	ck_assert_int_eq(db_ping(db), ST_OK);

	/* Once fixed, 003 and then 004 apply. */
	write_file(dir, "003_bad.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);");
	ck_assert_int_eq(db_migrate(db, dir, &v), ST_OK);
	ck_assert_int_eq(v, 4);
	ck_assert(table_exists(db, "c"));
	ck_assert(table_exists(db, "d"));
	db_close(db);
}
END_TEST

START_TEST(migrate_ignores_other_files)
{
	static const char *const ignored[] = {
		"README", "README.md", "001_a.sql~", "002-b.sql", "2_b.sql", "0002_b.sql",
		"003_Upper.sql", "004_b.SQL", "005_b.sql.bak", "000_zero.sql", "abc_b.sql", ".006_b.sql",
		"007_b c.sql", "008_.sq", "009.sql",
	};
	char dir[1024];
	struct db *db = open_new("ignore.db");
	int v = -1;

	make_sql_dir(dir, sizeof dir, "sql");
	write_file(dir, "001_a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);");
	for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
		write_file(dir, ignored[i], "THIS WOULD FAIL IF IT WERE APPLIED;");
	ck_assert_int_eq(db_latest_migration(dir, &v), ST_OK);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(db_migrate(db, dir, &v), ST_OK);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM schema_migrations"), 1);
	db_close(db);
}
END_TEST

START_TEST(migrate_refuses_duplicates)
{
	char dir[1024];
	struct db *db = open_new("dup.db");
	int v = -1;

	make_sql_dir(dir, sizeof dir, "sql");
	write_file(dir, "001_a.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);");
	write_file(dir, "002_b.sql", "CREATE TABLE b (id INTEGER PRIMARY KEY);");
	write_file(dir, "002_c.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY);");
	ck_assert_int_eq(db_migrate(db, dir, &v), ST_INVALID);
	/* Nothing at all is applied from an ambiguous directory. */
	ck_assert_int_eq(schema_version(db), 0);
	ck_assert(!table_exists(db, "a"));
	ck_assert(!table_exists(db, "b"));
	ck_assert(!table_exists(db, "c"));
	ck_assert_int_eq(db_latest_migration(dir, &v), ST_INVALID);
	db_close(db);
}
END_TEST

START_TEST(latest_migration)
{
	char dir[1024], empty[1024], missing[1024];
	struct db *db = open_new("latest.db");
	int v = -1;

	make_sql_dir(dir, sizeof dir, "sql");
	write_file(dir, "001_a.sql", "SELECT 1;");
	write_file(dir, "017_q.sql", "SELECT 1;");
	write_file(dir, "002_b.sql", "SELECT 1;");
	ck_assert_int_eq(db_latest_migration(dir, &v), ST_OK);
	ck_assert_int_eq(v, 17);

	make_sql_dir(empty, sizeof empty, "empty");
	v = -1;
	ck_assert_int_eq(db_latest_migration(empty, &v), ST_OK);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(db_migrate(db, empty, &v), ST_OK);
	ck_assert_int_eq(v, 0);

	tmp_path(missing, sizeof missing, "nope");
	ck_assert_int_ne(db_latest_migration(missing, &v), ST_OK);
	ck_assert_int_ne(db_migrate(db, missing, &v), ST_OK);
	db_close(db);
}
END_TEST

START_TEST(real_migrations)
{
	static const char *const tables[] = {
		"config", "secrets", "site_public_keys", "service_keys", "admin_sessions",
		"transfers", "events", "outbox", "webhook_events", "leases", "cache",
		"avatar", "audit_log", "schema_migrations", "metrics",
	};
	const char *srcdir = getenv("DESKBRIDGE_SRCDIR");
	char sql[1024], plan[256];
	struct db *db = open_new("real.db");
	int latest = -1, v = -1, applied;

	snprintf(sql, sizeof sql, "%s/sql", srcdir && *srcdir ? srcdir : "..");
	ck_assert_int_eq(db_latest_migration(sql, &latest), ST_OK);
	ck_assert_int_ge(latest, 1);
	ck_assert_int_eq(db_migrate(db, sql, &v), ST_OK);
	ck_assert_int_eq(v, latest);
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
		ck_assert_msg(table_exists(db, tables[i]), "table %s is missing", tables[i]);
	/* Rate limits moved to the counters database (004). */
	ck_assert(!table_exists(db, "rate_limits"));
	ck_assert_int_eq(conn_int(db_counters_handle(db), "SELECT count(*) FROM rate_limits"), 0);
	ck_assert_int_eq(conn_int(db_counters_handle(db), "SELECT count(*) FROM metrics"), 0);
	/* Every webhook delivery forgets old event ids: it reads those alone (009), not
	 * every id kept, which slowed each delivery as the ids piled up. */
	query_plan(db, "DELETE FROM webhook_events WHERE received_at < 0", plan, sizeof plan);
	ck_assert_msg(strstr(plan, "SEARCH webhook_events USING COVERING INDEX webhook_events_received") == plan,
		      "plan: %s", plan);
	ck_assert_int_eq(query_int(db, "PRAGMA foreign_key_check"), -1);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM pragma_integrity_check "
				       "WHERE integrity_check <> 'ok'"), 0);
	/* Foreign keys hold: an event needs its transfer. */
	ck_assert_int_ne(sqlite3_exec(db_handle(db),
				      "INSERT INTO events (transfer_id, seq, type, created_at) "
				      "VALUES ('nope', 1, 'message', 0)", NULL, NULL, NULL), SQLITE_OK);
	/* Applying again changes nothing. */
	applied = query_int(db, "SELECT count(*) FROM schema_migrations");
	ck_assert_int_ge(applied, 1);
	ck_assert_int_eq(db_migrate(db, sql, &v), ST_OK);
	ck_assert_int_eq(v, latest);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM schema_migrations"), applied);
	db_close(db);
}
END_TEST

/* Statements and transactions. */

static const char sql_add_one[] = "SELECT ?1 + 1";
static const char sql_add_one_again[] = "SELECT ?1 + 1";   /* same text, another pointer */
static const char sql_create[] = "CREATE TABLE IF NOT EXISTS t (x INTEGER)";
static const char sql_insert[] = "INSERT INTO t (x) VALUES (?)";
static const char sql_count[] = "SELECT count(*) FROM t";
static const char sql_bad[] = "SELEKT nonsense";

START_TEST(stmt_cache)
{
	struct db *db = open_new("stmt.db");
	sqlite3_stmt *a = NULL, *b = NULL, *c = NULL;

	ck_assert_int_eq(db_stmt(db, sql_add_one, &a), ST_OK);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(sqlite3_bind_int(a, 1, 41), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(a, 0), 42);
	/* Left mid-iteration on purpose: the next db_stmt must reset it. */
	ck_assert_int_eq(db_stmt(db, sql_add_one, &b), ST_OK);
	ck_assert_ptr_eq(a, b);
	/* ... and clear the old binding: NULL + 1 is NULL. */
	ck_assert_int_eq(sqlite3_step(b), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_type(b, 0), SQLITE_NULL);
	sqlite3_reset(b);
	ck_assert_int_eq(sqlite3_bind_int(b, 1, 1), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(b), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(b, 0), 2);
	sqlite3_reset(b);

	/* The cache keys on the pointer, not the text. */
	ck_assert_int_eq(db_stmt(db, sql_add_one_again, &c), ST_OK);
	ck_assert_ptr_ne(c, a);

	/* Bad SQL is an error and is not cached. */
	ck_assert_int_eq(db_stmt(db, sql_bad, &c), ST_DB);
	ck_assert_int_eq(db_stmt(db, sql_bad, &c), ST_DB);

	/* db_exec_stmt steps and resets, so the statement is reusable at once. */
	ck_assert_int_eq(db_stmt(db, sql_create, &a), ST_OK);
	ck_assert_int_eq(db_exec_stmt(a), ST_OK);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(db_stmt(db, sql_insert, &a), ST_OK);
		ck_assert_int_eq(sqlite3_bind_int(a, 1, i), SQLITE_OK);
		ck_assert_int_eq(db_exec_stmt(a), ST_OK);
	}
	ck_assert_int_eq(db_stmt(db, sql_count, &a), ST_OK);
	ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(a, 0), 3);
	sqlite3_reset(a);
	db_close(db);
}
END_TEST

START_TEST(stmt_cache_overflow)
{
	static char sqls[DB_STMT_CACHE_MAX + 8][32];
	struct db *db = open_new("overflow.db");
	sqlite3_stmt *stmt;

	for (int i = 0; i < DB_STMT_CACHE_MAX + 8; i++) {
		snprintf(sqls[i], sizeof sqls[i], "SELECT %d", i);
		ck_assert_int_eq(db_stmt(db, sqls[i], &stmt), ST_OK);
		ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(stmt, 0), i);
		sqlite3_reset(stmt);
	}
	/* Evicted or not, every statement still works. */
	for (int i = 0; i < DB_STMT_CACHE_MAX + 8; i++) {
		ck_assert_int_eq(db_stmt(db, sqls[i], &stmt), ST_OK);
		ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
		ck_assert_int_eq(sqlite3_column_int(stmt, 0), i);
		sqlite3_reset(stmt);
	}
	ck_assert_int_eq(db_ping(db), ST_OK);
	db_close(db);
}
END_TEST

START_TEST(transactions)
{
	char path[1024];
	struct db *db = open_new("tx.db"), *other = NULL;
	sqlite3_stmt *stmt;

	ck_assert_int_eq(db_stmt(db, sql_create, &stmt), ST_OK);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);

	/* Rollback discards the write. */
	ck_assert_int_eq(db_begin(db), ST_OK);
	ck_assert_int_eq(sqlite3_get_autocommit(db_handle(db)), 0);
	ck_assert_int_eq(db_stmt(db, sql_insert, &stmt), ST_OK);
	sqlite3_bind_int(stmt, 1, 7);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 1);
	db_rollback(db);
	ck_assert_int_eq(sqlite3_get_autocommit(db_handle(db)), 1);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 0);
	/* A rollback outside a transaction is harmless. */
	db_rollback(db);

	/* Commit keeps it, and another connection sees it. */
	ck_assert_int_eq(db_begin(db), ST_OK);
	ck_assert_int_eq(db_begin(db), ST_DB);  /* no nesting */
	ck_assert_int_eq(db_stmt(db, sql_insert, &stmt), ST_OK);
	sqlite3_bind_int(stmt, 1, 8);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);
	ck_assert_int_eq(db_commit(db), ST_OK);
	ck_assert_int_eq(db_open(tmp_path(path, sizeof path, "tx.db"), DB_OPEN_EXISTING, &other), ST_OK);
	ck_assert_int_eq(query_int(other, "SELECT x FROM t"), 8);

	/* A read snapshot sees nothing committed after it began. */
	ck_assert_int_eq(db_begin_read(db), ST_OK);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 1);
	ck_assert_int_eq(db_stmt(other, sql_insert, &stmt), ST_OK);
	sqlite3_bind_int(stmt, 1, 9);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 1);
	db_end_read(db);
	ck_assert(sqlite3_get_autocommit(db_handle(db)));
	ck_assert_int_eq(query_int(db, "SELECT count(*) FROM t"), 2);
	db_end_read(db);  /* no snapshot open: nothing to end */
	ck_assert(sqlite3_get_autocommit(db_handle(db)));
	ck_assert_int_eq(db_stmt(db, "DELETE FROM t WHERE x = 9", &stmt), ST_OK);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);

	/* BEGIN IMMEDIATE takes the write lock at once: a second writer is refused
	 * (no waiting here), while readers carry on. */
	ck_assert_int_eq(db_begin(db), ST_OK);
	sqlite3_busy_timeout(db_handle(other), 0);
	ck_assert_int_eq(db_begin(other), ST_BUSY);
	ck_assert_int_eq(db_ping(other), ST_OK);
	ck_assert_int_eq(query_int(other, "SELECT count(*) FROM t"), 1);
	db_rollback(db);
	ck_assert_int_eq(db_begin(other), ST_OK);
	ck_assert_int_eq(db_commit(other), ST_OK);
	ck_assert_int_eq(db_commit(db), ST_DB);  /* nothing to commit */
	db_close(other);
	db_close(db);
}
END_TEST

static void read_boot_id(char *out, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(out, (int)size, f));
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

START_TEST(counters_apart)
{
	char boot[64], path[1024], stale[1024], current[1024];
	struct db *db, *other = NULL;
	sqlite3_stmt *stmt;
	struct stat st;

	/* Counters of an earlier boot go when this boot's file is made. */
	read_boot_id(boot, sizeof boot);
	write_file(tmpdir, "c.db-counters-0ld-b00t", "x");
	write_file(tmpdir, "c.db-counters-0ld-b00t-wal", "x");
	db = open_new("c.db");
	tmp_path(stale, sizeof stale, "c.db-counters-0ld-b00t");
	ck_assert_int_ne(access(stale, F_OK), 0);
	tmp_path(stale, sizeof stale, "c.db-counters-0ld-b00t-wal");
	ck_assert_int_ne(access(stale, F_OK), 0);
	snprintf(current, sizeof current, "%s/c.db-counters-%s", tmpdir, boot);
	ck_assert_int_eq(stat(current, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);

	/* Every process's handle on the database shares its counters, and a transaction on
	 * the main file does not hold them up. */
	ck_assert_int_eq(db_open(tmp_path(path, sizeof path, "c.db"), DB_OPEN_EXISTING, &other), ST_OK);
	ck_assert_int_eq(db_begin(other), ST_OK);
	ck_assert_int_eq(db_counters_stmt(db, "INSERT INTO rate_limits VALUES ('b', 1, 41)", &stmt), ST_OK);
	ck_assert_int_eq(db_exec_stmt(stmt), ST_OK);
	db_rollback(other);
	ck_assert_int_eq(conn_int(db_counters_handle(other), "SELECT count FROM rate_limits"), 41);
	ck_assert_int_eq(conn_int(db_counters_handle(other), "PRAGMA synchronous"), 0);
	db_close(other);
	db_close(db);

	/* Made by root (an operator's deskbridge-admin), the file goes to the database's
	 * owner, or the handlers could not open it. */
	if (geteuid() == 0)
		ck_assert_int_eq(chown(path, 65534, 65534), 0);
	ck_assert_int_eq(unlink(current), 0);
	ck_assert_int_eq(db_open(path, DB_OPEN_EXISTING, &db), ST_OK);
	ck_assert_int_eq(stat(current, &st), 0);
	ck_assert_int_eq(st.st_uid, geteuid() == 0 ? 65534 : geteuid());
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	db_close(db);
}
END_TEST

/* A writer waits for a lock another process holds, rather than failing at once. */
START_TEST(counters_log_stays_bounded)
{
	char boot[64], path[1024], wal[1024];
	struct db *db = open_new("w.db"), *other = NULL;
	int64_t retry_after = 0;
	struct stat st;

	/* Two handles taking turns, as two handler processes do. Each take is a write
	 * whose statement returns a row; SQLite copies its log back every 1000 pages and
	 * then starts it over, but only for statements stepped to the end. */
	ck_assert_int_eq(db_open(tmp_path(path, sizeof path, "w.db"), DB_OPEN_EXISTING, &other), ST_OK);
	for (int i = 0; i < 3000; i++)
		ck_assert_int_eq(ratelimit_take(i % 2 ? db : other, "token:192.0.2.1", 3000, 60, 1000,
						&retry_after), ST_OK);
	read_boot_id(boot, sizeof boot);
	snprintf(wal, sizeof wal, "%s/w.db-counters-%s-wal", tmpdir, boot);
	ck_assert_int_eq(stat(wal, &st), 0);
	ck_assert_int_lt(st.st_size, 1100 * (4096 + 24));
	/* Stepping on past the row still counts, and refuses the one over the limit. */
	ck_assert_int_eq(ratelimit_take(db, "token:192.0.2.1", 3000, 60, 1030, &retry_after), ST_LIMITED);
	ck_assert_int_eq(retry_after, 30);
	db_close(other);
	db_close(db);
}
END_TEST

START_TEST(lock_waits)
{
	char path[1024];
	struct db *db = open_new("lock.db"), *holder;
	struct timespec t0, t1, hold = {0, 150 * 1000 * 1000};
	int ready[2], status;
	char byte;
	pid_t child;
	double waited_ms;

	ck_assert_int_eq(pipe(ready), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		if (db_open(tmp_path(path, sizeof path, "lock.db"), DB_OPEN_EXISTING, &holder) != ST_OK ||
		    db_begin(holder) != ST_OK || write(ready[1], "r", 1) != 1)
			_exit(1);
		nanosleep(&hold, NULL);
		_exit(db_commit(holder) == ST_OK ? 0 : 1);
	}
	ck_assert_int_eq(read(ready[0], &byte, 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(db_begin(db), ST_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	db_rollback(db);
	waited_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	ck_assert_double_ge(waited_ms, 100);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(ready[1]);
	db_close(db);
}
END_TEST

START_TEST(status_mapping)
{
	ck_assert_int_eq(db_status(SQLITE_OK), ST_OK);
	ck_assert_int_eq(db_status(SQLITE_ROW), ST_OK);
	ck_assert_int_eq(db_status(SQLITE_DONE), ST_OK);
	ck_assert_int_eq(db_status(SQLITE_BUSY), ST_BUSY);
	ck_assert_int_eq(db_status(SQLITE_BUSY_SNAPSHOT), ST_BUSY);
	ck_assert_int_eq(db_status(SQLITE_LOCKED), ST_BUSY);
	ck_assert_int_eq(db_status(SQLITE_NOMEM), ST_NOMEM);
	ck_assert_int_eq(db_status(SQLITE_CONSTRAINT_UNIQUE), ST_INVALID);
	ck_assert_int_eq(db_status(SQLITE_CONSTRAINT_FOREIGNKEY), ST_INVALID);
	ck_assert_int_eq(db_status(SQLITE_IOERR_READ), ST_IO);
	ck_assert_int_eq(db_status(SQLITE_CANTOPEN), ST_IO);
	ck_assert_int_eq(db_status(SQLITE_CORRUPT), ST_DB);
	ck_assert_int_eq(db_status(SQLITE_ERROR), ST_DB);
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *open = tcase_create("open");
	TCase *migrate = tcase_create("migrate");
	TCase *stmt = tcase_create("stmt");

	tcase_add_checked_fixture(open, setup, teardown);
	tcase_add_test(open, open_create_mode_0600);
	tcase_add_test(open, open_existing_missing_fails);
	tcase_add_test(open, open_not_a_database);
	tcase_add_test(open, pragmas);
	tcase_add_test(open, commits_synced_after_the_lock);
	tcase_add_test(open, log_checkpointed);
	tcase_add_test(open, counters_apart);
	tcase_add_test(open, lock_waits);
	tcase_add_test(open, counters_log_stays_bounded);
	suite_add_tcase(s, open);

	tcase_add_checked_fixture(migrate, setup, teardown);
	tcase_set_timeout(migrate, 30);
	tcase_add_test(migrate, migrate_in_order);
	tcase_add_test(migrate, migrate_idempotent);
	tcase_add_test(migrate, migrate_failure_rolls_back);
	tcase_add_test(migrate, migrate_ignores_other_files);
	tcase_add_test(migrate, migrate_refuses_duplicates);
	tcase_add_test(migrate, latest_migration);
	tcase_add_test(migrate, real_migrations);
	suite_add_tcase(s, migrate);

	tcase_add_checked_fixture(stmt, setup, teardown);
	tcase_add_test(stmt, stmt_cache);
	tcase_add_test(stmt, stmt_cache_overflow);
	tcase_add_test(stmt, transactions);
	tcase_add_test(stmt, status_mapping);
	suite_add_tcase(s, stmt);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	snprintf(basedir, sizeof basedir, "/tmp/deskbridge-test-db-XXXXXX");
	if (!mkdtemp(basedir)) {
		perror("mkdtemp");
		return 1;
	}
	sr = srunner_create(db_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rm_rf(basedir);
	return failed ? 1 : 0;
}

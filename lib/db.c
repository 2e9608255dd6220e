/* lib/db.c — SQLite open, pragmas, migrations, statement cache, transactions. */
#include "db.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "status.h"

#define DB_MIGRATIONS_MAX 256
#define DB_MIGRATION_MAX_BYTES (1024 * 1024)
#define DB_CHECKPOINT_PAGES 1000  /* SQLite's own default for its automatic checkpoint */

struct db_cached_stmt {
	const char *sql;
	sqlite3_stmt *stmt;
};

struct db {
	sqlite3 *conn;
	sqlite3 *counters;  /* see open_counters */
	struct db_cached_stmt cache[DB_STMT_CACHE_MAX];
	size_t ncache;
	int unsynced;       /* the commit under way may skip the disk: see db_exec_unsynced */
};

int db_status(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return ST_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ST_BUSY;
	case SQLITE_NOMEM:
		return ST_NOMEM;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		return ST_IO;
	case SQLITE_CONSTRAINT:
		return ST_INVALID;
	default:
		return ST_DB;
	}
}

static int exec_sql(sqlite3 *conn, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(conn, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		log_error("sqlite: %s", err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
	}
	return db_status(rc);
}

/* SQLite creates the file with the process umask; a database holding secrets must
 * never be readable by other users, whatever the umask is. When owner_of is given and
 * we run as root (deskbridge-admin run by an operator), the file goes to that file's
 * owner, as SQLite does for its -wal and -shm files, so the handlers can still open it. */
static int create_private_file(const char *path, const char *owner_of)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct stat owner;

	if (fd < 0) {
		log_error("cannot create %s: %s", path, strerror(errno));
		return ST_IO;
	}
	if (owner_of && geteuid() == 0 && stat(owner_of, &owner) == 0 &&
	    fchown(fd, owner.st_uid, owner.st_gid) != 0)
		log_error("cannot give %s to the owner of %s: %s", path, owner_of, strerror(errno));
	close(fd);
	return ST_OK;
}

/* SQLite's own busy handler sleeps a millisecond at least, ten times as long as the
 * write transactions that hold the lock here; start at 50 us and double up to 3.2 ms,
 * then 5 ms at a time. attempt counts the pauses of this wait so far, so their sum is
 * known without keeping it. */
static int wait_for_lock(void *unused, int attempt)
{
	long us = attempt < 7 ? 50L << attempt : 5000;
	long waited_us = attempt < 7 ? 50L * ((1L << attempt) - 1)
				     : 50L * ((1L << 7) - 1) + 5000L * (attempt - 7);
	struct timespec pause = {0, us * 1000};

	(void)unused;
	if (waited_us >= DB_BUSY_TIMEOUT_MS * 1000L)
		return 0;
	nanosleep(&pause, NULL);
	return 1;
}

/* Every commit of the main file reaches the disk before the statement that made it
 * returns, so a 202 or a webhook's 200 survives a power cut. synchronous=FULL would sync
 * while holding SQLite's write lock, and each sync (a third of a millisecond here) then
 * held up every other writer: at a few thousand commits a second the lock was busy most
 * of the time. Syncing here, after the lock is released, lets writers overlap and the
 * kernel serve their syncs together. A checkpoint between the commit and this sync has
 * synced the log first, so the commit is on disk either way. Setting this hook replaces
 * SQLite's automatic checkpoint, so it checkpoints too, at SQLite's threshold. */
static int sync_after_commit(void *arg, sqlite3 *conn, const char *schema, int wal_pages)
{
	struct db *db = arg;
	sqlite3_file *wal = NULL;
	int rc = SQLITE_OK;

	if (!db->unsynced) {
		rc = sqlite3_file_control(conn, schema, SQLITE_FCNTL_JOURNAL_POINTER, &wal);
		if (rc == SQLITE_OK && (!wal || !wal->pMethods))
			rc = SQLITE_IOERR_FSYNC;
		if (rc == SQLITE_OK)
			rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
		if (rc != SQLITE_OK)
			log_error("cannot sync the database log: %s", sqlite3_errstr(rc));
	}
	if (wal_pages >= DB_CHECKPOINT_PAGES)
		sqlite3_wal_checkpoint_v2(conn, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return rc;
}

/* This boot's id, so that counters written without syncing are never read after an
 * operating-system crash or power cut, which may have torn them. */
static int boot_id(char out[64])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	size_t n = 0;

	if (f) {
		n = fread(out, 1, 63, f);
		fclose(f);
	}
	while (n > 0 && !isalnum((unsigned char)out[n - 1]))
		n--;
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)out[i]) && out[i] != '-')
			return ST_IO;
	return n > 0 ? ST_OK : ST_IO;
}

/* Files of the counters of earlier boots: nothing of those boots still runs. */
static void remove_old_counters(const char *path, const char *current)
{
	char pattern[4096];
	glob_t found;

	if ((size_t)snprintf(pattern, sizeof pattern, "%s-counters-*", path) >= sizeof pattern ||
	    glob(pattern, GLOB_NOSORT, NULL, &found) != 0)
		return;
	for (size_t i = 0; i < found.gl_pathc; i++)
		if (strncmp(found.gl_pathv[i], current, strlen(current)) != 0)
			unlink(found.gl_pathv[i]);
	globfree(&found);
}

/* Counters that may be lost (rate limits; the metrics of what stores nothing, see
 * metrics.h) live in a database file of their own, on a connection of their own, that
 * never waits for the disk. In the main file, one counter write per request made every
 * process re-read its cached pages, and the checkpoints of that stream of writes held a
 * process up to 20 ms waiting for the disk. Not attached to
 * the main connection: BEGIN IMMEDIATE would then lock the counters too, and every
 * counted request would queue behind every durable commit. The file is named after the
 * boot: with synchronous=OFF an operating-system crash may corrupt it, and a new boot
 * starts a new file. Where the boot id cannot be read it keeps NORMAL. */
static int open_counters(struct db *db, const char *path)
{
	char id[64], counters[4096];
	int unsynced = boot_id(id) == ST_OK, created = 0, rc, st;

	if ((size_t)snprintf(counters, sizeof counters, unsynced ? "%s-counters-%s" : "%s-counters",
			     path, id) >= sizeof counters)
		return ST_INVALID;
	if (access(counters, F_OK) != 0) {
		st = create_private_file(counters, path);
		if (st != ST_OK)
			return st;
		created = 1;
	}
	rc = sqlite3_open_v2(counters, &db->counters, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("cannot open %s: %s", counters, sqlite3_errstr(rc));
		return ST_IO;
	}
	sqlite3_extended_result_codes(db->counters, 1);
	sqlite3_busy_handler(db->counters, wait_for_lock, NULL);
	st = exec_sql(db->counters, unsynced ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
					     : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
	if (st == ST_OK)
		st = exec_sql(db->counters, "CREATE TABLE IF NOT EXISTS rate_limits ("
				  " bucket TEXT PRIMARY KEY, window_start INTEGER NOT NULL,"
				  " count INTEGER NOT NULL) WITHOUT ROWID;"
				  "CREATE TABLE IF NOT EXISTS metrics ("
				  " series TEXT PRIMARY KEY, value REAL NOT NULL) WITHOUT ROWID;"
				  "CREATE TABLE IF NOT EXISTS delivery_failures ("
				  " slot INTEGER PRIMARY KEY, hour INTEGER NOT NULL, count INTEGER NOT NULL)");
	if (st == ST_OK && created && unsynced)
		remove_old_counters(path, counters);
	return st;
}

int db_open(const char *path, int flags, struct db **out)
{
	struct db *db;
	int rc, st;

	if ((flags & DB_OPEN_CREATE) && access(path, F_OK) != 0 &&
	    (st = create_private_file(path, NULL)) != ST_OK)
		return st;
	db = calloc(1, sizeof *db);
	if (!db)
		return ST_NOMEM;
	rc = sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("cannot open database %s: %s", path, sqlite3_errstr(rc));
		db_close(db);
		return ST_IO;
	}
	sqlite3_extended_result_codes(db->conn, 1);
	sqlite3_busy_handler(db->conn, wait_for_lock, NULL);
	/* WAL lets pollers read while a writer commits. SQLite commits without waiting for
	 * the disk (NORMAL); sync_after_commit then waits for it, as FULL would have, but
	 * after the write lock is released. */
	st = exec_sql(db->conn, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			  "PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;");
	sqlite3_wal_hook(db->conn, sync_after_commit, db);
	if (st == ST_OK)
		st = db_ping(db);
	if (st == ST_OK)
		st = open_counters(db, path);
	if (st != ST_OK) {
		db_close(db);
		return st;
	}
	*out = db;
	return ST_OK;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].stmt);
	sqlite3_close(db->counters);
	sqlite3_close(db->conn);
	free(db);
}

sqlite3 *db_handle(struct db *db)
{
	return db->conn;
}

sqlite3 *db_counters_handle(struct db *db)
{
	return db->counters;
}

static int cached_stmt(struct db *db, sqlite3 *conn, const char *sql, sqlite3_stmt **out)
{
	sqlite3_stmt *stmt;
	int rc;

	for (size_t i = 0; i < db->ncache; i++) {
		if (db->cache[i].sql == sql) {
			sqlite3_reset(db->cache[i].stmt);
			sqlite3_clear_bindings(db->cache[i].stmt);
			*out = db->cache[i].stmt;
			return ST_OK;
		}
	}
	rc = sqlite3_prepare_v3(conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		log_error("sqlite prepare: %s", sqlite3_errmsg(conn));
		return db_status(rc);
	}
	if (db->ncache == DB_STMT_CACHE_MAX) {
		/* The cache is sized for every statement the program has; overflowing it is a
		 * programming error, but still better served slowly than refused. */
		sqlite3_finalize(db->cache[0].stmt);
		memmove(db->cache, db->cache + 1, (DB_STMT_CACHE_MAX - 1) * sizeof *db->cache);
		db->ncache--;
	}
	db->cache[db->ncache].sql = sql;
	db->cache[db->ncache].stmt = stmt;
	db->ncache++;
	*out = stmt;
	return ST_OK;
}

int db_stmt(struct db *db, const char *sql, sqlite3_stmt **out)
{
	return cached_stmt(db, db->conn, sql, out);
}

int db_counters_stmt(struct db *db, const char *sql, sqlite3_stmt **out)
{
	return cached_stmt(db, db->counters, sql, out);
}

int db_exec_stmt(sqlite3_stmt *stmt)
{
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		log_error("sqlite step: %s", sqlite3_errmsg(sqlite3_db_handle(stmt)));
		return db_status(rc);
	}
	return ST_OK;
}

int db_ping(struct db *db)
{
	static const char sql[] = "SELECT count(*) FROM sqlite_schema";
	sqlite3_stmt *stmt;
	int st = db_stmt(db, sql, &stmt);

	if (st != ST_OK)
		return st;
	return db_exec_stmt(stmt);
}

/* Transaction control through cached statements: a poll opens and ends a snapshot on
 * every request, and preparing the same four words each time was a measurable part of it. */
static int exec_cached(struct db *db, const char *sql)
{
	sqlite3_stmt *stmt;
	int st = db_stmt(db, sql, &stmt);

	return st == ST_OK ? db_exec_stmt(stmt) : st;
}

static const char db_sql_begin[] = "BEGIN IMMEDIATE";
static const char db_sql_begin_read[] = "BEGIN DEFERRED";
static const char db_sql_commit[] = "COMMIT";
static const char db_sql_rollback[] = "ROLLBACK";

int db_begin(struct db *db)
{
	return exec_cached(db, db_sql_begin);
}

int db_begin_read(struct db *db)
{
	return exec_cached(db, db_sql_begin_read);
}

int db_commit(struct db *db)
{
	return exec_cached(db, db_sql_commit);
}

void db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->conn))
		exec_cached(db, db_sql_rollback);
}

/* COMMIT, not ROLLBACK: with nothing written both just end the snapshot, and ROLLBACK's
 * clean-up was a few per cent of a poll. */
void db_end_read(struct db *db)
{
	if (!sqlite3_get_autocommit(db->conn) && exec_cached(db, db_sql_commit) != ST_OK)
		db_rollback(db);
}

int db_commit_unsynced(struct db *db)
{
	int st;

	db->unsynced = 1;
	st = db_commit(db);
	db->unsynced = 0;
	return st;
}

int db_exec_unsynced(struct db *db, sqlite3_stmt *stmt)
{
	int st;

	db->unsynced = 1;
	st = db_exec_stmt(stmt);
	db->unsynced = 0;
	return st;
}

/* Migrations. */

struct db_migration {
	int version;
	char name[128];
};

/* "NNN_words.sql" -> version NNN; anything else in the directory is not a migration. */
static int migration_version(const char *name)
{
	size_t len = strlen(name);
	int v = 0;

	if (len < 9 || len >= sizeof ((struct db_migration *)0)->name ||
	    strcmp(name + len - 4, ".sql") != 0 || name[3] != '_')
		return -1;
	for (int i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)name[i]))
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	for (size_t i = 4; i < len - 4; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) && name[i] != '_')
			return -1;
	return v > 0 ? v : -1;
}

static int migration_cmp(const void *a, const void *b)
{
	return ((const struct db_migration *)a)->version - ((const struct db_migration *)b)->version;
}

static int list_migrations(const char *sql_dir, struct db_migration *out, size_t *n)
{
	DIR *d = opendir(sql_dir);
	struct dirent *e;

	*n = 0;
	if (!d) {
		log_error("cannot open migrations directory %s: %s", sql_dir, strerror(errno));
		return ST_IO;
	}
	while ((e = readdir(d))) {
		int v = migration_version(e->d_name);
		char path[4096];
		struct stat sb;
		snprintf(path, sizeof path, "%s/%s", sql_dir, e->d_name);
		if (v < 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (*n == DB_MIGRATIONS_MAX) {
			closedir(d);
			return ST_TOO_LARGE;
		}
		out[*n].version = v;
		snprintf(out[*n].name, sizeof out[*n].name, "%s", e->d_name);
		(*n)++;
	}
	closedir(d);
	qsort(out, *n, sizeof *out, migration_cmp);
	for (size_t i = 1; i < *n; i++) {
		if (out[i].version == out[i - 1].version) {
			log_error("two migrations share number %03d: %s and %s", out[i].version,
				  out[i - 1].name, out[i].name);
			return ST_INVALID;
		}
	}
	return ST_OK;
}

int db_latest_migration(const char *sql_dir, int *version_out)
{
	static struct db_migration list[DB_MIGRATIONS_MAX];
	size_t n;
	int st = list_migrations(sql_dir, list, &n);

	if (st == ST_OK)
		*version_out = n ? list[n - 1].version : 0;
	return st;
}

static int read_file_dup(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *text;
	size_t len;

	if (!f) {
		log_error("cannot read %s: %s", path, strerror(errno));
		return ST_IO;
	}
	text = malloc(DB_MIGRATION_MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		return ST_NOMEM;
	}
	len = fread(text, 1, DB_MIGRATION_MAX_BYTES + 1, f);
	fclose(f);
	if (len > DB_MIGRATION_MAX_BYTES) {
		free(text);
		return ST_TOO_LARGE;
	}
	text[len] = '\0';
	*out = text;
	return ST_OK;
}

static const char db_sql_migrations_table[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))";
static const char db_sql_version[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
static const char db_sql_record[] = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";

int db_schema_version(struct db *db, int *version_out)
{
	sqlite3_stmt *stmt;
	int rc, st;

	st = exec_sql(db->conn, db_sql_migrations_table);
	if (st == ST_OK)
		st = db_stmt(db, db_sql_version, &stmt);
	if (st != ST_OK)
		return st;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*version_out = sqlite3_column_int(stmt, 0);
	sqlite3_reset(stmt);
	return rc == SQLITE_ROW ? ST_OK : db_status(rc);
}

static int apply_migration(struct db *db, const char *sql_dir, const struct db_migration *m)
{
	char path[4096];
	char *text = NULL;
	sqlite3_stmt *stmt;
	int version, st;

	snprintf(path, sizeof path, "%s/%s", sql_dir, m->name);
	st = read_file_dup(path, &text);
	if (st != ST_OK)
		return st;
	st = db_begin(db);
	if (st == ST_OK)
		st = db_schema_version(db, &version);
	if (st == ST_OK && version >= m->version) {
		/* Another process applied it while this one waited for the lock. */
		db_rollback(db);
		free(text);
		return ST_OK;
	}
	if (st == ST_OK)
		st = exec_sql(db->conn, text);
	if (st == ST_OK)
		st = db_stmt(db, db_sql_record, &stmt);
	if (st == ST_OK) {
		sqlite3_bind_int(stmt, 1, m->version);
		sqlite3_bind_text(stmt, 2, m->name, -1, SQLITE_STATIC);
		st = db_exec_stmt(stmt);
	}
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK) {
		log_error("migration %s failed; the schema stays at its previous version", m->name);
		db_rollback(db);
	}
	free(text);
	return st;
}

int db_migrate(struct db *db, const char *sql_dir, int *version_out)
{
	static struct db_migration list[DB_MIGRATIONS_MAX];
	size_t n;
	int version, st;

	st = list_migrations(sql_dir, list, &n);
	if (st == ST_OK)
		st = db_schema_version(db, &version);
	for (size_t i = 0; st == ST_OK && i < n; i++)
		if (list[i].version > version)
			st = apply_migration(db, sql_dir, &list[i]);
	if (st == ST_OK)
		st = db_schema_version(db, &version);
	if (st == ST_OK && version_out)
		*version_out = version;
	return st;
}

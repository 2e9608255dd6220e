/* lib/db.h — the SQLite file: opening it with the pragmas every process needs (and,
 * beside it, the unsynced file for counters that may be lost), applying sql/NNN_*.sql
 * migrations, a per-process cache of prepared statements, and short transactions.
 * Not: any table's SQL, which lives in the module that owns it. */
#ifndef DESKBRIDGE_DB_H
#define DESKBRIDGE_DB_H

#include <sqlite3.h>

#define DB_BUSY_TIMEOUT_MS 5000
#define DB_STMT_CACHE_MAX 128

struct db; /* opaque */

enum db_open_flags {
	DB_OPEN_EXISTING = 0,
	DB_OPEN_CREATE = 1,     /* create the file, mode 0600, if it does not exist */
};

int db_open(const char *path, int flags, struct db **out);
void db_close(struct db *db);

/* Applies every migration in sql_dir newer than the recorded version, each in its own
 * IMMEDIATE transaction, so concurrent processes apply each one exactly once. */
int db_migrate(struct db *db, const char *sql_dir, int *version_out);
int db_schema_version(struct db *db, int *version_out);
/* The newest migration number in sql_dir. */
int db_latest_migration(const char *sql_dir, int *version_out);

/* A cheap read that proves the file is open and readable. */
int db_ping(struct db *db);

/* A statement prepared once per process and reused. sql must be a string that lives
 * as long as the process (a literal or a static table entry): the cache keys on it.
 * The statement comes reset with no bindings; the db keeps ownership. */
int db_stmt(struct db *db, const char *sql, sqlite3_stmt **out);
/* The same on the counters file (rate_limits, metrics), which commits without waiting
 * for the disk and outside the main file's transactions. */
int db_counters_stmt(struct db *db, const char *sql, sqlite3_stmt **out);
/* Steps a statement that returns no rows (or whose rows are ignored) and resets it. */
int db_exec_stmt(sqlite3_stmt *stmt);

/* The same, for a write that may be lost with a power cut (a lease, which would have run
 * out by the restart anyway): outside a transaction, its commit does not wait for the
 * disk; the next durable commit takes it there with its own. Every other commit of the
 * main file is on disk when its statement returns. */
int db_exec_unsynced(struct db *db, sqlite3_stmt *stmt);

int db_begin(struct db *db);     /* BEGIN IMMEDIATE */
/* One snapshot for a run of reads: cheaper than a transaction per statement, and the
 * reads agree with each other. End it with db_end_read. */
int db_begin_read(struct db *db);
void db_end_read(struct db *db);  /* also when the snapshot was ended already */
int db_commit(struct db *db);
/* COMMIT without waiting for the disk, for a transaction whose loss with a power cut
 * nobody was promised against (see db_exec_unsynced). */
int db_commit_unsynced(struct db *db);
void db_rollback(struct db *db);

/* Maps an SQLite result code to a status (see status.h). */
int db_status(int sqlite_rc);
sqlite3 *db_handle(struct db *db);
sqlite3 *db_counters_handle(struct db *db);

#endif

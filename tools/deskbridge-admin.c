/* tools/deskbridge-admin.c — the operator's command line: initialise the database,
 * set the admin password, read and change configuration, show status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "app.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "status.h"
#include "ticket.h"
#include "transfer.h"
#include "vault.h"

static const char usage_text[] =
	"usage: deskbridge-admin [--db FILE] [--sql-dir DIR] COMMAND\n"
	"\n"
	"commands:\n"
	"  init [--password-file FILE]   create or migrate the database, create the key file\n"
	"                                that seals its secrets, the service key pair and,\n"
	"                                the first time, the admin password\n"
	"                                (from FILE, $DESKBRIDGE_ADMIN_PASSWORD, or generated\n"
	"                                and printed once)\n"
	"  passwd [--password-file FILE] set a new admin password (from FILE,\n"
	"                                $DESKBRIDGE_ADMIN_PASSWORD, or asked for); ends all\n"
	"                                admin sessions\n"
	"  config get [KEY]              print one key, or all as KEY=VALUE; secrets print\n"
	"                                only (set) or (not set)\n"
	"  config set KEY VALUE          validate and store a value; VALUE '-' reads it from\n"
	"                                standard input (use that for secrets)\n"
	"  config unset KEY              return a key to its default\n"
	"  status                        database, schema version and transfer counts\n"
	"  stats                         transfers by state and in the last day, events,\n"
	"                                messages waiting for and refused by Zendesk\n"
	"  sweep                         end transfers past their join or idle timeout\n"
	"                                (polling does it too; run this from cron)\n"
	"  purge --older-than DAYS       delete transfers that ended more than DAYS ago,\n"
	"                                with their messages\n"
	"  rekey                         a new key file; every secret is re-sealed with it\n"
	"  unlock [--address ADDR]       forget failed admin logins, so that a locked-out\n"
	"                                address may log in at once: those of ADDR (an IPv4\n"
	"                                or IPv6 address; an IPv6 one frees its /64), or of\n"
	"                                every address, and end the slow-down of logins\n"
	"  metrics-token                 print a new bearer token for GET /api/metrics (shown\n"
	"                                once, stored as a hash; the old one stops working)\n"
	"\n"
	"The database is --db, else $DESKBRIDGE_DB, else " DESKBRIDGE_DEFAULT_DB ".\n"
	"The key file is $DESKBRIDGE_KEY_FILE, else the database's path with .key appended;\n"
	"keep it out of database backups, or a copied backup reveals the secrets.\n";

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

static int fail(const char *what, int st)
{
	fprintf(stderr, "deskbridge-admin: %s: %s\n", what, status_str(st));
	return 1;
}

/* Reads one line, without its newline, into buf. */
static int read_line(FILE *f, char *buf, size_t size)
{
	size_t n;

	if (!fgets(buf, (int)size, f))
		return ST_IO;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && !feof(f) && n == size - 1)
		return ST_TOO_LARGE;
	buf[n] = '\0';
	return ST_OK;
}

static int read_password_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	int st;

	if (!f) {
		fprintf(stderr, "deskbridge-admin: cannot read %s: %s\n", path, strerror(errno));
		return ST_IO;
	}
	st = read_line(f, buf, size);
	fclose(f);
	return st;
}

static int prompt_hidden(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	int st, tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;

	if (tty) {
		fputs(prompt, stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	st = read_line(stdin, buf, size);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return st;
}

/* The new password, in order of preference: a file, the environment, a prompt. */
static int obtain_password(const char *file, int may_generate, char *buf, size_t size, int *generated)
{
	const char *env = getenv("DESKBRIDGE_ADMIN_PASSWORD");
	char again[ADMIN_PASSWORD_MAX + 2];
	int st;

	*generated = 0;
	if (file)
		return read_password_file(file, buf, size);
	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return strlen(env) < size ? ST_OK : ST_TOO_LARGE;
	}
	if (may_generate) {
		char *token;
		st = crypto_token_new(18, &token);
		if (st == ST_OK) {
			snprintf(buf, size, "%s", token);
			free(token);
			*generated = 1;
		}
		return st;
	}
	st = prompt_hidden("New admin password: ", buf, size);
	if (st == ST_OK && isatty(STDIN_FILENO)) {
		st = prompt_hidden("Repeat it: ", again, sizeof again);
		if (st == ST_OK && strcmp(buf, again) != 0) {
			fputs("deskbridge-admin: the two passwords differ\n", stderr);
			st = ST_INVALID;
		}
		memset(again, 0, sizeof again);
	}
	return st;
}

static int set_password(struct db *db, const char *password)
{
	int st = admin_password_set(db, password);

	if (st == ST_INVALID)
		fprintf(stderr, "deskbridge-admin: the admin password must be %d to %d characters\n",
			ADMIN_PASSWORD_MIN, ADMIN_PASSWORD_MAX);
	else if (st != ST_OK)
		fail("storing the admin password", st);
	return st;
}

static int cmd_init(struct db *db, const char *password_file)
{
	char password[ADMIN_PASSWORD_MAX + 2];
	int is_set, generated, st;

	st = vault_key_create();
	if (st == ST_OK)
		st = vault_load();
	if (st != ST_OK)
		return fail("creating the key file", st);
	st = keys_ensure(db);
	if (st != ST_OK)
		return fail("creating the service key pair", st);
	st = admin_password_is_set(db, &is_set);
	if (st != ST_OK)
		return fail("reading the admin password", st);
	if (is_set) {
		printf("deskbridge is initialised: database %s is up to date; the admin password "
		       "is unchanged (deskbridge-admin passwd changes it).\n", app_db_path());
		return 0;
	}
	st = obtain_password(password_file, 1, password, sizeof password, &generated);
	if (st == ST_OK)
		st = set_password(db, password);
	if (st == ST_OK) {
		printf("deskbridge initialised: database %s.\n", app_db_path());
		if (generated)
			printf("Admin password (shown only this once): %s\n", password);
	}
	memset(password, 0, sizeof password);
	return st == ST_OK ? 0 : 1;
}

static int cmd_passwd(struct db *db, const char *password_file)
{
	char password[ADMIN_PASSWORD_MAX + 2];
	int generated, st;

	st = obtain_password(password_file, 0, password, sizeof password, &generated);
	if (st != ST_OK && st != ST_INVALID)
		fail("reading the new password", st);
	if (st == ST_OK)
		st = set_password(db, password);
	if (st == ST_OK)
		printf("Admin password changed; every admin session has ended.\n");
	memset(password, 0, sizeof password);
	return st == ST_OK ? 0 : 1;
}

static int print_key(struct db *db, const struct config_key *key, int with_name)
{
	char *value = NULL;
	int st, is_set;

	if (key->type == CONFIG_SECRET) {
		st = config_is_set(db, key->name, &is_set);
		value = strdup(is_set ? "(set)" : "(not set)");
	} else {
		st = config_get_dup(db, key->name, &value);
	}
	if (st != ST_OK) {
		free(value);
		return fail(key->name, st);
	}
	if (with_name)
		printf("%s=%s\n", key->name, value ? value : "");
	else
		printf("%s\n", value ? value : "");
	free(value);
	return 0;
}

static int cmd_config(struct db *db, int argc, char **argv)
{
	const struct config_key *key = argc >= 2 ? config_key_find(argv[1]) : NULL;
	char value[4096];
	const char *why;
	int st;

	if (argc == 1 && strcmp(argv[0], "get") == 0) {
		size_t n;
		const struct config_key *keys = config_keys(&n);
		for (size_t i = 0; i < n; i++)
			if (print_key(db, &keys[i], 1) != 0)
				return 1;
		return 0;
	}
	if (!((argc == 2 && (strcmp(argv[0], "get") == 0 || strcmp(argv[0], "unset") == 0)) ||
	      (argc == 3 && strcmp(argv[0], "set") == 0)))
		return usage();
	if (!key) {
		fprintf(stderr, "deskbridge-admin: %s is not a configuration key "
				"(deskbridge-admin config get lists them)\n", argv[1]);
		return 1;
	}
	if (argc == 2 && strcmp(argv[0], "get") == 0)
		return print_key(db, key, 0);
	if (key->readonly) {
		fprintf(stderr, "deskbridge-admin: %s is read-only: deskbridge records it\n", key->name);
		return 1;
	}
	if (argc == 2 && strcmp(argv[0], "unset") == 0) {
		st = config_set(db, key->name, NULL, &why);
		return st == ST_OK ? 0 : fail(key->name, st);
	}
	if (strcmp(argv[2], "-") == 0) {
		st = read_line(stdin, value, sizeof value);
		if (st != ST_OK)
			return fail("reading the value from standard input", st);
	} else {
		snprintf(value, sizeof value, "%s", argv[2]);
	}
	st = config_set(db, key->name, value, &why);
	memset(value, 0, sizeof value);
	if (st == ST_INVALID) {
		fprintf(stderr, "deskbridge-admin: %s %s\n", key->name, why);
		return 1;
	}
	return st == ST_OK ? 0 : fail(key->name, st);
}

static int cmd_status(struct db *db)
{
	struct transfer_counts counts;
	int version, latest, is_set, st;

	st = db_schema_version(db, &version);
	if (st == ST_OK)
		st = db_latest_migration(app_sql_dir(), &latest);
	if (st == ST_OK)
		st = admin_password_is_set(db, &is_set);
	if (st == ST_OK)
		st = transfer_counts(db, &counts);
	if (st != ST_OK)
		return fail("reading status", st);
	printf("database: %s\n", app_db_path());
	printf("schema_version: %d (latest %d)\n", version, latest);
	printf("initialised: %s\n", is_set ? "yes" : "no (run deskbridge-admin init)");
	printf("transfers: %lld waiting, %lld active, %lld ended\n", (long long)counts.waiting,
	       (long long)counts.active, (long long)counts.ended);
	printf("undelivered_messages: %lld\n", (long long)counts.undelivered);
	return 0;
}

static int cmd_rekey(struct db *db)
{
	int st = vault_rekey_begin();

	if (st == ST_OK)
		st = db_begin(db);
	if (st == ST_OK)
		st = config_secrets_reseal(db);
	if (st == ST_OK)
		st = keys_reseal(db);
	if (st == ST_OK)
		st = db_commit(db);
	if (st != ST_OK) {
		db_rollback(db);
		return fail("re-sealing the secrets", st);
	}
	st = vault_rekey_finish();
	if (st != ST_OK)
		return fail("replacing the key file", st);
	printf("New key file %s; every secret is sealed with it.\n", vault_key_path());
	return 0;
}

static int cmd_stats(struct db *db)
{
	struct transfer_stats s;
	int st = transfer_stats(db, (int64_t)time(NULL), &s);

	if (st != ST_OK)
		return fail("reading statistics", st);
	printf("transfers_waiting: %lld\ntransfers_active: %lld\ntransfers_ended: %lld\n",
	       (long long)s.counts.waiting, (long long)s.counts.active, (long long)s.counts.ended);
	printf("transfers_last_24h: %lld\nevents: %lld\n", (long long)s.created_last_day,
	       (long long)s.events);
	printf("messages_waiting: %lld\nmessages_failed: %lld\n", (long long)s.counts.undelivered,
	       (long long)s.failed_deliveries);
	return 0;
}

static int cmd_sweep(struct db *db)
{
	struct outbox_result sent;
	int64_t ended, tickets = 0;
	int st = transfer_sweep(db, (int64_t)time(NULL), &ended);

	if (st == ST_OK)
		st = outbox_sweep(db, (int64_t)time(NULL), &sent);
	if (st == ST_OK)
		st = ticket_sweep(db, (int64_t)time(NULL), &tickets);
	if (st != ST_OK)
		return fail("sweeping", st);
	printf("%lld transfer(s) ended by their timeout.\n", (long long)ended);
	printf("%d delivered to Zendesk, %d to retry, %d refused.\n", sent.delivered, sent.retrying,
	       sent.failed);
	printf("%lld message(s) left by visitors created as Zendesk tickets.\n", (long long)tickets);
	return 0;
}

static int cmd_purge(struct db *db, const char *days_text)
{
	char *end = NULL;
	long long days = strtoll(days_text, &end, 10);
	int64_t purged;
	int st;

	if (!*days_text || *end || days < 1 || days > 36500) {
		fputs("deskbridge-admin: --older-than takes a number of days from 1 to 36500\n", stderr);
		return 2;
	}
	st = transfer_purge(db, (int64_t)time(NULL) - days * 24 * 60 * 60, &purged);
	if (st != ST_OK)
		return fail("purging", st);
	printf("%lld ended transfer(s) purged, with their messages.\n", (long long)purged);
	return 0;
}

static int cmd_unlock(struct db *db, const char *address)
{
	int st = admin_login_unlock(db, address);

	if (st == ST_INVALID) {
		fprintf(stderr, "deskbridge-admin: --address takes an IPv4 or IPv6 address, not %s\n", address);
		return 2;
	}
	if (st != ST_OK)
		return fail("clearing the login limits", st);
	if (address)
		printf("Failed admin logins from %s forgotten: it may log in at once.\n", address);
	else
		printf("Failed admin logins from every address forgotten; logins are no longer slowed down.\n");
	return 0;
}

static int cmd_metrics_token(struct db *db)
{
	char *token = NULL;
	int st = metrics_token_new_dup(db, &token);

	if (st != ST_OK)
		return fail("making the metrics token", st);
	printf("%s\n", token);
	fputs("The scraper sends it as Authorization: Bearer; it is not shown again.\n", stderr);
	free(token);
	return 0;
}

int main(int argc, char **argv)
{
	const char *password_file = NULL;
	struct db *db = NULL;
	int i = 1, st, rc;

	log_init("deskbridge-admin");
	umask(077);
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--db") == 0)
			setenv("DESKBRIDGE_DB", argv[i + 1], 1);
		else if (strcmp(argv[i], "--sql-dir") == 0)
			setenv("DESKBRIDGE_SQL_DIR", argv[i + 1], 1);
		else
			return usage();
	}
	if (i >= argc || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		return usage();
	if (strcmp(argv[i], "init") == 0 || strcmp(argv[i], "passwd") == 0) {
		if (argc == i + 3 && strcmp(argv[i + 1], "--password-file") == 0)
			password_file = argv[i + 2];
		else if (argc != i + 1)
			return usage();
	} else if (strcmp(argv[i], "purge") == 0) {
		if (argc != i + 3 || strcmp(argv[i + 1], "--older-than") != 0)
			return usage();
	} else if (strcmp(argv[i], "unlock") == 0) {
		if (argc != i + 1 && (argc != i + 3 || strcmp(argv[i + 1], "--address") != 0))
			return usage();
	} else if (strcmp(argv[i], "config") != 0 && strcmp(argv[i], "status") != 0 &&
		   strcmp(argv[i], "stats") != 0 && strcmp(argv[i], "sweep") != 0 &&
		   strcmp(argv[i], "rekey") != 0 && strcmp(argv[i], "metrics-token") != 0) {
		return usage();
	} else if (strcmp(argv[i], "config") != 0 && argc != i + 1) {
		return usage();
	}
	st = db_open(app_db_path(), strcmp(argv[i], "init") == 0 ? DB_OPEN_CREATE : DB_OPEN_EXISTING, &db);
	if (st != ST_OK) {
		fprintf(stderr, "deskbridge-admin: cannot open the database %s: %s%s\n", app_db_path(),
			status_str(st), strcmp(argv[i], "init") ? " (run deskbridge-admin init first)" : "");
		return 1;
	}
	st = db_migrate(db, app_sql_dir(), NULL);
	if (st != ST_OK) {
		db_close(db);
		return fail("applying migrations", st);
	}
	if (strcmp(argv[i], "init") == 0)
		rc = cmd_init(db, password_file);
	else if (strcmp(argv[i], "passwd") == 0)
		rc = cmd_passwd(db, password_file);
	else if (strcmp(argv[i], "config") == 0)
		rc = cmd_config(db, argc - i - 1, argv + i + 1);
	else if (strcmp(argv[i], "stats") == 0)
		rc = cmd_stats(db);
	else if (strcmp(argv[i], "sweep") == 0)
		rc = cmd_sweep(db);
	else if (strcmp(argv[i], "purge") == 0)
		rc = cmd_purge(db, argv[i + 2]);
	else if (strcmp(argv[i], "rekey") == 0)
		rc = cmd_rekey(db);
	else if (strcmp(argv[i], "unlock") == 0)
		rc = cmd_unlock(db, argc == i + 3 ? argv[i + 2] : NULL);
	else if (strcmp(argv[i], "metrics-token") == 0)
		rc = cmd_metrics_token(db);
	else
		rc = cmd_status(db);
	db_close(db);
	return rc;
}

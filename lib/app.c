/* lib/app.c — the handler runtime shared by cgi-bin/. */
#include "app.h"

#include <fcgiapp.h>
#include <json-c/json.h>
#include <signal.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "cors.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "proxy.h"
#include "ratelimit.h"
#include "vault.h"
#include "status.h"

extern char **environ;

struct app {
	struct db *db;
	int cross_origin;
	app_later_fn *later;
	char later_arg[128];
};

static volatile sig_atomic_t app_stopping;
static volatile sig_atomic_t app_fastcgi;

const char *app_db_path(void)
{
	const char *p = getenv("DESKBRIDGE_DB");

	return p && *p ? p : DESKBRIDGE_DEFAULT_DB;
}

const char *app_sql_dir(void)
{
	const char *p = getenv("DESKBRIDGE_SQL_DIR");

	return p && *p ? p : DESKBRIDGE_DEFAULT_SQL_DIR;
}

const char *app_zendesk_app_dir(void)
{
	const char *p = getenv("DESKBRIDGE_ZENDESK_APP_DIR");

	return p && *p ? p : DESKBRIDGE_DEFAULT_ZENDESK_APP_DIR;
}

static int open_db(struct app *app)
{
	struct db *db;
	int version, latest, st;

	st = vault_load();
	if (st == ST_OK)
		st = db_open(app_db_path(), DB_OPEN_EXISTING, &db);
	if (st != ST_OK)
		return st;
	st = db_latest_migration(app_sql_dir(), &latest);
	if (st == ST_OK)
		st = db_schema_version(db, &version);
	if (st == ST_OK && version < latest)
		st = db_migrate(db, app_sql_dir(), &version);
	if (st == ST_OK && version < 1) {
		log_error("database %s has no schema: run deskbridge-admin init", app_db_path());
		st = ST_DB;
	}
	if (st != ST_OK) {
		db_close(db);
		return st;
	}
	app->db = db;
	return ST_OK;
}

/* Only a request a proxy forwarded costs the read of the trusted list. */
static void resolve_client(struct db *db, struct http_req *req)
{
	const char *forwarded_for = http_req_header(req, "X-Forwarded-For");
	const char *forwarded_proto = http_req_header(req, "X-Forwarded-Proto");
	char *trusted = NULL, client[PROXY_ADDR_LEN];
	int https = 0;

	if ((!forwarded_for && !forwarded_proto) || config_get_dup(db, "security.trusted_proxies", &trusted) != ST_OK)
		return;
	proxy_client(trusted, http_req_env(req, "REMOTE_ADDR"), forwarded_for, forwarded_proto, client, &https);
	http_req_set_client(req, client, https);
	free(trusted);
}

struct db *app_db(struct app *app, struct http_req *req)
{
	if (!app->db && open_db(app) != ST_OK) {
		http_reply_error(req, APIERR_DB_UNAVAILABLE, NULL);
		return NULL;
	}
	resolve_client(app->db, req);
	return app->db;
}

int app_over_limit(struct http_req *req, struct db *db, const char *who, const char *limit_key)
{
	char bucket[192], client[64];
	int64_t limit = 0, retry_after = 0;
	int st = config_get_int(db, limit_key, &limit);

	ratelimit_client(who, client, sizeof client);
	snprintf(bucket, sizeof bucket, "%s:%s", limit_key, client);
	if (st == ST_OK)
		st = ratelimit_take(db, bucket, limit, 60, (int64_t)time(NULL), &retry_after);
	if (st == ST_OK)
		return 0;
	if (st == ST_LIMITED) {
		metrics_count(db, METRIC_RATE_LIMITED, limit_key);
		http_reply_errorf(req, APIERR_RATE_LIMITED, "Too many requests: at most %lld a minute. "
				  "Try again in %lld seconds.", (long long)limit, (long long)retry_after);
		http_add_retry_after(req, retry_after);
	} else {
		http_reply_error(req, apierr_from_status(st), NULL);
	}
	return 1;
}

void app_route_health(struct http_req *req, void *ctx)
{
	struct app *app = ctx;
	struct json_object *body = json_object_new_object();
	int ok = (app->db || open_db(app) == ST_OK) && db_ping(app->db) == ST_OK;

	if (!ok && app->db) {
		/* Reopen on the next request: the file may have been replaced or restored. */
		db_close(app->db);
		app->db = NULL;
	}
	json_object_object_add(body, "ok", json_object_new_boolean(ok));
	json_object_object_add(body, "db", json_object_new_string(ok ? "ok" : "error"));
	http_reply_json(req, ok ? 200 : 503, body);
}

void app_after_response(void *ctx, app_later_fn *fn, const char *arg)
{
	struct app *app = ctx;

	app->later = fn;
	snprintf(app->later_arg, sizeof app->later_arg, "%s", arg);
}

static void run_later(struct app *app)
{
	app_later_fn *fn = app->later;

	app->later = NULL;
	if (fn && app->db)
		fn(app->db, app->later_arg);
}

static void on_term(int sig)
{
	(void)sig;
	app_stopping = 1;
	FCGX_ShutdownPending();
	/* A stop that lands between the loop's check and accept() would leave the process
	 * blocked in accept() for good (the web server that would connect has gone):
	 * closing the listening socket makes that accept(), or the next one, fail at once. */
	if (app_fastcgi)
		close(STDIN_FILENO);
}

/* No SA_RESTART: a stop request must interrupt the blocking accept(), so that the
 * process leaves its loop and exits cleanly (closing SQLite, and under the sanitizer
 * build, reporting leaks). */
static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Only a request that names its page's origin costs the read of the list: browsers send
 * Origin on every cross-origin request, and on same-origin ones but GET and HEAD. A
 * database that cannot be opened allows none; the route then answers 503. */
static void resolve_cors(struct app *app, struct http_req *req)
{
	const char *origin = http_req_header(req, "Origin");
	char *allowed = NULL;
	int listed = 0;

	if (origin && (app->db || open_db(app) == ST_OK) &&
	    config_get_dup(app->db, "security.allowed_origins", &allowed) == ST_OK)
		listed = cors_origin_listed(allowed, origin);
	http_req_set_cors(req, listed ? HTTP_CORS_ALLOWED : HTTP_CORS_REFUSED);
	free(allowed);
}

static void serve(struct http_req *req, struct app *app, const struct http_route *routes, size_t n)
{
	if (app->cross_origin)
		resolve_cors(app, req);
	http_dispatch(req, routes, n, app);
	if (http_finish(req) != ST_OK)
		log_error("the client went away before the response was written");
	http_req_free(req);
}

/* libfcgi ends each connection with shutdown() and then waits, up to 2 s, for the web
 * server to close its end, so that a TCP peer's late bytes do not earn an RST that would
 * discard the response. A Unix socket cannot lose queued data that way: its peer reads
 * the whole response before it sees the close. There the wait only holds the process
 * idle, a quarter of a short request's time, so it is skipped once the web server has
 * sent the whole request (it has nothing more to write to us). A request answered before
 * its body was read keeps the wait, which drains the rest. */
static int listening_on_unix_socket(void)
{
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;

	return getsockname(0, (struct sockaddr *)&addr, &len) == 0 && addr.ss_family == AF_UNIX;
}

static int whole_request_read(FCGX_Request *fcgx)
{
	return FCGX_GetChar(fcgx->in) == EOF && FCGX_HasSeenEOF(fcgx->in) && !FCGX_GetError(fcgx->in);
}

static int run(struct app *app, const char *name, const struct http_route *routes, size_t nroutes)
{
	struct http_req *req;
	FCGX_Request fcgx;

	log_init(name);
	install_signals();
	if (FCGX_IsCGI()) {
		if (http_req_new_cgi(environ, stdin, stdout, &req) != ST_OK)
			return 1;
		serve(req, app, routes, nroutes);
		/* The web server sends the response once standard output closes. */
		fclose(stdout);
		run_later(app);
		db_close(app->db);
		return 0;
	}
	app_fastcgi = 1;
#ifdef __linux__
	/* A web server that spawns its handlers (the bundled configurations set this) does
	 * not always stop them, and may even spawn one while it shuts down; such a handler
	 * would wait in accept() for ever. So: SIGTERM when the parent goes, and no start at
	 * all when it has gone already (the process was handed to init). Left off for
	 * spawners that exit on purpose, such as spawn-fcgi. */
	const char *with_parent = getenv("DESKBRIDGE_EXIT_WITH_PARENT");
	if (with_parent && strcmp(with_parent, "1") == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			return 0;
	}
#endif
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, 0, 0) != 0) {
		log_error("cannot initialise FastCGI");
		return 1;
	}
	int close_at_once = listening_on_unix_socket();
	while (!app_stopping && FCGX_Accept_r(&fcgx) >= 0) {
		if (http_req_new_fcgi(&fcgx, &req) == ST_OK)
			serve(req, app, routes, nroutes);
		else
			log_error("out of memory reading a request");
		if (close_at_once && whole_request_read(&fcgx))
			FCGX_Detach(&fcgx);
		FCGX_Finish_r(&fcgx);
		run_later(app);
	}
#ifdef __linux__
	/* Leaving anyway: a second signal now would only disturb the exit (and, under the
	 * sanitizer build, the leak check that runs at exit). */
	prctl(PR_SET_PDEATHSIG, 0);
#endif
	FCGX_Free(&fcgx, 1);
	db_close(app->db);
	return 0;
}

int app_main(const char *name, const struct http_route *routes, size_t nroutes)
{
	struct app app = {0};

	return run(&app, name, routes, nroutes);
}

int app_main_cross_origin(const char *name, const struct http_route *routes, size_t nroutes)
{
	struct app app = {.cross_origin = 1};

	return run(&app, name, routes, nroutes);
}

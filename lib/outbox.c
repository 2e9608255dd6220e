/* lib/outbox.c — the outbox's delivery loop over transfer.h and zendesk.h. */
#include "outbox.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "log.h"
#include "metrics.h"
#include "setup.h"
#include "status.h"
#include "timefmt.h"
#include "transfer.h"
#include "zendesk.h"

static const char outbox_struggling_key[] = "outbox.zendesk_struggling";
static const char outbox_probe_lease[] = "outbox:probe";
/* The agent workspace's switchboard integration id, per app; Access account renews it. */
#define OUTBOX_AGENT_WORKSPACE_TTL_S (24 * 3600)

struct outbox_run {
	struct db *db;
	const char *id;
	struct zendesk_account *acct;
	struct transfer_handoff handoff;
	int64_t now;
	char lease[64], holder[32];
	int probing;   /* holds the probe lease, and no delivery has got through yet */
	/* The first post of a job tried before may have reached Zendesk with its answer
	 * lost (a timeout, a dropped connection, a killed process): ask before posting. */
	int uncertain;
	int answer_lost;   /* this run posted and did not hear back */
};

static const char *progress(struct transfer_job *job, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(job->payload, name, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static void set_progress(struct transfer_job *job, const char *name, const char *value)
{
	json_object_object_add(job->payload, name, json_object_new_string(value));
}

/* Keeps this process the one delivering for the transfer while it works; 0 when another
 * has taken over (this one was too slow, its lease ran out). */
static int renew_lease(struct outbox_run *r)
{
	int got = 0;

	return transfer_lease(r->db, r->lease, r->holder, (int64_t)time(NULL), OUTBOX_LEASE_S, &got) == ST_OK && got;
}

/* Posts one message marked "<transfer>/<job>/<n>" once, even across lost answers. */
static int post_once(struct outbox_run *r, struct transfer_job *job, int n, const char *conversation_id,
		     const char *user_id, const char *text, char id[ZENDESK_ID_LEN], struct zendesk_call *call)
{
	char mark[TRANSFER_ID_LEN + 48];
	int found = 0, st = ST_OK;

	snprintf(mark, sizeof mark, "%s/%lld/%d", r->id, (long long)job->id, n);
	if (r->uncertain) {
		st = zendesk_find_marked(r->acct, conversation_id, mark, id, &found, call);
		if (st != ST_OK || call->outcome != ZENDESK_OK || found)
			return st;
	}
	/* From here until Zendesk answers, the post's fate is unknown, also to the process
	 * that takes over if this one is killed: it is written down first. */
	r->uncertain = 1;
	set_progress(job, "posting", mark);
	st = transfer_job_save(r->db, job, 0);
	if (st == ST_OK)
		st = zendesk_post(r->acct, conversation_id, user_id, text, mark, id, call);
	if (st == ST_OK && call->outcome != ZENDESK_UNREACHABLE)
		r->uncertain = 0;
	r->answer_lost = r->uncertain;
	return st;
}

static int agent_workspace_key(const char *app_id, char *key, size_t size)
{
	int n = snprintf(key, size, "zendesk.agent_workspace:%s", app_id ? app_id : "");

	return n < 0 || (size_t)n >= size ? ST_TOO_LARGE : ST_OK;
}

int outbox_remember_agent_workspace(struct db *db, const char *app_id, const char *integration_id, int64_t now)
{
	char key[160];
	int st = agent_workspace_key(app_id, key, sizeof key);

	return st == ST_OK ? cache_put(db, key, integration_id, now + OUTBOX_AGENT_WORKSPACE_TTL_S) : st;
}

int outbox_note_handoff(struct db *db, int64_t now)
{
	char at[TIMEFMT_LEN];

	return cache_put(db, OUTBOX_LAST_HANDOFF, timefmt_rfc3339(now, at), now + 365 * 24 * 3600);
}

/* The switchboard integration to pass control to: asked of Zendesk once a day per app,
 * not on every handoff; *cached 1 when it came from what was asked before. */
static int agent_workspace(struct outbox_run *r, int fresh, char id[ZENDESK_ID_LEN], int *cached,
			   struct zendesk_call *call)
{
	char key[160], *known = NULL;
	int st = agent_workspace_key(zendesk_app_id(r->acct), key, sizeof key);

	memset(call, 0, sizeof *call);
	if (st == ST_OK && !fresh)
		st = cache_get_dup(r->db, key, r->now, &known);
	*cached = st == ST_OK && known && *known && strlen(known) < ZENDESK_ID_LEN;
	if (*cached) {
		snprintf(id, ZENDESK_ID_LEN, "%s", known);
		call->outcome = ZENDESK_OK;
	} else if (st == ST_OK) {
		st = zendesk_agent_workspace(r->acct, id, call);
		if (st == ST_OK && call->outcome == ZENDESK_OK)
			st = cache_put(r->db, key, id, r->now + OUTBOX_AGENT_WORKSPACE_TTL_S);
	}
	free(known);
	return st;
}

/* The handoff's steps; each done step is saved, so a retry resumes after it. */
static int run_start(struct outbox_run *r, struct transfer_job *job, struct zendesk_call *call)
{
	char id[ZENDESK_ID_LEN];
	struct json_object *done;
	size_t n = json_object_is_type(r->handoff.history, json_type_array)
			   ? json_object_array_length(r->handoff.history) : 0;
	int64_t posted = json_object_object_get_ex(job->payload, "posted", &done) ? json_object_get_int64(done) : 0;
	int st = ST_OK;

	call->outcome = ZENDESK_OK;
	if (!progress(job, "user_id")) {
		st = zendesk_user(r->acct, r->handoff.external_id, r->handoff.name, r->handoff.email, id, call);
		if (st != ST_OK || call->outcome != ZENDESK_OK)
			return st;
		set_progress(job, "user_id", id);
		st = transfer_job_save(r->db, job, 0);
	}
	/* A verified visitor is the ticket's requester, matched by external_id to the
	 * customer's Zendesk user; a typed name and email are never made to match anyone. */
	if (st == ST_OK && r->handoff.authenticated && !progress(job, "requester") &&
	    zendesk_support_ready(r->acct)) {
		st = zendesk_support_user(r->acct, r->handoff.external_id, r->handoff.name, r->handoff.email, call);
		if (st != ST_OK || call->outcome != ZENDESK_OK)
			return st;
		set_progress(job, "requester", "done");
		st = transfer_job_save(r->db, job, 0);
	}
	if (st == ST_OK && !progress(job, "conversation_id")) {
		st = zendesk_conversation(r->acct, progress(job, "user_id"), r->id, id, call);
		if (st != ST_OK || call->outcome != ZENDESK_OK)
			return st;
		set_progress(job, "conversation_id", id);
		st = transfer_job_save(r->db, job, 0);
		/* From now on the webhook can find the transfer by its conversation. */
		if (st == ST_OK)
			st = transfer_set_zendesk(r->db, r->id, progress(job, "user_id"), id);
	}
	/* The bot conversation, then the bot's note to the agent, one message each. */
	for (; st == ST_OK && posted < (int64_t)n + (r->handoff.message_to_human_agent ? 1 : 0); posted++) {
		struct json_object *e = (size_t)posted < n ? json_object_array_get_idx(r->handoff.history, (size_t)posted) : NULL;
		struct json_object *from = NULL, *text = NULL;
		const char *author = NULL, *body = r->handoff.message_to_human_agent;
		if (e) {
			json_object_object_get_ex(e, "from", &from);
			json_object_object_get_ex(e, "text", &text);
			author = strcmp(json_object_get_string(from), "user") == 0 ? progress(job, "user_id") : NULL;
			body = json_object_get_string(text);
		}
		st = post_once(r, job, (int)posted, progress(job, "conversation_id"), author, body, id, call);
		if (st != ST_OK || call->outcome != ZENDESK_OK)
			return st;
		if (!progress(job, "first_message_id"))
			set_progress(job, "first_message_id", id);
		json_object_object_add(job->payload, "posted", json_object_new_int64(posted + 1));
		st = transfer_job_save(r->db, job, 0);
		if (st == ST_OK && !renew_lease(r))
			return ST_CONFLICT;
	}
	/* A refused id kept from before may be one the admin has since replaced: asked afresh once. */
	for (int fresh = 0, cached = 0; st == ST_OK && fresh < 2; fresh++) {
		st = agent_workspace(r, fresh, id, &cached, call);
		if (st == ST_OK && call->outcome == ZENDESK_OK)
			st = zendesk_pass_control(r->acct, progress(job, "conversation_id"), id,
						  progress(job, "first_message_id"), r->id, r->handoff.department, call);
		if (st != ST_OK || call->outcome != ZENDESK_REJECTED || !cached)
			break;
	}
	if (st == ST_OK && call->outcome == ZENDESK_OK)
		st = outbox_note_handoff(r->db, r->now);
	return st;
}

/* The agent is told, then the conversation is let go: a chat the visitor left is not
 * left with the agent. */
static int run_end(struct outbox_run *r, struct transfer_job *job, char id[ZENDESK_ID_LEN],
		   struct zendesk_call *call)
{
	int st = ST_OK;

	if (!progress(job, "told")) {
		st = post_once(r, job, 0, r->handoff.zendesk_conversation_id, NULL, "The visitor's chat has ended.",
			       id, call);
		if (st != ST_OK || call->outcome != ZENDESK_OK)
			return st;
		set_progress(job, "told", "done");
		st = transfer_job_save(r->db, job, 0);
	}
	if (st == ST_OK)
		st = zendesk_release_control(r->acct, r->handoff.zendesk_conversation_id, call);
	return st;
}

static int run_job(struct outbox_run *r, struct transfer_job *job, struct zendesk_call *call)
{
	char id[ZENDESK_ID_LEN];
	struct json_object *text;

	if (strcmp(job->kind, "start") == 0)
		return run_start(r, job, call);
	memset(call, 0, sizeof *call);
	if (!r->handoff.zendesk_conversation_id) {
		/* The handoff failed for good: nothing to deliver to. */
		call->outcome = ZENDESK_REJECTED;
		snprintf(call->detail, sizeof call->detail, "the conversation was never handed to Zendesk");
		return ST_OK;
	}
	if (strcmp(job->kind, "message") == 0 && json_object_object_get_ex(job->payload, "text", &text))
		return post_once(r, job, 0, r->handoff.zendesk_conversation_id, r->handoff.zendesk_user_id,
				 json_object_get_string(text), id, call);
	if (strcmp(job->kind, "end") == 0)
		return run_end(r, job, id, call);
	call->outcome = ZENDESK_REJECTED;
	snprintf(call->detail, sizeof call->detail, "unknown job kind %s", job->kind);
	return ST_OK;
}

/* When to try a job again, counted from now (after the failed call, which may have
 * taken seconds), not from when the run started. */
static int64_t retry_at(const struct outbox_run *r, int attempts, long retry_after_s)
{
	int64_t now = (int64_t)time(NULL), wait = (int64_t)1 << (attempts < 8 ? attempts : 8);

	if (wait > OUTBOX_BACKOFF_MAX_S)
		wait = OUTBOX_BACKOFF_MAX_S;
	if (retry_after_s > 0)
		wait = retry_after_s < OUTBOX_RETRY_AFTER_MAX_S ? retry_after_s : OUTBOX_RETRY_AFTER_MAX_S;
	if (r->answer_lost && wait < OUTBOX_UNCERTAIN_WAIT_S)
		wait = OUTBOX_UNCERTAIN_WAIT_S;
	return now + wait;
}

static int struggling(struct db *db, int64_t now, int *yes)
{
	char *v = NULL;
	int st = cache_get_dup(db, outbox_struggling_key, now, &v);

	*yes = v != NULL;
	free(v);
	return st;
}

/* Whether this process may call Zendesk for deliveries now: always while Zendesk takes
 * them; while it is struggling, only the one process that holds the probe lease. */
static int may_deliver(struct outbox_run *r, int *go)
{
	int yes = 0, st = struggling(r->db, r->now, &yes);

	*go = st == ST_OK && !yes;
	if (st != ST_OK || !yes)
		return st;
	st = transfer_lease(r->db, outbox_probe_lease, r->holder, r->now, OUTBOX_LEASE_S, go);
	r->probing = st == ST_OK && *go;
	return st;
}

/* Keeps the last Zendesk failure for GET /api/setup/status, and counts it for the
 * dashboard. */
static void remember_error(struct db *db, const char *detail, int64_t now)
{
	struct json_object *e = json_object_new_object();
	char at[TIMEFMT_LEN];

	json_object_object_add(e, "message", json_object_new_string(detail));
	json_object_object_add(e, "at", json_object_new_string(timefmt_rfc3339(now, at)));
	cache_put(db, SETUP_LAST_ZENDESK_ERROR, json_object_to_json_string(e), now + 7 * 24 * 3600);
	json_object_put(e);
	metrics_delivery_failed(db, now);
}

static int deliver_jobs(struct outbox_run *r, struct outbox_result *out)
{
	struct transfer_job job;
	struct zendesk_call call;
	int found = 1, st = ST_OK;

	for (int i = 0; st == ST_OK && found && i < OUTBOX_JOBS_PER_RUN; i++) {
		st = transfer_job_next(r->db, r->id, &job, &found);
		if (st != ST_OK || !found || job.next_attempt_at > r->now || (i > 0 && !renew_lease(r))) {
			transfer_job_clear(&job);
			break;
		}
		r->uncertain = job.attempts > 0 || progress(&job, "posting");
		r->answer_lost = 0;
		transfer_handoff_clear(&r->handoff);
		st = transfer_handoff_get(r->db, r->id, &r->handoff);
		if (st == ST_OK)
			st = run_job(r, &job, &call);
		if (st == ST_OK && call.outcome == ZENDESK_OK) {
			st = transfer_job_save(r->db, &job, 1);
			/* Zendesk takes deliveries again: every process may send. */
			if (st == ST_OK && r->probing)
				st = cache_put(r->db, outbox_struggling_key, "", r->now);
			r->probing = 0;
			out->delivered++;
		} else if (st == ST_OK && call.outcome == ZENDESK_UNREACHABLE &&
			   r->now - job.created_at < OUTBOX_GIVE_UP_S) {
			remember_error(r->db, call.detail, r->now);
			cache_put(r->db, outbox_struggling_key, "1", (int64_t)time(NULL) + OUTBOX_STRUGGLING_S);
			st = transfer_job_retry(r->db, &job, retry_at(r, job.attempts, call.retry_after_s), call.detail);
			out->retrying++;
			found = 0;   /* later jobs wait behind this one: order matters */
		} else if (st == ST_OK) {
			log_error("transfer %s: Zendesk did not take a %s: %s", r->id, job.kind, call.detail);
			remember_error(r->db, call.detail, r->now);
			st = transfer_job_fail(r->db, r->id, &job, call.detail, r->now);
			out->failed++;
		}
		transfer_job_clear(&job);
	}
	return st;
}

int outbox_deliver(struct db *db, const char *transfer_id, int64_t now, struct outbox_result *out)
{
	struct outbox_run r = {.db = db, .id = transfer_id, .now = now};
	int got = 0, probe_held, st;

	memset(out, 0, sizeof *out);
	/* Without messaging credentials the jobs wait; checked before the lease, whose
	 * writes would otherwise land on every poll. */
	st = zendesk_account_load(db, &r.acct);
	if (st != ST_OK || !zendesk_messaging_ready(r.acct)) {
		zendesk_account_free(r.acct);
		return st;
	}
	snprintf(r.lease, sizeof r.lease, TRANSFER_OUTBOX_LEASE "%s", transfer_id);
	snprintf(r.holder, sizeof r.holder, "%ld", (long)getpid());
	st = may_deliver(&r, &got);
	probe_held = r.probing;
	if (st == ST_OK && got)
		st = transfer_lease(db, r.lease, r.holder, now, OUTBOX_LEASE_S, &got);
	if (st == ST_OK && got) {
		st = deliver_jobs(&r, out);
		/* Overtaken by another process: it has the jobs now; not a failure. */
		if (st == ST_CONFLICT)
			st = ST_OK;
		transfer_lease_release(db, r.lease, r.holder);
	}
	if (probe_held)
		transfer_lease_release(db, outbox_probe_lease, r.holder);
	transfer_handoff_clear(&r.handoff);
	zendesk_account_free(r.acct);
	return st;
}

/* Read receipts are spaced in milliseconds: whole seconds would let two land 2 s apart. */
static int64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int outbox_sweep(struct db *db, int64_t now, struct outbox_result *out)
{
	char ids[200][TRANSFER_ID_LEN];
	struct outbox_result one;
	size_t n = 0;
	int st = transfer_jobs_due(db, now, ids, sizeof ids / sizeof *ids, &n);

	memset(out, 0, sizeof *out);
	for (size_t i = 0; st == ST_OK && i < n; i++) {
		st = outbox_deliver(db, ids[i], now, &one);
		out->delivered += one.delivered;
		out->retrying += one.retrying;
		out->failed += one.failed;
	}
	if (st == ST_OK)
		st = transfer_reads_due(db, clock_ms(), OUTBOX_READ_EVERY_MS, ids, sizeof ids / sizeof *ids, &n);
	for (size_t i = 0; st == ST_OK && i < n; i++)
		st = outbox_read(db, ids[i]);
	return st;
}

int outbox_read(struct db *db, const char *transfer_id)
{
	struct zendesk_account *acct = NULL;
	struct transfer_handoff h = {0};
	struct zendesk_call call;
	int64_t now_ms = clock_ms();
	int due = 0, busy = 0, claimed = 0;
	int st = transfer_read_due(db, transfer_id, now_ms, OUTBOX_READ_EVERY_MS, &due);

	/* Cheap reads first: most requests that look here find nothing due. */
	if (st == ST_OK && due)
		st = struggling(db, now_ms / 1000, &busy);
	if (st != ST_OK || !due || busy)
		return st;
	st = zendesk_account_load(db, &acct);
	if (st == ST_OK && zendesk_messaging_ready(acct))
		st = transfer_read_claim(db, transfer_id, now_ms, OUTBOX_READ_EVERY_MS, &claimed);
	if (st == ST_OK && claimed)
		st = transfer_handoff_get(db, transfer_id, &h);
	if (st == ST_OK && claimed && h.zendesk_conversation_id && h.zendesk_user_id)
		st = zendesk_read(acct, h.zendesk_conversation_id, h.zendesk_user_id, &call);
	zendesk_account_free(acct);
	transfer_handoff_clear(&h);
	return st;
}

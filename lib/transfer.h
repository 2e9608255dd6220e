/* lib/transfer.h — transfers: their state, the event log visitors poll, the messages
 * waiting in the outbox for Zendesk. Not: HTTP, or Zendesk's API (zendesk.h). */
#ifndef DESKBRIDGE_TRANSFER_H
#define DESKBRIDGE_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#define TRANSFER_ID_LEN 40
#define TRANSFER_HISTORY_MAX 500
#define TRANSFER_TEXT_MAX 4096
/* How soon a visitor's client should poll again: a chat with an agent needs to feel
 * live; a visitor waiting in the queue is told little that is urgent, and at 3 s an idle
 * waiting visitor costs 20 requests a minute. */
#define TRANSFER_POLL_ACTIVE_MS 1000
#define TRANSFER_POLL_WAITING_MS 3000
/* A poll delivers a job only this long after it was due: the process that stored it
 * delivers it after its own response, and a poll taking it first would hold a process of
 * the poll pool on a Zendesk call, which under load overflows that pool's socket. */
#define TRANSFER_POLL_DELIVERY_GRACE_S 2
/* The lease of a transfer's deliveries is this followed by its id. A poll leaves a job
 * alone while someone holds it: the holder is on a Zendesk call, and a poll trying for it
 * would write (the lease) on every poll of that chat, behind every durable commit. */
#define TRANSFER_OUTBOX_LEASE "outbox:"
#define TRANSFER_IDEMPOTENCY_S 600

struct db;
struct identity;
struct json_object;

struct transfer_counts {
	int64_t waiting, active, ended;
	int64_t undelivered;   /* outbox entries not yet accepted by Zendesk */
};

int transfer_counts(struct db *db, struct transfer_counts *out);

/* poll_after_ms for a transfer in this state ("waiting", "active" or "ended"). */
int transfer_poll_ms(const char *state);

struct transfer_stats {
	struct transfer_counts counts;
	int64_t events, failed_deliveries, created_last_day;
};
int transfer_stats(struct db *db, int64_t now, struct transfer_stats *out);

/* Ends every open transfer past its join or idle timeout (what polling does for one
 * transfer, for all of them: for cron, through deskbridge-admin sweep). */
int transfer_sweep(struct db *db, int64_t now, int64_t *ended);
/* Deletes ended transfers, with their events and outbox, that ended before 'before'. */
int transfer_purge(struct db *db, int64_t before, int64_t *purged);

/* What POST /api/transfers asks for; all borrowed. */
struct transfer_request {
	const struct identity *visitor;
	const char *message_to_human_agent;
	struct json_object *history;     /* checked with transfer_check_history */
	const char *department, *locale, *page_url, *client_request_id;
	const char *client_secret;       /* proves a retry of client_request_id; NULL: none */
	const char *cap_key;             /* whose open transfers max_open counts */
	int64_t max_open;                /* open transfers cap_key may have; 0: no cap */
};

/* transfer_create: ST_LIMITED when cap_key already has req->max_open open transfers (a
 * repeat of one of them by client_request_id still answers it). ST_CONFLICT when this
 * visitor used client_request_id before and the request does not show the same
 * client_secret, or the first use is older than TRANSFER_IDEMPOTENCY_S. */
struct transfer_created {
	char id[TRANSFER_ID_LEN];
	char *secret;        /* caller frees; the only place it exists in clear */
	int existing;        /* the same client_request_id answered an earlier transfer */
};

/* NULL when history is a list of at most TRANSFER_HISTORY_MAX {"from": "user" |
 * "assistant", "text", "time"?} entries, else a phrase saying why not. */
const char *transfer_check_history(struct json_object *history);

int transfer_create(struct db *db, const struct transfer_request *req, int64_t now,
		    struct transfer_created *out);

/* ST_OK when secret opens transfer id; ST_NOT_FOUND for an unknown id, ST_DENIED for a
 * wrong secret, after the same work either way. */
int transfer_authorize(struct db *db, const char *id, const char *secret);

/* A poll: the secret check as transfer_authorize (ST_NOT_FOUND, ST_DENIED), then
 * {"state", "next", "poll_after_ms", "events": [seq > after]}, whether the outbox has a
 * delivery due and whether a read receipt waits (transfer_read_due), from one read snapshot. Ends a transfer that waited or idled past its
 * timeout first. Caller puts *out. */
int transfer_poll(struct db *db, const char *id, const char *secret, int64_t after, int64_t now,
		  struct json_object **out, int *delivery_due, int *read_pending);

/* The transfer with every event, for a page that reloads. Caller puts *out. */
int transfer_get_json(struct db *db, const char *id, int64_t now, struct json_object **out);

/* What the agent's sidebar shows: {"id", "state", "visitor", "message_to_human_agent",
 * "history", "page_url", "locale", "created_at"}. ST_NOT_FOUND for an unknown id.
 * Caller puts *out. */
int transfer_agent_json(struct db *db, const char *id, struct json_object **out);

/* Stores a visitor message and queues it for Zendesk; the same client_message_id again
 * answers the first result. ST_CONFLICT when the transfer has ended. */
int transfer_post_message(struct db *db, const char *id, const char *client_message_id,
			  const char *text, int64_t now, int64_t *seq, char msg_id[TRANSFER_ID_LEN]);
/* Records the last seq the visitor has seen (never moving backwards), and that a read
 * receipt is to be passed on. */
int transfer_mark_read(struct db *db, const char *id, int64_t seq);
/* Read receipts reach Zendesk at most once every window_ms per transfer, each carrying
 * the latest read seq. *due 1 when a read came since the last receipt, window_ms have
 * passed since that one, and the conversation exists in Zendesk. */
int transfer_read_due(struct db *db, const char *id, int64_t now_ms, int64_t window_ms, int *due);
/* Takes a due receipt: *claimed 1 for one of several processes racing for it, with the
 * receipt recorded as sent at now_ms carrying the current read seq. */
int transfer_read_claim(struct db *db, const char *id, int64_t now_ms, int64_t window_ms, int *claimed);
/* Transfers with a receipt due, for a sweep; at most max ids. */
int transfer_reads_due(struct db *db, int64_t now_ms, int64_t window_ms, char (*ids)[TRANSFER_ID_LEN],
		       size_t max, size_t *n);
/* Ends the transfer for the visitor; ending an ended transfer changes nothing. */
int transfer_end(struct db *db, const char *id, int64_t now);

/* The outbox, for the delivery module (outbox.h): one job at a time per transfer, the
 * oldest first, so that Zendesk sees everything in the order the visitor did it. */
struct transfer_job {
	int64_t id;
	char kind[16];           /* "start", "message", "end" */
	int64_t seq;             /* the event of a message */
	int attempts;
	int64_t next_attempt_at, created_at;
	struct json_object *payload;   /* owned; the job's data and its progress */
};
/* The oldest pending job; *found 0 when none. Free with transfer_job_clear. */
int transfer_job_next(struct db *db, const char *id, struct transfer_job *job, int *found);
void transfer_job_clear(struct transfer_job *job);
/* Records progress (the job's payload) and, when done, that it is delivered. */
int transfer_job_save(struct db *db, const struct transfer_job *job, int done);
/* Another attempt later; the error is kept for deskbridge-admin stats. */
int transfer_job_retry(struct db *db, const struct transfer_job *job, int64_t next_attempt_at,
		       const char *error);
/* Zendesk will never take it: the job fails and the visitor gets an error event. */
int transfer_job_fail(struct db *db, const char *id, const struct transfer_job *job,
		      const char *error, int64_t now);
/* Transfers with a job due at now, for a sweep; at most max ids. */
int transfer_jobs_due(struct db *db, int64_t now, char (*ids)[TRANSFER_ID_LEN], size_t max, size_t *n);

/* What the handoff needs from the transfer; strings owned by the struct. */
struct transfer_handoff {
	char *external_id, *name, *email, *message_to_human_agent, *department;
	struct json_object *history;
	char *zendesk_user_id, *zendesk_conversation_id;
	int authenticated;   /* name and email verified by the site's token */
};
int transfer_handoff_get(struct db *db, const char *id, struct transfer_handoff *out);
void transfer_handoff_clear(struct transfer_handoff *h);
int transfer_set_zendesk(struct db *db, const char *id, const char *user_id, const char *conversation_id);

/* A lease: who does deferred work for one transfer (or anything named), so that of
 * several processes one does it. *got 1 when this holder has it until now + ttl_s. */
int transfer_lease(struct db *db, const char *name, const char *holder, int64_t now, int64_t ttl_s,
		   int *got);
int transfer_lease_release(struct db *db, const char *name, const char *holder);

/* The agent's side, as Zendesk's webhook reports it. Each runs inside the caller's
 * transaction (db_begin) and does nothing to an ended transfer. */
struct transfer_agent {
	const char *id, *name, *avatar_url;   /* borrowed; any may be NULL */
};
/* The transfer handed over in a Zendesk conversation; ST_NOT_FOUND when none. */
int transfer_by_conversation(struct db *db, const char *conversation_id, char id[TRANSFER_ID_LEN]);
/* An agent's image or file; kind is "image" or "file", url already checked. Borrowed. */
struct transfer_media {
	const char *kind, *url, *media_type, *alt_text;
};
/* An agent message (text may be NULL when media is not); the first one also records
 * agent_joined (Zendesk has no join event). media is NULL for text alone. */
int transfer_agent_message(struct db *db, const char *id, const struct transfer_agent *agent,
			   const char *message_id, const char *text, const struct transfer_media *media,
			   int64_t now);
/* The agent typing; a named agent who starts typing before any message has joined. */
int transfer_agent_typing(struct db *db, const char *id, const struct transfer_agent *agent, int typing,
			  int64_t now);
/* The agent has read everything so far. */
int transfer_agent_read(struct db *db, const char *id, int64_t now);
/* The agent workspace took the conversation and queued it for an agent. */
int transfer_queued(struct db *db, const char *id, int64_t now);
/* Zendesk handed the conversation back (ticket solved or closed). */
int transfer_agent_ended(struct db *db, const char *id, const char *reason, int64_t now);

#endif

/* lib/outbox.h — delivering what waits in a transfer's outbox to Zendesk: the handoff,
 * the visitor's messages, the end; in order, by one process at a time (a lease), after
 * the response that stored them, retried with backoff while Zendesk fails, and given
 * up with an error event for the visitor when Zendesk refuses, or has not taken it
 * OUTBOX_GIVE_UP_S after it was stored. Not: storing the jobs (transfer.h) or Zendesk's
 * API (zendesk.h). */
#ifndef DESKBRIDGE_OUTBOX_H
#define DESKBRIDGE_OUTBOX_H

#include <stdint.h>

/* A visitor in a live chat is better told after a quarter of an hour that a message did
 * not get through than left waiting; within it, an outage of Zendesk loses nothing. */
#define OUTBOX_GIVE_UP_S 900
/* Renewed before every job and every step of a handoff, each at most one Zendesk call
 * (8 s) apart: a process killed while delivering holds a transfer's deliveries this long. */
#define OUTBOX_LEASE_S 30
#define OUTBOX_JOBS_PER_RUN 50
/* Retries double from 1 s up to this, so that a live chat's waiting messages reach
 * Zendesk within 10 s of its answering again (a lost answer waits
 * OUTBOX_UNCERTAIN_WAIT_S instead). While Zendesk fails, only the process holding the
 * probe lease calls it (OUTBOX_STRUGGLING_S), so the short cap costs Zendesk one call
 * at a time. A Retry-After from Zendesk is followed as given, up to
 * OUTBOX_RETRY_AFTER_MAX_S. */
#define OUTBOX_BACKOFF_MAX_S 5
#define OUTBOX_RETRY_AFTER_MAX_S 300
/* After Zendesk failed to take a delivery, and until one gets through (or this long
 * passes without another failure), one process at a time tries Zendesk and the others
 * leave their jobs waiting: deliveries run in the processes that answer visitors, and
 * a Zendesk that answers slowly would otherwise hold all of them. */
#define OUTBOX_STRUGGLING_S 60
/* A post whose answer was lost (a timeout, a dropped connection) may still land: Zendesk
 * can finish a request after the client gave up on it. It is looked for again no sooner
 * than this after the answer was given up on (longer than a Zendesk call may take), so
 * that the look finds it rather than posting it twice. */
#define OUTBOX_UNCERTAIN_WAIT_S 10
/* A visitor's reads reach Zendesk at most once this often per transfer, each receipt
 * carrying the latest read: a client that reads in a loop costs Zendesk, and the process
 * that waits on it, one call a window, and an agent sees a read within a few seconds. */
#define OUTBOX_READ_EVERY_MS 3000

struct db;

struct outbox_result {
	int delivered, retrying, failed;
};

/* Delivers the transfer's due jobs, oldest first, stopping at the first that must wait. */
int outbox_deliver(struct db *db, const char *transfer_id, int64_t now, struct outbox_result *out);
/* The same for every transfer with a job or a read receipt due (deskbridge-admin sweep). */
int outbox_sweep(struct db *db, int64_t now, struct outbox_result *out);
/* Passes the visitor's read on to Zendesk when a receipt is due (transfer_read_due, every
 * OUTBOX_READ_EVERY_MS at most); a read within the window waits for the next request
 * that touches the transfer, or a sweep, and so does one while Zendesk is failing
 * deliveries. A receipt Zendesk does not take is not tried again: the next read sends
 * its own. The visitor's typing is not passed on: Zendesk takes only conversation:read
 * from a user. */
int outbox_read(struct db *db, const char *transfer_id);

/* Keeps the agent workspace's switchboard integration id of app_id for the handoffs
 * (Access account finds it too). */
int outbox_remember_agent_workspace(struct db *db, const char *app_id, const char *integration_id, int64_t now);
/* When a transfer was last handed to the agent workspace, for GET /api/setup/status. */
#define OUTBOX_LAST_HANDOFF "outbox.last_handoff_at"
int outbox_note_handoff(struct db *db, int64_t now);

#endif

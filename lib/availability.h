/* lib/availability.h — whether agents are online, asked of Zendesk at most once every
 * AVAILABILITY_TTL_S per deployment whatever the traffic: the answer is shared through
 * the cache table, and a lease lets one process refresh it while the others serve the
 * last answer. Not: HTTP. */
#ifndef DESKBRIDGE_AVAILABILITY_H
#define DESKBRIDGE_AVAILABILITY_H

#include <stdint.h>

#define AVAILABILITY_TTL_S 10

struct db;

struct availability {
	int known;          /* 0: Zendesk has not answered yet (or is not set up) */
	int configured;     /* the Support API credentials are set */
	int count;
	int64_t checked_at;
	char detail[256];   /* why it is not known */
};

int availability_get(struct db *db, int64_t now, struct availability *out);

/* What a visitor is told (GET /api/availability): transfers turned off is no agent, and
 * Zendesk is not asked; whenever no agent is available, the admin's
 * transfers.unavailable_message is what to show. */
struct availability_answer {
	struct availability zendesk;   /* only when enabled */
	int enabled;                   /* transfers_enabled */
	int no_agent;                  /* turned off, closed, or Zendesk counts none online */
	int closed;                    /* enabled, outside hours.weekly: Zendesk is not asked */
	int leave_message;             /* no agent, and tickets.offer_when_offline is on */
	char message[2048];            /* when no_agent: the admin's message (closed: hours.closed_message) */
};

int availability_answer_get(struct db *db, int64_t now, struct availability_answer *out);

/* *closed 1 when now is outside the admin's business hours (hours.weekly in
 * hours.time_zone), and then the hours.closed_message (caller frees) in *message. A
 * schedule that no longer checks counts as always open, and is logged. */
int availability_closed_dup(struct db *db, int64_t now, int *closed, char **message);

#endif

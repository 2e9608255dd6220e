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

#endif

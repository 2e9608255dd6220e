/* lib/transfer.h — transfers: state, event log, outbox. Not: HTTP, Zendesk. */
#ifndef DESKBRIDGE_TRANSFER_H
#define DESKBRIDGE_TRANSFER_H

#include <stdint.h>

struct db;

struct transfer_counts {
	int64_t waiting, active, ended;
	int64_t undelivered;   /* outbox entries not yet accepted by Zendesk */
};

int transfer_counts(struct db *db, struct transfer_counts *out);

#endif

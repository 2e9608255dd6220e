/* lib/zendesk.c — placeholder until the driver lands (being written now). */
#include "zendesk.h"

#include <stdio.h>
#include <string.h>

#include "status.h"

struct zendesk_account {
	int unused;
};

int zendesk_account_load(struct db *db, struct zendesk_account **out)
{
	(void)db;
	*out = NULL;
	return ST_OK;
}

void zendesk_account_free(struct zendesk_account *acct)
{
	(void)acct;
}

int zendesk_verify(const struct zendesk_account *acct, struct zendesk_verify_result *out)
{
	(void)acct;
	memset(out, 0, sizeof *out);
	out->messaging = out->support = ZENDESK_MISSING;
	snprintf(out->detail, sizeof out->detail, "The Zendesk driver is not built yet.");
	return ST_OK;
}

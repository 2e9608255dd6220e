/* cgi-bin/transfer.c — visitor transfers (/api/availability, /api/transfers...), polled
 * by www/webchat/, and the public agent avatar (/api/avatar). */
#include <stdlib.h>

#include "app.h"
#include "avatar.h"
#include "status.h"

static void avatar_get(struct http_req *req, void *ctx)
{
	struct db *db = app_db(ctx, req);
	unsigned char *data = NULL;
	char *media_type = NULL;
	size_t len;
	int st;

	if (!db)
		return;
	st = avatar_get_dup(db, &media_type, &data, &len);
	if (st == ST_OK)
		http_reply_body(req, 200, media_type, data, len);
	else if (st == ST_NOT_FOUND)
		http_reply_error(req, APIERR_NOT_FOUND, "No agent avatar is set.");
	else
		http_reply_error(req, apierr_from_status(st), NULL);
	free(media_type);
	free(data);
}

static const struct http_route routes[] = {
	{"GET", "/api/health", app_route_health, HTTP_BODY_NONE, 0, NULL, NULL},
	{"GET", "/api/avatar", avatar_get, HTTP_BODY_NONE, 0, NULL, NULL},
};

int main(void)
{
	return app_main("transfer", routes, sizeof routes / sizeof *routes);
}

/* cgi-bin/webhook.c — Zendesk's webhook events (/api/zendesk/webhook). */
#include "app.h"

static const struct http_route routes[] = {
	{"GET", "/api/health", app_route_health, HTTP_BODY_NONE, 0, NULL, NULL},
};

int main(void)
{
	return app_main("webhook", routes, sizeof routes / sizeof *routes);
}

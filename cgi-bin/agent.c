/* cgi-bin/agent.c — the Zendesk private app's view of a transfer (/api/agent/...). */
#include "app.h"

static const struct http_route routes[] = {
	{"GET", "/api/health", app_route_health, HTTP_BODY_NONE, 0, NULL, NULL},
};

int main(void)
{
	return app_main("agent", routes, sizeof routes / sizeof *routes);
}

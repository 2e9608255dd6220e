/* lib/appzip.h — the Zendesk private app package: a Zendesk Apps Framework v2 manifest
 * made for this deployment, plus the sidebar files from the template folder, zipped
 * with libzip. Not: the app's credentials (appcreds.h). */
#ifndef DESKBRIDGE_APPZIP_H
#define DESKBRIDGE_APPZIP_H

#include <stddef.h>

/* Builds the ZIP for a deskbridge reachable at server_url ("https://help.example").
 * ST_INVALID when server_url is not an http(s) origin; caller frees *zip. */
int appzip_build_dup(const char *template_dir, const char *server_url, unsigned char **zip,
		     size_t *len);

#endif

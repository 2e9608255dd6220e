/* lib/appzip.c — the private app ZIP, over libzip and json-c. */
#include "appzip.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "log.h"
#include "status.h"

#define APPZIP_FILE_MAX_BYTES (1024 * 1024)

static const char *const appzip_files[] = {
	"assets/iframe.html", "assets/sidebar.js", "assets/sidebar.css",
	"assets/logo.png", "assets/logo-small.png", "translations/en.json",
};

static int read_file_dup(const char *dir, const char *name, char **out, size_t *len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		log_error("cannot read %s: %s", path, strerror(errno));
		return ST_IO;
	}
	*out = malloc(APPZIP_FILE_MAX_BYTES + 1);
	if (!*out) {
		fclose(f);
		return ST_NOMEM;
	}
	*len = fread(*out, 1, APPZIP_FILE_MAX_BYTES + 1, f);
	fclose(f);
	if (*len > APPZIP_FILE_MAX_BYTES) {
		free(*out);
		*out = NULL;
		return ST_TOO_LARGE;
	}
	return ST_OK;
}

/* The host of an http(s) origin without a path: ZAF's domainWhitelist wants it. */
static int origin_host(const char *url, char *host, size_t size)
{
	const char *h = strncmp(url, "https://", 8) == 0 ? url + 8
		      : strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
	size_t n;

	if (!h)
		return ST_INVALID;
	n = strcspn(h, ":/");
	if (n == 0 || n >= size || strchr(h, '/'))
		return ST_INVALID;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		      (h[i] >= '0' && h[i] <= '9') || h[i] == '.' || h[i] == '-'))
			return ST_INVALID;
	memcpy(host, h, n);
	host[n] = '\0';
	return ST_OK;
}

static struct json_object *parameter(const char *name, const char *type, int secure,
				      const char *default_value)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "name", json_object_new_string(name));
	json_object_object_add(p, "type", json_object_new_string(type));
	json_object_object_add(p, "required", json_object_new_boolean(1));
	if (secure) {
		struct json_object *scopes = json_object_new_array();
		/* Where Zendesk's proxy may put the secret: only in a request header, which is
		 * where sidebar.js sends it. zendesk_apps_support, the validator Zendesk runs on an
		 * uploaded app, warns about a secure parameter without scopes
		 * (lib/zendesk_apps_support/validations/secure_settings.rb,
		 * secure_parameters_with_no_scopes_in_manifest). */
		json_object_array_add(scopes, json_object_new_string("header"));
		json_object_object_add(p, "secure", json_object_new_boolean(1));
		json_object_object_add(p, "scopes", scopes);
	}
	if (default_value)
		json_object_object_add(p, "default", json_object_new_string(default_value));
	return p;
}

/* manifest.json (caller puts): the sidebar in the agent workspace's ticket view, where
 * messaging tickets open, and the credentials as a secure setting, which Zendesk's
 * proxy substitutes only in requests to the whitelisted deskbridge host. */
static struct json_object *manifest_new(const char *server_url, const char *host)
{
	struct json_object *m = json_object_new_object(), *author = json_object_new_object();
	struct json_object *location = json_object_new_object(), *support = json_object_new_object();
	struct json_object *sidebar = json_object_new_object(), *params = json_object_new_array();
	struct json_object *domains = json_object_new_array();

	json_object_object_add(m, "name", json_object_new_string("deskbridge"));
	json_object_object_add(author, "name", json_object_new_string("deskbridge"));
	json_object_object_add(author, "email", json_object_new_string("support@deskbridge.invalid"));
	json_object_object_add(author, "url", json_object_new_string(server_url));
	json_object_object_add(m, "author", author);
	json_object_object_add(m, "defaultLocale", json_object_new_string("en"));
	json_object_object_add(m, "private", json_object_new_boolean(1));
	json_object_object_add(sidebar, "url", json_object_new_string("assets/iframe.html"));
	json_object_object_add(sidebar, "flexible", json_object_new_boolean(1));
	json_object_object_add(support, "ticket_sidebar", sidebar);
	json_object_object_add(location, "support", support);
	json_object_object_add(m, "location", location);
	json_object_array_add(domains, json_object_new_string(host));
	json_object_object_add(m, "domainWhitelist", domains);
	json_object_array_add(params, parameter("deskbridge_url", "url", 0, server_url));
	json_object_array_add(params, parameter("app_credentials", "text", 1, NULL));
	json_object_object_add(m, "parameters", params);
	json_object_object_add(m, "version", json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(m, "frameworkVersion", json_object_new_string("2.0"));
	return m;
}

static int add_entry(zip_t *za, const char *name, const void *data, size_t len)
{
	zip_source_t *src = zip_source_buffer(za, data, len, 0);

	if (!src)
		return ST_NOMEM;
	if (zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE) < 0) {
		zip_source_free(src);
		return ST_IO;
	}
	return ST_OK;
}

/* Copies the finished archive out of libzip's in-memory source. */
static int source_to_dup(zip_source_t *src, unsigned char **zip, size_t *len)
{
	zip_stat_t sb;

	if (zip_source_stat(src, &sb) < 0 || zip_source_open(src) < 0)
		return ST_IO;
	*zip = malloc(sb.size ? sb.size : 1);
	if (*zip && zip_source_read(src, *zip, sb.size) == (zip_int64_t)sb.size) {
		*len = sb.size;
		zip_source_close(src);
		return ST_OK;
	}
	zip_source_close(src);
	free(*zip);
	*zip = NULL;
	return ST_IO;
}

int appzip_build_dup(const char *template_dir, const char *server_url, unsigned char **zip,
		     size_t *len)
{
	char host[256];
	char *files[sizeof appzip_files / sizeof *appzip_files] = {0};
	size_t sizes[sizeof appzip_files / sizeof *appzip_files];
	struct json_object *manifest;
	const char *manifest_text;
	zip_error_t zerr;
	zip_source_t *src;
	zip_t *za = NULL;
	int st = origin_host(server_url, host, sizeof host);
	size_t n = sizeof appzip_files / sizeof *appzip_files;

	*zip = NULL;
	if (st != ST_OK)
		return st;
	for (size_t i = 0; st == ST_OK && i < n; i++)
		st = read_file_dup(template_dir, appzip_files[i], &files[i], &sizes[i]);
	manifest = manifest_new(server_url, host);
	manifest_text = json_object_to_json_string_ext(manifest, JSON_C_TO_STRING_PRETTY |
								  JSON_C_TO_STRING_NOSLASHESCAPE);
	zip_error_init(&zerr);
	src = st == ST_OK ? zip_source_buffer_create(NULL, 0, 0, &zerr) : NULL;
	if (st == ST_OK && !src)
		st = ST_NOMEM;
	if (st == ST_OK) {
		/* The archive writes into src; keep it alive past zip_close to read it back. */
		zip_source_keep(src);
		za = zip_open_from_source(src, ZIP_TRUNCATE, &zerr);
		if (!za)
			st = ST_IO;
	}
	if (st == ST_OK)
		st = add_entry(za, "manifest.json", manifest_text, strlen(manifest_text));
	for (size_t i = 0; st == ST_OK && i < n; i++)
		st = add_entry(za, appzip_files[i], files[i], sizes[i]);
	if (za) {
		if (st == ST_OK && zip_close(za) < 0)
			st = ST_IO;
		if (st != ST_OK)
			zip_discard(za);
	}
	if (st == ST_OK)
		st = source_to_dup(src, zip, len);
	if (src)
		zip_source_free(src);
	zip_error_fini(&zerr);
	json_object_put(manifest);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	return st;
}

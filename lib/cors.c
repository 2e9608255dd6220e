/* lib/cors.c — security.allowed_origins. */
#include "cors.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* An origin as the Fetch standard serializes it, for https: the scheme, a host of
 * letters, digits, '-' and '.' (an IPv4 literal included), and a port unless it is the
 * default, which browsers leave out; so a listed one compares as a string. */
static int valid_origin(const char *s, size_t len)
{
	const char *host = s + 8, *end = s + len, *p;

	if (len <= 8 || strncmp(s, "https://", 8) != 0)
		return 0;
	for (p = host; p < end && (isalnum((unsigned char)*p) || *p == '-' || *p == '.'); p++)
		;
	if (p == host || *host == '.' || *host == '-' || p[-1] == '.' || p[-1] == '-')
		return 0;
	if (p == end)
		return 1;
	if (*p++ != ':' || p == end || end - p > 5 || *p == '0')
		return 0;
	for (const char *d = p; d < end; d++)
		if (!isdigit((unsigned char)*d))
			return 0;
	return !(end - p == 3 && strncmp(p, "443", 3) == 0) && !(end - p == 5 && strncmp(p, "65535", 5) > 0);
}

const char *cors_origins_check(const char *list)
{
	for (const char *p = list; *p;) {
		size_t n;
		p += strspn(p, CORS_SEPARATORS);
		n = strcspn(p, CORS_SEPARATORS);
		if (n && !valid_origin(p, n))
			return "must be https:// origins as browsers send them: a host and an optional port "
			       "(not :443), with no path, not even a final /; such as https://shop.example or "
			       "https://shop.example:8443, separated by commas or spaces";
		p += n;
	}
	return NULL;
}

int cors_origin_listed(const char *list, const char *origin)
{
	size_t len;

	if (!list || !origin)
		return 0;
	len = strlen(origin);
	for (const char *p = list; *p;) {
		size_t n;
		p += strspn(p, CORS_SEPARATORS);
		n = strcspn(p, CORS_SEPARATORS);
		/* Hosts are case-insensitive; browsers send them in lower case. */
		if (n && n == len && strncasecmp(p, origin, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* lib/multipart.c — one file in a multipart/form-data body (RFC 7578, on RFC 2046 5.1). */
#include "multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "status.h"

static int is_tspecial(int c)
{
	return c <= ' ' || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c);
}

/* The value of parameter key in a header value "type; a=b; key="v"" (the leading type is
 * skipped). 1 found, 0 absent, -1 malformed or too long for out. A NULL out (size 0) asks
 * only whether key is there. */
static int header_param(const char *value, const char *key, char *out, size_t size)
{
	const char *p = strchr(value, ';');
	int found = 0;

	while (p && *p) {
		const char *k;
		size_t klen, n = 0;
		int match;

		if (*p != ';')
			return -1;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		for (k = p; *p && !is_tspecial((unsigned char)*p); p++)
			;
		klen = (size_t)(p - k);
		if (klen == 0 || *p != '=')
			return -1;
		p++;
		match = strlen(key) == klen && strncasecmp(k, key, klen) == 0;
		if (match && found)
			return -1;   /* a parameter named twice means two readings of one header */
		if (*p == '"') {
			/* No backslash escapes: HTML's form encoding writes a quote as %22 and
			 * leaves a backslash as it is (a Windows path's separator, say). */
			for (p++; *p && *p != '"'; p++) {
				if (match && n + 1 >= size)
					return -1;
				if (match)
					out[n++] = *p;
			}
			if (*p != '"')
				return -1;
			p++;
		} else {
			const char *v = p;
			for (; *p && !is_tspecial((unsigned char)*p); p++)
				;
			if (p == v)
				return -1;
			if (match && (size_t)(p - v) >= size)
				return -1;
			if (match)
				memcpy(out, v, n = (size_t)(p - v));
		}
		if (match) {
			if (out)
				out[n] = '\0';
			found = 1;
		}
		while (*p == ' ' || *p == '\t')
			p++;
	}
	return found;
}

static int type_is(const char *value, const char *type)
{
	size_t n = strlen(type);

	if (strncasecmp(value, type, n) != 0)
		return 0;
	value += n;
	while (*value == ' ' || *value == '\t')
		value++;
	return *value == '\0' || *value == ';';
}

static const unsigned char *find(const unsigned char *hay, size_t len, const char *needle, size_t n)
{
	for (const unsigned char *p = hay; n && (size_t)(hay + len - p) >= n; p++) {
		p = memchr(p, needle[0], (size_t)(hay + len - p) - n + 1);
		if (!p)
			return NULL;
		if (memcmp(p, needle, n) == 0)
			return p;
	}
	return NULL;
}

/* Reads the part's header lines (CRLF-separated, already NUL-free) into out. */
static int part_headers(char *block, struct multipart_file *out, const char **why)
{
	int disposition = 0, got;
	char *line = block, *next;

	for (; *line; line = next) {
		char *colon, *value;
		next = strstr(line, "\r\n");
		if (next) {
			*next = '\0';
			next += 2;
		} else {
			next = line + strlen(line);
		}
		colon = strchr(line, ':');
		if (!colon || colon == line) {
			*why = "a part header line is not \"Name: value\"";
			return ST_INVALID;
		}
		*colon = '\0';
		for (value = colon + 1; *value == ' ' || *value == '\t'; value++)
			;
		if (strcasecmp(line, "Content-Disposition") == 0) {
			if (disposition++ || !type_is(value, "form-data")) {
				*why = "the part needs one Content-Disposition: form-data";
				return ST_INVALID;
			}
			if (header_param(value, "name", out->name, sizeof out->name) != 1) {
				*why = "the part's Content-Disposition needs a name";
				return ST_INVALID;
			}
			got = header_param(value, "filename", out->filename, sizeof out->filename);
			if (got < 0 || header_param(value, "filename*", NULL, 0) != 0) {
				*why = "the part's filename is malformed or too long (at most 255 bytes)";
				return ST_INVALID;
			}
		} else if (strcasecmp(line, "Content-Type") == 0) {
			size_t n = strcspn(value, "; \t");
			if (out->media_type[0] || n == 0 || n > MULTIPART_TYPE_MAX) {
				*why = "the part has a malformed Content-Type";
				return ST_INVALID;
			}
			memcpy(out->media_type, value, n);
			out->media_type[n] = '\0';
		}
	}
	if (!disposition) {
		*why = "the part has no Content-Disposition";
		return ST_INVALID;
	}
	return ST_OK;
}

int multipart_parse_file(const char *content_type, const unsigned char *body, size_t len,
			 struct multipart_file *out, const char **why)
{
	char boundary[MULTIPART_BOUNDARY_MAX + 1], delim[MULTIPART_BOUNDARY_MAX + 5];
	char headers[MULTIPART_HEADERS_MAX + 1];
	const unsigned char *p, *end = body + len, *head_end, *data_end;
	size_t dlen, hlen;

	memset(out, 0, sizeof *out);
	*why = NULL;
	if (!content_type || !type_is(content_type, "multipart/form-data") ||
	    header_param(content_type, "boundary", boundary, sizeof boundary) != 1 || !boundary[0] ||
	    boundary[strlen(boundary) - 1] == ' ') {
		*why = "the Content-Type must be multipart/form-data with a boundary of 1 to 70 characters";
		return ST_INVALID;
	}
	/* The body opens with the first delimiter: no preamble, which no browser sends. */
	dlen = (size_t)snprintf(delim, sizeof delim, "--%s", boundary);
	if (len < dlen + 2 || memcmp(body, delim, dlen) != 0 || memcmp(body + dlen, "\r\n", 2) != 0) {
		*why = "the body does not start with the boundary";
		return ST_INVALID;
	}
	p = body + dlen + 2;
	hlen = (size_t)(end - p) < MULTIPART_HEADERS_MAX + 4 ? (size_t)(end - p) : MULTIPART_HEADERS_MAX + 4;
	head_end = find(p, hlen, "\r\n\r\n", 4);
	if (!head_end || head_end + 4 - p > MULTIPART_HEADERS_MAX || memchr(p, '\0', (size_t)(head_end - p))) {
		*why = "the part's headers are missing, too long or hold a NUL byte";
		return ST_INVALID;
	}
	hlen = (size_t)(head_end - p);
	memcpy(headers, p, hlen);
	headers[hlen] = '\0';
	if (part_headers(headers, out, why) != ST_OK)
		return ST_INVALID;
	p = head_end + 4;
	/* The part ends at CRLF + the delimiter (RFC 2046: the CRLF belongs to it). */
	memmove(delim + 2, delim, dlen);
	memcpy(delim, "\r\n", 2);
	dlen += 2;
	data_end = find(p, (size_t)(end - p), delim, dlen);
	if (!data_end) {
		*why = "the body has no closing boundary";
		return ST_INVALID;
	}
	out->data = p;
	out->len = (size_t)(data_end - p);
	p = data_end + dlen;
	if (end - p < 2 || memcmp(p, "--", 2) != 0) {
		*why = "send one file per request: the body holds more than one part";
		return ST_INVALID;
	}
	p += 2;
	/* Only a line break may follow the close delimiter: an epilogue could smuggle data. */
	if (!(p == end || (end - p == 2 && memcmp(p, "\r\n", 2) == 0))) {
		*why = "the body goes on after its closing boundary";
		return ST_INVALID;
	}
	return ST_OK;
}

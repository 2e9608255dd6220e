/* lib/multipart.h — a multipart/form-data body (RFC 7578) that carries one file, parsed
 * strictly: the boundary from Content-Type, exactly one part, its form-data disposition.
 * Not: what the file is (upload.h judges it from its bytes). */
#ifndef DESKBRIDGE_MULTIPART_H
#define DESKBRIDGE_MULTIPART_H

#include <stddef.h>

/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define MULTIPART_BOUNDARY_MAX 70
/* A part's headers; a browser sends two short lines. */
#define MULTIPART_HEADERS_MAX 4096
#define MULTIPART_FILENAME_MAX 255
#define MULTIPART_TYPE_MAX 127

/* The one file of the body. data points into the body; the rest is copied. filename and
 * media_type are what the client said, never trusted ("" when it said nothing). */
struct multipart_file {
	const unsigned char *data;
	size_t len;
	char name[64];                              /* the form field's name */
	char filename[MULTIPART_FILENAME_MAX + 1];
	char media_type[MULTIPART_TYPE_MAX + 1];
};

/* ST_OK and the file; ST_INVALID with why (a phrase for the visitor's developer) when the
 * Content-Type has no usable boundary or the body is not one well-formed file part. */
int multipart_parse_file(const char *content_type, const unsigned char *body, size_t len,
			 struct multipart_file *out, const char **why);

#endif

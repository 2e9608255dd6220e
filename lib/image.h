/* lib/image.h — what an uploaded image really is: its format from its own bytes and
 * its size from a full decode with the format's reference library (libpng,
 * libjpeg-turbo, giflib). Not: storage (avatar.h) or HTTP limits. */
#ifndef DESKBRIDGE_IMAGE_H
#define DESKBRIDGE_IMAGE_H

#include <stddef.h>

enum image_format {
	IMAGE_UNKNOWN,
	IMAGE_PNG,
	IMAGE_JPEG,
	IMAGE_GIF,
};

struct image_info {
	enum image_format format;
	unsigned width, height;
};

/* The format named by the image's first bytes; IMAGE_UNKNOWN for anything else. */
enum image_format image_sniff(const void *data, size_t len);
const char *image_media_type(enum image_format format);   /* "image/png"... */

/* Decodes the whole image (so a valid header over corrupt data is refused) unless it is
 * larger than max_width x max_height, which is told from the header alone.
 * ST_OK with *out filled (also when too large: compare out->width/height);
 * ST_INVALID when the bytes are not a decodable image of a supported format. */
int image_inspect(const void *data, size_t len, unsigned max_width, unsigned max_height,
		  struct image_info *out);

#endif

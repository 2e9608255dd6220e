/* lib/utf8.c — a strict UTF-8 decoder that only counts. */
#include "utf8.h"

size_t utf8_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t n = 0;

	while (p < end) {
		unsigned c = *p;
		size_t extra = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
			     : c >= 0xF0 && c <= 0xF4 ? 3 : (size_t)-1;
		if (extra == (size_t)-1 || (size_t)(end - p) <= extra)
			return (size_t)-1;
		for (size_t i = 1; i <= extra; i++)
			if ((p[i] & 0xC0) != 0x80)
				return (size_t)-1;
		/* The second byte bounds what the first allows: overlongs, surrogates, > U+10FFFF. */
		if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) ||
		    (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
			return (size_t)-1;
		p += extra + 1;
		n++;
	}
	return n;
}

/* lib/utf8.h — UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing
 * beyond U+10FFFF. json-c's own check counts continuation bytes only. */
#ifndef DESKBRIDGE_UTF8_H
#define DESKBRIDGE_UTF8_H

#include <stddef.h>

/* The number of characters in the len bytes at s, or (size_t)-1 when they are not UTF-8. */
size_t utf8_count(const char *s, size_t len);

#endif

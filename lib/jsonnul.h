/* lib/jsonnul.h — NUL characters in JSON from outside. json-c decodes "\u0000" into its
 * strings (json_object_get_string_len counts past it) and cuts member names at it, while
 * every C string read from them stops there: "a\u0000b" would be taken for "a", and a
 * message of "\u0000" for an empty one. Not: parsing (each reader keeps its strict
 * tokener and limits). */
#ifndef DESKBRIDGE_JSONNUL_H
#define DESKBRIDGE_JSONNUL_H

#include <stddef.h>

struct json_object;

/* ST_OK when text (len bytes, the JSON text json-c parsed into root) has no NUL in any
 * string or member name; else ST_INVALID and, when where is not NULL, the path of the
 * first string value holding one ("history[2].text"), or "" when only a member name
 * does. */
int jsonnul_check(const char *text, size_t len, struct json_object *root, char *where, size_t size);

#endif

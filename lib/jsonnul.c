/* lib/jsonnul.c — finding "\u0000" in a parsed JSON text. */
#include "jsonnul.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

/* Every backslash of a valid JSON text starts an escape inside a string, so stepping
 * over each escape's next character is enough to tell "\u0000" from "\\u0000". */
static int text_has_nul(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			return 1;
		if (s[i] != '\\')
			continue;
		if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
			return 1;
		i++;
	}
	return 0;
}

/* Whether a string under v holds a NUL; path (of size bytes, holding v's own path)
 * is left naming it. */
static int nul_under(struct json_object *v, char *path, size_t size)
{
	size_t n = strlen(path);

	switch (json_object_get_type(v)) {
	case json_type_string:
		return strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v);
	case json_type_object: {
		json_object_object_foreach(v, name, member) {
			snprintf(path + n, size - n, n ? ".%s" : "%s", name);
			if (nul_under(member, path, size))
				return 1;
		}
		break;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			snprintf(path + n, size - n, "[%zu]", i);
			if (nul_under(json_object_array_get_idx(v, i), path, size))
				return 1;
		}
		break;
	default:
		break;
	}
	path[n] = '\0';
	return 0;
}

int jsonnul_check(const char *text, size_t len, struct json_object *root, char *where, size_t size)
{
	char path[256] = "";

	if (!text_has_nul(text, len))
		return ST_OK;
	if (where && size) {
		if (!nul_under(root, path, sizeof path))
			path[0] = '\0';
		snprintf(where, size, "%s", path);
	}
	return ST_INVALID;
}

/* lib/avatar.h — the agent avatar shown to visitors: checked from the image itself,
 * stored in SQLite, served publicly. Not: HTTP (the handlers map the verdicts). */
#ifndef DESKBRIDGE_AVATAR_H
#define DESKBRIDGE_AVATAR_H

#include <stddef.h>
#include <stdint.h>

#define AVATAR_MAX_BYTES (100 * 1024)
#define AVATAR_MAX_PIXELS 50

struct db;

enum avatar_verdict {
	AVATAR_ACCEPTED,
	AVATAR_UNSUPPORTED,   /* not PNG, JPEG or GIF, or not what Content-Type says */
	AVATAR_INVALID,       /* larger than 50 x 50 pixels, or cannot be decoded */
};

/* Checks and, when accepted, stores the image. ST_OK means checked: the verdict and,
 * unless accepted, a sentence naming the limit that failed are in the out-parameters. */
int avatar_store(struct db *db, const void *data, size_t len, const char *content_type,
		 int64_t now, enum avatar_verdict *verdict, char *why, size_t why_len);
int avatar_delete(struct db *db);
int avatar_is_set(struct db *db, int *out);
/* ST_NOT_FOUND when none; caller frees *media_type and *data. */
int avatar_get_dup(struct db *db, char **media_type, unsigned char **data, size_t *len);

#endif

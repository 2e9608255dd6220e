/* lib/upload.h — a file the visitor sends the agent: judged by its own bytes against an
 * allow-list, within the configured size, then handed to Zendesk (an attachment, then
 * an image or file message as the visitor). Nothing of it is stored by deskbridge.
 * Not: reading the multipart body (multipart.h) or HTTP. */
#ifndef DESKBRIDGE_UPLOAD_H
#define DESKBRIDGE_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct multipart_file;

/* limits.file_upload_bytes may be at most this: the 50 MB Zendesk is known to allow an
 * attachment, which its API reference leaves unstated (see lib/zendesk.c). */
#define UPLOAD_MAX_BYTES 50000000
/* The request around the largest file: its multipart framing. The bundled server
 * configurations (conf/, debian/conf/) let this much through on the files route. */
#define UPLOAD_BODY_MAX (UPLOAD_MAX_BYTES + 16 * 1024)
/* Larger images are refused rather than decoded. */
#define UPLOAD_IMAGE_MAX_PIXELS 10000

/* The allowed types, told from the file's content. */
struct upload_type {
	const char *media_type;   /* "image/png" */
	const char *extension;    /* ".png": Zendesk checks the name's extension too */
	int image;                /* sent as an image message, else as a file message */
};

/* The file's type, or NULL when it is not one of the allow-list (PNG, JPEG, GIF that
 * decode whole; PDF; UTF-8 plain text). */
const struct upload_type *upload_sniff(const void *data, size_t len);

enum upload_verdict {
	UPLOAD_SENT,
	UPLOAD_EMPTY,
	UPLOAD_TOO_LARGE,            /* over limits.file_upload_bytes */
	UPLOAD_WRONG_TYPE,           /* not on the allow-list, whatever its name says */
	UPLOAD_NOT_ACTIVE,           /* no agent has joined yet */
	UPLOAD_ENDED,
	UPLOAD_NOT_CONFIGURED,       /* no messaging credentials */
	UPLOAD_ZENDESK_REFUSED,      /* Zendesk answered a 4xx */
	UPLOAD_ZENDESK_UNREACHABLE,  /* no answer, 429 or 5xx */
};

struct upload_result {
	enum upload_verdict verdict;
	char message[400];        /* unless sent: what went wrong, for the site's developer */
	int64_t limit;            /* limits.file_upload_bytes */
	const struct upload_type *type;
	char media_url[2048];     /* sent: where Zendesk keeps it */
	char message_id[128];     /* sent: Zendesk's message */
};

/* Judges the file and, when it may go, sends it to the transfer's conversation, within
 * this call (up to the driver's upload timeout). ST_OK means judged: see out->verdict. */
int upload_send(struct db *db, const char *transfer_id, const struct multipart_file *file, int64_t now,
		struct upload_result *out);

#endif

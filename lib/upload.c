/* lib/upload.c — a visitor's file: the allow-list, the limit, the two Zendesk calls. */
#include "upload.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "crypto.h"
#include "image.h"
#include "log.h"
#include "multipart.h"
#include "status.h"
#include "transfer.h"
#include "utf8.h"
#include "zendesk.h"

static const struct upload_type upload_types[] = {
	{"image/png", ".png", 1},
	{"image/jpeg", ".jpg", 1},
	{"image/gif", ".gif", 1},
	{"application/pdf", ".pdf", 0},
	{"text/plain", ".txt", 0},
};

/* Text the agent can open as such: UTF-8 without control characters but tab, line and
 * page breaks (so no binary passes for text). */
static int is_plain_text(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((p[i] < ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' && p[i] != '\f') || p[i] == 127)
			return 0;
	return utf8_count((const char *)p, len) != (size_t)-1;
}

const struct upload_type *upload_sniff(const void *data, size_t len)
{
	struct image_info info;
	enum image_format format = image_sniff(data, len);

	if (format != IMAGE_UNKNOWN) {
		/* A valid header over anything else is not an image: decode it whole. */
		if (image_inspect(data, len, UPLOAD_IMAGE_MAX_PIXELS, UPLOAD_IMAGE_MAX_PIXELS, &info) != ST_OK ||
		    info.width > UPLOAD_IMAGE_MAX_PIXELS || info.height > UPLOAD_IMAGE_MAX_PIXELS)
			return NULL;
		return &upload_types[format == IMAGE_PNG ? 0 : format == IMAGE_JPEG ? 1 : 2];
	}
	if (len >= 5 && memcmp(data, "%PDF-", 5) == 0)
		return &upload_types[3];
	if (is_plain_text(data, len))
		return &upload_types[4];
	return NULL;
}

/* The name Zendesk gets: the visitor's, reduced to letters, digits, '-', '_' and '.',
 * ending in the extension of what the file is (Zendesk refuses a name whose extension
 * does not match the content). */
static void safe_name(const char *given, const struct upload_type *type, char *out, size_t size)
{
	size_t n = 0, ext = strlen(type->extension), keep = size - ext - 1;
	const char *dot = strrchr(given, '.');

	if (keep > 100)
		keep = 100;
	for (const char *c = given; *c && n < keep && c != dot; c++) {
		int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			 *c == '-' || *c == '_' || (*c == '.' && n > 0);
		out[n++] = ok ? *c : '_';
	}
	if (n == 0)
		n = (size_t)snprintf(out, size, "file");
	snprintf(out + n, size - n, "%s", type->extension);
}

/* The altText: the visitor's name for the file when it is clean UTF-8, at most 128
 * characters (the spec's limit), else the name Zendesk gets. */
static void alt_text(const char *given, const char *safe, char *out, size_t size)
{
	size_t len = strlen(given), chars = utf8_count(given, len), n = 0, count = 0;

	if (!len || chars == (size_t)-1 || !is_plain_text((const unsigned char *)given, len) || strpbrk(given, "\t\r\n\f")) {
		snprintf(out, size, "%s", safe);
		return;
	}
	/* Cut at a character boundary after 128 characters. */
	while (given[n] && count < 128 && n + 4 < size) {
		n++;
		while ((given[n] & 0xC0) == 0x80)
			n++;
		count++;
	}
	memcpy(out, given, n);
	out[n] = '\0';
}

/* The allowed type a name's extension or a declared media type claims, or NULL. */
static const struct upload_type *claimed(const char *filename, const char *media_type)
{
	const char *dot = strrchr(filename, '.');

	for (size_t i = 0; i < sizeof upload_types / sizeof *upload_types; i++) {
		const struct upload_type *t = &upload_types[i];
		if (media_type[0] && strcasecmp(media_type, t->media_type) == 0)
			return t;
		if (dot && (strcasecmp(dot, t->extension) == 0 || (t == &upload_types[1] && strcasecmp(dot, ".jpeg") == 0)))
			return t;
	}
	return NULL;
}

static void refuse(struct upload_result *out, enum upload_verdict verdict, const char *message)
{
	out->verdict = verdict;
	snprintf(out->message, sizeof out->message, "%s", message);
}

static void zendesk_failed(struct upload_result *out, const struct zendesk_call *call, const char *after)
{
	out->verdict = call->outcome == ZENDESK_REJECTED ? UPLOAD_ZENDESK_REFUSED : UPLOAD_ZENDESK_UNREACHABLE;
	snprintf(out->message, sizeof out->message, "Zendesk did not take the file: %s.%s", call->detail, after);
}

/* Whether the transfer can take a file now; the Zendesk ids when it can. */
static int check_transfer(struct db *db, const char *id, int64_t now, struct transfer_handoff *h,
			  struct upload_result *out)
{
	struct json_object *t = NULL, *state;
	const char *s;
	int st = transfer_get_json(db, id, now, &t);

	if (st != ST_OK)
		return st;
	json_object_object_get_ex(t, "state", &state);
	s = json_object_get_string(state);
	if (s && strcmp(s, "ended") == 0)
		refuse(out, UPLOAD_ENDED, "This transfer has ended: start a new one.");
	else if (!s || strcmp(s, "active") != 0)
		refuse(out, UPLOAD_NOT_ACTIVE, "Files can be sent once an agent has joined the chat.");
	json_object_put(t);
	if (out->verdict != UPLOAD_SENT)
		return ST_OK;
	st = transfer_handoff_get(db, id, h);
	if (st == ST_OK && (!h->zendesk_user_id || !h->zendesk_conversation_id))
		refuse(out, UPLOAD_NOT_ACTIVE, "Files can be sent once the chat has reached Zendesk.");
	return st;
}

static int deliver(const struct zendesk_account *acct, const struct transfer_handoff *h, const char *id,
		   const struct multipart_file *file, struct upload_result *out)
{
	char name[128], alt[4 * 128 + 1], mark[96];
	unsigned char raw[8];
	struct zendesk_call call, removed;
	int st = crypto_random(raw, sizeof raw);

	if (st != ST_OK)
		return st;
	safe_name(file->filename, out->type, name, sizeof name);
	alt_text(file->filename, name, alt, sizeof alt);
	st = zendesk_upload_attachment(acct, h->zendesk_conversation_id, file->data, file->len, name,
				       out->type->media_type, out->media_url, &call);
	if (st != ST_OK)
		return st;
	if (call.outcome != ZENDESK_OK) {
		log_error("transfer %s: %s", id, call.detail);
		zendesk_failed(out, &call, "");
		return ST_OK;
	}
	/* Marked as every post of deskbridge's, so its echo is not taken for the agent's. */
	snprintf(mark, sizeof mark, "%s/file/%02x%02x%02x%02x%02x%02x%02x%02x", id, raw[0], raw[1], raw[2], raw[3],
		 raw[4], raw[5], raw[6], raw[7]);
	st = zendesk_post_media(acct, h->zendesk_conversation_id, h->zendesk_user_id, out->type->image,
				out->media_url, alt, mark, out->message_id, &call);
	if (st != ST_OK || call.outcome == ZENDESK_OK)
		return st;
	/* No message shows the file: take it back, so nothing half-sent stays in Zendesk. */
	log_error("transfer %s: %s", id, call.detail);
	st = zendesk_remove_attachment(acct, out->media_url, &removed);
	if (st == ST_OK && removed.outcome != ZENDESK_OK)
		log_error("transfer %s: %s; Zendesk deletes the file with the conversation", id, removed.detail);
	zendesk_failed(out, &call, st == ST_OK && removed.outcome == ZENDESK_OK ? " The uploaded file was removed." : "");
	out->media_url[0] = '\0';
	return st;
}

int upload_send(struct db *db, const char *transfer_id, const struct multipart_file *file, int64_t now,
		struct upload_result *out)
{
	struct transfer_handoff h = {0};
	struct zendesk_account *acct = NULL;
	const struct upload_type *claim;
	int st;

	memset(out, 0, sizeof *out);
	st = config_get_int(db, "limits.file_upload_bytes", &out->limit);
	if (st != ST_OK)
		return st;
	if (file->len == 0) {
		refuse(out, UPLOAD_EMPTY, "The file is empty.");
		return ST_OK;
	}
	if ((int64_t)file->len > out->limit) {
		out->verdict = UPLOAD_TOO_LARGE;
		snprintf(out->message, sizeof out->message, "The file is %zu bytes; files of at most %lld bytes "
			 "can be sent.", file->len, (long long)out->limit);
		return ST_OK;
	}
	out->type = upload_sniff(file->data, file->len);
	if (!out->type) {
		refuse(out, UPLOAD_WRONG_TYPE, "Send a PNG, JPEG or GIF image, a PDF or a plain text file: "
		       "this file's content is none of them, whatever its name or type says.");
		return ST_OK;
	}
	/* The content decides; a name or type that claims another allowed type is a file
	 * that is not what the visitor meant to send (text saved as .png, say). */
	claim = claimed(file->filename, file->media_type);
	if (claim && claim != out->type) {
		out->verdict = UPLOAD_WRONG_TYPE;
		snprintf(out->message, sizeof out->message, "The file's content is %s, not what its name or type "
			 "says (%s): send the file itself.", out->type->media_type, claim->media_type);
		return ST_OK;
	}
	st = check_transfer(db, transfer_id, now, &h, out);
	if (st == ST_OK && out->verdict == UPLOAD_SENT)
		st = zendesk_account_load(db, &acct);
	if (st == ST_OK && out->verdict == UPLOAD_SENT && !zendesk_messaging_ready(acct))
		refuse(out, UPLOAD_NOT_CONFIGURED, "The Zendesk messaging credentials are not set up.");
	if (st == ST_OK && out->verdict == UPLOAD_SENT)
		st = deliver(acct, &h, transfer_id, file, out);
	zendesk_account_free(acct);
	transfer_handoff_clear(&h);
	return st;
}

/* tests/unit/test_multipart.c — lib/multipart's parser and its refusals, lib/upload's
 * allow-list from content, and lib/zendesk's media address check. */
#include <check.h>
#include <string.h>

#include "multipart.h"
#include "status.h"
#include "upload.h"
#include "zendesk.h"

static const char ctype[] = "multipart/form-data; boundary=XyZ";

static int parse(const char *content_type, const char *body, struct multipart_file *f)
{
	const char *why;

	return multipart_parse_file(content_type, (const unsigned char *)body, strlen(body), f, &why);
}

START_TEST(one_file_part)
{
	struct multipart_file f;
	const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\dir\\a b.txt\"\r\n"
			   "Content-Type: text/plain\r\n\r\nline one\r\n-XyZ --XyZ\r\n--XyZ--\r\n";

	ck_assert_int_eq(parse(ctype, body, &f), ST_OK);
	ck_assert_str_eq(f.name, "file");
	ck_assert_str_eq(f.filename, "C:\\dir\\a b.txt");
	ck_assert_str_eq(f.media_type, "text/plain");
	ck_assert_uint_eq(f.len, strlen("line one\r\n-XyZ --XyZ"));
	ck_assert_int_eq(memcmp(f.data, "line one", 8), 0);
	/* A quoted boundary, no part Content-Type, no trailing CRLF. */
	ck_assert_int_eq(parse("Multipart/Form-Data; boundary=\"XyZ\"",
			       "--XyZ\r\nContent-Disposition: form-data; name=file\r\n\r\nx\r\n--XyZ--", &f), ST_OK);
	ck_assert_str_eq(f.filename, "");
	ck_assert_str_eq(f.media_type, "");
	ck_assert_uint_eq(f.len, 1);
}
END_TEST

START_TEST(refusals)
{
	static const char *const bodies[] = {
		"",
		"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--XyZ--\r\n",
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--XyZ\r\n"
		"Content-Disposition: form-data; name=\"g\"\r\n\r\ny\r\n--XyZ--\r\n",
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--XyZ--\r\nepilogue",
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx",
		"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--\r\n",
		"--XyZ\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nx\r\n--XyZ--\r\n",
		"--XyZ\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--XyZ--\r\n",
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; name=\"g\"\r\n\r\nx\r\n--XyZ--\r\n",
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename*=UTF-8''a\r\n\r\nx\r\n--XyZ--\r\n",
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename*=\"\"\r\n\r\nx\r\n--XyZ--\r\n",
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\r\n\r\nx\r\n--XyZ--\r\n",
		"--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--\r\n",
	};
	struct multipart_file f;

	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++)
		ck_assert_msg(parse(ctype, bodies[i], &f) == ST_INVALID, "body %zu was accepted", i);
	ck_assert_int_eq(parse("multipart/form-data", "--\r\n", &f), ST_INVALID);
	ck_assert_int_eq(parse("multipart/mixed; boundary=XyZ",
			       "--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\nx\r\n--XyZ--", &f), ST_INVALID);
	ck_assert_int_eq(parse("multipart/form-data; boundary=\"\"", "--\r\n", &f), ST_INVALID);
	ck_assert_int_eq(parse("multipart/form-data; boundary=12345678901234567890123456789012345678901234567890"
			       "123456789012345678901", "--\r\n", &f), ST_INVALID);
	ck_assert_int_eq(multipart_parse_file(NULL, (const unsigned char *)"", 0, &f, &(const char *){NULL}),
			 ST_INVALID);
}
END_TEST

START_TEST(types_from_content)
{
	static const unsigned char png_header[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
	static const unsigned char binary[] = "text\0with a NUL";

	ck_assert_str_eq(upload_sniff("%PDF-1.7\n", 9)->media_type, "application/pdf");
	ck_assert_str_eq(upload_sniff("caf\xc3\xa9\tok\r\n", 10)->media_type, "text/plain");
	ck_assert_ptr_null(upload_sniff("caf\xe9", 4));            /* Latin-1, not UTF-8 */
	ck_assert_ptr_null(upload_sniff(binary, sizeof binary - 1));
	ck_assert_ptr_null(upload_sniff(png_header, sizeof png_header - 1));   /* no image behind it */
	ck_assert_ptr_null(upload_sniff("\x1b[31mred", 8));
}
END_TEST

START_TEST(media_hosts)
{
	ck_assert(zendesk_media_url_ok("https://acme.zendesk.com/sc/attachments/v2/01J/x.jpeg"));
	ck_assert(zendesk_media_url_ok("https://ACME.Zendesk.com/a"));
	ck_assert(zendesk_media_url_ok("https://media.smooch.io/apps/a/b.png"));
	ck_assert(zendesk_media_url_ok("https://smooch.io/rocks.smooch.media-dev/x.png"));
	ck_assert(zendesk_media_url_ok("https://p1.zdusercontent.com/attachment/1/x.png?token=t"));
	ck_assert(!zendesk_media_url_ok(NULL));
	ck_assert(!zendesk_media_url_ok("http://acme.zendesk.com/a"));
	ck_assert(!zendesk_media_url_ok("https://zendesk.com/a"));
	ck_assert(!zendesk_media_url_ok("https://evilzendesk.com/a"));
	ck_assert(!zendesk_media_url_ok("https://acme.zendesk.com.evil.example/a"));
	ck_assert(!zendesk_media_url_ok("https://a@acme.zendesk.com/a"));
	ck_assert(!zendesk_media_url_ok("https://acme.zendesk.com:444/a"));
	ck_assert(!zendesk_media_url_ok("https://acme.zendesk.com/a b"));
	ck_assert(!zendesk_media_url_ok("https://acme.zendesk.com/\"onerror=x"));
	ck_assert(!zendesk_media_url_ok("javascript://acme.zendesk.com/%0aalert(1)"));
}
END_TEST

static Suite *multipart_suite(void)
{
	Suite *s = suite_create("multipart");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, one_file_part);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, types_from_content);
	tcase_add_test(tc, media_hosts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(multipart_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* tests/unit/test_crypto.c — lib/crypto: base64url (RFC 4648 vectors, strictness),
 * standard base64, SHA-256 and HMAC-SHA256 vectors, constant-time comparison, scrypt
 * password hashes, random tokens and RSA key generation checked back with OpenSSL. */
#include <check.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "status.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* text with bytes outside printable ASCII as \xNN, so that a failure message cannot
 * break the TAP line it is printed on. */
static const char *esc(const char *text, size_t len, char *buf, size_t size)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 5 < size; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[j++] = (char)c;
		else
			j += (size_t)snprintf(buf + j, size - j, "\\x%02x", c);
	}
	buf[j] = '\0';
	return buf;
}

/* Decodes text (base64url) and checks the result is exactly want/want_len. */
static void check_decodes_to(const char *text, const void *want, size_t want_len)
{
	unsigned char *out = NULL;
	size_t len = 12345;

	ck_assert_msg(crypto_b64url_decode_dup(text, strlen(text), &out, &len) == ST_OK, "%s", text);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, want_len);
	ck_assert_int_eq(memcmp(out, want, want_len), 0);
	free(out);
}

static void check_refused(const char *text, size_t len)
{
	unsigned char *out = NULL;
	size_t out_len = 0;

	char e[128];

	ck_assert_msg(crypto_b64url_decode_dup(text, len, &out, &out_len) == ST_INVALID,
		      "accepted \"%s\"", esc(text, len, e, sizeof e));
	ck_assert_ptr_null(out);
}

START_TEST(b64url_rfc4648_vectors)
{
	static const struct {
		const char *plain, *coded;
	} v[] = {
		{"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"},
		{"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};

	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		char *coded = NULL;
		ck_assert_int_eq(crypto_b64url_encode_dup(v[i].plain, strlen(v[i].plain), &coded), ST_OK);
		ck_assert_str_eq(coded, v[i].coded);
		free(coded);
		check_decodes_to(v[i].coded, v[i].plain, strlen(v[i].plain));
	}
}
END_TEST

START_TEST(b64url_url_alphabet)
{
	static const unsigned char dashes[] = {0xfb, 0xef, 0xbe};
	static const unsigned char unders[] = {0xff, 0xff, 0xff};
	static const unsigned char mixed[] = {0xfb, 0xff};
	char *coded = NULL;

	ck_assert_int_eq(crypto_b64url_encode_dup(dashes, sizeof dashes, &coded), ST_OK);
	ck_assert_str_eq(coded, "----");
	free(coded);
	ck_assert_int_eq(crypto_b64url_encode_dup(unders, sizeof unders, &coded), ST_OK);
	ck_assert_str_eq(coded, "____");
	free(coded);
	ck_assert_int_eq(crypto_b64url_encode_dup(mixed, sizeof mixed, &coded), ST_OK);
	ck_assert_str_eq(coded, "-_8");
	free(coded);
	check_decodes_to("----", dashes, sizeof dashes);
	check_decodes_to("____", unders, sizeof unders);
	check_decodes_to("-_8", mixed, sizeof mixed);
}
END_TEST

START_TEST(b64url_round_trip)
{
	unsigned char data[300];
	size_t allowed_chars = 0;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	ck_assert_int_eq(crypto_random(data + 256, 44), ST_OK);
	for (size_t len = 0; len <= sizeof data; len++) {
		char *coded = NULL;
		ck_assert_int_eq(crypto_b64url_encode_dup(data, len, &coded), ST_OK);
		/* No padding: ceil(len * 4 / 3) characters. */
		ck_assert_uint_eq(strlen(coded), (len * 4 + 2) / 3);
		allowed_chars = strspn(coded, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
		ck_assert_uint_eq(allowed_chars, strlen(coded));
		check_decodes_to(coded, data, len);
		free(coded);
	}
}
END_TEST

START_TEST(b64url_strict)
{
	static const char *const refused[] = {
		"Zg==", "Zg=", "Zm8=", "Zm9v====", "=", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9v\r\n",
		"Zm9\tv", "+/8", "Zm+v", "Zm/v", "Z", "Zm9vY", "Zm9vYmFyZ", "Zh", "Zm9", "Zm9vYh",
		"Zm9vYmF", "Zm9v.", "\xc3\xa9\xc3\xa9", "Zm9v*A==",
	};
	unsigned char *out = NULL;
	size_t len = 0;

	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		check_refused(refused[i], strlen(refused[i]));
	/* An embedded NUL within the given length. */
	check_refused("Zm\0v", 4);
	/* The length argument bounds the text. */
	ck_assert_int_eq(crypto_b64url_decode_dup("Zm9vYmFy", 4, &out, &len), ST_OK);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(memcmp(out, "foo", 3), 0);
	free(out);
	ck_assert_int_eq(crypto_b64url_decode_dup("", 0, &out, &len), ST_OK);
	ck_assert_uint_eq(len, 0);
	free(out);
}
END_TEST

START_TEST(b64_standard)
{
	static const char *const refused[] = {
		"Zm9vYg=", "Zm9vYg===", "Zg=A", "====", "Z===", "Zm==", "Zh==", "-_8", "Zm9v\n",
		"Zm9 v", "Z",
	};
	unsigned char *out = NULL;
	size_t len = 0;

	ck_assert_int_eq(crypto_b64_decode_dup("Zm9vYg==", 8, &out, &len), ST_OK);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(memcmp(out, "foob", 4), 0);
	free(out);
	ck_assert_int_eq(crypto_b64_decode_dup("Zm9vYg", 6, &out, &len), ST_OK);
	ck_assert_uint_eq(len, 4);
	free(out);
	ck_assert_int_eq(crypto_b64_decode_dup("Zm9vYmE=", 8, &out, &len), ST_OK);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(memcmp(out, "fooba", 5), 0);
	free(out);
	ck_assert_int_eq(crypto_b64_decode_dup("+/8=", 4, &out, &len), ST_OK);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(out[0], 0xfb);
	ck_assert_int_eq(out[1], 0xff);
	free(out);
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		out = NULL;
		char e[128];
		ck_assert_msg(crypto_b64_decode_dup(refused[i], strlen(refused[i]), &out, &len) == ST_INVALID,
			      "accepted \"%s\"", esc(refused[i], strlen(refused[i]), e, sizeof e));
		ck_assert_ptr_null(out);
	}
}
END_TEST

START_TEST(sha256_vectors)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	unsigned char md[CRYPTO_SHA256_LEN];
	char h[2 * CRYPTO_SHA256_LEN + 1];

	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		memset(md, 0, sizeof md);
		ck_assert_int_eq(crypto_sha256(v[i].in, strlen(v[i].in), md), ST_OK);
		hex(md, sizeof md, h);
		ck_assert_str_eq(h, v[i].hex);
	}
}
END_TEST

START_TEST(hmac_sha256_vectors)
{
	/* RFC 4231 test cases 1 and 2, base64url-encoded. */
	unsigned char key1[20];
	char *mac = NULL;

	memset(key1, 0x0b, sizeof key1);
	ck_assert_int_eq(crypto_hmac_sha256_b64url_dup(key1, sizeof key1, "Hi There", &mac), ST_OK);
	ck_assert_str_eq(mac, "sDRMYdjbOFNcqK_OrwvxK4gdwgDJgz2nJuk3bC4yz_c");
	free(mac);
	ck_assert_int_eq(crypto_hmac_sha256_b64url_dup("Jefe", 4, "what do ya want for nothing?", &mac),
			 ST_OK);
	ck_assert_str_eq(mac, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM");
	free(mac);
	/* The context is kept per process: nothing of the last key or text carries over. */
	ck_assert_int_eq(crypto_hmac_sha256_b64url_dup(key1, sizeof key1, "Hi There", &mac), ST_OK);
	ck_assert_str_eq(mac, "sDRMYdjbOFNcqK_OrwvxK4gdwgDJgz2nJuk3bC4yz_c");
	free(mac);
}
END_TEST

START_TEST(equal_compare)
{
	unsigned char a[64], b[64];

	ck_assert_int_eq(crypto_random(a, sizeof a), ST_OK);
	memcpy(b, a, sizeof a);
	ck_assert_int_eq(crypto_equal(a, b, sizeof a), 1);
	b[63] ^= 1;
	ck_assert_int_eq(crypto_equal(a, b, sizeof a), 0);
	ck_assert_int_eq(crypto_equal(a, b, 63), 1);
	b[63] ^= 1;
	b[0] ^= 0x80;
	ck_assert_int_eq(crypto_equal(a, b, sizeof a), 0);
	ck_assert_int_eq(crypto_equal(a, b, 0), 1);
	ck_assert_int_eq(crypto_equal("abc", "abd", 3), 0);
	ck_assert_int_eq(crypto_equal("abc", "abc", 3), 1);
}
END_TEST

START_TEST(password_hashes)
{
	const char *pw = "correct horse battery staple";
	char *h1 = NULL, *h2 = NULL, *tampered;
	char *salt, *hash;

	ck_assert_int_eq(crypto_password_hash_dup(pw, &h1), ST_OK);
	ck_assert_int_eq(crypto_password_hash_dup(pw, &h2), ST_OK);
	ck_assert_ptr_nonnull(h1);
	ck_assert_ptr_nonnull(h2);
	ck_assert_int_eq(strncmp(h1, "$scrypt$ln=15,r=8,p=1$", 22), 0);
	ck_assert_ptr_null(strstr(h1, pw));
	/* A fresh salt each time. */
	ck_assert_str_ne(h1, h2);
	salt = h1 + 22;
	hash = strchr(salt, '$');
	ck_assert_ptr_nonnull(hash);
	ck_assert_uint_eq((size_t)(hash - salt), 22);  /* 16 bytes */
	ck_assert_uint_eq(strlen(hash + 1), 43);        /* 32 bytes */
	ck_assert_int_ne(strncmp(h1 + 22, h2 + 22, 22), 0);

	ck_assert_int_eq(crypto_password_verify(pw, h1), ST_OK);
	ck_assert_int_eq(crypto_password_verify(pw, h2), ST_OK);
	ck_assert_int_eq(crypto_password_verify("correct horse battery stapl", h1), ST_DENIED);
	ck_assert_int_eq(crypto_password_verify("Correct horse battery staple", h1), ST_DENIED);
	ck_assert_int_eq(crypto_password_verify("", h1), ST_DENIED);

	/* One changed character of the stored hash: a well-formed hash that does not match. */
	tampered = strdup(h1);
	ck_assert_ptr_nonnull(tampered);
	hash = strchr(tampered + 22, '$') + 1;
	hash[0] = hash[0] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(crypto_password_verify(pw, tampered), ST_DENIED);
	free(tampered);

	free(h1);
	free(h2);
}
END_TEST

START_TEST(password_malformed)
{
	static const char *const malformed[] = {
		"",
		"garbage",
		"correct horse battery staple",
		"$scrypt$",
		"$scrypt$ln=15,r=8,p=1$$",
		"$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",  /* hash too short */
		"$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
		"$scrypt$ln=40,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=15,r=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=15,r=8,p=9$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",
		"$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=xx,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};

	for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++)
		ck_assert_msg(crypto_password_verify("correct horse battery staple", malformed[i]) == ST_INVALID,
			      "accepted \"%s\"", malformed[i]);
}
END_TEST

START_TEST(token_new)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	static const size_t sizes[] = {1, 16, 24, 32, 64};
	char *t1 = NULL, *t2 = NULL;
	unsigned char *raw = NULL;
	size_t raw_len = 0;

	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		size_t n = sizes[i];
		ck_assert_int_eq(crypto_token_new(n, &t1), ST_OK);
		ck_assert_int_eq(crypto_token_new(n, &t2), ST_OK);
		ck_assert_uint_eq(strlen(t1), (n * 4 + 2) / 3);
		ck_assert_uint_eq(strspn(t1, alphabet), strlen(t1));
		ck_assert_uint_eq(strspn(t2, alphabet), strlen(t2));
		if (n >= 16)
			ck_assert_str_ne(t1, t2);
		ck_assert_int_eq(crypto_b64url_decode_dup(t1, strlen(t1), &raw, &raw_len), ST_OK);
		ck_assert_uint_eq(raw_len, n);
		free(raw);
		free(t1);
		free(t2);
	}
	ck_assert_int_eq(crypto_token_new(32, &t1), ST_OK);
	ck_assert_uint_eq(strlen(t1), 43);
	free(t1);
	t1 = NULL;
	ck_assert_int_eq(crypto_token_new(65, &t1), ST_INVALID);
	ck_assert_ptr_null(t1);
}
END_TEST

START_TEST(random_bytes)
{
	unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};

	ck_assert_int_eq(crypto_random(a, sizeof a), ST_OK);
	ck_assert_int_eq(crypto_random(b, sizeof b), ST_OK);
	ck_assert_int_ne(memcmp(a, zero, sizeof a), 0);
	ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
	ck_assert_int_eq(crypto_random(a, 0), ST_OK);
}
END_TEST

static EVP_PKEY *read_public(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key;

	ck_assert_ptr_nonnull(bio);
	key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return key;
}

static EVP_PKEY *read_private(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key;

	ck_assert_ptr_nonnull(bio);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return key;
}

START_TEST(rsa_generate)
{
	char *priv = NULL, *pub = NULL, *priv2 = NULL, *pub2 = NULL;
	EVP_PKEY *kpub, *kpriv, *kpub2;
	EVP_PKEY_CTX *ctx;
	unsigned char md[32], sig[512];
	size_t sig_len = sizeof sig;

	ck_assert_int_eq(crypto_rsa_generate_dup(2048, &priv, &pub), ST_OK);
	ck_assert_ptr_nonnull(priv);
	ck_assert_ptr_nonnull(pub);
	ck_assert_int_eq(strncmp(priv, "-----BEGIN PRIVATE KEY-----\n", 28), 0);  /* PKCS#8 */
	ck_assert_int_eq(strncmp(pub, "-----BEGIN PUBLIC KEY-----\n", 27), 0);   /* SPKI */
	ck_assert_ptr_nonnull(strstr(pub, "-----END PUBLIC KEY-----"));
	ck_assert_ptr_null(strstr(pub, "PRIVATE"));

	kpub = read_public(pub);
	ck_assert_ptr_nonnull(kpub);
	ck_assert_int_eq(EVP_PKEY_get_base_id(kpub), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(kpub), 2048);
	kpriv = read_private(priv);
	ck_assert_ptr_nonnull(kpriv);
	ck_assert_int_eq(EVP_PKEY_get_base_id(kpriv), EVP_PKEY_RSA);
	ck_assert_int_eq(EVP_PKEY_get_bits(kpriv), 2048);
	/* The two halves belong together. */
	ck_assert_int_eq(EVP_PKEY_eq(kpub, kpriv), 1);

	/* And they work: sign with the private key, verify with the public one. */
	ck_assert_int_eq(crypto_sha256("message", 7, md), ST_OK);
	ctx = EVP_PKEY_CTX_new(kpriv, NULL);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, &sig_len, md, sizeof md), 1);
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new(kpub, NULL);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	ck_assert_int_eq(EVP_PKEY_verify(ctx, sig, sig_len, md, sizeof md), 1);
	EVP_PKEY_CTX_free(ctx);

	/* A second pair is a different key. */
	ck_assert_int_eq(crypto_rsa_generate_dup(2048, &priv2, &pub2), ST_OK);
	ck_assert_str_ne(pub, pub2);
	kpub2 = read_public(pub2);
	ck_assert_ptr_nonnull(kpub2);
	ck_assert_int_ne(EVP_PKEY_eq(kpub, kpub2), 1);

	EVP_PKEY_free(kpub);
	EVP_PKEY_free(kpub2);
	EVP_PKEY_free(kpriv);
	free(priv);
	free(pub);
	free(priv2);
	free(pub2);
}
END_TEST

static Suite *crypto_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *enc = tcase_create("encoding");
	TCase *digest = tcase_create("digest");
	TCase *pw = tcase_create("password");
	TCase *keys = tcase_create("keys");

	tcase_add_test(enc, b64url_rfc4648_vectors);
	tcase_add_test(enc, b64url_url_alphabet);
	tcase_add_test(enc, b64url_round_trip);
	tcase_add_test(enc, b64url_strict);
	tcase_add_test(enc, b64_standard);
	suite_add_tcase(s, enc);

	tcase_add_test(digest, sha256_vectors);
	tcase_add_test(digest, hmac_sha256_vectors);
	tcase_add_test(digest, equal_compare);
	suite_add_tcase(s, digest);

	/* scrypt with N = 2^15 is slow under the sanitizers. */
	tcase_set_timeout(pw, 120);
	tcase_add_test(pw, password_hashes);
	tcase_add_test(pw, password_malformed);
	suite_add_tcase(s, pw);

	tcase_set_timeout(keys, 120);
	tcase_add_test(keys, token_new);
	tcase_add_test(keys, random_bytes);
	tcase_add_test(keys, rsa_generate);
	suite_add_tcase(s, keys);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crypto_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

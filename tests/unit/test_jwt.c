/* tests/unit/test_jwt.c — lib/jwt and lib/identity: RFC 7515 appendix A vectors,
 * the parser's refusals, claim rules, the user payload decoder. */
#include <check.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "identity.h"
#include "jwt.h"
#include "status.h"

/* RFC 7515 A.1 (HS256) and A.2 (RS256). */
static const char a1_input[] =
	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
static const char a1_key[] =
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char a1_sig[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char a2_token[] =
	"eyJhbGciOiJSUzI1NiJ9."
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
	"cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5"
	"jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb"
	"1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QO"
	"YEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
static const char a2_n[] =
	"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4"
	"d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5re"
	"xMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxX"
	"FvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

/* The A.2 public key as PEM, built from the JWK's n and e. Caller frees. */
static char *a2_public_pem(void)
{
	unsigned char *n_bytes = NULL;
	size_t n_len = 0;
	BIGNUM *n, *e = BN_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem;
	long len;

	ck_assert_int_eq(crypto_b64url_decode_dup(a2_n, strlen(a2_n), &n_bytes, &n_len), ST_OK);
	n = BN_bin2bn(n_bytes, (int)n_len, NULL);
	BN_set_word(e, 65537);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
	params = OSSL_PARAM_BLD_to_param(bld);
	ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
	ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, key), 1);
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
	BIO_free(bio);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(n_bytes);
	return pem;
}

START_TEST(rfc7515_a1_hs256)
{
	unsigned char *key = NULL;
	size_t key_len = 0;
	char *sig = NULL;

	ck_assert_int_eq(crypto_b64url_decode_dup(a1_key, strlen(a1_key), &key, &key_len), ST_OK);
	ck_assert_int_eq(jwt_hs256_signature_dup(a1_input, key, key_len, &sig), ST_OK);
	ck_assert_str_eq(sig, a1_sig);
	free(sig);
	free(key);
}
END_TEST

START_TEST(rfc7515_a2_rs256)
{
	char *pem = a2_public_pem(), *pub = NULL, *priv = NULL;
	char tampered[sizeof a2_token];
	struct jwt *jwt = NULL;
	struct json_object *iss;

	ck_assert_int_eq(jwt_parse(a2_token, strlen(a2_token), &jwt), ST_OK);
	ck_assert_str_eq(jwt_alg(jwt), "RS256");
	ck_assert_ptr_null(jwt_kid(jwt));
	ck_assert(json_object_object_get_ex(jwt_claims(jwt), "iss", &iss));
	ck_assert_str_eq(json_object_get_string(iss), "joe");
	ck_assert_int_eq(jwt_verify_rs256(jwt, pem), ST_OK);
	ck_assert_int_eq(crypto_rsa_generate_dup(2048, &priv, &pub), ST_OK);
	ck_assert_int_eq(jwt_verify_rs256(jwt, pub), ST_DENIED);
	ck_assert_int_eq(jwt_verify_rs256(jwt, "not a pem"), ST_DENIED);
	jwt_free(jwt);

	memcpy(tampered, a2_token, sizeof a2_token);
	tampered[sizeof a2_token - 3] = tampered[sizeof a2_token - 3] == 'R' ? 'S' : 'R';
	ck_assert_int_eq(jwt_parse(tampered, strlen(tampered), &jwt), ST_OK);
	ck_assert_int_eq(jwt_verify_rs256(jwt, pem), ST_DENIED);
	jwt_free(jwt);
	/* The key's verifier is kept per process: a refusal leaves it fit for the next token. */
	ck_assert_int_eq(jwt_parse(a2_token, strlen(a2_token), &jwt), ST_OK);
	ck_assert_int_eq(jwt_verify_rs256(jwt, pem), ST_OK);
	jwt_free(jwt);
	free(pem);
	free(pub);
	free(priv);
}
END_TEST

START_TEST(hs256_tokens_are_not_rs256)
{
	char token[512], *pem = a2_public_pem();
	struct jwt *jwt = NULL;

	snprintf(token, sizeof token, "%s.%s", a1_input, a1_sig);
	ck_assert_int_eq(jwt_parse(token, strlen(token), &jwt), ST_OK);
	ck_assert_str_eq(jwt_alg(jwt), "HS256");
	ck_assert_int_eq(jwt_verify_rs256(jwt, pem), ST_DENIED);
	jwt_free(jwt);
	free(pem);
}
END_TEST

static char *b64(const char *json)
{
	char *out = NULL;

	ck_assert_int_eq(crypto_b64url_encode_dup(json, strlen(json), &out), ST_OK);
	return out;
}

static int parses(const char *header_json, const char *claims_json, const char *sig)
{
	char *h = b64(header_json), *c = b64(claims_json), token[9000];
	struct jwt *jwt = NULL;
	int st;

	snprintf(token, sizeof token, "%s.%s.%s", h, c, sig);
	st = jwt_parse(token, strlen(token), &jwt);
	jwt_free(jwt);
	free(h);
	free(c);
	return st;
}

START_TEST(parser_refusals)
{
	struct jwt *jwt = NULL;
	char big[JWT_MAX_LEN + 10];
	static const char *const shapes[] = {
		"", "a", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", "eyJ9.e30.AA=", "e30=.e30.AA",
		"e30.e30.A", "e 30.e30.AA", "e30.e30.AA+", "e30.e30.AA/",
	};

	for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
		ck_assert_msg(jwt_parse(shapes[i], strlen(shapes[i]), &jwt) == ST_INVALID, "%s", shapes[i]);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\"}", "{\"sub\":\"a\"}", "AA"), ST_OK);
	ck_assert_int_eq(parses("[1]", "{}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\"}", "\"str\"", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{alg:1}", "{}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\"} x", "{}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\",\"alg\":\"none\"}", "{}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\",\"a\\u006cg\":\"none\"}", "{}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\"}", "{\"sub\":\"a\",\"sub\":\"b\"}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\",\"x\":{\"a\":1,\"b\":\":\"}}", "{}", "AA"), ST_OK);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\"}", "{\"name\":\"\xff\"}", "AA"), ST_INVALID);
	/* "\u0000" would cut a C string: kid "shop\u0000x" would select the key "shop". */
	ck_assert_int_eq(parses("{\"alg\":\"RS256\",\"kid\":\"shop\\u0000x\"}", "{}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\"}", "{\"sub\":\"a\\u0000\"}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\"}", "{\"x\":[{\"y\":\"\\u0000\"}]}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\",\"k\\u0000\":1}", "{}", "AA"), ST_INVALID);
	ck_assert_int_eq(parses("{\"alg\":\"RS256\",\"kid\":\"shop\\\\u0000x\"}", "{}", "AA"), ST_OK);
	memset(big, 'a', sizeof big);
	big[10] = '.';
	big[20] = '.';
	ck_assert_int_eq(jwt_parse(big, sizeof big, &jwt), ST_INVALID);
	ck_assert_int_eq(jwt_parse("e30.e30\0.AA", 11, &jwt), ST_INVALID);
	ck_assert_ptr_null(jwt);
}
END_TEST

static int check(const char *claims_json, const char *issuer, int64_t now, const char **why)
{
	char *h = b64("{\"alg\":\"RS256\"}"), *c = b64(claims_json), token[2048];
	struct jwt_claim_rules rules = {issuer, 60};
	struct jwt *jwt = NULL;
	int st;

	snprintf(token, sizeof token, "%s.%s.AA", h, c);
	ck_assert_int_eq(jwt_parse(token, strlen(token), &jwt), ST_OK);
	st = jwt_check_claims(jwt, &rules, now, why);
	jwt_free(jwt);
	free(h);
	free(c);
	return st;
}

START_TEST(claim_rules)
{
	const int64_t now = 1800000000;
	const char *why = NULL;
	char claims[256];

	snprintf(claims, sizeof claims, "{\"sub\":\"s\",\"iss\":\"i\",\"acr\":\"a\",\"exp\":%lld}", (long long)(now - 61));
	ck_assert_int_eq(check(claims, NULL, now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "expired"));
	snprintf(claims, sizeof claims, "{\"sub\":\"s\",\"iss\":\"i\",\"acr\":\"a\",\"exp\":%lld}",
		 (long long)(now + JWT_MAX_AHEAD_S + 61));
	ck_assert_int_eq(check(claims, NULL, now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "24 hours"));
	ck_assert_int_eq(check("{\"sub\":\"s\",\"iss\":\"i\",\"acr\":\"a\"}", NULL, now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "exp claim is missing"));
	ck_assert_int_eq(check("{\"sub\":\"s\",\"iss\":\"i\",\"acr\":\"a\",\"exp\":\"1800000600\"}", NULL, now, &why),
			 ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "not a number"));
	snprintf(claims, sizeof claims, "{\"sub\":\"s\",\"iss\":\"i\",\"acr\":\"a\",\"exp\":%lld}", (long long)(now - 30));
	ck_assert_int_eq(check(claims, NULL, now, &why), ST_OK);   /* within the skew */
	snprintf(claims, sizeof claims, "{\"sub\":\"s\",\"iss\":\"i\",\"acr\":\"a\",\"exp\":%lld,\"nbf\":%lld}",
		 (long long)(now + 600), (long long)(now + 120));
	ck_assert_int_eq(check(claims, NULL, now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "nbf"));
	snprintf(claims, sizeof claims, "{\"sub\":\"s\",\"iss\":\"i\",\"acr\":\"a\",\"exp\":%lld,\"iat\":%lld}",
		 (long long)(now + 600), (long long)(now + 120));
	ck_assert_int_eq(check(claims, NULL, now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "iat"));
	snprintf(claims, sizeof claims, "{\"iss\":\"i\",\"acr\":\"a\",\"exp\":%lld}", (long long)(now + 600));
	ck_assert_int_eq(check(claims, NULL, now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "sub"));
	snprintf(claims, sizeof claims, "{\"sub\":\"s\",\"acr\":\"a\",\"exp\":%lld}", (long long)(now + 600));
	ck_assert_int_eq(check(claims, NULL, now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "iss"));
	snprintf(claims, sizeof claims, "{\"sub\":\"s\",\"iss\":\"i\",\"exp\":%lld}", (long long)(now + 600));
	ck_assert_int_eq(check(claims, NULL, now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "acr"));
	snprintf(claims, sizeof claims, "{\"sub\":\"s\",\"iss\":\"i\",\"acr\":\"a\",\"exp\":%lld}", (long long)(now + 600));
	ck_assert_int_eq(check(claims, "i", now, &why), ST_OK);
	ck_assert_int_eq(check(claims, "other", now, &why), ST_DENIED);
	ck_assert_ptr_nonnull(strstr(why, "issuer"));
}
END_TEST

/* The base64url segment of token before its first '.', decoded; caller frees. */
static char *first_segment_dup(const char *token)
{
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	char *text;

	ck_assert_int_eq(crypto_b64url_decode_dup(token, (size_t)(strchr(token, '.') - token), &raw, &raw_len),
			 ST_OK);
	text = strndup((const char *)raw, raw_len);
	free(raw);
	return text;
}

START_TEST(hs256_sign_round_trip)
{
	struct json_object *claims = json_object_new_object(), *v;
	char *token = NULL, *sig = NULL, *input, *header;
	struct jwt *jwt = NULL;

	json_object_object_add(claims, "name", json_object_new_string("Zoë"));
	json_object_object_add(claims, "exp", json_object_new_int64(1800000300));
	ck_assert_int_eq(jwt_sign_hs256_dup("app_64f1c2", claims, "secret", 6, &token), ST_OK);
	/* Zendesk messaging picks the signing key by kid: the header is these three, in order. */
	header = first_segment_dup(token);
	ck_assert_str_eq(header, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"app_64f1c2\"}");
	ck_assert_int_eq(jwt_parse(token, strlen(token), &jwt), ST_OK);
	ck_assert_str_eq(jwt_alg(jwt), "HS256");
	ck_assert_str_eq(jwt_kid(jwt), "app_64f1c2");
	ck_assert(json_object_object_get_ex(jwt_claims(jwt), "name", &v));
	ck_assert_str_eq(json_object_get_string(v), "Zoë");
	ck_assert_int_eq(json_object_object_length(jwt_claims(jwt)), 2);
	input = strndup(token, (size_t)(strrchr(token, '.') - token));
	ck_assert_int_eq(jwt_hs256_signature_dup(input, "secret", 6, &sig), ST_OK);
	ck_assert_str_eq(strrchr(token, '.') + 1, sig);
	free(header);
	free(input);
	free(sig);
	free(token);
	jwt_free(jwt);
	json_object_put(claims);
}
END_TEST

START_TEST(payload_parser)
{
	char *name = NULL, *email = NULL, longname[400];
	const char *why;
	static const char *const bad[] = {
		"", "[]", "{\"name\":\"A\"}", "{\"email\":\"a@b.co\"}", "{\"name\":\"\",\"email\":\"a@b.co\"}",
		"{\"name\":\"A\",\"email\":\"a@b\"}", "{\"name\":\"A\",\"email\":\"a b@c.co\"}",
		"{\"name\":\"A\",\"email\":\"a@@c.co\"}", "{\"name\":\"A\",\"email\":\"<a>@c.co\"}",
		"{\"name\":\"A\",\"email\":\"a@c..co\"}", "{\"name\":\"A\\n\",\"email\":\"a@c.co\"}",
		"{\"name\":\"\xc3\",\"email\":\"a@c.co\"}", "{\"name\":1,\"email\":\"a@c.co\"}",
		"{\"name\":\"A\\u0000B\",\"email\":\"a@c.co\"}", "{\"name\":\"A\",\"email\":\"a@c.co\\u0000x\"}",
	};

	static const char good[] = "{\"name\":\"Zoë\",\"email\":\"zoe@shop.example\",\"x\":1}";

	ck_assert_int_eq(identity_parse_payload(good, strlen(good), &name, &email, &why), ST_OK);
	ck_assert_str_eq(name, "Zoë");
	ck_assert_str_eq(email, "zoe@shop.example");
	free(name);
	free(email);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ck_assert_msg(identity_parse_payload(bad[i], strlen(bad[i]), &name, &email, &why) == ST_INVALID,
			      "%s", bad[i]);
		ck_assert_ptr_null(name);
	}
	snprintf(longname, sizeof longname, "{\"name\":\"%0256d\",\"email\":\"a@c.co\"}", 0);
	ck_assert_int_eq(identity_parse_payload(longname, strlen(longname), &name, &email, &why), ST_INVALID);
	ck_assert_ptr_nonnull(strstr(why, "255"));
}
END_TEST

START_TEST(anonymous_placeholder)
{
	char *n1, *e1, *n2, *e2, *n3, *e3;

	ck_assert_int_eq(identity_anonymous("customer-42", &n1, &e1), ST_OK);
	ck_assert_int_eq(identity_anonymous("customer-42", &n2, &e2), ST_OK);
	ck_assert_int_eq(identity_anonymous("customer-43", &n3, &e3), ST_OK);
	ck_assert_str_eq(n1, n2);
	ck_assert_str_eq(e1, e2);
	ck_assert_str_ne(e1, e3);
	ck_assert_int_eq((int)strlen(n1), 12);
	ck_assert_ptr_nonnull(strstr(e1, "@anonymous.invalid"));
	free(n1); free(e1); free(n2); free(e2); free(n3); free(e3);
}
END_TEST

/* Encrypts like node-rsa's defaults: OAEP with SHA-1, 214-byte chunks, blocks
 * concatenated, standard base64. */
static char *encrypt_payload(const char *pub_pem, const char *text)
{
	BIO *bio = BIO_new_mem_buf(pub_pem, -1);
	EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	size_t len = strlen(text), chunk = 214, total = 0;
	unsigned char cipher[4096];
	char *out = malloc(8192);

	for (size_t off = 0; off < len; off += chunk) {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
		size_t n = sizeof cipher - total;
		ck_assert_int_eq(EVP_PKEY_encrypt_init(ctx), 1);
		EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
		ck_assert_int_eq(EVP_PKEY_encrypt(ctx, cipher + total, &n, (const unsigned char *)text + off,
						  len - off < chunk ? len - off : chunk), 1);
		total += n;
		EVP_PKEY_CTX_free(ctx);
	}
	EVP_EncodeBlock((unsigned char *)out, cipher, (int)total);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return out;
}

START_TEST(payload_decryption)
{
	char *priv = NULL, *pub = NULL, *priv2 = NULL, *pub2 = NULL, *plain = NULL, *b64text;
	char text[700], untampered;
	size_t plain_len = 0;
	char *keys[2];

	ck_assert_int_eq(crypto_rsa_generate_dup(2048, &priv, &pub), ST_OK);
	ck_assert_int_eq(crypto_rsa_generate_dup(2048, &priv2, &pub2), ST_OK);
	snprintf(text, sizeof text, "{\"name\":\"%0500d\",\"email\":\"a@c.co\"}", 7);
	b64text = encrypt_payload(pub, text);
	keys[0] = priv2;
	keys[1] = priv;
	/* The second key opens it: a rotated-out key still decrypts. */
	ck_assert_int_eq(identity_decrypt_payload_dup(b64text, strlen(b64text), keys, 2, &plain, &plain_len), ST_OK);
	ck_assert_uint_eq(plain_len, strlen(text));
	ck_assert_str_eq(plain, text);
	free(plain);
	ck_assert_int_eq(identity_decrypt_payload_dup(b64text, strlen(b64text), keys, 1, &plain, &plain_len), ST_INVALID);
	ck_assert_int_eq(identity_decrypt_payload_dup(b64text, 100, keys, 2, &plain, &plain_len), ST_INVALID);
	ck_assert_int_eq(identity_decrypt_payload_dup("%%%", 3, keys, 2, &plain, &plain_len), ST_INVALID);
	untampered = b64text[10];
	b64text[10] = untampered == 'A' ? 'B' : 'A';
	ck_assert_int_eq(identity_decrypt_payload_dup(b64text, strlen(b64text), keys, 2, &plain, &plain_len), ST_INVALID);
	ck_assert_ptr_null(plain);
	/* Each key's decrypter is kept per process: the refusals leave it fit for the next payload. */
	b64text[10] = untampered;
	ck_assert_int_eq(identity_decrypt_payload_dup(b64text, strlen(b64text), keys, 2, &plain, &plain_len), ST_OK);
	ck_assert_str_eq(plain, text);
	free(plain);
	free(b64text);
	free(priv); free(pub); free(priv2); free(pub2);
}
END_TEST

static Suite *jwt_suite(void)
{
	Suite *s = suite_create("jwt");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rfc7515_a1_hs256);
	tcase_add_test(tc, rfc7515_a2_rs256);
	tcase_add_test(tc, hs256_tokens_are_not_rs256);
	tcase_add_test(tc, parser_refusals);
	tcase_add_test(tc, claim_rules);
	tcase_add_test(tc, hs256_sign_round_trip);
	tcase_add_test(tc, payload_parser);
	tcase_add_test(tc, anonymous_placeholder);
	tcase_add_test(tc, payload_decryption);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jwt_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

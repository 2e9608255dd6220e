/* lib/appcreds.c — app credentials and other tokens, kept in the secrets table as a SHA-256. */
#include "appcreds.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "status.h"

/* A fast hash is enough: the credentials are 256 random bits, not a password. */
static const char appcreds_secret[] = "app.credentials_sha256";

static int hash_b64_dup(const char *token, char **out)
{
	unsigned char digest[CRYPTO_SHA256_LEN];
	int st = crypto_sha256(token, strlen(token), digest);

	return st == ST_OK ? crypto_b64url_encode_dup(digest, sizeof digest, out) : st;
}

int appcreds_token_new_dup(struct db *db, const char *secret, char **out)
{
	char *token = NULL, *hash = NULL;
	int st = crypto_token_new(32, &token);

	if (st == ST_OK)
		st = hash_b64_dup(token, &hash);
	if (st == ST_OK)
		st = config_secret_put(db, secret, hash);
	free(hash);
	if (st != ST_OK) {
		free(token);
		token = NULL;
	}
	*out = token;
	return st;
}

int appcreds_token_check(struct db *db, const char *secret, const char *presented)
{
	char *want = NULL, *got = NULL;
	int st = config_secret_get_dup(db, secret, &want);

	if (st == ST_OK && !want)
		st = ST_DENIED;
	if (st == ST_OK)
		st = hash_b64_dup(presented ? presented : "", &got);
	if (st == ST_OK && !(strlen(got) == strlen(want) && crypto_equal(got, want, strlen(want))))
		st = ST_DENIED;
	free(want);
	free(got);
	return st;
}

int appcreds_token_is_set(struct db *db, const char *secret, int *out)
{
	char *want = NULL;
	int st = config_secret_get_dup(db, secret, &want);

	*out = want != NULL;
	free(want);
	return st;
}

int appcreds_new_dup(struct db *db, char **out)
{
	return appcreds_token_new_dup(db, appcreds_secret, out);
}

int appcreds_check(struct db *db, const char *presented)
{
	return appcreds_token_check(db, appcreds_secret, presented);
}

int appcreds_is_set(struct db *db, int *out)
{
	return appcreds_token_is_set(db, appcreds_secret, out);
}

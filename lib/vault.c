/* lib/vault.c — AES-256-GCM sealing over OpenSSL, and the key file. */
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "crypto.h"
#include "log.h"
#include "status.h"

#define VAULT_NONCE_LEN 12
#define VAULT_TAG_LEN 16

/* The keys of this process: [0] the key file, [1] a rotation's new key when one is
 * under way. Reloaded when a value does not open, since another process may have
 * rotated the key since they were read. */
static unsigned char vault_keys[2][VAULT_KEY_LEN];
static int vault_have[2];
static char vault_path[4096];

const char *vault_key_path(void)
{
	const char *p = getenv("DESKBRIDGE_KEY_FILE");

	if (p && *p)
		return p;
	snprintf(vault_path, sizeof vault_path, "%s.key", app_db_path());
	return vault_path;
}

static void new_key_path(char *out, size_t size)
{
	snprintf(out, size, "%s.new", vault_key_path());
}

static int write_key_file(const char *path)
{
	unsigned char key[VAULT_KEY_LEN];
	int fd, st = crypto_random(key, sizeof key);

	if (st != ST_OK)
		return st;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		OPENSSL_cleanse(key, sizeof key);
		if (errno == EEXIST)
			return ST_OK;
		log_error("cannot create the key file %s: %s", path, strerror(errno));
		return ST_IO;
	}
	if (write(fd, key, sizeof key) != (ssize_t)sizeof key || fsync(fd) != 0)
		st = ST_IO;
	close(fd);
	OPENSSL_cleanse(key, sizeof key);
	return st;
}

/* ST_NOT_FOUND when the file does not exist; a file others may read is refused. */
static int read_key_file(const char *path, unsigned char key[VAULT_KEY_LEN])
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC), st = ST_OK;

	if (fd < 0)
		return errno == ENOENT ? ST_NOT_FOUND : ST_IO;
	if (fstat(fd, &sb) != 0 || (sb.st_mode & 077)) {
		log_error("the key file %s must be readable by its owner only (chmod 600)", path);
		st = ST_DENIED;
	} else if (read(fd, key, VAULT_KEY_LEN) != VAULT_KEY_LEN) {
		log_error("the key file %s is not a deskbridge key", path);
		st = ST_IO;
	}
	close(fd);
	return st;
}

/* What this process opened last, by sealed text and label: handlers open the same few
 * secrets (the service key, the shared secret) on every request, and opening one costs
 * more than the rest of a token check bar the RSA. Only a value that opened is kept,
 * and only until the keys are read again: a retired key opens nothing, remembered or not. */
#define VAULT_MEMO_SLOTS 8
static struct {
	char *stored, *label, *plain;   /* owned; plain cleansed when replaced */
} memo[VAULT_MEMO_SLOTS];
static size_t memo_next;

static void memo_clear(size_t i)
{
	if (memo[i].plain)
		OPENSSL_cleanse(memo[i].plain, strlen(memo[i].plain));
	free(memo[i].plain);
	free(memo[i].stored);
	free(memo[i].label);
	memo[i].plain = memo[i].stored = memo[i].label = NULL;
}

static void memo_forget_all(void)
{
	for (size_t i = 0; i < VAULT_MEMO_SLOTS; i++)
		memo_clear(i);
}

static int memo_find_dup(const char *stored, const char *label, char **out)
{
	for (size_t i = 0; i < VAULT_MEMO_SLOTS; i++)
		if (memo[i].stored && strcmp(memo[i].stored, stored) == 0 && strcmp(memo[i].label, label) == 0)
			return (*out = strdup(memo[i].plain)) ? ST_OK : ST_NOMEM;
	return ST_NOT_FOUND;
}

static void memo_keep(const char *stored, const char *label, const char *plain)
{
	size_t i = memo_next;

	memo_next = (memo_next + 1) % VAULT_MEMO_SLOTS;
	memo_clear(i);
	memo[i].stored = strdup(stored);
	memo[i].label = strdup(label);
	memo[i].plain = strdup(plain);
	if (!memo[i].stored || !memo[i].label || !memo[i].plain)
		memo_clear(i);
}

static int load_keys(void)
{
	char next[4200];
	int st = read_key_file(vault_key_path(), vault_keys[0]);

	memo_forget_all();
	vault_have[0] = st == ST_OK;
	if (st == ST_NOT_FOUND)
		log_error("the key file %s is missing: run deskbridge-admin init", vault_key_path());
	if (st != ST_OK)
		return st == ST_NOT_FOUND ? ST_IO : st;
	new_key_path(next, sizeof next);
	vault_have[1] = read_key_file(next, vault_keys[1]) == ST_OK;
	return ST_OK;
}

int vault_load(void)
{
	return load_keys();
}

int vault_key_create(void)
{
	return write_key_file(vault_key_path());
}

static int seal_with(const unsigned char key[VAULT_KEY_LEN], const char *plain, const char *label,
		     char **out)
{
	size_t len = strlen(plain);
	unsigned char *buf = malloc(VAULT_NONCE_LEN + len + VAULT_TAG_LEN);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	char *b64 = NULL;
	int n = 0, st = buf && ctx ? crypto_random(buf, VAULT_NONCE_LEN) : ST_NOMEM;

	if (st == ST_OK &&
	    (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) != 1 ||
	     EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)label, (int)strlen(label)) != 1 ||
	     EVP_EncryptUpdate(ctx, buf + VAULT_NONCE_LEN, &n, (const unsigned char *)plain, (int)len) != 1 ||
	     EVP_EncryptFinal_ex(ctx, buf + VAULT_NONCE_LEN + n, &n) != 1 ||
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, VAULT_TAG_LEN, buf + VAULT_NONCE_LEN + len) != 1))
		st = ST_CRYPTO;
	if (st == ST_OK)
		st = crypto_b64url_encode_dup(buf, VAULT_NONCE_LEN + len + VAULT_TAG_LEN, &b64);
	if (st == ST_OK) {
		*out = malloc(strlen(VAULT_PREFIX) + strlen(b64) + 1);
		if (*out)
			sprintf(*out, "%s%s", VAULT_PREFIX, b64);
		else
			st = ST_NOMEM;
	}
	EVP_CIPHER_CTX_free(ctx);
	free(b64);
	free(buf);
	return st;
}

static int open_with(const unsigned char key[VAULT_KEY_LEN], const unsigned char *raw, size_t len,
		     const char *label, char **out)
{
	size_t clen = len - VAULT_NONCE_LEN - VAULT_TAG_LEN;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	char *plain = malloc(clen + 1);
	int n = 0, st = ST_OK;

	if (!ctx || !plain)
		st = ST_NOMEM;
	else if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) != 1 ||
		 EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)label, (int)strlen(label)) != 1 ||
		 EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, raw + VAULT_NONCE_LEN, (int)clen) != 1 ||
		 EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, VAULT_TAG_LEN,
				     (void *)(raw + VAULT_NONCE_LEN + clen)) != 1 ||
		 EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n, &n) != 1)
		st = ST_CRYPTO;
	EVP_CIPHER_CTX_free(ctx);
	if (st != ST_OK) {
		free(plain);
		return st;
	}
	plain[clen] = '\0';
	*out = plain;
	return ST_OK;
}

int vault_seal_dup(const char *plain, const char *label, char **out)
{
	int st = vault_have[0] ? ST_OK : load_keys();

	return st == ST_OK ? seal_with(vault_keys[0], plain, label, out) : st;
}

int vault_check_sealed(const char *stored, const char *label)
{
	if (strncmp(stored, VAULT_PREFIX, strlen(VAULT_PREFIX)) == 0)
		return ST_OK;
	log_error("the secret %s in the database is not sealed, so it is refused: enter it again", label);
	return ST_DENIED;
}

int vault_unseal_dup(const char *stored, const char *label, char **out)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int st;

	*out = NULL;
	st = vault_check_sealed(stored, label);
	if (st != ST_OK)
		return st;
	st = memo_find_dup(stored, label, out);
	if (st != ST_NOT_FOUND)
		return st;
	st = crypto_b64url_decode_dup(stored + strlen(VAULT_PREFIX), strlen(stored + strlen(VAULT_PREFIX)),
				      &raw, &len);
	if (st != ST_OK || len < VAULT_NONCE_LEN + VAULT_TAG_LEN) {
		free(raw);
		return ST_CRYPTO;
	}
	st = ST_CRYPTO;
	for (int attempt = 0; attempt < 2 && st == ST_CRYPTO; attempt++) {
		if ((attempt == 1 || !vault_have[0]) && (st = load_keys()) != ST_OK)
			break;
		st = open_with(vault_keys[0], raw, len, label, out);
		if (st == ST_CRYPTO && vault_have[1])
			st = open_with(vault_keys[1], raw, len, label, out);
	}
	free(raw);
	if (st == ST_CRYPTO)
		log_error("the secret %s does not open with the key file %s", label, vault_key_path());
	if (st == ST_OK)
		memo_keep(stored, label, *out);
	return st;
}

int vault_rekey_begin(void)
{
	char next[4200];
	int st;

	new_key_path(next, sizeof next);
	unlink(next);
	st = write_key_file(next);
	return st == ST_OK ? load_keys() : st;
}

int vault_reseal_dup(const char *stored, const char *label, char **out)
{
	char *plain = NULL;
	int st = vault_have[1] ? vault_unseal_dup(stored, label, &plain) : ST_INVALID;

	if (st == ST_OK)
		st = seal_with(vault_keys[1], plain, label, out);
	if (plain) {
		OPENSSL_cleanse(plain, strlen(plain));
		free(plain);
	}
	return st;
}

int vault_rekey_finish(void)
{
	char next[4200];

	new_key_path(next, sizeof next);
	if (rename(next, vault_key_path()) != 0) {
		log_error("cannot move %s to %s: %s", next, vault_key_path(), strerror(errno));
		return ST_IO;
	}
	return load_keys();
}

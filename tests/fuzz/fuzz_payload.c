/* tests/fuzz/fuzz_payload.c — libFuzzer harness for the user_payload decoder: base64,
 * RSA-OAEP block decryption with a fixed key, then the {"name", "email"} parser, which
 * also gets the raw input so that it is fuzzed beyond what decrypts. */
#include <stdint.h>
#include <stdlib.h>

#include "crypto.h"
#include "identity.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *pub = NULL, *plain = NULL, *name = NULL, *email = NULL;
	size_t plain_len = 0;
	const char *why;

	if (!fuzz_key && crypto_rsa_generate_dup(2048, &fuzz_key, &pub) == ST_OK)
		free(pub);
	if (identity_decrypt_payload_dup((const char *)data, size, &fuzz_key, 1, &plain, &plain_len) == ST_OK) {
		if (identity_parse_payload(plain, plain_len, &name, &email, &why) == ST_OK) {
			free(name);
			free(email);
		}
		free(plain);
	}
	if (identity_parse_payload((const char *)data, size, &name, &email, &why) == ST_OK) {
		free(name);
		free(email);
	}
	return 0;
}

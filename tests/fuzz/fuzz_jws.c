/* tests/fuzz/fuzz_jws.c — libFuzzer harness for the compact JWS parser and the claim
 * checks that run on whatever it accepts. */
#include <stddef.h>
#include <stdint.h>

#include "jwt.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwt_claim_rules rules = {"https://shop.example", 60};
	struct jwt *jwt = NULL;
	const char *why;

	if (jwt_parse((const char *)data, size, &jwt) == ST_OK) {
		(void)jwt_alg(jwt);
		(void)jwt_kid(jwt);
		(void)jwt_check_claims(jwt, &rules, 1800000000, &why);
		jwt_free(jwt);
	}
	return 0;
}

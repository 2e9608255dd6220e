/* tests/fuzz/fuzz_webhook.c — libFuzzer harness for the driver's webhook parser: any JSON
 * text, parsed as json-c would from a request body, then mapped to desk events. */
#include <json-c/json.h>
#include <stdint.h>

#include "desk.h"
#include "zendesk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *delivery;
	static struct desk_events events;

	if (!tok)
		return 0;
	delivery = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	/* The corpus's deliveries are for app_5f1a: their events are parsed, others' are not. */
	if (delivery)
		zendesk_parse_webhook(delivery, "app_5f1a", &events);
	json_object_put(delivery);
	json_tokener_free(tok);
	return 0;
}

/* tests/fuzz/fuzz_image.c — libFuzzer harness for the avatar check: format sniffing and
 * the full decode with libpng, libjpeg-turbo and giflib behind lib/image. */
#include <stdint.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_info info;

	image_inspect(data, size, 50, 50, &info);
	return 0;
}

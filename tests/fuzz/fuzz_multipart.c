/* tests/fuzz/fuzz_multipart.c — libFuzzer harness for a visitor's upload: the multipart
 * body (its first line is taken as the Content-Type) and the type check of the file. */
#include <stdint.h>
#include <string.h>

#include "multipart.h"
#include "status.h"
#include "upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ctype[256];
	const uint8_t *nl = memchr(data, '\n', size < sizeof ctype ? size : sizeof ctype - 1);
	struct multipart_file file;
	const char *why;
	size_t n;

	if (!nl)
		return 0;
	n = (size_t)(nl - data);
	memcpy(ctype, data, n);
	ctype[n] = '\0';
	if (memchr(ctype, '\0', n))
		return 0;
	if (multipart_parse_file(ctype, nl + 1, size - n - 1, &file, &why) == ST_OK)
		upload_sniff(file.data, file.len);
	return 0;
}

/* bench/hello.c — the baseline of the benchmarks: the smallest useful FastCGI responder
 * (libfcgi, one JSON line), run behind the same lighttpd as deskbridge, so a ratio
 * against it measures deskbridge's own cost, not the machine's.
 *
 * As written in libfcgi's examples, it ends each connection the library's way: shutdown,
 * then a wait for the web server to close. With DESKBRIDGE_HELLO_CLOSE_AT_ONCE=1 it closes
 * at once, as deskbridge's handlers do on a Unix socket, which isolates deskbridge's
 * own work from that difference. It reads the whole request body, as every handler must, so
 * that a POST measures the same transfer of bytes as deskbridge's (bench/token_bench.py). */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	const char *at_once = getenv("DESKBRIDGE_HELLO_CLOSE_AT_ONCE");
	int close_at_once = at_once && strcmp(at_once, "1") == 0;
	FCGX_Request req;
	char body[4096];

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
			  "Cache-Control: no-store\r\n\r\n{\"ok\":true}", req.out);
		while (FCGX_GetStr(body, sizeof body, req.in) > 0)
			;
		if (close_at_once && FCGX_HasSeenEOF(req.in))
			FCGX_Detach(&req);
		FCGX_Finish_r(&req);
	}
	return 0;
}

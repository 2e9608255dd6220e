/* bench/hello.c — the baseline of the benchmarks: the smallest useful FastCGI responder
 * (libfcgi, one JSON line), run behind the same lighttpd as deskbridge, so a ratio
 * against it measures deskbridge's own cost, not the machine's. */
#include <fcgiapp.h>

int main(void)
{
	FCGX_Request req;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
			  "Cache-Control: no-store\r\n\r\n{\"ok\":true}", req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}

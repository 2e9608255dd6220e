/* lib/timefmt.c — RFC 3339 formatting. */
#include "timefmt.h"

#include <time.h>

char *timefmt_rfc3339(int64_t t, char out[TIMEFMT_LEN])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, TIMEFMT_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

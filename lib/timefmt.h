/* lib/timefmt.h — the API's time format: RFC 3339 UTC, "2026-11-24T10:00:00Z". */
#ifndef DESKBRIDGE_TIMEFMT_H
#define DESKBRIDGE_TIMEFMT_H

#include <stdint.h>

#define TIMEFMT_LEN 32

/* Writes the Unix time t into out and returns out. */
char *timefmt_rfc3339(int64_t t, char out[TIMEFMT_LEN]);

#endif

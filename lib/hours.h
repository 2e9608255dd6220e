/* lib/hours.h — the admin's business hours: a weekly schedule ("mon-fri 09:00-17:00;
 * sat 10:00-14:00") in a named IANA time zone, read from the system's tzdata. Only
 * parses, checks and evaluates; the values live in config (hours.*). Not: what a
 * visitor is told (availability.h). */
#ifndef DESKBRIDGE_HOURS_H
#define DESKBRIDGE_HOURS_H

#include <stdint.h>

/* Where zone names are looked up (Debian's tzdata). */
#define HOURS_ZONEINFO_DIR "/usr/share/zoneinfo"

/* NULL when v names a zone under HOURS_ZONEINFO_DIR ("Europe/Berlin"), else why not. */
const char *hours_check_zone(const char *v);
/* NULL when v is a schedule of the grammar above, else why not (a static phrase). */
const char *hours_check_weekly(const char *v);

/* *open 1 when now falls inside weekly in zone; weekly NULL or empty: always open; zone
 * NULL: UTC. ST_INVALID for a schedule or zone that does not check. The zone is applied
 * with setenv("TZ") and tzset(), which is process-wide: handlers serve one request at a
 * time, and the previous TZ is restored before returning. */
int hours_open_at(const char *zone, const char *weekly, int64_t now, int *open);

#endif

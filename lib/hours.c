/* lib/hours.c — business hours: the schedule's grammar and the time zone. */
#include "hours.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "status.h"

#define HOURS_RANGES_MAX 32

struct hours_range {
	unsigned days;      /* bit 0 = Sunday, as tm_wday */
	int from, to;       /* minutes of the day, from < to <= 1440 */
};

struct hours_schedule {
	struct hours_range range[HOURS_RANGES_MAX];
	size_t n;
};

static const char *const hours_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const char hours_shape[] = "must be days and times such as \"mon-fri 09:00-17:00; sat 10:00-14:00\"";

static char hours_why[160];

static const char *bad(const char *what, const char *p, size_t n)
{
	snprintf(hours_why, sizeof hours_why, "%s: \"%.*s\" %s", hours_shape, (int)(n > 20 ? 20 : n), p, what);
	return hours_why;
}

static int day_of(const char *p)
{
	for (int d = 0; d < 7; d++)
		if (strncasecmp(p, hours_days[d], 3) == 0 && !isalpha((unsigned char)p[3]))
			return d;
	return -1;
}

/* "mon", "mon-fri", "sat,sun", "fri-mon" (wrapping over the weekend). */
static const char *parse_days(const char **pp, unsigned *days)
{
	const char *p = *pp;

	*days = 0;
	for (;;) {
		int a = day_of(p), b;
		if (a < 0)
			return bad("is not a day (mon, tue, wed, thu, fri, sat, sun)", p, strcspn(p, " ,-;"));
		p += 3;
		b = a;
		if (*p == '-') {
			if ((b = day_of(p + 1)) < 0)
				return bad("is not a day (mon, tue, wed, thu, fri, sat, sun)", p + 1, strcspn(p + 1, " ,-;"));
			p += 4;
		}
		for (int d = a;; d = (d + 1) % 7) {
			*days |= 1u << d;
			if (d == b)
				break;
		}
		if (*p != ',')
			break;
		p++;
	}
	*pp = p;
	return NULL;
}

static const char *parse_time(const char **pp, int *minutes)
{
	const char *p = *pp;

	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
	    !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
		return bad("is not a time (HH:MM)", p, strcspn(p, " ,-;"));
	*minutes = ((p[0] - '0') * 10 + p[1] - '0') * 60 + (p[3] - '0') * 10 + p[4] - '0';
	if ((p[3] - '0') > 5 || *minutes > 24 * 60)
		return bad("is not a time (00:00 to 24:00)", p, 5);
	*pp = p + 5;
	return NULL;
}

static const char *parse(const char *v, struct hours_schedule *s)
{
	const char *p = v, *why;

	s->n = 0;
	while (*p) {
		unsigned days;
		p += strspn(p, " \t");
		if (!*p)
			break;
		if ((why = parse_days(&p, &days)) != NULL)
			return why;
		if (*p != ' ' && *p != '\t')
			return bad("should be followed by a space and times", p, strcspn(p, ";"));
		p += strspn(p, " \t");
		for (;;) {
			struct hours_range *r = &s->range[s->n];
			const char *start = p;
			if (s->n == HOURS_RANGES_MAX)
				return "must have at most 32 time ranges";
			if ((why = parse_time(&p, &r->from)) != NULL)
				return why;
			if (*p != '-')
				return bad("should be a range such as 09:00-17:00", start, strcspn(start, " ;,"));
			p++;
			if ((why = parse_time(&p, &r->to)) != NULL)
				return why;
			if (r->to <= r->from)
				return bad("must end after it starts", start, 11);
			r->days = days;
			s->n++;
			if (*p != ',')
				break;
			p++;
		}
		p += strspn(p, " \t");
		if (*p && *p != ';')
			return bad("is not expected here: separate days with \";\"", p, strcspn(p, ";"));
		if (*p)
			p++;
	}
	return s->n ? NULL : hours_shape;
}

const char *hours_check_weekly(const char *v)
{
	struct hours_schedule s;

	return parse(v, &s);
}

const char *hours_check_zone(const char *v)
{
	static const char why[] = "must be a time zone name from the tz database, such as Europe/Berlin or UTC";
	char path[512], magic[4];
	FILE *f;
	int ok;

	if (!*v || *v == '/' || strstr(v, "..") || strlen(v) > 200)
		return why;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return why;
	snprintf(path, sizeof path, "%s/%s", HOURS_ZONEINFO_DIR, v);
	f = fopen(path, "rb");
	if (!f)
		return why;
	/* A directory opens too (Europe), and is no zone: a zone file starts with "TZif". */
	ok = fread(magic, 1, sizeof magic, f) == sizeof magic && memcmp(magic, "TZif", 4) == 0;
	fclose(f);
	return ok ? NULL : why;
}

static int local_time(const char *zone, int64_t now, struct tm *out)
{
	char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	time_t t = (time_t)now;
	int ok;

	if (setenv("TZ", zone ? zone : "UTC", 1) != 0) {
		free(saved);
		return ST_NOMEM;
	}
	tzset();
	ok = localtime_r(&t, out) != NULL;
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	return ok ? ST_OK : ST_INVALID;
}

int hours_open_at(const char *zone, const char *weekly, int64_t now, int *open)
{
	struct hours_schedule s;
	struct tm tm;
	int minute, st;

	*open = 1;
	if (!weekly || !*weekly)
		return ST_OK;
	if (parse(weekly, &s) != NULL || (zone && hours_check_zone(zone) != NULL))
		return ST_INVALID;
	st = local_time(zone, now, &tm);
	if (st != ST_OK)
		return st;
	minute = tm.tm_hour * 60 + tm.tm_min;
	*open = 0;
	for (size_t i = 0; i < s.n; i++)
		if ((s.range[i].days & (1u << tm.tm_wday)) && minute >= s.range[i].from && minute < s.range[i].to)
			*open = 1;
	return ST_OK;
}

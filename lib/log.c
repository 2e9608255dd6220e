/* lib/log.c — stderr logging, one record per line. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "deskbridge";

void log_init(const char *program)
{
	log_program = program;
}

/* Control characters in a logged value could forge extra log lines. */
static void log_sanitized(char *line)
{
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
	char msg[1024];
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	vsnprintf(msg, sizeof msg, fmt, ap);
	log_sanitized(msg);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s[%ld] %s: %s\n", stamp, log_program, (long)getpid(), level, msg);
	fflush(stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("error", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("info", fmt, ap);
	va_end(ap);
}

void log_request(const char *method, const char *path, int status, double ms)
{
	log_info("%s %s %d %.1fms", method, path, status, ms);
}

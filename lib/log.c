/* lib/log.c — stderr logging, one record per line. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "deskbridge";
static long log_pid; /* 0 until log_init: then getpid() on each line */

void log_init(const char *program)
{
	log_program = program;
	log_pid = (long)getpid();
}

/* Control characters in a logged value could forge extra log lines. */
static void log_sanitized(char *text)
{
	for (char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* Every request logs a line, so the line is built in one buffer and leaves in one
 * write(): stdio's unbuffered stderr and a fresh timestamp each time cost a poll as much
 * as its SQL. One write also keeps lines from two processes sharing a log whole. */
static void log_line(const char *level, const char *fmt, va_list ap)
{
	static time_t stamped = -1;
	static char stamp[32];
	char line[1200];
	time_t now = time(NULL);
	struct tm tm;
	size_t len;
	int head;

	if (now != stamped) {
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
		stamped = now;
	}
	head = snprintf(line, sizeof line, "%s %s[%ld] %s: ", stamp, log_program,
			log_pid ? log_pid : (long)getpid(), level);
	if (head < 0 || (size_t)head >= sizeof line - 1)
		return;
	vsnprintf(line + head, sizeof line - (size_t)head - 1, fmt, ap);
	log_sanitized(line + head);
	len = strlen(line);
	line[len++] = '\n';
	for (size_t off = 0; off < len;) {
		ssize_t n = write(STDERR_FILENO, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
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

void log_request(const char *method, const char *path, int status, long long us)
{
	long long tenths = (us + 50) / 100;

	log_info("%s %s %d %lld.%lldms", method, path, status, tenths / 10, tenths % 10);
}

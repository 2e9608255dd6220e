/* lib/log.h — one-line log records on stderr, which the web server keeps in its
 * error log. Not: request bodies, query strings or secrets, which never reach a log. */
#ifndef DESKBRIDGE_LOG_H
#define DESKBRIDGE_LOG_H

/* Sets the program name every line starts with (a static string, not copied). */
void log_init(const char *program);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The access line: method, path (the caller passes it without the query),
 * status and the time the request took, logged in milliseconds to 0.1. */
void log_request(const char *method, const char *path, int status, long long us);

#endif

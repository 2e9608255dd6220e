/* bench/loadgen.c — the visitors of bench/soak.py: thousands of Web Chat visitors in one
 * epoll loop, so that the load generator costs a small part of the machine it measures
 * (the same visitors in Python asyncio cost more CPU than deskbridge itself).
 *
 * Each visitor polls GET /api/transfers/{id}/events at the poll_after_ms deskbridge
 * answers, with If-None-Match, and posts a message now and then (exponentially
 * distributed, --message-every seconds on average), retried with the same
 * client_message_id as the library does. The visitors share --connections keep-alive
 * connections, as they do behind a reverse proxy; a request waits for a free one, and
 * the wait counts in its latency. 0 (the default) gives each visitor its own, as a
 * browser holds one.
 *
 * Usage: loadgen --port P --visitors FILE --seconds S --message-every M --out FILE
 *        [--connections N] [--drain-seconds D] [--seed N]
 * With --baseline PATH, each visitor instead GETs PATH once a second (say, a hello-world
 * FastCGI handler behind the same lighttpd): the same load with none of deskbridge's work.
 * FILE holds one "transfer_id secret" per line. After S seconds it stops writing, prints
 * "load done" on stdout and keeps polling (unrecorded) until it has read, on stdin, one
 * "transfer_id count" line per visitor and a line "end", and every visitor has seen that
 * many agent messages, or D seconds have passed since "end". Then it writes the results as JSON to
 * --out: request and poll counts, poll latency percentiles, errors by status and code,
 * and per visitor the messages deskbridge accepted (text and seq) and the agent messages
 * seen. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum phase { LOAD, DRAIN };
enum conn_state { CLOSED, CONNECTING, IDLE, SENDING, READING };
enum request_kind { POLL, MESSAGE, BASELINE };

struct accepted {
	int n;
	long seq;
};

struct visitor {
	char *id;     /* owned */
	char *secret; /* owned */
	enum request_kind kind;
	char out[1024];
	size_t out_len;
	struct visitor *next_waiting; /* in the queue for a connection */
	double due, sent_at;
	int heap_at; /* index in the due heap, -1 while a request is out */
	long next;
	char etag[64];
	int poll_ms;
	double next_message;
	int message_n, message_tries, message_pending;
	struct accepted *accepted; /* owned */
	size_t n_accepted, cap_accepted;
	char **seen; /* owned, each owned */
	size_t n_seen, cap_seen;
	long expected; /* agent messages to see before the drain ends; -1 until told */
};

/* A keep-alive connection, lent to one visitor's request at a time. */
struct conn {
	int fd;
	enum conn_state state;
	int reused; /* it has answered before: a reset may be its keep-alive ending */
	struct visitor *v;
	size_t out_off;
	char *in; /* owned */
	size_t in_len, in_cap;
};

struct error_count {
	char key[96];
	long count;
};

static struct {
	int port;
	double seconds, message_every, drain_seconds;
	const char *baseline; /* the path every visitor gets instead, once a second */
	struct visitor *v;
	size_t n;
	struct visitor **heap;
	size_t heap_len;
	struct conn *conns;  /* owned */
	struct conn **free_conns; /* owned: idle or not yet open */
	size_t n_conns, n_free;
	struct visitor *waiting_head, *waiting_tail;
	int ep;
	enum phase phase;
	double load_end, load_started;
	long requests, out_of_sequence;
	double *lat; /* poll latencies in seconds, owned */
	size_t n_lat, cap_lat;
	struct error_count errors[64];
	size_t n_errors;
	double stdin_done; /* when the last line came */
	char stdin_buf[65536];
	size_t stdin_len;
} g;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	if (*cap < need)
		*cap = need;
	p = realloc(p, *cap * size);
	if (!p) {
		perror("loadgen: realloc");
		exit(2);
	}
	return p;
}

static void count_error(const char *key)
{
	size_t i;

	for (i = 0; i < g.n_errors; i++)
		if (strcmp(g.errors[i].key, key) == 0)
			break;
	if (i == g.n_errors) {
		if (g.n_errors == sizeof g.errors / sizeof g.errors[0])
			i = g.n_errors - 1; /* the last slot gathers the rest */
		else
			snprintf(g.errors[g.n_errors++].key, sizeof g.errors[0].key, "%s", key);
	}
	g.errors[i].count++;
}

/* The due heap: the visitor whose next request is soonest on top. */

static void heap_swap(size_t a, size_t b)
{
	struct visitor *t = g.heap[a];

	g.heap[a] = g.heap[b];
	g.heap[b] = t;
	g.heap[a]->heap_at = (int)a;
	g.heap[b]->heap_at = (int)b;
}

static void heap_push(struct visitor *v, double due)
{
	size_t i = g.heap_len++;

	v->due = due;
	g.heap[i] = v;
	v->heap_at = (int)i;
	while (i > 0 && g.heap[(i - 1) / 2]->due > g.heap[i]->due) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct visitor *heap_pop(void)
{
	struct visitor *top = g.heap[0];
	size_t i = 0;

	g.heap[0] = g.heap[--g.heap_len];
	g.heap[0]->heap_at = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < g.heap_len && g.heap[l]->due < g.heap[m]->due)
			m = l;
		if (r < g.heap_len && g.heap[r]->due < g.heap[m]->due)
			m = r;
		if (m == i)
			break;
		heap_swap(i, m);
		i = m;
	}
	top->heap_at = -1;
	return top;
}

static double exponential(double mean)
{
	double u = (rand() + 1.0) / ((double)RAND_MAX + 2.0);

	return -mean * log1p(-u);
}

/* Edge-triggered, both ways, once per connection: no epoll_ctl per request. */
static void watch(struct conn *c)
{
	struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};

	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &e) != 0) {
		perror("loadgen: epoll_ctl");
		exit(2);
	}
}

static void hang_up(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CLOSED;
	c->reused = 0;
	c->in_len = 0;
}

static int open_connection(struct conn *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		count_error("connection: socket");
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
		count_error("connection: connect");
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->state = CONNECTING;
	c->reused = 0;
	watch(c);
	return 0;
}

static void failed(struct conn *c, const char *why);

static void send_some(struct conn *c)
{
	struct visitor *v = c->v;

	while (c->out_off < v->out_len) {
		ssize_t w = write(c->fd, v->out + c->out_off, v->out_len - c->out_off);

		if (w < 0) {
			if (errno != EAGAIN)
				failed(c, "connection: write");
			return;
		}
		c->out_off += (size_t)w;
	}
	c->state = READING;
}

/* The visitor's request goes out on c, opened first if it is not. */
static void lend(struct conn *c, struct visitor *v)
{
	c->v = v;
	c->out_off = 0;
	c->in_len = 0;
	if (c->fd >= 0) {
		c->state = SENDING;
		send_some(c);
	} else if (open_connection(c) != 0) {
		c->v = NULL;
		g.free_conns[g.n_free++] = c;
		heap_push(v, now() + 1.0);
	}
}

/* The connection is free again: the longest-waiting visitor has it, or it waits idle. */
static void give_back(struct conn *c)
{
	struct visitor *v = g.waiting_head;

	c->v = NULL;
	if (!v) {
		g.free_conns[g.n_free++] = c;
		return;
	}
	g.waiting_head = v->next_waiting;
	if (!g.waiting_head)
		g.waiting_tail = NULL;
	lend(c, v);
}

static void start_request(struct visitor *v)
{
	int len;

	if (v->kind == MESSAGE) {
		char body[256];
		int blen = snprintf(body, sizeof body, "{\"client_message_id\":\"c%d\",\"text\":\"%s says %d\"}",
				    v->message_n, v->id, v->message_n);

		len = snprintf(v->out, sizeof v->out,
			       "POST /api/transfers/%s/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			       "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
			       "Content-Length: %d\r\n\r\n%s",
			       v->id, v->secret, blen, body);
	} else if (v->kind == BASELINE) {
		len = snprintf(v->out, sizeof v->out, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", g.baseline);
	} else {
		char match[96] = "";

		if (v->etag[0])
			snprintf(match, sizeof match, "If-None-Match: %s\r\n", v->etag);
		len = snprintf(v->out, sizeof v->out,
			       "GET /api/transfers/%s/events?after=%ld HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			       "Authorization: Bearer %s\r\n%s\r\n",
			       v->id, v->next, v->secret, match);
	}
	v->out_len = (size_t)len;
	v->sent_at = now(); /* a wait for a connection counts, as it would behind a proxy */
	if (g.n_free) {
		lend(g.free_conns[--g.n_free], v);
		return;
	}
	v->next_waiting = NULL;
	if (g.waiting_tail)
		g.waiting_tail->next_waiting = v;
	else
		g.waiting_head = v;
	g.waiting_tail = v;
}

static void wake(struct visitor *v)
{
	double t = now();

	if (g.baseline) {
		v->kind = BASELINE;
	} else if (v->message_pending || (g.phase == LOAD && t >= v->next_message)) {
		if (!v->message_pending) {
			v->message_pending = 1;
			v->message_n++;
			v->message_tries = 0;
		}
		v->kind = MESSAGE;
	} else {
		v->kind = POLL;
	}
	start_request(v);
}

static const char *header(const char *head, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p && p[2] != '\r') {
		p += 2;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *val = p + nlen + 1, *end;

			while (*val == ' ')
				val++;
			end = strstr(val, "\r\n");
			*len = (size_t)(end - val);
			return val;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

static void record_error(int status, const char *body, size_t body_len)
{
	char key[96];
	const char *code = "";
	struct json_object *o = body_len ? json_tokener_parse(body) : NULL, *e, *c;

	if (o && json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "code", &c))
		code = json_object_get_string(c);
	snprintf(key, sizeof key, "%d%s%s", status, *code ? " " : "", code);
	count_error(key);
	json_object_put(o);
}

static void took_events(struct visitor *v, const char *body)
{
	struct json_object *o = json_tokener_parse(body), *x, *events;
	size_t i, n;

	if (!o) {
		count_error("events: not JSON");
		return;
	}
	if (json_object_object_get_ex(o, "poll_after_ms", &x))
		v->poll_ms = json_object_get_int(x);
	if (json_object_object_get_ex(o, "events", &events)) {
		n = json_object_array_length(events);
		for (i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(events, i), *seq, *type, *from, *text;
			long s;

			if (!json_object_object_get_ex(e, "seq", &seq))
				continue;
			s = json_object_get_int64(seq);
			if (s != v->next + 1)
				g.out_of_sequence++;
			v->next = s;
			if (json_object_object_get_ex(e, "type", &type) && json_object_object_get_ex(e, "from", &from) &&
			    json_object_object_get_ex(e, "text", &text) &&
			    strcmp(json_object_get_string(type), "message") == 0 &&
			    strcmp(json_object_get_string(from), "agent") == 0) {
				v->seen = grow(v->seen, &v->cap_seen, v->n_seen + 1, sizeof *v->seen);
				v->seen[v->n_seen++] = strdup(json_object_get_string(text));
			}
		}
	}
	json_object_put(o);
}

static void answered(struct visitor *v, int status, const char *head, const char *body, size_t body_len)
{
	double t = now();
	size_t len;
	const char *val;

	if (g.phase == LOAD)
		g.requests++;
	if (status >= 400)
		record_error(status, body, body_len);
	if (v->kind == MESSAGE) {
		if (status == 202) {
			struct json_object *o = json_tokener_parse(body), *seq;

			v->accepted = grow(v->accepted, &v->cap_accepted, v->n_accepted + 1, sizeof *v->accepted);
			v->accepted[v->n_accepted].n = v->message_n;
			v->accepted[v->n_accepted++].seq =
				o && json_object_object_get_ex(o, "seq", &seq) ? json_object_get_int64(seq) : -1;
			json_object_put(o);
			v->message_pending = 0;
			v->next_message = t + exponential(g.message_every);
			heap_push(v, t);
		} else if (++v->message_tries >= 20) {
			count_error("message given up after 20 tries");
			v->message_pending = 0;
			v->next_message = t + exponential(g.message_every);
			heap_push(v, t);
		} else {
			heap_push(v, t + 0.5);
		}
		return;
	}
	if (g.phase == LOAD) {
		g.lat = grow(g.lat, &g.cap_lat, g.n_lat + 1, sizeof *g.lat);
		g.lat[g.n_lat++] = t - v->sent_at;
	}
	if (v->kind == BASELINE) {
		heap_push(v, t + 1.0);
		return;
	}
	if (status == 200) {
		val = header(head, "ETag", &len);
		if (val && len < sizeof v->etag) {
			memcpy(v->etag, val, len);
			v->etag[len] = '\0';
		}
		took_events(v, body);
	}
	val = status == 429 || status == 503 ? header(head, "Retry-After", &len) : NULL;
	heap_push(v, t + (val ? atof(val) : v->poll_ms / 1000.0));
}

/* 1 when a whole answer was taken, 0 while more is to come, -1 when the answer cannot be read. */
static int take_answer(struct conn *c)
{
	char *end, *body;
	size_t head_len, body_len = 0, len;
	const char *val;
	int status, keep;
	struct visitor *v = c->v;

	c->in[c->in_len] = '\0';
	end = strstr(c->in, "\r\n\r\n");
	if (!end)
		return 0;
	head_len = (size_t)(end - c->in) + 4;
	if (sscanf(c->in, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	if (header(c->in, "Transfer-Encoding", &len))
		return -1;
	val = header(c->in, "Content-Length", &len);
	if (val)
		body_len = strtoul(val, NULL, 10);
	if (c->in_len < head_len + body_len)
		return 0;
	keep = !((val = header(c->in, "Connection", &len)) && strncasecmp(val, "close", 5) == 0);
	body = c->in + head_len;
	body[body_len] = '\0';
	end[2] = '\0';
	answered(v, status, c->in, body, body_len);
	c->in_len = 0;
	if (keep) {
		c->reused = 1;
		c->state = IDLE;
	} else {
		hang_up(c);
	}
	give_back(c);
	return 1;
}

static void failed(struct conn *c, const char *why)
{
	struct visitor *v = c->v;
	int retry = c->reused && c->in_len == 0;

	hang_up(c);
	/* A kept-alive connection the server ended between requests: once more, on a new one. */
	if (retry) {
		lend(c, v);
		return;
	}
	count_error(why);
	heap_push(v, now() + 1.0);
	give_back(c);
}

static void ready(struct conn *c, unsigned events)
{
	if (c->state == IDLE) {
		char b;
		ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

		if (r >= 0 || errno != EAGAIN)
			hang_up(c); /* the server ended a kept-alive connection between requests */
		return;
	}
	if (c->state == CONNECTING) {
		int err = 0;
		socklen_t elen = sizeof err;

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if (err) {
			failed(c, "connection: refused");
			return;
		}
		c->state = SENDING;
	}
	if (c->state == SENDING)
		send_some(c);
	while (c->state == READING) {
		ssize_t r;

		c->in = grow(c->in, &c->in_cap, c->in_len + 16384 + 1, 1);
		r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			failed(c, r == 0 ? "connection: closed" : "connection: reset");
			return;
		}
		c->in_len += (size_t)r;
		if (take_answer(c) < 0) {
			struct visitor *v = c->v;

			count_error("answer: unreadable");
			hang_up(c);
			heap_push(v, now() + 1.0);
			give_back(c);
		}
	}
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct visitor *)a)->id, ((const struct visitor *)b)->id);
}

/* "transfer_id count" lines, then "end": how many agent messages each visitor is owed. */
static void read_stdin(void)
{
	ssize_t r = read(0, g.stdin_buf + g.stdin_len, sizeof g.stdin_buf - g.stdin_len - 1);
	char *line, *nl;

	if (r <= 0) {
		if (r == 0 && !g.stdin_done)
			g.stdin_done = now();
		epoll_ctl(g.ep, EPOLL_CTL_DEL, 0, NULL);
		return;
	}
	g.stdin_len += (size_t)r;
	g.stdin_buf[g.stdin_len] = '\0';
	line = g.stdin_buf;
	while ((nl = strchr(line, '\n'))) {
		char id[128];
		long count;

		*nl = '\0';
		if (strcmp(line, "end") == 0) {
			g.stdin_done = now();
		} else if (sscanf(line, "%127s %ld", id, &count) == 2) {
			struct visitor key = {.id = id}, *v = bsearch(&key, g.v, g.n, sizeof *g.v, by_id);

			if (v)
				v->expected = count;
		}
		line = nl + 1;
	}
	g.stdin_len -= (size_t)(line - g.stdin_buf);
	memmove(g.stdin_buf, line, g.stdin_len);
}

static int drained(void)
{
	size_t i;

	if (!g.stdin_done)
		return 0;
	for (i = 0; i < g.n; i++)
		if (g.v[i].message_pending || (g.v[i].expected >= 0 && (long)g.v[i].n_seen < g.v[i].expected))
			return 0;
	return 1;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double quantile(double q)
{
	size_t i = (size_t)(g.n_lat * q);

	if (!g.n_lat)
		return 0;
	return g.lat[i < g.n_lat ? i : g.n_lat - 1] * 1000.0;
}

static int write_results(const char *path)
{
	struct json_object *o = json_object_new_object(), *lat = json_object_new_object();
	struct json_object *errors = json_object_new_object(), *visitors = json_object_new_object();
	size_t i, j;
	int st;

	qsort(g.lat, g.n_lat, sizeof *g.lat, by_value);
	json_object_object_add(o, "requests", json_object_new_int64(g.requests));
	json_object_object_add(o, "seconds", json_object_new_double(g.load_end - g.load_started));
	json_object_object_add(o, "polls", json_object_new_int64((int64_t)g.n_lat));
	json_object_object_add(lat, "p50", json_object_new_double(quantile(0.5)));
	json_object_object_add(lat, "p99", json_object_new_double(quantile(0.99)));
	json_object_object_add(lat, "p999", json_object_new_double(quantile(0.999)));
	json_object_object_add(lat, "max", json_object_new_double(quantile(1.0)));
	json_object_object_add(o, "latency_ms", lat);
	for (i = 0; i < g.n_errors; i++)
		json_object_object_add(errors, g.errors[i].key, json_object_new_int64(g.errors[i].count));
	json_object_object_add(o, "errors", errors);
	json_object_object_add(o, "out_of_sequence", json_object_new_int64(g.out_of_sequence));
	json_object_object_add(o, "drained", json_object_new_boolean(drained()));
	for (i = 0; i < g.n; i++) {
		struct visitor *v = &g.v[i];
		struct json_object *one = json_object_new_object(), *sent = json_object_new_array(),
				   *seen = json_object_new_array();

		for (j = 0; j < v->n_accepted; j++) {
			struct json_object *pair = json_object_new_array();
			char text[160];

			snprintf(text, sizeof text, "%s says %d", v->id, v->accepted[j].n);
			json_object_array_add(pair, json_object_new_string(text));
			json_object_array_add(pair, json_object_new_int64(v->accepted[j].seq));
			json_object_array_add(sent, pair);
		}
		for (j = 0; j < v->n_seen; j++)
			json_object_array_add(seen, json_object_new_string(v->seen[j]));
		json_object_object_add(one, "sent", sent);
		json_object_object_add(one, "agent_seen", seen);
		json_object_object_add(visitors, v->id, one);
	}
	json_object_object_add(o, "visitors", visitors);
	st = json_object_to_file_ext(path, o, JSON_C_TO_STRING_PLAIN);
	json_object_put(o);
	return st;
}

static void read_visitors(const char *path)
{
	FILE *f = fopen(path, "r");
	char id[128], secret[128];
	size_t cap = 0;

	if (!f) {
		perror(path);
		exit(2);
	}
	while (fscanf(f, "%127s %127s", id, secret) == 2) {
		struct visitor *v;

		g.v = grow(g.v, &cap, g.n + 1, sizeof *g.v);
		v = &g.v[g.n++];
		memset(v, 0, sizeof *v);
		v->id = strdup(id);
		v->secret = strdup(secret);
		v->heap_at = -1;
		v->poll_ms = 1000;
		v->expected = -1;
	}
	fclose(f);
	qsort(g.v, g.n, sizeof *g.v, by_id);
}

static void free_visitors(void)
{
	size_t i, j;

	for (i = 0; i < g.n_conns; i++) {
		hang_up(&g.conns[i]);
		free(g.conns[i].in);
	}
	for (i = 0; i < g.n; i++) {
		for (j = 0; j < g.v[i].n_seen; j++)
			free(g.v[i].seen[j]);
		free(g.v[i].seen);
		free(g.v[i].accepted);
		free(g.v[i].id);
		free(g.v[i].secret);
	}
	free(g.v);
	free(g.conns);
	free(g.free_conns);
	free(g.heap);
	free(g.lat);
}

/* One socket per connection, and the server's own: more descriptors than the default 1024. */
static void allow_descriptors(size_t need)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) != 0)
		return;
	if (r.rlim_max < need)
		r.rlim_max = need; /* root may raise the ceiling too */
	r.rlim_cur = r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r) != 0) {
		getrlimit(RLIMIT_NOFILE, &r);
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static void usage(void)
{
	fputs("usage: loadgen --port P --visitors FILE --seconds S --message-every M --out FILE "
	      "[--connections N] [--drain-seconds D] [--seed N] [--baseline PATH]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *visitors = NULL, *out = NULL;
	unsigned seed = 1;
	struct epoll_event events[512];
	struct epoll_event in = {.events = EPOLLIN, .data.ptr = NULL};
	size_t i;
	int a;

	g.drain_seconds = 120;
	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--port") == 0)
			g.port = atoi(argv[a + 1]);
		else if (strcmp(argv[a], "--visitors") == 0)
			visitors = argv[a + 1];
		else if (strcmp(argv[a], "--seconds") == 0)
			g.seconds = atof(argv[a + 1]);
		else if (strcmp(argv[a], "--message-every") == 0)
			g.message_every = atof(argv[a + 1]);
		else if (strcmp(argv[a], "--drain-seconds") == 0)
			g.drain_seconds = atof(argv[a + 1]);
		else if (strcmp(argv[a], "--out") == 0)
			out = argv[a + 1];
		else if (strcmp(argv[a], "--connections") == 0)
			g.n_conns = strtoul(argv[a + 1], NULL, 10);
		else if (strcmp(argv[a], "--baseline") == 0)
			g.baseline = argv[a + 1];
		else if (strcmp(argv[a], "--seed") == 0)
			seed = (unsigned)atoi(argv[a + 1]);
		else
			usage();
	}
	if (g.baseline && g.message_every <= 0)
		g.message_every = INFINITY;
	if (a != argc || !g.port || !visitors || !out || g.seconds <= 0 || g.message_every <= 0)
		usage();
	srand(seed);
	read_visitors(visitors);
	if (!g.n_conns || g.n_conns > g.n)
		g.n_conns = g.n ? g.n : 1;
	allow_descriptors(g.n_conns + 64);
	g.conns = calloc(g.n_conns, sizeof *g.conns);
	g.free_conns = calloc(g.n_conns, sizeof *g.free_conns);
	if (!g.conns || !g.free_conns) {
		perror("loadgen");
		return 2;
	}
	for (i = 0; i < g.n_conns; i++) {
		g.conns[i].fd = -1;
		g.free_conns[g.n_free++] = &g.conns[g.n_conns - 1 - i];
	}
	g.heap = calloc(g.n ? g.n : 1, sizeof *g.heap);
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!g.heap || g.ep < 0) {
		perror("loadgen");
		return 2;
	}
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, 0, &in) != 0)
		g.stdin_done = now(); /* not a pipe: nobody will say what the visitors are owed */
	g.load_started = now();
	g.load_end = g.load_started + g.seconds;
	for (i = 0; i < g.n; i++) {
		/* Spread over the first second, as visitors arriving at different times are. */
		g.v[i].next_message = g.load_started + exponential(g.message_every);
		heap_push(&g.v[i], g.load_started + (double)rand() / RAND_MAX);
	}
	for (;;) {
		double t = now(), wait_ms;
		int n, k;

		if (g.phase == LOAD && t >= g.load_end) {
			g.phase = DRAIN;
			printf("load done\n");
			fflush(stdout);
		}
		if (g.phase == DRAIN && g.stdin_done && (drained() || t >= g.stdin_done + g.drain_seconds))
			break;
		while (g.heap_len && g.heap[0]->due <= t)
			wake(heap_pop());
		wait_ms = g.heap_len ? (g.heap[0]->due - t) * 1000.0 : 100.0;
		if (wait_ms > 100.0)
			wait_ms = 100.0;
		n = epoll_wait(g.ep, events, sizeof events / sizeof events[0], wait_ms > 0 ? (int)wait_ms + 1 : 0);
		for (k = 0; k < n; k++) {
			if (!events[k].data.ptr)
				read_stdin();
			else
				ready(events[k].data.ptr, events[k].events);
		}
	}
	if (write_results(out) != 0) {
		fprintf(stderr, "loadgen: cannot write %s\n", out);
		return 2;
	}
	free_visitors();
	close(g.ep);
	return 0;
}

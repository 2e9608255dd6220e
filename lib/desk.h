/* lib/desk.h — what a service desk's driver reports to the rest of deskbridge, in terms
 * that are not Zendesk's: the events of an agent's side of a conversation. Only the
 * driver (zendesk.c) reads Zendesk's own JSON. */
#ifndef DESKBRIDGE_DESK_H
#define DESKBRIDGE_DESK_H

#include <stddef.h>

enum desk_event_type {
	DESK_EVENT_OTHER,          /* nothing deskbridge acts on */
	DESK_EVENT_AGENT_MESSAGE,  /* text, an image or a file from the agent */
	DESK_EVENT_VISITOR_ECHO,   /* a message deskbridge itself sent for the visitor */
	DESK_EVENT_AGENT_TYPING,
	DESK_EVENT_AGENT_READ,
	DESK_EVENT_QUEUED,         /* the agent workspace took the conversation */
	DESK_EVENT_ENDED,          /* the desk handed the conversation back */
};

/* One event; every string points into the parsed delivery, which must outlive it. */
struct desk_event {
	enum desk_event_type type;
	const char *event_id;          /* the desk's id, for applying each event once */
	const char *conversation_id;
	const char *agent_id, *agent_name, *agent_avatar_url;
	const char *message_id, *text;
	/* An agent's image or file: its https address on the desk's media host (already
	 * checked), and what the desk says it is (any may be NULL but media_url). */
	const char *media_kind, *media_url, *media_type, *alt_text;
	int typing;
	const char *reason;            /* DESK_EVENT_ENDED */
};

#define DESK_EVENTS_MAX 100

struct desk_events {
	struct desk_event event[DESK_EVENTS_MAX];
	size_t n;
	/* The delivery was for another app of the account: its events, none of them ours. */
	size_t other_app_events;
};

#endif

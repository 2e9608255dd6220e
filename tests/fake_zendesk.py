"""tests/fake_zendesk.py — a stand-in for Zendesk, the one part of the system the tests
cannot run for real. It answers exactly the endpoints lib/zendesk.c calls, with the JSON
shapes and status codes of Zendesk's documentation (Sunshine Conversations v2 for
messaging; the Support API's agent availabilities, users and tickets), checks Basic credentials,
validates every request body against the published Sunshine Conversations OpenAPI spec
(tests/sunco_request_schemas.json, derived by tests/derive_sunco_schemas.py), records
every request, echoes every message posted as a v2 webhook, plays the agent on command
by delivering v2 webhooks to deskbridge with the webhook secret (X-API-Key), and fails
on command.

    fake = FakeZendesk(app_id="app_1", key_id="key_1", key_secret="s3cret",
                       api_user="agent@acme.example", api_token="tok", agents_online=2).start()
    fake.url                      # the api_base to configure in deskbridge
    fake.webhook_url, fake.webhook_secret = ...   # where (and with what) webhooks go
    fake.fail_next(500, count=3)  # the next 3 calls answer 500
    fake.agent_says(conversation_id, "Hi")   # a webhook delivery to deskbridge
    fake.settle()                 # every queued webhook delivery has been made
    fake.deliveries               # each delivery: type, conversation, status, answer
    fake.refusals                 # each request refused as invalid: method, path, reason
    fake.support_users            # the Support users create_or_update made
    fake.tickets                  # the Support tickets made: ticket, request, idempotency_key
    fake.fail_next("lost")        # the next call is carried out, and its answer lost
    fake.switchboard_integrations # the switchboard, as List Switchboard Integrations shows it
    fake.remove_switchboard_integration("custom")   # or "zd:agentWorkspace"; then
    fake.restore_switchboard()
    fake.max_waiting              # most API calls whose client was waiting at once

    FakeZendesk(agent_workspace=False)   # a switchboard without the agent workspace
    FakeZendesk(own_integration=False)   # deskbridge's integration not in the switchboard

Tests in other processes (the browser tests, in Node) drive it over HTTP through its
control routes under /_fake/, outside Zendesk's namespace:

    GET  /_fake/conversations   every conversation: id, metadata, control, messages, activity
    GET  /_fake/requests        every API request it received: method, path
    GET  /_fake/deliveries      every webhook delivery made: type, conversation, status
    GET  /_fake/refusals        every request refused as invalid: method, path, reason
    GET  /_fake/switchboard     the switchboard integrations, as the switchboard lists them
    GET  /_fake/tickets         every Support ticket created: the Create Ticket answer's ticket
    POST /_fake/settle          {"timeout": s} -> {"settled": true|false}
    GET  /_fake/attachments     every file uploaded: mediaUrl, mediaType, size, filename,
                                 query, removed
    POST /_fake/agent           {"conversation", "action": "accept" | "says" | "typing" |
                                 "read" | "solves" | "image" | "file", "text", "typing",
                                 "avatar": false (the agent has no avatarUrl), "media_url",
                                 "media_type", "alt_text"} -> a webhook delivery
    POST /_fake/fail            {"how": 500 | "drop" | "lost" | ["slow", s], "count": n}
    POST /_fake/agents_online   {"count": n}

What it follows (each behaviour's code cites its source):
  - request bodies: github.com/zendesk/sunshine-conversations-api-spec openapi.yaml, at
    the commit named in tests/sunco_request_schemas.json; a body the schema refuses is
    answered 400 {"errors": [{"code": "bad_request", "title"}]} (the spec's errorResponse)
  - echoes: conversation:message is dispatched "whenever a message is sent in a
    conversation, regardless of author" (developer.zendesk.com/documentation/
    conversations/messaging-platform/programmable-conversations/receiving-messages/)
  - webhook payloads: developer.zendesk.com/api-reference/webhooks/conversations-webhooks/

Stricter than known
-------------------
Where Zendesk's behaviour cannot be known here (no machine reaches Zendesk), the fake
takes the stricter reading:
  1. passControl names the switchboard integration only by its id or name, or "next".
     The spec at the pinned commit also lists the integration TYPE (e.g.
     "zd:agentWorkspace") as a way to name it; the fake refuses a type with 400, since a
     type names no single integration when the switchboard holds two of it.
  2. Metadata (users, conversations, messages, passControl) must be flat (string, number,
     boolean values) and at most 4 KB as JSON: the spec's metadata schema says so in
     prose only; Zendesk's own enforcement is not documented.
  3. A message's or an activity's "user" author must name the user (userId or
     userExternalId), and that user must exist; a "business" author must not carry
     userId / userExternalId (the spec: "Only supported when type is user").
  4. A personal conversation is created with exactly one participant, each naming
     exactly one of userId / userExternalId, of an existing user (the spec's
     participants description: required, length exactly 1; "One of userId or
     userExternalId is required, but not both"; 404 when the user is not found).
  5. Every POST must say Content-Type: application/json (the spec's introduction
     requires the header); the fake refuses any other with 400.
  6. Users create_or_update needs a "user" object with a name and one of email or
     external_id to match by; the fake refuses anything else with 400 (Zendesk's own
     answer to such a body is not documented).
  7. The echo of an API post carries the message exactly as stored (author as posted,
     metadata included) with source.type "api:conversations", the value the spec's Post
     Message and List Messages examples show for API posts (the Source schema lists
     "api" among its values in prose).
  8. Webhook deliveries are not retried when deskbridge answers an error (Zendesk
     retries; a test sees each failure in fake.deliveries instead).
  9. An uploaded file over 50,000,000 bytes is refused with 413 (the spec says only that
     the size is limited; 50 MB is the figure Zendesk gives for messaging attachments).
     An upload's multipart body must hold exactly the form fields of
     attachmentUploadBody ("source", a file part with a filename), and its query only
     the spec's parameters, access being "public" and for "message" (the only values the
     spec's descriptions allow); conversationId must name a conversation (404).
 10. File validation (docs.smooch.io/guide/validating-files/): the file name's extension
     must be on that guide's list and the type read from the file's first bytes must be
     one the list allows, else 415 unsupported_media_type "File rejected. File extension
     not allowed" / "File rejected. File type not allowed". The fake reads PNG, JPEG,
     GIF and PDF signatures and UTF-8 text; any other content counts as not allowed.
"""

import base64
import email.parser
import email.policy
import http.client
import http.server
import io
import itertools
import json
import os
import queue
import select
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

import jsonschema

_ids = itertools.count(1)
MESSAGES_PAGE = 100
AGENT_WORKSPACE = "zd:agentWorkspace"
API_SOURCE = "api:conversations"
METADATA_LIMIT = 4096
SCHEMAS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sunco_request_schemas.json")


def _id(prefix):
    return "%s%024x" % (prefix, next(_ids))


def _load_schemas():
    with open(SCHEMAS_FILE) as f:
        data = json.load(f)
    out = {}
    for key, ep in data["endpoints"].items():
        if ep.get("body"):
            out[key] = jsonschema.Draft7Validator(ep["body"], format_checker=jsonschema.FormatChecker())
    return data["source"], out, {key: ep.get("query", {}) for key, ep in data["endpoints"].items()}


SPEC_SOURCE, VALIDATORS, QUERIES = _load_schemas()
ATTACHMENT_LIMIT = 50_000_000   # Stricter than known, 9
# docs.smooch.io/guide/validating-files/: the extensions Sunshine Conversations accepts.
ALLOWED_EXTENSIONS = set("""3g2 3gp 7z aac amr avi bmp csv doc docx eml gif heic heif ics jfif jpeg jpg key log
    m4a m4v mov mp3 mp4 mp4a mpeg mpg mpga neon numbers odt oga ogg ogv opus pages pdf png pps ppsx ppt
    pptx qt svg tif tiff txt vcf wav webm webp wmv xls xlsx xml yaml yml zip""".split())


def _sniff(data):
    """The media type the first bytes say (Stricter than known, 10), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if all(c >= " " or c in "\t\r\n\f" for c in text) else None


class Refused(Exception):
    """A request Zendesk would refuse: answered with status and Zendesk's error shape."""

    def __init__(self, reason, status=400, code="bad_request"):
        super().__init__(reason)
        self.reason, self.status, self.code = reason, status, code


class FakeZendesk:
    def __init__(self, app_id="app_5f1a", key_id="app_5f1a_key", key_secret="messaging-key-secret",
                 api_user="agent@acme.example", api_token="support-api-token", agents_online=2,
                 agent_workspace=True, own_integration=True, webhook_workers=1, webhook_keep_alive=False):
        self.app_id, self.key_id, self.key_secret = app_id, key_id, key_secret
        self.api_user, self.api_token = api_user, api_token
        self.agents_online = agents_online
        self.requests = []           # (method, path, query, headers, body) of every request
        self.users = {}              # externalId -> user
        self._users_by_id = {}       # id -> user, the same users
        self.conversations = {}      # id -> {"id", "participants", "metadata", "messages", "control"}
        self.support_users = []      # Support API users: {"id", "name", "email", "external_id", ...}
        self.tickets = []            # Support API tickets: {"ticket", "request", "idempotency_key"}
        self.idempotency = {}        # Idempotency-Key -> {"at", "body", "answer"}
        self.refusals = []           # {"method", "path", "reason"} of every request refused as invalid
        self.attachments = []        # {"mediaUrl", "mediaType", "size", "filename", "query", "removed"}
        self.deliveries = []         # {"type", "types", "conversation", "status", "answer", "error", "echo"}
        self.failures = []           # [status or "drop" or ("slow", seconds)] consumed in order
        self.waiting = 0             # API calls received whose client has neither been
        self.max_waiting = 0         # answered nor hung up; and the most there were at once
        self.webhook_url = None
        self.webhook_secret = None
        self.lock = threading.RLock()
        self.server = None
        # The app's integrations and its one switchboard (developer.zendesk.com/
        # api-reference/conversations/#tag/Integrations, #tag/Switchboards): the agent
        # workspace, and deskbridge's own custom integration whose v2 webhook targets
        # webhook_url, both in the switchboard.
        self.switchboard_id = _id("sb_")
        self.own_integration_id = _id("int_")
        self.own_webhook_id = _id("wh_")
        self.web_integration_id = _id("int_")
        aw_int = _id("int_")
        self._aw = {"id": _id("sbi_"), "name": "zd-agentWorkspace", "integrationId": aw_int,
                    "integrationType": AGENT_WORKSPACE, "deliverStandbyEvents": False,
                    "messageHistoryCount": 10}
        self._ours = {"id": _id("sbi_"), "name": "deskbridge", "integrationId": self.own_integration_id,
                      "integrationType": "custom", "deliverStandbyEvents": True}
        # The bot (deskbridge) answers first and passes to the agent workspace next.
        self._ours["nextSwitchboardIntegrationId"] = self._aw["id"]
        self.switchboard_integrations = []
        self.restore_switchboard()
        if not agent_workspace:
            self.remove_switchboard_integration(AGENT_WORKSPACE)
        if not own_integration:
            self.remove_switchboard_integration("custom")
        # One worker delivers webhooks in the order they were queued: the strict reading,
        # since Zendesk documents no order across conversations. A load test may ask for
        # more workers; one conversation's webhooks still go through one worker, in order.
        self._queues = [queue.Queue() for _ in range(webhook_workers)]
        # Each worker may keep its connection to an http:// target open between
        # deliveries (a load test's choice: the documents do not say what Zendesk does).
        self.webhook_keep_alive = webhook_keep_alive
        self._pending = 0
        self._settled = threading.Condition(self.lock)
        for q in self._queues:
            threading.Thread(target=self._deliver_worker, args=(q,), daemon=True).start()

    # Control.

    def start(self, port=0):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that gave up on a slow answer is what "slow" tests

        self.server = Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def down(self):
        """Zendesk unreachable: nothing listens on its port (connections are refused)."""
        self._port = self.server.server_address[1]
        self.stop()

    def up(self):
        """Back on the same port, with everything it had recorded."""
        return self.start(self._port)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def fail_next(self, how, count=1):
        """how: an HTTP status, "drop" (close the connection unanswered), "lost" (carry
        the call out, then close the connection unanswered), or ("slow", seconds)
        (answer normally after that long)."""
        with self.lock:
            self.failures += [how] * count

    def calls(self, method=None, path_part=None):
        return [r for r in self.requests
                if (method is None or r[0] == method) and (path_part is None or path_part in r[1])]

    def messages(self, conversation_id):
        return self.conversations[conversation_id]["messages"]

    def remove_switchboard_integration(self, integration_type):
        """Takes the switchboard integration of that type ("zd:agentWorkspace", or
        "custom" for deskbridge's own) out of the switchboard."""
        with self.lock:
            self.switchboard_integrations[:] = [i for i in self.switchboard_integrations
                                                if i["integrationType"] != integration_type]

    def restore_switchboard(self):
        with self.lock:
            self.switchboard_integrations[:] = [dict(self._ours), dict(self._aw)]

    @property
    def agent_workspace_id(self):
        """The agent workspace's switchboard integration id (the target of passControl)."""
        return self._aw["id"]

    @property
    def own_switchboard_integration_id(self):
        return self._ours["id"]

    # Webhook deliveries, the way Zendesk makes them: POST {"app", "webhook", "events"} to
    # the webhook's target with its secret in X-API-Key (developer.zendesk.com/
    # api-reference/webhooks/conversations-webhooks/), each after the API call that caused
    # it was answered, one at a time, in order.

    def _enqueue(self, body, ready=None, echo=False):
        item = {"body": body, "ready": ready, "done": threading.Event(), "echo": echo,
                "status": None, "answer": None, "error": None}
        events = body["events"]
        cid = ((events[0].get("payload") or {}).get("conversation") or {}).get("id") if events else None
        with self.lock:
            self._pending += 1
            self._queues[zlib.crc32((cid or "").encode()) % len(self._queues)].put(item)
        return item

    def _post_webhook(self, body, conn):
        """(status, raw answer); an error status raises urllib.error.HTTPError."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "X-API-Key": self.webhook_secret or ""}
        target = urllib.parse.urlsplit(self.webhook_url)
        if not (self.webhook_keep_alive and target.scheme == "http"):
            req = urllib.request.Request(self.webhook_url, data=data, method="POST", headers=headers)
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        path = target.path + ("?" + target.query if target.query else "")
        for attempt in (1, 2):
            if conn.get("c") is None or conn.get("netloc") != target.netloc:
                conn["c"], conn["netloc"] = http.client.HTTPConnection(target.netloc, timeout=10), target.netloc
            try:
                conn["c"].request("POST", path, body=data, headers=headers)
                r = conn["c"].getresponse()
                raw = r.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn["c"].close()
                conn["c"] = None   # the server ended the kept-alive connection: once more, anew
                if attempt == 2:
                    raise
        if r.getheader("Connection", "").lower() == "close":
            conn["c"].close()
            conn["c"] = None
        if r.status >= 400:
            raise urllib.error.HTTPError(self.webhook_url, r.status, r.reason, r.headers, io.BytesIO(raw))
        return r.status, raw

    def _deliver_worker(self, q):
        conn = {}
        while True:
            item = q.get()
            if item["ready"] is not None:
                item["ready"].wait(30)
            events = item["body"]["events"]
            record = {"type": events[0]["type"] if events else None,
                      "types": [e["type"] for e in events],
                      "conversation": ((events[0].get("payload") or {}).get("conversation") or {}).get("id")
                      if events else None,
                      "events": events, "echo": item["echo"], "status": None, "answer": None, "error": None}
            try:
                try:
                    record["status"], raw = self._post_webhook(item["body"], conn)
                except urllib.error.HTTPError as e:
                    record["status"], raw = e.code, e.read()
                    item["error"] = e
                try:
                    record["answer"] = json.loads(raw) if raw else None
                except ValueError:
                    record["answer"] = raw.decode("utf-8", "replace")
            except Exception as e:  # deskbridge unreachable: recorded, not retried
                record["error"] = str(e)
                item["error"] = e
            item["status"], item["answer"] = record["status"], record["answer"]
            with self.lock:
                self.deliveries.append(record)
                self._pending -= 1
                self._settled.notify_all()
            item["done"].set()

    def pending_webhooks(self):
        """Webhook deliveries queued and not yet made."""
        with self.lock:
            return self._pending

    def settle(self, timeout=10):
        """Waits until every queued webhook delivery has been made; True if they were."""
        end = time.time() + timeout
        with self.lock:
            while self._pending:
                left = end - time.time()
                if left <= 0:
                    return False
                self._settled.wait(left)
        return True

    def _body(self, events, app_id=None):
        return {"app": {"id": app_id or self.app_id},
                "webhook": {"id": self.own_webhook_id, "version": "v2"}, "events": list(events)}

    def deliver(self, *events, app_id=None):
        """Delivers now, after every delivery already queued; (status, answer), raising
        urllib.error.HTTPError for an error status, as before deliveries were queued."""
        item = self._enqueue(self._body(events, app_id))
        item["done"].wait(60)
        if isinstance(item["error"], urllib.error.HTTPError):
            raise item["error"]
        if item["error"] is not None:
            raise item["error"]
        return item["status"], item["answer"]

    def deliver_queued(self, *events):
        """Queues a delivery without waiting for it: the returned item's "done" event is
        set once it was made, with its "status" (None when deskbridge was unreachable)."""
        return self._enqueue(self._body(events))

    def event(self, type_, payload):
        return {"id": _id("evt_"), "createdAt": _now(), "type": type_, "payload": payload}

    def _conversation_truncated(self, cid):
        """The payload's conversation (the spec's ConversationTruncated in webhook events)."""
        conv = self.conversations.get(cid) or {}
        active = next((dict(i) for i in self.switchboard_integrations + [self._aw, self._ours]
                       if i["id"] == conv.get("control")), None)
        return {"id": cid, "type": conv.get("type") or "personal", "activeSwitchboardIntegration": active}

    @staticmethod
    def agent_author(name="Ana", avatar=True):
        """The agent as Zendesk names a business author: displayName and avatarUrl (no
        userId: "Only supported when type is user"). avatarUrl is optional in the spec's
        Author schema (an agent without a profile picture): avatar=False leaves it out."""
        author = {"type": "business", "displayName": name}
        if avatar:
            author["avatarUrl"] = "https://acme.zendesk.com/ana.png"
        return author

    def agent_message_event(self, cid, text, name="Ana", avatar=True):
        """The agent writes in the agent workspace: source zd:agentWorkspace."""
        message = {"id": _id("msg_"), "received": _now(), "author": self.agent_author(name, avatar),
                   "content": {"type": "text", "text": text}, "source": {"type": AGENT_WORKSPACE}}
        with self.lock:
            self.conversations[cid]["messages"].append(message)
        return self.event("conversation:message", {"conversation": self._conversation_truncated(cid),
                                                    "message": message})

    def agent_media_event(self, cid, kind, media_url=None, media_type="image/png", alt_text="photo.png",
                          text=None):
        """The agent sends an image or a file from the agent workspace: the spec's
        imageMessage / fileMessage content (mediaUrl; mediaType and altText as Zendesk
        fills them in; text optional). By default on the account's own attachments host,
        as the spec's uploadAttachment example has it."""
        content = {"type": kind, "mediaUrl": media_url or "https://acme.zendesk.com/sc/attachments/v2/%s/%s"
                   % (_id("att_"), urllib.parse.quote(alt_text or "file"))}
        if media_type:
            content["mediaType"] = media_type
        if alt_text:
            content["altText"] = alt_text
        if text:
            content["text"] = text
        message = {"id": _id("msg_"), "received": _now(), "author": self.agent_author(),
                   "content": content, "source": {"type": AGENT_WORKSPACE}}
        with self.lock:
            self.conversations[cid]["messages"].append(message)
        return self.event("conversation:message", {"conversation": self._conversation_truncated(cid),
                                                    "message": message})

    def agent_sends(self, cid, kind, **kw):
        return self.deliver(self.agent_media_event(cid, kind, **kw))

    def agent_says(self, cid, text, avatar=True):
        return self.deliver(self.agent_message_event(cid, text, avatar=avatar))

    def agent_typing(self, cid, on=True, avatar=True):
        return self.deliver(self.event("conversation:typing", {
            "conversation": self._conversation_truncated(cid),
            "activity": {"type": "typing:start" if on else "typing:stop",
                         "author": self.agent_author("Ana", avatar)}}))

    def workspace_accepts(self, cid):
        """The agent workspace announces it has the conversation (the visitor is queued)."""
        return self.deliver(self.event("switchboard:passControl", {
            "conversation": {"id": cid, "type": "personal", "activeSwitchboardIntegration": dict(self._aw)}}))

    def agent_reads(self, cid):
        return self.deliver(self.event("conversation:read", {
            "conversation": self._conversation_truncated(cid),
            "activity": {"type": "conversation:read", "author": {"type": "business", "displayName": "Ana"}}}))

    def agent_solves(self, cid):
        """The ticket is solved: the agent workspace hands control back."""
        with self.lock:
            self.conversations[cid]["control"] = None
        return self.deliver(self.event("switchboard:releaseControl",
                                       {"conversation": self._conversation_truncated(cid), "reason": "ticketClosed"}))

    # The API.

    def _handle(self, h, method):
        parsed = urllib.parse.urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        control = parsed.path.startswith("/_fake/")
        with self.lock:
            if not control:
                self.requests.append((method, parsed.path, parsed.query, dict(h.headers), raw))
                self.waiting += 1
                self.max_waiting = max(self.max_waiting, self.waiting)
            how = self.failures.pop(0) if self.failures and not control else None
        waiting = [not control]
        answered = threading.Event()   # echoes wait for the answer to be written
        h.answered = answered
        try:
            if how == "lost":
                self._lose_answer(h, method, parsed, raw, waiting)
            else:
                self._answer(h, method, parsed, raw, how, waiting)
        finally:
            answered.set()
            self._done_waiting(waiting)

    def _lose_answer(self, h, method, parsed, raw, waiting):
        """Carries the request out, then hangs up without answering: a Zendesk that
        finished a request whose answer the client never got."""
        real, h.wfile = h.wfile, io.BytesIO()
        try:
            self._answer(h, method, parsed, raw, None, waiting)
        finally:
            h.wfile = real
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)

    def _done_waiting(self, waiting):
        with self.lock:
            if waiting[0]:
                self.waiting -= 1
                waiting[0] = False

    def _slow(self, h, seconds, waiting):
        """Answers late, like a Zendesk in trouble; a client that hangs up (its timeout)
        stops counting as waiting at once, though the call is still carried out."""
        end = time.time() + seconds
        readable, _, _ = select.select([h.connection], [], [], seconds)
        if readable:
            try:
                gone = h.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                gone = True
            if gone:
                self._done_waiting(waiting)
        time.sleep(max(0.0, end - time.time()))

    def _error(self, h, status, code, title, headers=None):
        # The spec's errorResponse: {"errors": [{"code", "title"}]}.
        return self._send(h, status, {"errors": [{"code": code, "title": title}]}, headers)

    def _refuse(self, h, method, path, reason, status=400, code="bad_request"):
        with self.lock:
            self.refusals.append({"method": method, "path": path, "reason": reason})
        return self._error(h, status, code, reason)

    def _answer(self, h, method, parsed, raw, how, waiting):
        if how == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(how, tuple):
            self._slow(h, how[1], waiting)
        elif isinstance(how, int):
            headers = {"Retry-After": "1"} if how == 429 else {}
            return self._error(h, how, "unavailable" if how >= 500 else "bad_request", "Injected failure", headers)
        path = parsed.path
        # Upload Attachment's body is multipart/form-data, every other body JSON.
        upload = method == "POST" and path.startswith("/sc/v2/apps/") and path.endswith("/attachments")
        h.raw_body = raw
        try:
            body = json.loads(raw) if raw and not upload else None
        except ValueError:
            if path.startswith("/_fake/"):
                return self._send(h, 400, {"error": "invalid JSON"})
            return self._refuse(h, method, path, "Invalid JSON")
        if path.startswith("/_fake/"):
            return self._control(h, method, path[len("/_fake/"):], body or {})
        try:
            if method == "POST":
                # The spec's introduction: requests with a body must say
                # "content-type: application/json" (Stricter than known, 5).
                ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                want = "multipart/form-data" if upload else "application/json"
                if ctype != want:
                    raise Refused("Content-Type must be %s" % want)
            if path.startswith("/sc/v2/apps/"):
                return self._messaging(h, method, path[len("/sc/v2/apps/"):].split("/"), body,
                                       urllib.parse.parse_qs(parsed.query))
            if path == "/api/v2/agent_availabilities":
                return self._availability(h, parsed.query)
            if method == "POST" and path in ("/api/v2/users/create_or_update",
                                             "/api/v2/users/create_or_update.json"):
                return self._create_or_update(h, body)
            if method == "POST" and path in ("/api/v2/tickets", "/api/v2/tickets.json"):
                return self._create_ticket(h, body)
        except Refused as e:
            if e.status == 400:
                return self._refuse(h, method, path, e.reason, e.status, e.code)
            return self._error(h, e.status, e.code, e.reason)
        self._send(h, 404, {"error": "InvalidEndpoint", "description": "Not found"})

    def _control(self, h, method, route, body):
        if method == "GET" and route == "conversations":
            with self.lock:
                convs = [{k: c.get(k) for k in ("id", "metadata", "pass_metadata", "control",
                                                "messages", "activity")}
                         for c in self.conversations.values()]
            return self._send(h, 200, {"conversations": convs})
        if method == "GET" and route == "requests":
            with self.lock:
                reqs = [{"method": r[0], "path": r[1]} for r in self.requests]
            return self._send(h, 200, {"requests": reqs})
        if method == "GET" and route == "deliveries":
            with self.lock:
                out = [{k: d[k] for k in ("type", "types", "conversation", "echo", "status", "answer", "error")}
                       for d in self.deliveries]
            return self._send(h, 200, {"deliveries": out})
        if method == "GET" and route == "refusals":
            with self.lock:
                return self._send(h, 200, {"refusals": list(self.refusals)})
        if method == "GET" and route == "tickets":
            with self.lock:
                return self._send(h, 200, {"tickets": [t["ticket"] for t in self.tickets]})
        if method == "GET" and route == "attachments":
            with self.lock:
                return self._send(h, 200, {"attachments": [{k: v for k, v in a.items() if k != "data"}
                                                           for a in self.attachments]})
        if method == "GET" and route == "switchboard":
            with self.lock:
                return self._send(h, 200, {"switchboardIntegrations": list(self.switchboard_integrations)})
        if method == "POST" and route == "settle":
            return self._send(h, 200, {"settled": self.settle(float(body.get("timeout", 10)))})
        if method == "POST" and route == "agent":
            cid = body.get("conversation")
            if cid not in self.conversations:
                return self._send(h, 404, {"error": "no such conversation"})
            act = body.get("action")
            avatar = bool(body.get("avatar", True))
            do = {"accept": lambda: self.workspace_accepts(cid),
                  "says": lambda: self.agent_says(cid, body.get("text", ""), avatar),
                  "typing": lambda: self.agent_typing(cid, bool(body.get("typing", True)), avatar),
                  "read": lambda: self.agent_reads(cid),
                  "solves": lambda: self.agent_solves(cid),
                  "image": lambda: self.agent_sends(cid, "image", media_url=body.get("media_url"),
                                                    media_type=body.get("media_type", "image/png"),
                                                    alt_text=body.get("alt_text", "photo.png"), text=body.get("text")),
                  "file": lambda: self.agent_sends(cid, "file", media_url=body.get("media_url"),
                                                   media_type=body.get("media_type", "application/pdf"),
                                                   alt_text=body.get("alt_text", "invoice.pdf"),
                                                   text=body.get("text"))}.get(act)
            if not do:
                return self._send(h, 400, {"error": "unknown action"})
            try:
                status, answer = do()
            except urllib.error.HTTPError as e:
                status, answer = e.code, None
            return self._send(h, 200, {"status": status, "answer": answer})
        if method == "POST" and route == "fail":
            how = body.get("how")
            self.fail_next(tuple(how) if isinstance(how, list) else how, int(body.get("count", 1)))
            return self._send(h, 200, {})
        if method == "POST" and route == "agents_online":
            self.agents_online = int(body.get("count", 0))
            return self._send(h, 200, {})
        self._send(h, 404, {"error": "no such control route"})

    def _basic(self, h):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            return base64.b64decode(auth[6:]).decode()
        except ValueError:
            return None

    def _support_auth(self, h):
        # API token authentication: Basic {email}/token:{api_token}
        # (developer.zendesk.com/api-reference/introduction/security-and-auth/).
        return self._basic(h) == "%s/token:%s" % (self.api_user, self.api_token)

    def _availability(self, h, query):
        # developer.zendesk.com/api-reference/agent-availability/agent-availability-api/
        # agent_availabilities/: a JSON:API document, each agent an "agent_availabilities"
        # resource {"type", "id", "attributes", "links", "relationships"}, its channels
        # included as "channels" resources; cursor pagination in meta and links.
        if not self._support_auth(h):
            return self._send(h, 401, {"error": "Couldn't authenticate you"})
        q = urllib.parse.parse_qs(query)
        if q.get("filter[channel_status]") != ["messaging:online"]:
            return self._send(h, 400, {"errors": [{"title": "Invalid filter"}]})
        data, included = [], []
        for i in range(self.agents_online):
            agent = 10001 + i
            rid = "agent_availabilities|%d" % agent
            channels = [{"id": "%s|channels|%s" % (rid, ch), "type": "channels"} for ch in ("messaging", "support")]
            data.append({"type": "agent_availabilities", "id": rid,
                         "attributes": {"agent_id": agent,
                                        "agent_status": {"id": 1, "name": "online", "reason": "UNKNOWN",
                                                         "updated_at": _now_us()},
                                        "group_ids": [1], "skills": [], "version": 1},
                         "links": {"self": "%s/api/v2/agent_availabilities/%d" % (self.url, agent)},
                         "relationships": {"channels": {"data": channels}}})
            included += [{"type": "channels", "id": c["id"],
                          "attributes": {"name": c["id"].rsplit("|", 1)[1], "status": "online",
                                         "structured_status": {"id": 1, "name": "online"},
                                         "updated_at": _now_us()},
                          "relationships": {"work_items": {"data": []}}} for c in channels]
        self._send(h, 200, {"data": data, "included": included,
                            "links": {"first": None, "last": None, "next": None, "prev": None},
                            "meta": {"has_more": False, "after_cursor": None, "before_cursor": None}})

    def _create_or_update(self, h, body):
        # developer.zendesk.com/api-reference/ticketing/users/users/#create-or-update-user:
        # POST /api/v2/users/create_or_update (the older docs add ".json"; both are
        # accepted); creates the user, or updates the one matched by external_id (not case
        # sensitive) or email; 201 when created, 200 when updated; {"user": {...}}.
        if not self._support_auth(h):
            return self._send(h, 401, {"error": "Couldn't authenticate you"})
        user = (body or {}).get("user") if isinstance(body, dict) else None
        if not isinstance(user, dict):
            raise Refused("user is required")
        for k in ("name", "email", "external_id"):
            if k in user and user[k] is not None and not isinstance(user[k], str):
                raise Refused("user.%s must be a string" % k)
        if "verified" in user and not isinstance(user["verified"], bool):
            raise Refused("user.verified must be a boolean")
        ext, email = user.get("external_id"), user.get("email")
        if not ext and not email:
            raise Refused("user needs an email or an external_id to match by")  # Stricter, 6
        with self.lock:
            found = next((u for u in self.support_users if ext and u.get("external_id")
                          and u["external_id"].lower() == ext.lower()), None) or \
                next((u for u in self.support_users if email and u.get("email")
                      and u["email"].lower() == email.lower()), None)
            if found is None:
                if not user.get("name"):
                    raise Refused("user.name is required to create a user")  # Stricter, 6
                uid = 9000000000 + next(_ids)
                found = {"id": uid, "url": "%s/api/v2/users/%d.json" % (self.url, uid), "role": "end-user",
                         "active": True, "verified": False, "created_at": _now_s()}
                self.support_users.append(found)
                status = 201
            else:
                status = 200
            found.update({k: v for k, v in user.items() if k in ("name", "email", "external_id", "verified",
                                                                  "phone", "locale", "role", "user_fields")})
            found["updated_at"] = _now_s()
            answer = dict(found)
        return self._send(h, status, {"user": answer}, {"Location": "/api/v2/users/%d.json" % answer["id"]})

    def _record_invalid(self, h, path, description):
        # The Support API's validation failure: 422 {"error": "RecordInvalid",
        # "description": "Record validation errors", "details": {...}}
        # (developer.zendesk.com/api-reference/introduction/requests/#400-range).
        with self.lock:
            self.refusals.append({"method": "POST", "path": path, "reason": description})
        return self._send(h, 422, {"error": "RecordInvalid", "description": "Record validation errors",
                                   "details": {"base": [{"description": description}]}})

    def _create_ticket(self, h, body):
        # developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket:
        # POST /api/v2/tickets (the older docs add ".json"), agents only (API token);
        # {"ticket": {...}} whose only required property is "comment"; "requester"
        # {"name", "email"} creates the end user, or uses the one with that email;
        # 201 {"ticket": {...}} with the ticket's JSON format (id, url, subject,
        # description = the first comment, status "new", requester_id, submitter_id,
        # tags, via). Idempotency (developer.zendesk.com/api-reference/ticketing/
        # introduction/#idempotency): an Idempotency-Key is kept 2 hours; a repeat with
        # the same parameters answers the first response with "x-idempotency-lookup:
        # hit" (a first use says "miss"), other parameters 400 IdempotentRequestError.
        # Stricter than known: the requester must have a name and a plausible email,
        # and the comment a non-empty body (html_body is not used by deskbridge).
        path = "/api/v2/tickets"
        if not self._support_auth(h):
            return self._send(h, 401, {"error": "Couldn't authenticate you"})
        key = h.headers.get("Idempotency-Key")
        canonical = json.dumps(body, sort_keys=True)
        now = time.time()
        with self.lock:
            kept = self.idempotency.get(key) if key else None
            if kept and now - kept["at"] > 2 * 3600:
                kept = None
            if kept and kept["body"] != canonical:
                return self._send(h, 400, {"error": "IdempotentRequestError",
                                           "description": "Request parameters don't match the given idempotency key"})
            if kept:
                return self._send(h, 201, kept["answer"], {"x-idempotency-lookup": "hit"})
        ticket = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(ticket, dict):
            return self._record_invalid(h, path, "ticket is required")
        comment = ticket.get("comment")
        if not isinstance(comment, dict) or not isinstance(comment.get("body"), str) or not comment["body"].strip():
            return self._record_invalid(h, path, "Description: cannot be blank")
        requester = ticket.get("requester")
        if requester is not None:
            if not isinstance(requester, dict) or not isinstance(requester.get("name"), str) \
                    or not requester["name"].strip():
                return self._record_invalid(h, path, "Requester: name is required")
            email = requester.get("email")
            if not isinstance(email, str) or "@" not in email or email != email.strip():
                return self._record_invalid(h, path, "Requester: email is invalid")
        for k in ("subject",):
            if k in ticket and not isinstance(ticket[k], str):
                return self._record_invalid(h, path, "%s must be a string" % k)
        tags = ticket.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return self._record_invalid(h, path, "tags must be a list of strings")
        with self.lock:
            user = None
            if requester is not None:
                user = next((u for u in self.support_users if u.get("email", "").lower() == email.lower()), None)
                if user is None:
                    uid = 9000000000 + next(_ids)
                    user = {"id": uid, "url": "%s/api/v2/users/%d.json" % (self.url, uid), "role": "end-user",
                            "name": requester["name"], "email": email, "active": True, "verified": False,
                            "created_at": _now_s(), "updated_at": _now_s()}
                    self.support_users.append(user)
            tid = len(self.tickets) + 1
            answer = {"ticket": {
                "id": tid, "url": "%s/api/v2/tickets/%d.json" % (self.url, tid),
                "subject": ticket.get("subject"), "raw_subject": ticket.get("subject"),
                "description": comment["body"], "status": "new", "type": None, "priority": None,
                "requester_id": user["id"] if user else None, "submitter_id": None,
                "tags": sorted({t.lower() for t in tags}),
                "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
                "created_at": _now_s(), "updated_at": _now_s()}}
            self.tickets.append({"ticket": answer["ticket"], "request": body, "idempotency_key": key})
            if key:
                self.idempotency[key] = {"at": now, "body": canonical, "answer": answer}
        return self._send(h, 201, answer, {"Location": "/api/v2/tickets/%d.json" % tid,
                                           "x-idempotency-lookup": "miss"} if key else
                          {"Location": "/api/v2/tickets/%d.json" % tid})

    # Validation against the spec (tests/sunco_request_schemas.json).

    def _validate(self, key, body):
        validator = VALIDATORS[key]
        if body is None:
            raise Refused("A request body is required")
        if validator.is_valid(body):
            return
        error = jsonschema.exceptions.best_match(validator.iter_errors(body))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "body"
            raise Refused("%s: %s (schema %s)" % (where, error.message[:200], key))

    @staticmethod
    def _flat_metadata(meta, what):
        # The spec's metadata schema: a flat object of strings, numbers and booleans, at
        # most 4KB (Stricter than known, 2).
        if meta is None:
            return
        if any(isinstance(v, (dict, list)) or v is None for v in meta.values()):
            raise Refused("%s must be flat: strings, numbers and booleans only" % what)
        if len(json.dumps(meta, separators=(",", ":")).encode()) > METADATA_LIMIT:
            raise Refused("%s is limited to 4KB" % what)

    def _user_by(self, user_id=None, external_id=None):
        if external_id is not None:
            return self.users.get(external_id)
        return self._users_by_id.get(user_id)

    def _check_author(self, author, what):
        # author schema: userId / userExternalId "Only supported when type is user"
        # (Stricter than known, 3).
        names = [k for k in ("userId", "userExternalId") if k in author]
        if author["type"] == "business":
            if names:
                raise Refused("%s: a business author carries no %s" % (what, names[0]))
            return
        if len(names) != 1:
            raise Refused("%s: a user author needs one of userId or userExternalId" % what)
        if not self._user_by(author.get("userId"), author.get("userExternalId")):
            raise Refused("%s: no such user" % what)

    def _messaging(self, h, method, parts, body, query=None):
        if self._basic(h) != "%s:%s" % (self.key_id, self.key_secret):
            return self._error(h, 401, "unauthorized", "Authorization is required")
        if parts[0] != self.app_id:
            return self._error(h, 404, "app_not_found", "App not found")
        rest = parts[1:]
        spec = "/v2/apps/{appId}"
        if method == "GET" and not rest:
            # #tag/Apps, Get App.
            return self._send(h, 200, {"app": {"id": self.app_id, "displayName": "Acme",
                                               "settings": {}, "metadata": None}})
        if method == "POST" and rest == ["users"]:
            # #tag/Users, Create User: userCreateBody; 409 when the externalId exists.
            self._validate("POST %s/users" % spec, body)
            self._flat_metadata(body.get("metadata"), "metadata")
            ext = body.get("externalId")
            with self.lock:
                if ext in self.users:
                    return self._error(h, 409, "conflict", "User already exists")
                user = {"id": _id("u_"), "externalId": ext, "profile": body.get("profile", {}),
                        "signedUpAt": _now(), "metadata": body.get("metadata") or {}}
                self.users[ext] = user
                self._users_by_id[user["id"]] = user
            return self._send(h, 201, {"user": user})
        if method == "GET" and len(rest) == 2 and rest[0] == "users":
            # #tag/Users, Get User: by id or externalId.
            ext = urllib.parse.unquote(rest[1])
            user = self.users.get(ext) or self._user_by(ext)
            if not user:
                return self._error(h, 404, "user_not_found", "User not found")
            return self._send(h, 200, {"user": user})
        if method == "POST" and rest == ["attachments"]:
            return self._upload_attachment(h, "POST %s/attachments" % spec, query or {})
        if method == "POST" and rest == ["attachments", "remove"]:
            # #tag/Attachments, Delete Attachment: attachmentDeleteBody; 200 {}.
            self._validate("POST %s/attachments/remove" % spec, body)
            with self.lock:
                found = next((a for a in self.attachments if a["mediaUrl"] == body["mediaUrl"]), None)
                if found is None:
                    return self._error(h, 404, "not_found", "Attachment not found")
                found["removed"] = True
            return self._send(h, 200, {})
        if method == "GET" and rest == ["switchboards"]:
            # #tag/Switchboards, List Switchboards: switchboardListResponse.
            return self._send(h, 200, {"switchboards": [{
                "id": self.switchboard_id, "enabled": True,
                "defaultSwitchboardIntegrationId": self._ours["id"]}]})
        if method == "GET" and len(rest) == 3 and rest[0] == "switchboards" and rest[2] == "switchboardIntegrations":
            # #tag/Switchboard-Integrations, List Switchboard Integrations:
            # switchboardIntegrationListResponse.
            if rest[1] != self.switchboard_id:
                return self._error(h, 404, "switchboard_not_found", "Switchboard not found")
            with self.lock:
                return self._send(h, 200, {"switchboardIntegrations": [dict(i) for i in self.switchboard_integrations]})
        if method == "GET" and rest == ["integrations"]:
            # #tag/Integrations, List Integrations: integrationListResponse; a custom
            # integration carries its webhooks (the spec's custom schema, exactly one).
            return self._send(h, 200, {"integrations": self._integrations(), "meta": {"hasMore": False}})
        if method == "POST" and rest == ["conversations"]:
            # #tag/Conversations, Create Conversation: conversationCreateBody.
            self._validate("POST %s/conversations" % spec, body)
            self._flat_metadata(body.get("metadata"), "metadata")
            participants = body.get("participants") or []
            if body["type"] == "personal" and len(participants) != 1:
                raise Refused("participants: a personal conversation has exactly one")  # Stricter, 4
            for p in participants:
                names = [k for k in ("userId", "userExternalId") if k in p]
                if len(names) != 1:
                    raise Refused("participants: one of userId or userExternalId, not both")
                if not self._user_by(p.get("userId"), p.get("userExternalId")):
                    return self._error(h, 404, "user_not_found", "User not found")
            cid = _id("c_")
            conv = {"id": cid, "type": body.get("type"), "participants": participants,
                    "metadata": body.get("metadata"), "messages": [], "control": None}
            with self.lock:
                self.conversations[cid] = conv
            return self._send(h, 201, {"conversation": {"id": cid, "type": conv["type"],
                                                        "metadata": conv["metadata"],
                                                        "activeSwitchboardIntegration": None}})
        if len(rest) == 3 and rest[0] == "conversations":
            conv = self.conversations.get(rest[1])
            if not conv:
                return self._error(h, 404, "conversation_not_found", "Conversation not found")
            sub = "%s/conversations/{conversationId}/%s" % (spec, rest[2])
            if rest[2] == "messages" and method == "POST":
                return self._post_message(h, conv, sub, body)
            if rest[2] == "messages" and method == "GET":
                return self._list_messages(h, conv, query)
            if rest[2] == "passControl" and method == "POST":
                return self._pass_control(h, conv, sub, body)
            if rest[2] == "releaseControl" and method == "POST":
                # #tag/Switchboard-Actions, Release Control: releaseControlBody (optional);
                # "releases the control of the conversation by nullifying its switchboard
                # state": no integration is in control afterwards, the agent's included.
                if body is not None:
                    self._validate("POST " + sub, body)
                    self._flat_metadata(body.get("metadata"), "metadata")
                with self.lock:
                    conv["control"] = None
                    conv["release_metadata"] = (body or {}).get("metadata")
                return self._send(h, 200, {})
            if rest[2] == "activity" and method == "POST":
                # #tag/Activities, Post Activity: activityPost; its activityTypes: "If the
                # author type is user, only conversation:read is supported".
                self._validate("POST " + sub, body)
                self._check_author(body["author"], "author")
                if body["author"]["type"] == "user" and body["type"] != "conversation:read":
                    raise Refused("A user author supports only conversation:read, not %s" % body["type"])
                with self.lock:
                    conv.setdefault("activity", []).append(body.get("type"))
                return self._send(h, 200, {})
        self._error(h, 404, "not_found", "Not found")

    def _upload_attachment(self, h, key, query):
        # #tag/Attachments, Upload Attachment: multipart/form-data attachmentUploadBody
        # ("source", the file), query accessQuery (required), forQuery,
        # conversationIdQuery; 201 {"attachment": {"mediaUrl", "mediaType"}}, the
        # spec's uploadAttachment example giving the mediaUrl's shape.
        allowed = QUERIES[key]
        for name in query:
            if name not in allowed:
                raise Refused("Unknown query parameter %s" % name)
        for name, required in allowed.items():
            if required and name not in query:
                raise Refused("The query parameter %s is required" % name)
        if query.get("access") != ["public"]:
            raise Refused("access: the only access level is public")
        if "for" in query and query["for"] != ["message"]:
            raise Refused("for: only message is supported")
        cid = query.get("conversationId", [None])[0]
        if cid is not None and cid not in self.conversations:
            return self._error(h, 404, "conversation_not_found", "Conversation not found")
        raw = h.raw_body
        if len(raw) > ATTACHMENT_LIMIT + 64 * 1024:
            return self._error(h, 413, "payload_too_large", "The file is too large")
        head = ("Content-Type: %s\r\n\r\n" % h.headers.get("Content-Type")).encode()
        form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        if not form.is_multipart() or form.defects:
            raise Refused("The body is not multipart/form-data")
        fields = {}
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_content_disposition() != "form-data" or not name or name in fields:
                raise Refused("Each part needs its own form-data name")
            fields[name] = part
        error = jsonschema.exceptions.best_match(VALIDATORS[key].iter_errors({k: "(binary)" for k in fields}))
        if error is not None:
            raise Refused("%s (schema %s)" % (error.message[:200], key))
        if set(fields) != {"source"}:
            raise Refused("Unknown form fields: %s" % ", ".join(sorted(set(fields) - {"source"})))
        source = fields["source"]
        filename = source.get_filename()
        if not filename:
            raise Refused("source must be a file part with a filename")
        data = source.get_payload(decode=True) or b""
        if len(data) > ATTACHMENT_LIMIT:
            return self._error(h, 413, "payload_too_large", "The file is larger than 50 MB")
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if ext not in ALLOWED_EXTENSIONS:
            return self._error(h, 415, "unsupported_media_type", "File rejected. File extension not allowed")
        media_type = _sniff(data)
        if media_type is None:
            return self._error(h, 415, "unsupported_media_type", "File rejected. File type not allowed")
        url = "https://acme.zendesk.com/sc/attachments/v2/%s/%s" % (_id("att_"), urllib.parse.quote(filename))
        with self.lock:
            self.attachments.append({"mediaUrl": url, "mediaType": media_type, "size": len(data),
                                     "filename": filename, "declaredType": source.get_content_type(),
                                     "query": {k: v[0] for k, v in query.items()}, "removed": False,
                                     "data": data})
        return self._send(h, 201, {"attachment": {"mediaUrl": url, "mediaType": media_type}})

    def _integrations(self):
        target = self.webhook_url or "http://deskbridge.invalid/api/zendesk/webhook"
        return [{"id": self.web_integration_id, "type": "web", "status": "active", "displayName": "Web Widget"},
                {"id": self.own_integration_id, "type": "custom", "status": "active", "displayName": "deskbridge",
                 "webhooks": [{"id": self.own_webhook_id, "version": "v2", "target": target,
                               "triggers": ["conversation:message", "conversation:typing", "conversation:read",
                                            "switchboard:passControl", "switchboard:acceptControl",
                                            "switchboard:releaseControl"],
                               "includeFullUser": False, "includeFullSource": False}]}]

    def _post_message(self, h, conv, key, body):
        # #tag/Messages, Post Message: messagePost; answered 201 {"messages": [message]}.
        self._validate("POST " + key, body)
        self._check_author(body["author"], "author")
        self._flat_metadata(body.get("metadata"), "metadata")
        message = {"id": _id("msg_"), "received": _now(), "author": body["author"],
                   "content": body["content"], "source": {"type": API_SOURCE}}
        if isinstance(body.get("metadata"), dict):
            message["metadata"] = body["metadata"]
        with self.lock:
            conv["messages"].append(message)
            if self.webhook_url:
                # The echo, queued now so echoes keep the messages' order, delivered once
                # this call is answered (receiving-messages: every message, any author).
                self._enqueue(self._body([self.event("conversation:message", {
                    "conversation": self._conversation_truncated(conv["id"]),
                    "message": json.loads(json.dumps(message))})]), ready=h.answered, echo=True)
        return self._send(h, 201, {"messages": [message]})

    def _list_messages(self, h, conv, query):
        # #tag/Messages, List Messages: pages backwards, 100 at a time, each page oldest
        # first: the latest page without a cursor, the one before a message with
        # page[before].
        before = (query or {}).get("page[before]", [None])[0]
        with self.lock:
            ids = [m["id"] for m in conv["messages"]]
            if before is not None and before not in ids:
                return self._error(h, 400, "bad_request", "Invalid page[before] cursor")
            end = ids.index(before) if before is not None else len(ids)
            page = conv["messages"][max(0, end - MESSAGES_PAGE):end]
            more = end > MESSAGES_PAGE
            later = end < len(ids)
        meta = {"hasMore": more}
        if more:
            meta["beforeCursor"] = page[0]["id"]
        if later and page:
            meta["afterCursor"] = page[-1]["id"]
        return self._send(h, 200, {"messages": page, "meta": meta, "links": {}})

    def _pass_control(self, h, conv, key, body):
        # #tag/Switchboard-Actions, Pass Control: passControlBody. The fake accepts only a
        # switchboard integration's id or name, or "next" (the one after the integration in
        # control, the default integration's next when none has been passed control): the
        # stricter reading (Stricter than known, 1); an integration type, such as
        # "zd:agentWorkspace", is refused.
        self._validate("POST " + key, body)
        self._flat_metadata(body.get("metadata"), "metadata")
        wanted = body["switchboardIntegration"]
        with self.lock:
            board = list(self.switchboard_integrations)
            if wanted == "next":
                current = next((i for i in board if i["id"] == conv["control"]), None) or \
                    next((i for i in board if i["id"] == self._ours["id"]), None)
                target = next((i for i in board if current and i["id"] == current.get("nextSwitchboardIntegrationId")),
                              None)
            else:
                target = next((i for i in board if i["id"] == wanted), None) or \
                    next((i for i in board if i["name"] == wanted), None)
            if target is None:
                raise Refused("switchboardIntegration: no switchboard integration has the id or name %r" % wanted)
            conv["control"] = target["id"]
            conv["pass_metadata"] = body.get("metadata")
        return self._send(h, 200, {})

    def _send(self, h, status, obj, headers=None):
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _now_s():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _now_us():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)

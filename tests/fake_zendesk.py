"""tests/fake_zendesk.py — a stand-in for Zendesk, the one part of the system the tests
cannot run for real. It answers exactly the endpoints lib/zendesk.c calls, with the JSON
shapes and status codes of Zendesk's documentation (Sunshine Conversations v2 for
messaging, the Support API's agent availabilities), checks Basic credentials, records
every request, plays the agent on command by delivering v2 webhooks to deskbridge with
the webhook secret (X-API-Key), and fails on command.

    fake = FakeZendesk(app_id="app_1", key_id="key_1", key_secret="s3cret",
                       api_user="agent@acme.example", api_token="tok", agents_online=2).start()
    fake.url                      # the api_base to configure in deskbridge
    fake.fail_next(500, count=3)  # the next 3 calls answer 500
    fake.agent_says(conversation_id, "Hi")   # a webhook delivery to deskbridge
    fake.max_waiting              # most API calls whose client was waiting at once

Tests in other processes (the browser tests, in Node) drive it over HTTP through its
control routes under /_fake/, outside Zendesk's namespace:

    GET  /_fake/conversations   every conversation: id, metadata, control, messages, activity
    GET  /_fake/requests        every API request it received: method, path
    POST /_fake/agent           {"conversation", "action": "accept" | "says" | "typing" |
                                 "read" | "solves", "text", "typing"} -> a webhook delivery
    POST /_fake/fail            {"how": 500 | "drop" | ["slow", s], "count": n}
    POST /_fake/agents_online   {"count": n}
"""

import base64
import http.server
import itertools
import json
import select
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

_ids = itertools.count(1)
MESSAGES_PAGE = 100


def _id(prefix):
    return "%s%024x" % (prefix, next(_ids))


class FakeZendesk:
    def __init__(self, app_id="app_5f1a", key_id="app_5f1a_key", key_secret="messaging-key-secret",
                 api_user="agent@acme.example", api_token="support-api-token", agents_online=2):
        self.app_id, self.key_id, self.key_secret = app_id, key_id, key_secret
        self.api_user, self.api_token = api_user, api_token
        self.agents_online = agents_online
        self.requests = []           # (method, path, query, headers, body) of every request
        self.users = {}              # externalId -> user
        self.conversations = {}      # id -> {"id", "participants", "metadata", "messages", "control"}
        self.failures = []           # [status or "drop" or ("slow", seconds)] consumed in order
        self.waiting = 0             # API calls received whose client has neither been
        self.max_waiting = 0         # answered nor hung up; and the most there were at once
        self.webhook_url = None
        self.webhook_secret = None
        self.lock = threading.Lock()
        self.server = None

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
        """how: an HTTP status, "drop" (close the connection unanswered), or
        ("slow", seconds) (answer normally after that long)."""
        with self.lock:
            self.failures += [how] * count

    def calls(self, method=None, path_part=None):
        return [r for r in self.requests
                if (method is None or r[0] == method) and (path_part is None or path_part in r[1])]

    def messages(self, conversation_id):
        return self.conversations[conversation_id]["messages"]

    # The agent's side, delivered the way Zendesk does: POST {"app", "webhook", "events"}.

    def deliver(self, *events):
        body = json.dumps({"app": {"id": self.app_id}, "webhook": {"id": "wh_1", "version": "v2"},
                           "events": list(events)}).encode()
        req = urllib.request.Request(self.webhook_url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-API-Key": self.webhook_secret})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())

    def event(self, type_, payload):
        return {"id": _id("evt_"), "createdAt": _now(), "type": type_, "payload": payload}

    def agent_message_event(self, cid, text, name="Ana"):
        message = {"id": _id("msg_"), "received": _now(),
                   "author": {"type": "business", "displayName": name,
                              "avatarUrl": "https://acme.zendesk.com/ana.png"},
                   "content": {"type": "text", "text": text}, "source": {"type": "zd:agentWorkspace"}}
        with self.lock:
            self.conversations[cid]["messages"].append(message)
        return self.event("conversation:message", {"conversation": {"id": cid, "type": "personal"},
                                                    "message": message})

    def agent_says(self, cid, text):
        return self.deliver(self.agent_message_event(cid, text))

    def agent_typing(self, cid, on=True):
        return self.deliver(self.event("conversation:typing", {
            "conversation": {"id": cid},
            "activity": {"type": "typing:start" if on else "typing:stop",
                         "author": {"type": "business", "displayName": "Ana"}}}))

    def workspace_accepts(self, cid):
        """The agent workspace announces it has the conversation (the visitor is queued)."""
        return self.deliver(self.event("switchboard:passControl", {
            "conversation": {"id": cid, "type": "personal", "activeSwitchboardIntegration": {
                "id": "sbi_aw", "name": "zd-agentWorkspace", "integrationId": "int_aw",
                "integrationType": "zd:agentWorkspace"}}}))

    def agent_reads(self, cid):
        return self.deliver(self.event("conversation:read", {
            "conversation": {"id": cid},
            "activity": {"type": "conversation:read", "author": {"type": "business", "displayName": "Ana"}}}))

    def agent_solves(self, cid):
        """The ticket is solved: the agent workspace hands control back."""
        with self.lock:
            self.conversations[cid]["control"] = None
        return self.deliver(self.event("switchboard:releaseControl",
                                       {"conversation": {"id": cid}, "reason": "ticketClosed"}))

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
        try:
            self._answer(h, method, parsed, raw, how, waiting)
        finally:
            self._done_waiting(waiting)

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

    def _answer(self, h, method, parsed, raw, how, waiting):
        if how == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(how, tuple):
            self._slow(h, how[1], waiting)
        elif isinstance(how, int):
            headers = {"Retry-After": "1"} if how == 429 else {}
            return self._send(h, how, {"errors": [{"code": "unavailable" if how >= 500 else "bad_request",
                                                    "title": "Injected failure"}]}, headers)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(h, 400, {"errors": [{"code": "bad_request", "title": "Invalid JSON"}]})
        path = parsed.path
        if path.startswith("/_fake/"):
            return self._control(h, method, path[len("/_fake/"):], body or {})
        if path.startswith("/sc/v2/apps/"):
            return self._messaging(h, method, path[len("/sc/v2/apps/"):].split("/"), body,
                                   urllib.parse.parse_qs(parsed.query))
        if path == "/api/v2/agent_availabilities":
            return self._availability(h, parsed.query)
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
        if method == "POST" and route == "agent":
            cid = body.get("conversation")
            if cid not in self.conversations:
                return self._send(h, 404, {"error": "no such conversation"})
            act = body.get("action")
            do = {"accept": lambda: self.workspace_accepts(cid),
                  "says": lambda: self.agent_says(cid, body.get("text", "")),
                  "typing": lambda: self.agent_typing(cid, bool(body.get("typing", True))),
                  "read": lambda: self.agent_reads(cid),
                  "solves": lambda: self.agent_solves(cid)}.get(act)
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

    def _availability(self, h, query):
        if self._basic(h) != "%s/token:%s" % (self.api_user, self.api_token):
            return self._send(h, 401, {"error": "Couldn't authenticate you"})
        q = urllib.parse.parse_qs(query)
        if q.get("filter[channel_status]") != ["messaging:online"]:
            return self._send(h, 400, {"errors": [{"title": "Invalid filter"}]})
        data = [{"id": "agent-%d" % i, "type": "agent_availabilities",
                 "attributes": {"agent_status": {"id": "online", "name": "Online"}},
                 "relationships": {}} for i in range(self.agents_online)]
        self._send(h, 200, {"data": data, "meta": {"has_more": False}, "links": {"first": None}})

    def _messaging(self, h, method, parts, body, query=None):
        if self._basic(h) != "%s:%s" % (self.key_id, self.key_secret):
            return self._send(h, 401, {"errors": [{"code": "unauthorized",
                                                    "title": "Authorization is required"}]})
        if parts[0] != self.app_id:
            return self._send(h, 404, {"errors": [{"code": "app_not_found", "title": "App not found"}]})
        rest = parts[1:]
        if method == "GET" and not rest:
            return self._send(h, 200, {"app": {"id": self.app_id, "displayName": "Acme",
                                               "settings": {}, "metadata": None}})
        if method == "POST" and rest == ["users"]:
            ext = body.get("externalId")
            if ext in self.users:
                return self._send(h, 409, {"errors": [{"code": "conflict", "title": "User already exists"}]})
            user = {"id": _id("u_"), "externalId": ext, "profile": body.get("profile", {}),
                    "signedUpAt": _now(), "metadata": {}}
            self.users[ext] = user
            return self._send(h, 201, {"user": user})
        if method == "GET" and len(rest) == 2 and rest[0] == "users":
            ext = urllib.parse.unquote(rest[1])
            user = self.users.get(ext) or next((u for u in self.users.values() if u["id"] == ext), None)
            if not user:
                return self._send(h, 404, {"errors": [{"code": "user_not_found", "title": "User not found"}]})
            return self._send(h, 200, {"user": user})
        if method == "POST" and rest == ["conversations"]:
            cid = _id("c_")
            conv = {"id": cid, "type": body.get("type"), "participants": body.get("participants"),
                    "metadata": body.get("metadata"), "messages": [], "control": None}
            self.conversations[cid] = conv
            return self._send(h, 201, {"conversation": {"id": cid, "type": conv["type"],
                                                        "metadata": conv["metadata"],
                                                        "activeSwitchboardIntegration": None}})
        if len(rest) == 3 and rest[0] == "conversations":
            conv = self.conversations.get(rest[1])
            if not conv:
                return self._send(h, 404, {"errors": [{"code": "conversation_not_found",
                                                        "title": "Conversation not found"}]})
            if rest[2] == "messages" and method == "POST":
                author, content = body.get("author", {}), body.get("content", {})
                if author.get("type") not in ("user", "business") or content.get("type") != "text":
                    return self._send(h, 400, {"errors": [{"code": "bad_request", "title": "Invalid message"}]})
                message = {"id": _id("msg_"), "received": _now(), "author": author, "content": content}
                if isinstance(body.get("metadata"), dict):
                    message["metadata"] = body["metadata"]
                with self.lock:
                    conv["messages"].append(message)
                return self._send(h, 201, {"messages": [message]})
            if rest[2] == "messages" and method == "GET":
                # List Messages pages backwards, 100 at a time, each page oldest first: the
                # latest page without a cursor, the one before a message with page[before].
                before = (query or {}).get("page[before]", [None])[0]
                with self.lock:
                    ids = [m["id"] for m in conv["messages"]]
                    if before is not None and before not in ids:
                        return self._send(h, 400, {"errors": [{"code": "bad_request",
                                                                "title": "Invalid page[before] cursor"}]})
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
            if rest[2] == "passControl" and method == "POST":
                conv["control"] = body.get("switchboardIntegration")
                conv["pass_metadata"] = body.get("metadata")
                return self._send(h, 200, {})
            if rest[2] == "activity" and method == "POST":
                conv.setdefault("activity", []).append(body.get("type"))
                return self._send(h, 200, {})
        self._send(h, 404, {"errors": [{"code": "not_found", "title": "Not found"}]})

    def _send(self, h, status, obj, headers=None):
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

"""The visitor's side of /api/transfers through lighttpd: creation and its idempotency,
the transfer secret, polling with ETag, messages and their idempotency, read, typing,
end, timeouts. (The Zendesk side of the handoff is not built yet: see the issue note.)"""

import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SERVER = None
VISITOR = {"name": "Ana Lima", "email": "ana@shop.example"}


def setUpModule():
    global SERVER
    SERVER = harness.Server().start()
    SERVER.state.admin("config", "set", "transfers_enabled", "true")
    # These tests create transfers far faster than any visitor; test_limits checks the limits.
    SERVER.state.admin("config", "set", "limits.transfers_per_minute", "100000")
    SERVER.state.admin("config", "set", "limits.open_transfers_per_visitor", "1000")


def create(**over):
    body = {"visitor": VISITOR, "message_to_human_agent": "Customer asked about a refund",
            "history": [{"from": "user", "text": "I want a refund", "time": "2026-11-24T10:00:00Z"},
                        {"from": "assistant", "text": "Let me get you an agent"}],
            "locale": "en", "page_url": "https://shop.example/orders/42"}
    body.update(over)
    return SERVER.request("POST", "/api/transfers", body=body)


def new_transfer(**over):
    r = create(**over)
    assert r.status == 201, r.body
    t = r.json()
    return t["id"], {"Authorization": "Bearer " + t["secret"]}


def call(method, path, auth, body=None, headers=None):
    h = dict(auth)
    h.update(headers or {})
    return SERVER.request(method, path, body=body, headers=h)


def db_rows(sql, *args):
    with sqlite3.connect(SERVER.state.db) as c:
        return c.execute(sql, args).fetchall()


class Create(unittest.TestCase):
    def test_shape_and_storage(self):
        r = create()
        self.assertEqual(r.status, 201, r.body)
        t = r.json()
        self.assertEqual(set(t), {"id", "secret", "state", "next", "poll_after_ms"})
        self.assertRegex(t["id"], r"^tr_[0-9a-f]{24}$")
        self.assertEqual((t["state"], t["next"], t["poll_after_ms"]), ("waiting", 0, 3000))
        self.assertGreaterEqual(len(t["secret"]), 40)
        row = db_rows("SELECT visitor_name, visitor_email, visitor_authenticated, page_url, "
                      "secret_hash FROM transfers WHERE id = ?", t["id"])[0]
        self.assertEqual(row[:4], ("Ana Lima", "ana@shop.example", 0,
                                   "https://shop.example/orders/42"))
        self.assertNotIn(t["secret"].encode(), bytes(row[4]))
        self.assertEqual(db_rows("SELECT kind, state FROM outbox WHERE transfer_id = ?", t["id"]),
                         [("start", "pending")])

    def test_client_request_id_is_idempotent_per_visitor(self):
        proof = "c" * 22
        a = create(client_request_id="req-1", client_secret=proof).json()
        b = create(client_request_id="req-1", client_secret=proof).json()
        self.assertEqual((a["id"], a["secret"]), (b["id"], b["secret"]))
        other = create(client_request_id="req-1", client_secret="d" * 22,
                       visitor={"name": "Bo", "email": "bo@shop.example"}).json()
        self.assertNotEqual(other["id"], a["id"])
        self.assertEqual(len(db_rows("SELECT 1 FROM outbox WHERE transfer_id = ?", a["id"])), 1)
        self.assertNotIn(proof.encode(), bytes(db_rows("SELECT client_secret_hash FROM transfers "
                                                       "WHERE id = ?", a["id"])[0][0]))

    def test_refusals(self):
        for body, code, field in (
                ({"visitor": {"name": "A"}}, "invalid_field", "visitor.email"),
                ({"visitor": {"name": "A", "email": "nope"}}, "invalid_field", "visitor.email"),
                ({"visitor": {"email": "a@shop.example"}}, "invalid_field", "visitor.name"),
                ({"history": [{"from": "robot", "text": "x"}]}, "invalid_field", "history"),
                ({"history": [{"from": "user"}]}, "invalid_field", "history"),
                ({"history": [{"from": "user", "text": "x"}] * 501}, "invalid_field", "history"),
                ({"page_url": "javascript:alert(1)"}, "invalid_field", "page_url"),
                ({"client_secret": "a" * 21}, "invalid_field", "client_secret"),
                ({"client_secret": "a" * 21 + "+"}, "invalid_field", "client_secret"),
                ({"client_secret": "a" * 129}, "invalid_field", "client_secret"),
                ({"client_secret": 5}, "bad_request", "client_secret"),
                ({"message_to_human_agent": 5}, "bad_request", "message_to_human_agent")):
            r = create(**body)
            e = assert_error(self, r, 400 if code == "bad_request" else 422, code)
            self.assertEqual(e["field"], field, body)
        e = assert_error(self, create(history=[{"from": "user", "text": "x" * 4000}] * 70), 413,
                         "payload_too_large")
        self.assertIn("262144", e["message"])

    def test_disabled(self):
        SERVER.state.admin("config", "set", "transfers_enabled", "false")
        try:
            assert_error(self, create(), 503, "transfers_disabled")
        finally:
            SERVER.state.admin("config", "set", "transfers_enabled", "true")


class Secret(unittest.TestCase):
    def test_wrong_missing_and_unknown(self):
        tid, auth = new_transfer()
        for path in ("/api/transfers/%s" % tid, "/api/transfers/%s/events" % tid):
            assert_error(self, SERVER.request("GET", path), 401, "unauthenticated")
            assert_error(self, call("GET", path, {"Authorization": "Bearer wrong"}), 401,
                         "unauthenticated")
        other_id, other_auth = new_transfer()
        assert_error(self, call("GET", "/api/transfers/%s" % tid, other_auth), 401, "unauthenticated")
        assert_error(self, call("GET", "/api/transfers/tr_000000000000000000000000", auth), 404,
                     "not_found")
        self.assertEqual(call("GET", "/api/transfers/%s" % tid, auth).status, 200)


class Conversation(unittest.TestCase):
    def test_messages_poll_read_end(self):
        tid, auth = new_transfer()
        base = "/api/transfers/" + tid
        r = call("GET", base + "/events?after=0", auth)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"state": "waiting", "next": 0, "poll_after_ms": 3000,
                                    "events": []})
        etag = r.header("ETag")
        self.assertTrue(etag)
        r = call("GET", base + "/events?after=0", auth, headers={"If-None-Match": etag})
        self.assertEqual((r.status, r.body), (304, b""))

        m = call("POST", base + "/messages", auth, {"client_message_id": "c1", "text": "Hello? ☺"})
        self.assertEqual(m.status, 202, m.body)
        first = m.json()
        self.assertEqual(first["seq"], 1)
        again = call("POST", base + "/messages", auth, {"client_message_id": "c1", "text": "Hello? ☺"})
        self.assertEqual((again.status, again.json()), (202, first))
        call("POST", base + "/messages", auth, {"client_message_id": "c2", "text": "Anyone?"})
        r = call("GET", base + "/events?after=0", auth, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(body["next"], 2)
        ev = body["events"][0]
        self.assertEqual({k: ev[k] for k in ("seq", "type", "from", "text", "client_message_id", "id")},
                         {"seq": 1, "type": "message", "from": "user", "text": "Hello? ☺",
                          "client_message_id": "c1", "id": first["id"]})
        self.assertRegex(ev["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual([e["seq"] for e in call("GET", base + "/events?after=1", auth).json()["events"]], [2])
        self.assertEqual(db_rows("SELECT kind, client_message_id, seq FROM outbox WHERE transfer_id = ? "
                                 "AND kind = 'message' ORDER BY id", tid),
                         [("message", "c1", 1), ("message", "c2", 2)])

        self.assertEqual(call("POST", base + "/read", auth, {"seq": 2}).status, 204)
        self.assertEqual(db_rows("SELECT visitor_read_seq FROM transfers WHERE id = ?", tid), [(2,)])
        self.assertEqual(call("POST", base + "/typing", auth, {"typing": True}).status, 204)

        r = call("POST", base + "/end", auth)
        self.assertEqual((r.status, r.json()), (200, {"state": "ended"}))
        self.assertEqual(call("POST", base + "/end", auth).status, 200)
        events = call("GET", base, auth).json()["events"]
        ended = [e for e in events if e["type"] == "ended"]
        self.assertEqual(len(ended), 1)
        self.assertEqual(ended[0]["by"], "user")
        assert_error(self, call("POST", base + "/messages", auth, {"client_message_id": "c3", "text": "x"}),
                     409, "transfer_ended")

    def test_bad_bodies(self):
        tid, auth = new_transfer()
        base = "/api/transfers/" + tid
        for body, status, code in (({"client_message_id": "c", "text": ""}, 422, "invalid_field"),
                                   ({"client_message_id": "c", "text": "x" * 4097}, 422, "invalid_field"),
                                   ({"text": "x"}, 400, "bad_request"),
                                   ({"client_message_id": "c", "text": 1}, 400, "bad_request")):
            assert_error(self, call("POST", base + "/messages", auth, body), status, code)
        assert_error(self, call("POST", base + "/typing", auth, {"typing": "yes"}), 400, "bad_request")
        assert_error(self, call("POST", base + "/read", auth, {"seq": -1}), 422, "invalid_field")
        assert_error(self, call("GET", base + "/events?after=x", auth), 400, "bad_request")
        self.assertEqual(call("GET", base + "/events", auth).json()["events"], [])


class Timeouts(unittest.TestCase):
    def test_no_agent_in_time_ends_once(self):
        tid, auth = new_transfer()
        with sqlite3.connect(SERVER.state.db) as c:
            c.execute("UPDATE transfers SET created_at = created_at - 301, "
                      "last_activity_at = last_activity_at - 301 WHERE id = ?", (tid,))
        for _ in range(2):
            body = call("GET", "/api/transfers/%s/events" % tid, auth).json()
        self.assertEqual(body["state"], "ended")
        ended = [e for e in body["events"] if e["type"] == "ended"]
        self.assertEqual([(e["by"], e["reason"]) for e in ended], [("system", "no_agent")])

    def test_idle(self):
        tid, auth = new_transfer()
        with sqlite3.connect(SERVER.state.db) as c:
            c.execute("UPDATE transfers SET agent_joined_at = created_at, "
                      "last_activity_at = last_activity_at - 1801 WHERE id = ?", (tid,))
        body = call("GET", "/api/transfers/%s/events" % tid, auth).json()
        self.assertEqual(body["events"][-1]["reason"], "idle")


class Housekeeping(unittest.TestCase):
    def test_sweep_purge_stats(self):
        fresh, _ = new_transfer()
        old, old_auth = new_transfer()
        with sqlite3.connect(SERVER.state.db) as c:
            c.execute("UPDATE transfers SET created_at = created_at - 400, "
                      "last_activity_at = last_activity_at - 400 WHERE id = ?", (old,))
        out = SERVER.state.admin("sweep").stdout
        self.assertRegex(out, r"^[1-9]\d* transfer\(s\) ended by their timeout")
        self.assertEqual(db_rows("SELECT state FROM transfers WHERE id = ?", old), [("ended",)])
        self.assertEqual(db_rows("SELECT state FROM transfers WHERE id = ?", fresh), [("waiting",)])
        self.assertEqual(call("GET", "/api/transfers/%s/events" % old, old_auth).json()["events"][-1]["reason"],
                         "no_agent")

        stats = dict(l.split(": ") for l in SERVER.state.admin("stats").stdout.splitlines())
        self.assertGreaterEqual(int(stats["transfers_ended"]), 1)
        self.assertGreaterEqual(int(stats["transfers_last_24h"]), 2)
        self.assertEqual(set(stats), {"transfers_waiting", "transfers_active", "transfers_ended",
                                      "transfers_last_24h", "events", "messages_waiting",
                                      "messages_failed"})

        with sqlite3.connect(SERVER.state.db) as c:
            c.execute("UPDATE transfers SET ended_at = ended_at - 2 * 86400 WHERE id = ?", (old,))
        out = SERVER.state.admin("purge", "--older-than", "1").stdout
        self.assertRegex(out, r"^[1-9]\d* ended transfer\(s\) purged")
        for table in ("transfers WHERE id", "events WHERE transfer_id", "outbox WHERE transfer_id"):
            self.assertEqual(db_rows("SELECT count(*) FROM %s = ?" % table, old), [(0,)], table)
        self.assertEqual(db_rows("SELECT count(*) FROM transfers WHERE id = ?", fresh), [(1,)])
        for bad in (["purge"], ["purge", "--older-than", "0"], ["purge", "--older-than", "x"]):
            self.assertEqual(SERVER.state.admin(*bad, check=False).returncode, 2, bad)


class Agent(unittest.TestCase):
    def new_credentials(self):
        r = login(SERVER)
        session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        return SERVER.request("POST", "/api/setup/app-credentials", headers=session).json()["app_credentials"]

    def test_sidebar_view(self):
        creds = self.new_credentials()
        tid, _ = new_transfer()
        r = SERVER.request("GET", "/api/agent/transfers/" + tid,
                           headers={"Authorization": "Bearer " + creds})
        self.assertEqual(r.status, 200, r.body)
        t = r.json()
        self.assertEqual(set(t), {"id", "state", "visitor", "message_to_human_agent", "history",
                                  "page_url", "locale", "created_at"})
        self.assertEqual(t["visitor"], {"name": "Ana Lima", "email": "ana@shop.example",
                                        "external_id": "unverified:ana@shop.example",
                                        "authenticated": False})
        self.assertEqual(t["message_to_human_agent"], "Customer asked about a refund")
        self.assertEqual([h["text"] for h in t["history"]], ["I want a refund", "Let me get you an agent"])
        self.assertEqual((t["page_url"], t["locale"], t["state"]),
                         ("https://shop.example/orders/42", "en", "waiting"))
        assert_error(self, SERVER.request("GET", "/api/agent/transfers/tr_000000000000000000000000",
                                          headers={"Authorization": "Bearer " + creds}), 404, "not_found")

    def test_credentials_required(self):
        creds = self.new_credentials()
        tid, _ = new_transfer()
        path = "/api/agent/transfers/" + tid
        assert_error(self, SERVER.request("GET", path), 401, "unauthenticated")
        assert_error(self, SERVER.request("GET", path, headers={"Authorization": "Bearer nope"}),
                     401, "unauthenticated")
        newer = self.new_credentials()
        assert_error(self, SERVER.request("GET", path, headers={"Authorization": "Bearer " + creds}),
                     401, "unauthenticated")
        self.assertEqual(SERVER.request("GET", path, headers={"Authorization": "Bearer " + newer}).status,
                         200)


if __name__ == "__main__":
    sys.exit(harness.main())

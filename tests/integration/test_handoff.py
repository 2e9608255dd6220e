"""The whole handoff through lighttpd against the fake Zendesk (tests/fake_zendesk.py):
the visitor's transfer reaches the agent workspace with the bot conversation, messages
go both ways in order and once, Zendesk failing is retried or reported, the agent solves
the ticket; and "Access account" against the same fake."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SERVER = FAKE = None
WEBHOOK_SECRET = "webhook-secret-for-handoff"


def setUpModule():
    global SERVER, FAKE
    FAKE = FakeZendesk().start()
    SERVER = harness.Server().start()
    harness.connect_zendesk(SERVER, FAKE, WEBHOOK_SECRET)


def tearDownModule():
    FAKE.stop()


def start_transfer(email="ana@shop.example", **extra):
    r = SERVER.request("POST", "/api/transfers", body=dict({
        "visitor": {"name": "Ana Lima", "email": email},
        "message_to_human_agent": "Customer asked about a refund",
        "history": [{"from": "user", "text": "I want a refund"},
                    {"from": "assistant", "text": "Let me get you an agent"}]}, **extra))
    assert r.status == 201, r.body
    t = r.json()
    auth = {"Authorization": "Bearer " + t["secret"]}
    conv = harness.wait_for(lambda: next((c for c in FAKE.conversations.values()
                                  if c["metadata"] == {"deskbridge_transfer_id": t["id"]}
                                  and c["control"]), None))
    return t["id"], auth, conv


def poll(tid, auth):
    return SERVER.request("GET", "/api/transfers/%s/events" % tid, headers=auth).json()


def texts_from_visitor(conv):
    return [m["content"]["text"] for m in conv["messages"] if m["author"]["type"] == "user"]


class Handoff(unittest.TestCase):
    def test_reaches_the_agent_workspace_with_the_bot_conversation(self):
        tid, auth, conv = start_transfer()
        user = FAKE.users["unverified:ana@shop.example"]
        self.assertEqual(user["profile"], {"givenName": "Ana Lima", "email": "ana@shop.example"})
        self.assertEqual(conv["participants"], [{"userId": user["id"], "subscribeSDKClient": False}])
        self.assertEqual([(m["author"].get("type"), m["author"].get("userId") or m["author"].get("displayName"),
                           m["content"]["text"]) for m in conv["messages"]],
                         [("user", user["id"], "I want a refund"),
                          ("business", "Bot", "Let me get you an agent"),
                          ("business", "Bot", "Customer asked about a refund")])
        self.assertEqual(conv["control"], next(i["id"] for i in FAKE.switchboard_integrations
                                               if i["integrationType"] == "zd:agentWorkspace"))
        self.assertEqual(conv["pass_metadata"], {"first_message_id": conv["messages"][0]["id"],
                                                 "dataCapture.systemField.tags": "deskbridge_" + tid})
        basic = [r[3].get("Authorization") for r in FAKE.calls(path_part="/sc/v2/apps/")]
        self.assertTrue(all(b and b.startswith("Basic ") for b in basic))

    def test_department_reaches_the_ticket_as_a_tag_for_routing(self):
        tid, _, conv = start_transfer("dept@shop.example", department="Billing EU/2")
        self.assertEqual(conv["pass_metadata"]["dataCapture.systemField.tags"],
                         "deskbridge_%s deskbridge_dept_billing_eu_2" % tid)
        SERVER.state.admin("config", "set", "transfers.department", "sales")
        try:
            tid, _, conv = start_transfer("dept2@shop.example")
        finally:
            SERVER.state.admin("config", "unset", "transfers.department")
        self.assertEqual(conv["pass_metadata"]["dataCapture.systemField.tags"],
                         "deskbridge_%s deskbridge_dept_sales" % tid)

    def test_conversation_both_ways(self):
        tid, auth, conv = start_transfer("bo@shop.example")
        base = "/api/transfers/" + tid
        for i in range(3):
            body = {"client_message_id": "c%d" % i, "text": "visitor says %d" % i}
            self.assertEqual(SERVER.request("POST", base + "/messages", body=body, headers=auth).status, 202)
        SERVER.request("POST", base + "/messages", body={"client_message_id": "c1", "text": "visitor says 1"},
                       headers=auth)
        harness.wait_for(lambda: len(texts_from_visitor(conv)) >= 4)
        time.sleep(0.3)
        self.assertEqual(texts_from_visitor(conv), ["I want a refund", "visitor says 0", "visitor says 1",
                                                    "visitor says 2"])
        self.assertEqual(SERVER.request("POST", base + "/typing", body={"typing": True}, headers=auth).status, 204)

        FAKE.workspace_accepts(conv["id"])
        FAKE.agent_typing(conv["id"])
        status, result = FAKE.agent_says(conv["id"], "Hi, I'm Ana")
        self.assertEqual((status, result["applied"]), (200, 1))
        events = poll(tid, auth)["events"]
        self.assertEqual([e["type"] for e in events][-4:], ["queued", "agent_joined", "agent_typing", "message"])
        self.assertEqual(events[-1]["text"], "Hi, I'm Ana")
        self.assertEqual(poll(tid, auth)["state"], "active")

        FAKE.agent_solves(conv["id"])
        last = poll(tid, auth)["events"][-1]
        self.assertEqual((last["type"], last["by"], last["reason"]), ("ended", "agent", "ticket_closed"))

    def test_zendesk_failing_is_retried_in_order_and_once(self):
        tid, auth, conv = start_transfer("cy@shop.example")
        base = "/api/transfers/" + tid
        FAKE.fail_next(500, 2)
        FAKE.fail_next(429)
        for i in range(3):
            SERVER.request("POST", base + "/messages", body={"client_message_id": "r%d" % i,
                                                              "text": "retry %d" % i}, headers=auth)
        harness.wait_for(lambda: len(texts_from_visitor(conv)) >= 4, seconds=30, poll=lambda: poll(tid, auth))
        time.sleep(0.3)
        self.assertEqual(texts_from_visitor(conv)[1:], ["retry 0", "retry 1", "retry 2"])

    def test_dropped_connection_is_retried(self):
        tid, auth, conv = start_transfer("dee@shop.example")
        FAKE.fail_next("drop")
        SERVER.request("POST", "/api/transfers/%s/messages" % tid,
                       body={"client_message_id": "d0", "text": "after a drop"}, headers=auth)
        harness.wait_for(lambda: "after a drop" in texts_from_visitor(conv), seconds=30, poll=lambda: poll(tid, auth))
        self.assertEqual(texts_from_visitor(conv).count("after a drop"), 1)

    def test_slow_zendesk_times_out_and_is_retried(self):
        tid, auth, conv = start_transfer("fay@shop.example")
        FAKE.fail_next(("slow", 9))     # beyond the driver's 8 s limit for one call
        started = time.time()
        r = SERVER.request("POST", "/api/transfers/%s/messages" % tid,
                           body={"client_message_id": "s0", "text": "despite a slow Zendesk"}, headers=auth)
        self.assertEqual(r.status, 202)
        self.assertLess(time.time() - started, 2, "the visitor waited for Zendesk")
        harness.wait_for(lambda: "despite a slow Zendesk" in texts_from_visitor(conv), seconds=40,
                 poll=lambda: poll(tid, auth))
        self.assertEqual(texts_from_visitor(conv).count("despite a slow Zendesk"), 1)

    def test_visitor_reads_and_ends(self):
        tid, auth, conv = start_transfer("gus@shop.example")
        base = "/api/transfers/" + tid
        self.assertEqual(SERVER.request("POST", base + "/read", body={"seq": 0}, headers=auth).status, 204)
        harness.wait_for(lambda: "conversation:read" in conv.get("activity", []))
        self.assertEqual(SERVER.request("POST", base + "/end", headers=auth).status, 200)
        harness.wait_for(lambda: any(m["content"]["text"] == "The visitor's chat has ended."
                             for m in conv["messages"]))
        resumed = SERVER.request("GET", base, headers=auth).json()
        self.assertEqual((resumed["id"], resumed["state"]), (tid, "ended"))

    def test_refused_message_tells_the_visitor(self):
        tid, auth, conv = start_transfer("eve@shop.example")
        FAKE.fail_next(400)
        r = SERVER.request("POST", "/api/transfers/%s/messages" % tid,
                           body={"client_message_id": "x0", "text": "refused"}, headers=auth)
        msg_id = r.json()["id"]
        errors = harness.wait_for(lambda: [e for e in poll(tid, auth)["events"] if e["type"] == "error"])
        self.assertEqual((errors[0]["code"], errors[0]["message_id"]), ("delivery_failed", msg_id))
        self.assertNotIn("refused", texts_from_visitor(conv))
        status = SERVER.state.admin("stats").stdout
        self.assertIn("messages_failed: ", status)


def expire_availability():
    """Ten seconds passing, as far as the availability cache and its lease can tell."""
    import sqlite3
    with sqlite3.connect(SERVER.state.db) as c:
        c.execute("UPDATE cache SET value = json_set(value, '$.checked_at', 0) WHERE key = 'availability'")
        c.execute("DELETE FROM leases WHERE name = 'availability:refresh'")


class Availability(unittest.TestCase):
    def tearDown(self):
        FAKE.agents_online = 2
        expire_availability()

    def test_cached_and_shared(self):
        import concurrent.futures
        expire_availability()
        before = len(FAKE.calls("GET", "/api/v2/agent_availabilities"))
        r = SERVER.request("GET", "/api/availability")
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual((body["agents_online"], body["count"]), (True, 2))
        self.assertRegex(body["checked_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: SERVER.request("GET", "/api/availability").json(), range(40)))
        self.assertTrue(all(a == body for a in answers))
        self.assertEqual(len(FAKE.calls("GET", "/api/v2/agent_availabilities")) - before, 1)

    def test_no_agent_refuses_the_transfer_with_the_admins_message(self):
        SERVER.state.admin("config", "set", "transfers.unavailable_message", "We are closed: back at 9.")
        FAKE.agents_online = 0
        expire_availability()
        self.assertEqual(SERVER.request("GET", "/api/availability").json()["agents_online"], False)
        e = assert_error(self, SERVER.request("POST", "/api/transfers", body={
            "visitor": {"name": "Late", "email": "late@shop.example"}}), 503, "agents_unavailable")
        self.assertEqual(e["message"], "We are closed: back at 9.")

    def test_zendesk_down_and_no_answer_yet(self):
        SERVER.state.admin("config", "unset", "zendesk.api_token")
        try:
            assert_error(self, SERVER.request("GET", "/api/availability"), 503, "not_configured")
        finally:
            SERVER.state.admin("config", "set", "zendesk.api_token", "-", stdin=FAKE.api_token + "\n")
        import sqlite3
        with sqlite3.connect(SERVER.state.db) as c:
            c.execute("DELETE FROM cache WHERE key = 'availability'")
            c.execute("DELETE FROM leases WHERE name = 'availability:refresh'")
        FAKE.fail_next(503)
        assert_error(self, SERVER.request("GET", "/api/availability"), 502, "zendesk_unreachable")


class AccessAccount(unittest.TestCase):
    def session(self):
        r = login(SERVER)
        return {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}

    def test_verified(self):
        s = self.session()
        r = SERVER.request("POST", "/api/setup/zendesk/verify", headers=s)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["verified"], r.json()["agents_online"]), (True, 2))
        self.assertEqual([(c["name"], c["ok"]) for c in r.json()["checks"]],
                         [("messaging_key", True), ("support_token", True), ("agent_workspace", True),
                          ("webhook_integration", True)])
        config = SERVER.request("GET", "/api/setup/config", headers=s).json()
        self.assertRegex(config["zendesk"]["account_verified_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(FAKE.calls("GET", "/api/v2/agent_availabilities"))

    def test_slow_refused_and_missing(self):
        s = self.session()
        FAKE.fail_next(("slow", 9))
        started = time.time()
        e = assert_error(self, SERVER.request("POST", "/api/setup/zendesk/verify", headers=s), 502,
                         "zendesk_unreachable")
        self.assertLess(time.time() - started, 12)
        self.assertIn("messaging API", e["message"])
        state = harness.State()
        closed = harness.free_port()
        state.admin("config", "set", "zendesk.api_base", "http://127.0.0.1:%d" % closed)
        server = harness.Server(state=state).start()
        try:
            r = login(server)
            s2 = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
            e = assert_error(self, server.request("POST", "/api/setup/zendesk/verify", headers=s2), 503,
                             "not_configured")
            self.assertIn("key secret", e["message"])
            for key, value in (("zendesk.messaging.app_id", "a1"), ("zendesk.messaging.key_id", "k1")):
                state.admin("config", "set", key, value)
            state.admin("config", "set", "zendesk.messaging.key_secret", "-", stdin="x\n")
            started = time.time()
            assert_error(self, server.request("POST", "/api/setup/zendesk/verify", headers=s2), 502,
                         "zendesk_unreachable")
            self.assertLess(time.time() - started, 5)
        finally:
            server.stop()

    def test_rejected_and_unreachable(self):
        s = self.session()
        FAKE.fail_next(401)
        e = assert_error(self, SERVER.request("POST", "/api/setup/zendesk/verify", headers=s), 502,
                         "zendesk_rejected_credentials")
        self.assertIn("messaging API key", e["message"])
        FAKE.fail_next(503)
        e = assert_error(self, SERVER.request("POST", "/api/setup/zendesk/verify", headers=s), 502,
                         "zendesk_unreachable")
        self.assertNotIn(FAKE.key_secret, json.dumps(e))
        self.assertNotIn(FAKE.key_secret, SERVER.log_text())


if __name__ == "__main__":
    sys.exit(harness.main())

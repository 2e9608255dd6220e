"""deskbridge against a fake Zendesk as strict as the real one (tests/fake_zendesk.py),
through the real lighttpd and handlers: Zendesk echoes every message, deskbridge's own
included, and the visitor sees only the agent's; passControl names the agent
workspace's switchboard integration by id; the visitor's typing is never sent as the
user; a verified visitor is the ticket's requester; other apps' webhooks change
nothing; waiting messages reach Zendesk soon after it answers again; "Access account"
says what a handoff still needs; the status shows when the last webhook came."""

import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402
from test_token import site  # noqa: E402

SERVER = FAKE = None
WEBHOOK_SECRET = "webhook-secret-for-fidelity"


def setUpModule():
    global SERVER, FAKE
    FAKE = FakeZendesk().start()
    SERVER = harness.Server().start()
    harness.connect_zendesk(SERVER, FAKE, WEBHOOK_SECRET)


def tearDownModule():
    FAKE.stop()


def start_transfer(email, **extra):
    body = {"visitor": {"name": "Ana Lima", "email": email},
            "message_to_human_agent": "Customer asked about a refund",
            "history": [{"from": "user", "text": "I want a refund"},
                        {"from": "assistant", "text": "Let me get you an agent"}]}
    body.update(extra)
    r = SERVER.request("POST", "/api/transfers", body=body)
    assert r.status == 201, r.body
    t = r.json()
    auth = {"Authorization": "Bearer " + t["secret"]}
    conv = harness.wait_for(lambda: next((c for c in list(FAKE.conversations.values())
                                          if c["metadata"] == {"deskbridge_transfer_id": t["id"]}
                                          and c["control"]), None),
                            poll=lambda: events(t["id"], auth), what="the handoff")
    return t["id"], auth, conv


def events(tid, auth, after=0):
    r = SERVER.request("GET", "/api/transfers/%s/events?after=%d" % (tid, after), headers=auth)
    assert r.status == 200, r.body
    return r.json()["events"]


def admin_session():
    r = login(SERVER)
    return {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}


class LeftWithoutAgent(unittest.TestCase):
    def test_a_transfer_no_agent_joined_in_time_is_let_go_in_zendesk(self):
        tid, auth, conv = start_transfer("nobody-came@shop.example")
        with sqlite3.connect(SERVER.state.db) as db:
            db.execute("UPDATE transfers SET created_at = created_at - 301, "
                       "last_activity_at = last_activity_at - 301 WHERE id = ?", (tid,))
        harness.wait_for(lambda: conv["control"] is None, poll=lambda: events(tid, auth),
                         what="the conversation let go")
        self.assertEqual([(e["type"], e.get("reason")) for e in events(tid, auth)], [("ended", "no_agent")])


def agent_workspace_id():
    return next(i["id"] for i in FAKE.switchboard_integrations if i["integrationType"] == "zd:agentWorkspace")


class Echoes(unittest.TestCase):
    def test_the_visitor_sees_exactly_the_agents_messages_once_each(self):
        tid, auth, conv = start_transfer("echo@shop.example")
        FAKE.settle()
        # The history, the note to the agent and their echoes are in Zendesk, none of
        # them the agent's.
        self.assertEqual(len(conv["messages"]), 3)
        echoed = [d for d in FAKE.deliveries if d["type"] == "conversation:message"
                  and d["conversation"] == conv["id"]]
        self.assertEqual(len(echoed), 3, "Zendesk echoed each of deskbridge's posts")
        self.assertTrue(all(d["status"] == 200 for d in echoed), echoed)
        self.assertEqual([e["type"] for e in events(tid, auth)], [])

        FAKE.workspace_accepts(conv["id"])
        FAKE.agent_says(conv["id"], "Hi, I'm Ana")
        r = SERVER.request("POST", "/api/transfers/%s/messages" % tid, headers=auth,
                           body={"client_message_id": "m1", "text": "Thanks"})
        self.assertEqual(r.status, 202, r.body)
        harness.wait_for(lambda: "Thanks" in [m["content"]["text"] for m in conv["messages"]],
                         poll=lambda: events(tid, auth), what="the visitor's message in Zendesk")
        FAKE.agent_says(conv["id"], "How can I help?")
        FAKE.settle()
        seen = events(tid, auth)
        self.assertEqual([e["type"] for e in seen if e["type"] != "queued"],
                         ["agent_joined", "message", "message", "message"])
        joined = [e for e in seen if e["type"] == "agent_joined"]
        self.assertEqual([j["agent"]["name"] for j in joined], ["Ana"])
        self.assertEqual([(e["from"], e["text"]) for e in seen if e["type"] == "message"],
                         [("agent", "Hi, I'm Ana"), ("user", "Thanks"), ("agent", "How can I help?")])

        r = SERVER.request("POST", "/api/transfers/%s/end" % tid, headers=auth)
        self.assertEqual(r.status, 200, r.body)
        harness.wait_for(lambda: "The visitor's chat has ended." in [m["content"]["text"] for m in conv["messages"]],
                         poll=lambda: events(tid, auth), what="the end note in Zendesk")
        # The visitor has gone: the conversation is let go, not left with the agent.
        harness.wait_for(lambda: conv["control"] is None, poll=lambda: events(tid, auth), what="releaseControl")
        self.assertEqual(conv["release_metadata"], {"deskbridge_reason": "visitor_left"})
        FAKE.settle()
        after = events(tid, auth)
        self.assertEqual([e["type"] for e in after if e["type"] not in ("queued",)],
                         ["agent_joined", "message", "message", "message", "ended"])
        self.assertEqual(FAKE.refusals, [])

    def test_a_business_message_from_another_source_is_not_the_agent(self):
        tid, auth, conv = start_transfer("other-source@shop.example")
        FAKE.settle()
        message = {"id": "msg_from_a_bot", "received": "2026-12-01T10:00:00.000Z",
                   "author": {"type": "business", "displayName": "Answer Bot"},
                   "content": {"type": "text", "text": "I am a bot"}, "source": {"type": "api"}}
        status, answer = FAKE.deliver(FAKE.event("conversation:message", {
            "conversation": {"id": conv["id"], "type": "personal"}, "message": message}))
        self.assertEqual(status, 200)
        self.assertEqual(answer["applied"], 0)
        self.assertEqual(events(tid, auth), [])


class PassControl(unittest.TestCase):
    def test_control_goes_to_the_agent_workspace_integration_by_id(self):
        _, _, conv = start_transfer("control@shop.example")
        self.assertEqual(conv["control"], agent_workspace_id())
        self.assertTrue(FAKE.calls("GET", "/switchboards"), "the switchboard was read")
        self.assertEqual(FAKE.refusals, [])

    def test_the_integration_id_is_read_once_not_per_handoff(self):
        start_transfer("once-1@shop.example")
        before = len(FAKE.calls("GET", "/switchboardIntegrations"))
        start_transfer("once-2@shop.example")
        self.assertEqual(len(FAKE.calls("GET", "/switchboardIntegrations")), before)


class Activity(unittest.TestCase):
    def test_typing_is_not_sent_as_the_user_and_read_is(self):
        tid, auth, conv = start_transfer("typing@shop.example")
        r = SERVER.request("POST", "/api/transfers/%s/typing" % tid, headers=auth, body={"typing": True})
        self.assertEqual(r.status, 204)
        r = SERVER.request("POST", "/api/transfers/%s/typing" % tid, headers=auth, body={"typing": False})
        self.assertEqual(r.status, 204)
        FAKE.workspace_accepts(conv["id"])
        FAKE.agent_says(conv["id"], "Hello")
        seq = [e for e in events(tid, auth) if e["type"] == "message"][0]["seq"]
        r = SERVER.request("POST", "/api/transfers/%s/read" % tid, headers=auth, body={"seq": seq})
        self.assertEqual(r.status, 204)
        harness.wait_for(lambda: "conversation:read" in (conv.get("activity") or []), what="the read receipt")
        self.assertEqual(conv.get("activity"), ["conversation:read"])
        self.assertEqual(FAKE.calls("POST", "/activity")[-1][0], "POST")
        self.assertEqual(FAKE.refusals, [])


class Requester(unittest.TestCase):
    def test_an_unverified_visitor_is_never_a_support_user(self):
        before = len(FAKE.calls("POST", "/api/v2/users/create_or_update"))
        start_transfer("typed@shop.example")
        self.assertFalse([u for u in FAKE.support_users if u.get("email") == "typed@shop.example"])
        self.assertEqual(len(FAKE.calls("POST", "/api/v2/users/create_or_update")), before)

    def test_a_verified_visitor_is_the_requester_with_their_external_id(self):
        session = admin_session()
        keys = site({"action": "keypair"})
        r = SERVER.request("PATCH", "/api/setup/config", headers=session, body={
            "security": {"authenticate_users": True, "issuer": "https://shop.example",
                         "site_public_keys": [{"kid": "shop", "pem": keys["public"]}]}})
        self.assertEqual(r.status, 200, r.body)
        try:
            public = SERVER.request("GET", "/api/public-key").body.decode()
            token = site({"action": "sign", "privateKey": keys["private"], "publicKey": public,
                          "options": {"expiresIn": "10m", "keyid": "shop"},
                          "claims": {"sub": "customer-77", "iss": "https://shop.example", "acr": "loa1"},
                          "payload": {"name": "Bea Costa", "email": "bea@shop.example"}})["token"]
            r = SERVER.request("POST", "/api/transfers", body={"token": token, "history": []})
            self.assertEqual(r.status, 201, r.body)
            tid = r.json()["id"]
            conv = harness.wait_for(lambda: next((c for c in list(FAKE.conversations.values())
                                                  if c["metadata"] == {"deskbridge_transfer_id": tid}
                                                  and c["control"]), None), what="the handoff")
            user = next(u for u in FAKE.support_users if u.get("external_id") == "customer-77")
            self.assertEqual((user["name"], user["email"], user["verified"]), ("Bea Costa", "bea@shop.example", True))
            calls = [c for c in FAKE.requests if c[1].endswith("/create_or_update")
                     or c[1].endswith("/passControl") and conv["id"] in c[1]]
            self.assertEqual([c[1].rsplit("/", 1)[1] for c in calls][-2:], ["create_or_update", "passControl"],
                             "the requester exists before the ticket does")
            self.assertEqual(FAKE.users["customer-77"]["profile"]["email"], "bea@shop.example")
        finally:
            r = SERVER.request("PATCH", "/api/setup/config", headers=session,
                               body={"security": {"authenticate_users": False}})
            self.assertEqual(r.status, 200, r.body)


class Webhooks(unittest.TestCase):
    def test_another_apps_delivery_is_acknowledged_and_ignored(self):
        tid, auth, conv = start_transfer("other-app@shop.example")
        FAKE.settle()
        event = FAKE.agent_message_event(conv["id"], "Not for you")
        status, answer = FAKE.deliver(event, app_id="app_someone_else")
        self.assertEqual(status, 200)
        self.assertEqual((answer["applied"], answer["ignored"]), (0, 1))
        self.assertEqual(events(tid, auth), [])
        # The same event for our app is applied: the first delivery did not use it up.
        status, answer = FAKE.deliver(event)
        self.assertEqual((status, answer["applied"]), (200, 1))

    def test_the_status_shows_when_the_last_webhook_arrived(self):
        session = admin_session()
        _, _, conv = start_transfer("status@shop.example")
        FAKE.settle()
        before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        FAKE.workspace_accepts(conv["id"])
        r = SERVER.request("GET", "/api/setup/status", headers=session)
        self.assertEqual(r.status, 200, r.body)
        status = r.json()
        self.assertGreaterEqual(status["last_webhook_at"], before)
        self.assertRegex(status["last_handoff_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Recovery(unittest.TestCase):
    def test_waiting_messages_reach_zendesk_within_10_s_of_it_answering_again(self):
        tid, auth, conv = start_transfer("recovery@shop.example")
        FAKE.settle()
        FAKE.fail_next(500, count=6)
        sent = ["first", "second", "third"]
        for i, text in enumerate(sent):
            r = SERVER.request("POST", "/api/transfers/%s/messages" % tid, headers=auth,
                               body={"client_message_id": "r%d" % i, "text": text})
            self.assertEqual(r.status, 202, r.body)
        # The visitor's polls go on; Zendesk answers again once its six failures are spent.
        harness.wait_for(lambda: not FAKE.failures, seconds=60, poll=lambda: events(tid, auth),
                         what="six failed calls")
        healthy = time.time()
        harness.wait_for(lambda: [m["content"]["text"] for m in conv["messages"]][-3:] == sent, seconds=20,
                         poll=lambda: (events(tid, auth), time.sleep(0.5)), what="the waiting messages")
        took = time.time() - healthy
        print("# waiting messages reached Zendesk %.1f s after it answered again" % took)
        self.assertLess(took, 10)
        self.assertEqual([m["content"]["text"] for m in conv["messages"]].count("first"), 1)


class AccessAccount(unittest.TestCase):
    def verify(self):
        return SERVER.request("POST", "/api/setup/zendesk/verify", headers=admin_session())

    def test_every_check_passes_with_a_complete_account(self):
        r = self.verify()
        self.assertEqual(r.status, 200, r.body)
        checks = {c["name"]: c for c in r.json()["checks"]}
        self.assertEqual(sorted(checks), ["agent_workspace", "messaging_key", "support_token", "webhook_integration"])
        self.assertTrue(all(c["ok"] for c in checks.values()), checks)
        self.assertIn(agent_workspace_id(), checks["agent_workspace"]["message"])

    def checks_without(self, integration_type):
        """Access account with one integration taken out of the switchboard."""
        FAKE.remove_switchboard_integration(integration_type)
        try:
            r = self.verify()
        finally:
            FAKE.restore_switchboard()
        assert_error(self, r, 502, "zendesk_setup_incomplete")
        checks = {c["name"]: c for c in r.json()["error"]["checks"]}
        self.assertTrue(checks["messaging_key"]["ok"])
        return checks

    def test_a_switchboard_without_the_agent_workspace_is_reported(self):
        checks = self.checks_without("zd:agentWorkspace")
        self.assertFalse(checks["agent_workspace"]["ok"])
        self.assertIn("agent workspace", checks["agent_workspace"]["message"])

    def test_deskbridge_missing_from_the_switchboard_is_reported(self):
        checks = self.checks_without("custom")
        self.assertTrue(checks["agent_workspace"]["ok"])
        self.assertFalse(checks["webhook_integration"]["ok"])
        self.assertIn("not in the switchboard", checks["webhook_integration"]["message"])

if __name__ == "__main__":
    harness.main()

"""What the visitor's side of the API answers, through lighttpd against the fake Zendesk:
GET /api/availability says no agent, with the admin's message, whenever no agent is
available (transfers turned off included, without asking Zendesk), and an agent who
starts typing before any message has joined, by name. The browser side of the same is
tests/browser/visitor_experience.test.mjs."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handoff import expire_availability, poll, start_transfer  # noqa: E402
import test_handoff  # noqa: E402

SERVER = FAKE = None
CLOSED = "We are closed today: write to help@shop.example."


def setUpModule():
    global SERVER, FAKE
    test_handoff.setUpModule()
    SERVER, FAKE = test_handoff.SERVER, test_handoff.FAKE
    SERVER.state.admin("config", "set", "transfers.unavailable_message", CLOSED)


def tearDownModule():
    test_handoff.tearDownModule()


def availability():
    r = SERVER.request("GET", "/api/availability")
    assert r.status == 200, (r.status, r.body)
    return r.json()


class Availability(unittest.TestCase):
    def tearDown(self):
        SERVER.state.admin("config", "set", "transfers_enabled", "true")
        FAKE.agents_online = 2
        expire_availability()

    def test_transfers_off_is_no_agent_with_the_admins_message_and_zendesk_is_not_asked(self):
        SERVER.state.admin("config", "set", "transfers_enabled", "false")
        expire_availability()
        asked = len(FAKE.calls("GET", "/api/v2/agent_availabilities"))
        self.assertEqual(availability(), {"agents_online": False, "count": 0, "checked_at": None,
                                          "reason": "transfers_disabled", "message": CLOSED,
                                          "leave_message": False})
        self.assertEqual(len(FAKE.calls("GET", "/api/v2/agent_availabilities")), asked)
        self.assertIn("transfers_enabled is off", SERVER.log_text())

    def test_no_agent_online_carries_the_admins_message(self):
        FAKE.agents_online = 0
        expire_availability()
        a = availability()
        self.assertEqual((a["agents_online"], a["count"], a["reason"], a["message"]),
                         (False, 0, "no_agents_online", CLOSED))

    def test_agents_online_has_no_message(self):
        expire_availability()
        a = availability()
        self.assertEqual((a["agents_online"], a["count"]), (True, 2))
        self.assertNotIn("message", a)
        self.assertNotIn("reason", a)


class TypingAgent(unittest.TestCase):
    def test_an_agent_typing_first_has_joined_by_name(self):
        tid, auth, conv = start_transfer("typist@shop.example")
        FAKE.workspace_accepts(conv["id"])
        FAKE.agent_typing(conv["id"], True, avatar=False)
        body = poll(tid, auth)
        self.assertEqual([e["type"] for e in body["events"]][-3:], ["queued", "agent_joined", "agent_typing"])
        self.assertEqual(body["events"][-2]["agent"], {"id": "Ana", "name": "Ana", "avatar_url": None})
        self.assertEqual(body["state"], "active")
        FAKE.agent_typing(conv["id"], False)
        FAKE.agent_says(conv["id"], "Hi")
        kinds = [e["type"] for e in poll(tid, auth)["events"]]
        self.assertEqual(kinds.count("agent_joined"), 1, kinds)
        self.assertEqual(kinds[-2:], ["agent_typing", "message"])

    def test_typing_stopping_names_nobody(self):
        tid, auth, conv = start_transfer("stopper@shop.example")
        FAKE.workspace_accepts(conv["id"])
        FAKE.agent_typing(conv["id"], False)
        body = poll(tid, auth)
        self.assertEqual([e["type"] for e in body["events"]][-2:], ["queued", "agent_typing"])
        self.assertEqual(body["state"], "waiting")


if __name__ == "__main__":
    sys.exit(harness.main())

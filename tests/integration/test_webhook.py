"""POST /api/zendesk/webhook through lighttpd: authentication, the mapping of each
Sunshine Conversations event to transfer events, duplicate and out-of-order deliveries,
unknown conversations. The handoff that links a transfer to its Zendesk conversation is
not built yet, so each test links it in the database the way the driver will."""

import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import sunco_events as sunco  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_transfers import call, db_rows  # noqa: E402
import test_transfers  # noqa: E402

SERVER = None
SECRET = "webhook-secret-from-admin-center"
HOOK = {"X-API-Key": SECRET}


def setUpModule():
    global SERVER
    SERVER = test_transfers.SERVER = harness.Server().start()
    SERVER.state.admin("config", "set", "transfers_enabled", "true")
    # These tests create transfers far faster than any visitor; test_limits checks the limits.
    SERVER.state.admin("config", "set", "limits.transfers_per_minute", "100000")
    SERVER.state.admin("config", "set", "limits.open_transfers_per_visitor", "1000")
    SERVER.state.admin("config", "set", "zendesk.messaging.webhook_secret", "-", stdin=SECRET + "\n")
    # The app sunco_events' deliveries are for: another app's are acknowledged and ignored.
    SERVER.state.admin("config", "set", "zendesk.messaging.app_id", "app_5f1a")


def linked_transfer(conversation_id):
    tid, auth = test_transfers.new_transfer()
    with sqlite3.connect(SERVER.state.db) as c:
        c.execute("UPDATE transfers SET zendesk_conversation_id = ? WHERE id = ?", (conversation_id, tid))
    return tid, auth


def post(body, headers=HOOK):
    return SERVER.request("POST", "/api/zendesk/webhook", body=body, headers=headers)


def events(tid, auth):
    return call("GET", "/api/transfers/%s/events" % tid, auth).json()


class Authentication(unittest.TestCase):
    def test_refused_without_the_secret(self):
        tid, auth = linked_transfer("conv_auth")
        body = sunco.delivery(sunco.agent_message("conv_auth", "hi"))
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": SECRET + "x"}):
            assert_error(self, post(body, headers), 401, "unauthenticated")
        self.assertEqual(events(tid, auth)["events"], [])
        self.assertEqual(db_rows("SELECT count(*) FROM webhook_events"), [(0,)])

    def test_malformed(self):
        assert_error(self, post({"no": "events"}), 400, "bad_request")
        assert_error(self, post({"events": "x"}), 400, "bad_request")
        assert_error(self, SERVER.request("POST", "/api/zendesk/webhook", body=b"{",
                                          headers=dict(HOOK, **{"Content-Type": "application/json"})),
                     400, "bad_request")


class Conversation(unittest.TestCase):
    def test_full_agent_side(self):
        tid, auth = linked_transfer("conv_full")
        r = post(sunco.delivery(sunco.pass_control("conv_full")))
        self.assertEqual((r.status, r.json()), (200, {"applied": 1, "duplicates": 0, "ignored": 0}))
        hello = sunco.agent_message("conv_full", "Hi, I'm Ana <b>")
        post(sunco.delivery(sunco.typing("conv_full"), sunco.typing("conv_full", False), hello))
        post(sunco.delivery(sunco.visitor_echo("conv_full", "echo of the visitor")))
        post(sunco.delivery(sunco.read("conv_full")))
        body = events(tid, auth)
        self.assertEqual(body["state"], "active")
        kinds = [e["type"] for e in body["events"]]
        self.assertEqual(kinds, ["queued", "agent_typing", "agent_typing", "agent_joined", "message", "read"])
        by_type = {e["type"]: e for e in body["events"]}
        self.assertEqual(by_type["agent_joined"]["agent"],
                         {"id": "Ana", "name": "Ana", "avatar_url": "https://acme.zendesk.com/avatar.png"})
        msg = by_type["message"]
        self.assertEqual((msg["from"], msg["text"]), ("agent", "Hi, I'm Ana <b>"))
        self.assertEqual([e["typing"] for e in body["events"] if e["type"] == "agent_typing"], [True, False])
        # The agent has read up to the message (seq 5); the read event has a seq of its own.
        self.assertEqual((by_type["read"]["read_seq"], by_type["read"]["seq"]), (5, 6))
        self.assertEqual([e["seq"] for e in body["events"]], list(range(1, len(body["events"]) + 1)))
        ahead = db_rows("SELECT count(*) FROM transfers WHERE state = 'waiting' AND rowid < "
                        "(SELECT rowid FROM transfers WHERE id = ?)", tid)[0][0]
        self.assertEqual((by_type["queued"]["position"], by_type["queued"]["estimated_wait_s"]),
                         (ahead + 1, None))
        self.assertEqual(body["poll_after_ms"], 1000)

        post(sunco.delivery(sunco.agent_message("conv_full", "Second")))
        self.assertEqual([e["type"] for e in events(tid, auth)["events"]].count("agent_joined"), 1)

        r = post(sunco.delivery(sunco.release_control("conv_full")))
        self.assertEqual(r.json()["applied"], 1)
        body = events(tid, auth)
        self.assertEqual(body["state"], "ended")
        self.assertEqual((body["events"][-1]["type"], body["events"][-1]["by"], body["events"][-1]["reason"]),
                         ("ended", "agent", "ticket_closed"))
        count = len(body["events"])
        post(sunco.delivery(sunco.agent_message("conv_full", "After the end")))
        self.assertEqual(len(events(tid, auth)["events"]), count)
        # The agent ended it: nothing is queued to hand it back again.
        self.assertEqual(db_rows("SELECT count(*) FROM outbox WHERE transfer_id = ? AND kind = 'end'", tid),
                         [(0,)])

    def test_another_agent_taking_over_is_a_transfer(self):
        tid, auth = linked_transfer("conv_xfer")
        post(sunco.delivery(sunco.agent_message("conv_xfer", "Ana here")))
        post(sunco.delivery(sunco.agent_message("conv_xfer", "Bo here, Ana passed me your chat", name="Bo")))
        post(sunco.delivery(sunco.agent_message("conv_xfer", "Bo again", name="Bo")))
        evs = events(tid, auth)["events"]
        # Zendesk names the agent of a business message by displayName only: that is its id.
        self.assertEqual([(e["type"], (e.get("agent") or {}).get("id")) for e in evs],
                         [("agent_joined", "Ana"), ("message", "Ana"), ("transferred", "Bo"),
                          ("agent_joined", "Bo"), ("message", "Bo"), ("message", "Bo")])
        self.assertEqual(evs[2]["agent"]["name"], "Bo")

    def test_queue_position_is_the_order_of_asking(self):
        first, first_auth = linked_transfer("conv_q1")
        second, second_auth = linked_transfer("conv_q2")
        self.assertEqual(events(second, second_auth)["poll_after_ms"], 3000)
        post(sunco.delivery(sunco.pass_control("conv_q2"), sunco.pass_control("conv_q1")))
        pos = {t: [e["position"] for e in events(t, a)["events"] if e["type"] == "queued"]
               for t, a in ((first, first_auth), (second, second_auth))}
        self.assertEqual(len(pos[first]), 1)
        self.assertEqual(pos[second], [pos[first][0] + 1])
        # Once an agent has the chat, a late hand-over event queues nobody.
        post(sunco.delivery(sunco.agent_message("conv_q1", "hello")))
        post(sunco.delivery(sunco.pass_control("conv_q1")))
        self.assertEqual([e["type"] for e in events(first, first_auth)["events"]].count("queued"), 1)

    def test_duplicates_and_out_of_order_retries_apply_once(self):
        tid, auth = linked_transfer("conv_dup")
        first = sunco.agent_message("conv_dup", "one")
        second = sunco.agent_message("conv_dup", "two")
        self.assertEqual(post(sunco.delivery(first)).json()["applied"], 1)
        self.assertEqual(post(sunco.delivery(first)).json(), {"applied": 0, "duplicates": 1, "ignored": 0})
        self.assertEqual(post(sunco.delivery(second, first)).json(),
                         {"applied": 1, "duplicates": 1, "ignored": 0})
        texts = [e["text"] for e in events(tid, auth)["events"] if e["type"] == "message"]
        self.assertEqual(texts, ["one", "two"])

    def test_unknown_conversation_is_acknowledged(self):
        r = post(sunco.delivery(sunco.agent_message("conv_nobody_knows", "hello")))
        self.assertEqual((r.status, r.json()), (200, {"applied": 0, "duplicates": 0, "ignored": 1}))

    def test_accept_control_by_the_agent_workspace_queues(self):
        tid, auth = linked_transfer("conv_accept")
        r = post(sunco.delivery(sunco.accept_control("conv_accept")))
        self.assertEqual(r.json()["applied"], 1)
        self.assertEqual([e["type"] for e in events(tid, auth)["events"]][-1:], ["queued"])

    def test_pass_control_away_from_agents_ends(self):
        tid, auth = linked_transfer("conv_away")
        post(sunco.delivery(sunco.pass_control("conv_away", "zd:answerBot")))
        last = events(tid, auth)["events"][-1]
        self.assertEqual((last["type"], last["by"]), ("ended", "agent"))


if __name__ == "__main__":
    sys.exit(harness.main())

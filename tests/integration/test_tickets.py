"""Leaving a message while no agent is available, through lighttpd against the fake
Zendesk: business hours in availability (a schedule in a named time zone, computed from
the current UTC time so that now is inside or outside it), POST /api/tickets stored
before the answer and then created as one Zendesk ticket (Tickets API, Idempotency-Key)
whose comment is the message then the transcript, retried while Zendesk fails, never
created twice (a lost answer, a repeated client_request_id), and every refusal in the
API's error shape changing nothing."""

import datetime
import json
import os
import re
import sqlite3
import sys
import unittest
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402
from test_token import site  # noqa: E402

SERVER = FAKE = SESSION = None
VISITOR = {"name": "Mia Offline", "email": "mia@shop.example"}
HISTORY = [{"from": "user", "text": "Can I return shoes?"},
           {"from": "assistant", "text": "Let me find someone who can help."}]
# 25 hours apart: their dates always differ, so a day open in one is closed in the other.
AHEAD, BEHIND = "Pacific/Kiritimati", "Pacific/Pago_Pago"
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def setUpModule():
    global SERVER, FAKE, SESSION
    FAKE = FakeZendesk(agents_online=0).start()
    SERVER = harness.Server().start()
    harness.connect_zendesk(SERVER, FAKE)
    SERVER.state.admin("config", "set", "tickets.offer_when_offline", "true")
    r = login(SERVER)
    SESSION = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"],
               "Content-Type": "application/json"}


def tearDownModule():
    FAKE.stop()


def today_in(zone):
    return DAYS[datetime.datetime.now(zoneinfo.ZoneInfo(zone)).weekday()]


def leave(body=None, **over):
    b = {"message": "Please call me back about my order.", "visitor": VISITOR, "history": HISTORY,
         "page_url": "https://shop.example/orders/42"}
    b.update(over)
    return SERVER.request("POST", "/api/tickets", body=body if body is not None else b)


def state_of(created):
    r = SERVER.request("GET", "/api/tickets/" + created["id"],
                       headers={"Authorization": "Bearer " + created["secret"]})
    assert r.status == 200, r.body
    return r.json()


def until_created(test, created):
    got = harness.wait_for(lambda: (lambda s: s if s["state"] != "pending" else None)(state_of(created)),
                           seconds=30, what="the ticket to leave pending")
    test.assertEqual(got["state"], "created", got)
    return got


def stored_tickets():
    with sqlite3.connect(SERVER.state.db) as c:
        return c.execute("SELECT count(*) FROM tickets").fetchone()[0]


def fake_tickets_for(created):
    return [t for t in FAKE.tickets if t["idempotency_key"] == created["id"]]


def patch(body):
    return SERVER.request("PATCH", "/api/setup/config", body=body, headers=SESSION)


class Availability(unittest.TestCase):
    def tearDown(self):
        SERVER.state.admin("config", "unset", "hours.weekly")
        SERVER.state.admin("config", "unset", "hours.time_zone")

    def test_no_agent_online_offers_a_message(self):
        a = SERVER.request("GET", "/api/availability").json()
        self.assertEqual((a["agents_online"], a["reason"], a["leave_message"]),
                         (False, "no_agents_online", True), a)

    def test_offer_off_is_said(self):
        SERVER.state.admin("config", "set", "tickets.offer_when_offline", "false")
        try:
            a = SERVER.request("GET", "/api/availability").json()
            self.assertEqual((a["reason"], a["leave_message"]), ("no_agents_online", False), a)
        finally:
            SERVER.state.admin("config", "set", "tickets.offer_when_offline", "true")

    def test_outside_business_hours_is_closed_in_the_named_zone(self):
        FAKE.agents_online = 3
        try:
            day = today_in(AHEAD)
            self.assertEqual(patch({"hours": {"time_zone": BEHIND, "weekly": "%s 00:00-24:00" % day,
                                              "closed_message": "Closed until tomorrow."}}).status, 200)
            a = SERVER.request("GET", "/api/availability").json()
            self.assertEqual((a["agents_online"], a["reason"], a["message"], a["leave_message"], a["checked_at"]),
                             (False, "closed", "Closed until tomorrow.", True, None), a)
            # Transfers are refused with the same message while closed.
            r = SERVER.request("POST", "/api/transfers", body={"visitor": VISITOR})
            e = assert_error(self, r, 503, "agents_unavailable")
            self.assertEqual(e["message"], "Closed until tomorrow.")
            # The same schedule in the zone whose day it is: open, and Zendesk's count.
            self.assertEqual(patch({"hours": {"time_zone": AHEAD, "weekly": "%s 00:00-24:00" % today_in(AHEAD)}}).status,
                             200)
            a = harness.wait_for(lambda: (lambda a: a if a.get("count") == 3 else None)(
                SERVER.request("GET", "/api/availability").json()), seconds=15, what="the fresh count")
            self.assertEqual((a["agents_online"], a["leave_message"]), (True, False), a)
            self.assertNotIn("reason", a)
        finally:
            FAKE.agents_online = 0

    def test_bad_hours_are_refused_by_their_labels_and_change_nothing(self):
        before = SERVER.request("GET", "/api/setup/config", headers=SESSION).json()
        for field, value, label in (("time_zone", "../../etc/passwd", "Time zone"),
                                    ("time_zone", "/usr/share/zoneinfo/UTC", "Time zone"),
                                    ("time_zone", "Europe", "Time zone"),
                                    ("time_zone", "Mars/Olympus_Mons", "Time zone"),
                                    ("weekly", "mon-fri 9-17", "Opening hours"),
                                    ("weekly", "mon 18:00-09:00", "Opening hours"),
                                    ("weekly", "funday 09:00-10:00", "Opening hours"),
                                    ("weekly", "mon 09:00-25:00", "Opening hours"),
                                    ("weekly", "mon 09:00-17:00 sat 10:00-12:00", "Opening hours")):
            r = patch({"hours": {field: value}})
            e = assert_error(self, r, 422, "invalid_field")
            self.assertEqual(e["field"], "hours." + field)
            self.assertTrue(e["message"].startswith(label + ": "), e["message"])
        self.assertEqual(SERVER.request("GET", "/api/setup/config", headers=SESSION).json(), before)

    def test_a_good_schedule_is_kept(self):
        r = patch({"hours": {"time_zone": "Europe/Berlin", "weekly": "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00"}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["hours"]["weekly"], "mon-fri 09:00-12:00,13:00-17:00; sat 10:00-14:00")
        self.assertEqual(r.json()["tickets"], {"offer_when_offline": True})


class Tickets(unittest.TestCase):
    def test_stored_then_created_once_with_message_then_transcript(self):
        r = leave(client_request_id="first-1")
        self.assertEqual(r.status, 202, r.body)
        created = r.json()
        self.assertTrue(created["id"].startswith("tk_"))
        self.assertEqual(created["state"], "pending")
        got = until_created(self, created)
        [t] = fake_tickets_for(created)
        self.assertEqual(got["ticket_id"], str(t["ticket"]["id"]))
        body = t["request"]["ticket"]
        self.assertEqual(body["requester"], VISITOR)
        comment = body["comment"]["body"]
        self.assertTrue(comment.startswith("Please call me back about my order.\n\n"), comment)
        self.assertLess(comment.index("Visitor: Can I return shoes?"),
                        comment.index("Bot: Let me find someone who can help."))
        self.assertIn("Page: https://shop.example/orders/42", comment)
        self.assertIn("deskbridge_" + created["id"], t["ticket"]["tags"])

    def test_retried_while_zendesk_fails_and_made_once(self):
        FAKE.fail_next(503, count=3)
        r = leave(message="Zendesk is down, but here is my message.")
        self.assertEqual(r.status, 202, r.body)
        created = r.json()
        until_created(self, created)
        self.assertEqual(len(fake_tickets_for(created)), 1)
        posts = [c for c in FAKE.calls("POST", "/api/v2/tickets") if c[3].get("Idempotency-Key") == created["id"]]
        self.assertGreaterEqual(len(posts), 4)

    def test_a_lost_answer_is_not_a_second_ticket(self):
        FAKE.fail_next("lost")
        created = leave(message="The first answer gets lost.").json()
        until_created(self, created)
        self.assertEqual(len(fake_tickets_for(created)), 1)
        posts = [c for c in FAKE.calls("POST", "/api/v2/tickets") if c[3].get("Idempotency-Key") == created["id"]]
        self.assertEqual(len(posts), 2)

    def test_the_same_client_request_id_answers_the_same_ticket(self):
        first = leave(client_request_id="again-1").json()
        until_created(self, first)
        n = stored_tickets()
        again = leave(client_request_id="again-1")
        self.assertEqual(again.status, 202)
        self.assertEqual((again.json()["id"], again.json()["secret"], again.json()["state"]),
                         (first["id"], first["secret"], "created"))
        self.assertEqual(stored_tickets(), n)
        self.assertEqual(len(fake_tickets_for(first)), 1)

    def test_sweep_creates_what_waits(self):
        FAKE.fail_next(503)
        created = leave(message="Left while Zendesk had a hiccup.").json()
        harness.wait_for(lambda: FAKE.calls("POST", "/api/v2/tickets") and
                         FAKE.calls("POST", "/api/v2/tickets")[-1][3].get("Idempotency-Key") == created["id"],
                         what="the first attempt")
        # The retry is due a second after the failure; until then a sweep creates nothing.
        out = harness.wait_for(lambda: (lambda o: o if re.search(r"^[1-9]\d* message\(s\) left by visitors created",
                                                                 o, re.M) else None)(
            SERVER.state.admin("sweep").stdout), what="a sweep that creates it")
        self.assertIn("created as Zendesk tickets", out)
        self.assertEqual(state_of(created)["state"], "created")
        self.assertEqual(len(fake_tickets_for(created)), 1)

    def test_the_state_needs_the_secret(self):
        created = leave().json()
        r = SERVER.request("GET", "/api/tickets/" + created["id"], headers={"Authorization": "Bearer wrong"})
        assert_error(self, r, 401, "unauthenticated")
        assert_error(self, SERVER.request("GET", "/api/tickets/" + created["id"]), 401, "unauthenticated")
        r = SERVER.request("GET", "/api/tickets/tk_000000000000000000000000",
                           headers={"Authorization": "Bearer " + created["secret"]})
        assert_error(self, r, 404, "not_found")


class Refusals(unittest.TestCase):
    def refused(self, r, status, code, field=None):
        n, made = stored_tickets(), len(FAKE.tickets)
        e = assert_error(self, r, status, code)
        if field:
            self.assertEqual(e.get("field"), field, e)
        self.assertEqual((stored_tickets(), len(FAKE.tickets)), (n, made))
        return e

    def test_bad_bodies(self):
        base = {"message": "Hello", "visitor": VISITOR}
        cases = [({"visitor": VISITOR}, 400, "bad_request", "message"),
                 (dict(base, message=""), 422, "invalid_field", "message"),
                 (dict(base, message="x" * 4097), 422, "invalid_field", "message"),
                 (dict(base, message=7), 400, "bad_request", "message"),
                 (dict(base, visitor={"name": "Mia", "email": "not-an-email"}), 422, "invalid_field", "visitor.email"),
                 (dict(base, visitor={"email": "mia@shop.example"}), 422, "invalid_field", "visitor.name"),
                 ({"message": "Hello"}, 422, "invalid_field", "visitor.name"),
                 (dict(base, history=[{"from": "robot", "text": "hi"}]), 422, "invalid_field", "history"),
                 (dict(base, page_url="javascript:alert(1)"), 422, "invalid_field", "page_url"),
                 (dict(base, client_request_id="c" * 129), 422, "invalid_field", "client_request_id")]
        for body, status, code, field in cases:
            with self.subTest(body=json.dumps(body)[:80]):
                self.refused(SERVER.request("POST", "/api/tickets", body=body), status, code, field)

    def test_offering_turned_off(self):
        SERVER.state.admin("config", "set", "tickets.offer_when_offline", "false")
        try:
            e = self.refused(leave(), 403, "tickets_disabled")
            self.assertIn("Offer to leave a message", e["message"])
        finally:
            SERVER.state.admin("config", "set", "tickets.offer_when_offline", "true")

    def test_an_invalid_token_when_visitors_are_authenticated(self):
        pair = site({"action": "keypair"})
        self.assertEqual(patch({"security": {"authenticate_users": True,
                                             "site_public_keys": [{"kid": "shop", "pem": pair["public"]}]}}).status, 200)
        try:
            self.refused(leave(token="a.b.c"), 401, "invalid_token", "token")
            self.refused(leave(), 401, "invalid_token", "token")
        finally:
            self.assertEqual(patch({"security": {"authenticate_users": False, "site_public_keys": []}}).status, 200)

    def test_rate_limited_per_client_like_transfers(self):
        SERVER.state.admin("config", "set", "limits.transfers_per_minute", "2")
        try:
            def post():
                r, _ = SERVER.state.cgi("transfer", "POST", "/api/tickets",
                                        body=json.dumps({"message": "Hi", "visitor": VISITOR}).encode(),
                                        headers={"Content-Type": "application/json"},
                                        env={"REMOTE_ADDR": "192.0.2.77"})
                return r
            self.assertEqual([post().status, post().status], [202, 202])
            r = post()
            self.refused(r, 429, "rate_limited")
        finally:
            SERVER.state.admin("config", "set", "limits.transfers_per_minute", "100000")


if __name__ == "__main__":
    harness.main()

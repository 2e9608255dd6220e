"""GET /api/setup/dashboard through lighttpd: the numbers of the setup page's Status view.

Two deployments. One holds a day of history written by dashboard_seed.py with sqlite3
straight into the tables (a test cannot wait 24 hours), and the route's hourly buckets
by outcome, wait percentiles (nearest rank, from known waits), backlog and hourly
delivery failures must be exactly those seeded, the rows outside the window left out.
The other makes real transfers through the fake Zendesk, one of whose deliveries meets
two 5xx answers, and the current hour must show them. Without a live admin session the
route is refused, and reading it writes nothing."""

import calendar
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dashboard_seed  # noqa: E402
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_handoff import poll, texts_from_visitor  # noqa: E402
import test_handoff  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SEEDED = LIVE = FAKE = None
SEED = None


def setUpModule():
    global SEEDED, LIVE, FAKE, SEED
    SEEDED = harness.Server().start()
    SEED = dashboard_seed.seed(SEEDED.state.db)
    FAKE = FakeZendesk().start()
    LIVE = harness.Server().start()
    harness.connect_zendesk(LIVE, FAKE)
    test_handoff.SERVER, test_handoff.FAKE = LIVE, FAKE


def tearDownModule():
    FAKE.stop()


def session(server):
    r = login(server)
    assert r.status == 200, r.body
    return {"Cookie": "deskbridge_admin=" + cookie_of(r)}


def dashboard(server):
    r = server.request("GET", "/api/setup/dashboard", headers=session(server))
    assert r.status == 200, r.body
    assert r.header("Content-Type") == "application/json; charset=utf-8"
    return r.json()


def unix(rfc3339):
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def last_hours(doc, n):
    """The sums of the n latest hours: a chat at hh:59:59 is counted in the hour before
    a request a second later."""
    totals = dict.fromkeys(dashboard_seed.OUTCOMES, 0)
    for h in doc["hours"][-n:]:
        for k in totals:
            totals[k] += h["transfers"][k]
    return totals, sum(h["delivery_failures"] for h in doc["hours"][-n:])


class SeededDay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = dashboard(SEEDED)
        cls.seed_hour = SEED["seeded_at"] // 3600 * 3600

    def test_24_whole_utc_hours_the_current_one_last(self):
        hours = self.doc["hours"]
        self.assertEqual(len(hours), 24)
        starts = [unix(h["start"]) for h in hours]
        self.assertTrue(all(s % 3600 == 0 for s in starts), starts)
        self.assertEqual([b - a for a, b in zip(starts, starts[1:])], [3600] * 23)
        self.assertEqual(starts[-1], int(time.time()) // 3600 * 3600)
        for h in hours:
            self.assertEqual(set(h["transfers"]), set(dashboard_seed.OUTCOMES))

    def test_each_hour_counts_its_transfers_by_outcome(self):
        zero = dict.fromkeys(dashboard_seed.OUTCOMES, 0)
        seen = 0
        for h in self.doc["hours"]:
            back = (self.seed_hour - unix(h["start"])) // 3600
            want = SEED["transfers_by_hours_back"].get(str(back), zero)
            self.assertEqual(h["transfers"], want, h["start"])
            seen += sum(want.values())
        # Every seeded transfer of the window but the one 25 hours back.
        self.assertEqual(seen, len(dashboard_seed.TRANSFERS) - 1)

    def test_wait_percentiles_are_the_nearest_rank_of_the_known_waits(self):
        self.assertEqual(self.doc["wait_s"], SEED["wait_s"])

    def test_backlog_counts_only_what_waits(self):
        outbox = self.doc["outbox"]
        self.assertEqual(outbox["pending"], SEED["pending"])
        age = outbox["oldest_pending_age_s"]
        self.assertGreaterEqual(age, SEED["oldest_pending_age_s"])
        self.assertLess(age, SEED["oldest_pending_age_s"] + 60, "seeded 600 s before, read moments after")

    def test_delivery_failures_by_the_hour_not_a_stale_slot(self):
        for h in self.doc["hours"]:
            back = (self.seed_hour - unix(h["start"])) // 3600
            self.assertEqual(h["delivery_failures"], SEED["failures_by_hours_back"].get(str(back), 0), h["start"])
        self.assertEqual(sum(h["delivery_failures"] for h in self.doc["hours"]), 7)

    def test_reading_writes_nothing(self):
        def snapshot():
            with sqlite3.connect(SEEDED.state.db) as c:
                return [c.execute("SELECT count(*), coalesce(sum(length(data)), 0) FROM events").fetchone(),
                        c.execute("SELECT group_concat(state || ended_at) FROM transfers").fetchone(),
                        c.execute("SELECT group_concat(state || attempts) FROM outbox").fetchone()]
        before = snapshot()
        headers = session(SEEDED)
        for _ in range(3):
            self.assertEqual(SEEDED.request("GET", "/api/setup/dashboard", headers=headers).status, 200)
        self.assertEqual(snapshot(), before)


class Refusals(unittest.TestCase):
    def test_no_session(self):
        assert_error(self, SEEDED.request("GET", "/api/setup/dashboard"), 401, "unauthenticated")

    def test_an_ended_or_forged_session(self):
        r = login(SEEDED)
        headers = {"Cookie": "deskbridge_admin=" + cookie_of(r)}
        self.assertEqual(SEEDED.request("GET", "/api/setup/dashboard", headers=headers).status, 200)
        self.assertEqual(SEEDED.request("DELETE", "/api/setup/session", headers=dict(
            headers, **{"X-CSRF-Token": r.json()["csrf_token"]})).status, 204)
        assert_error(self, SEEDED.request("GET", "/api/setup/dashboard", headers=headers), 401, "unauthenticated")
        assert_error(self, SEEDED.request("GET", "/api/setup/dashboard",
                                          headers={"Cookie": "deskbridge_admin=forged"}), 401, "unauthenticated")

    def test_read_only(self):
        headers = session(SEEDED)
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = SEEDED.request(method, "/api/setup/dashboard", headers=headers, body={})
            assert_error(self, r, 405, "method_not_allowed")
            self.assertIn("GET", r.header("Allow"))

    def test_head_answers_the_headers_alone(self):
        r = SEEDED.request("HEAD", "/api/setup/dashboard", headers=session(SEEDED))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")


class LiveTransfers(unittest.TestCase):
    def test_real_transfers_and_failed_deliveries_show_in_the_current_hour(self):
        tid, auth, conv = test_handoff.start_transfer("dash-joined@shop.example")
        base = "/api/transfers/" + tid
        FAKE.fail_next(503, count=2)    # the visitor's message meets two 5xx, then goes through
        r = LIVE.request("POST", base + "/messages", headers=auth,
                         body={"client_message_id": "m1", "text": "hello?"})
        self.assertEqual(r.status, 202)
        harness.wait_for(lambda: texts_from_visitor(conv)[1:] == ["hello?"], seconds=30,
                         poll=lambda: poll(tid, auth))
        FAKE.workspace_accepts(conv["id"])
        FAKE.agent_says(conv["id"], "Hi, I'm Ana")
        FAKE.settle()
        harness.wait_for(lambda: any(e["type"] == "agent_joined" for e in poll(tid, auth)["events"]),
                         what="the agent to join")
        self.assertEqual(LIVE.request("POST", base + "/end", headers=auth).status, 200)

        gone, gone_auth, _ = test_handoff.start_transfer("dash-gone@shop.example")
        self.assertEqual(LIVE.request("POST", "/api/transfers/%s/end" % gone, headers=gone_auth).status, 200)
        harness.wait_for(lambda: dashboard(LIVE)["outbox"]["pending"] == 0, seconds=30,
                         poll=lambda: (poll(tid, auth), poll(gone, gone_auth)), what="the outbox to drain")

        doc = dashboard(LIVE)
        totals, failures = last_hours(doc, 2)
        self.assertEqual(totals, dict(dict.fromkeys(dashboard_seed.OUTCOMES, 0),
                                      agent_joined=1, ended_before_agent=1))
        self.assertEqual(failures, 2)
        self.assertEqual(sum(sum(h["transfers"].values()) for h in doc["hours"]), 2)
        self.assertEqual(doc["wait_s"]["joined"], 1)
        self.assertTrue(0 <= doc["wait_s"]["p50"] == doc["wait_s"]["p99"] < 60, doc["wait_s"])
        self.assertIsNone(doc["outbox"]["oldest_pending_age_s"])

    def test_an_empty_day(self):
        fresh = harness.Server().start()
        try:
            doc = dashboard(fresh)
        finally:
            fresh.stop()
        self.assertEqual(len(doc["hours"]), 24)
        self.assertTrue(all(not any(h["transfers"].values()) and not h["delivery_failures"]
                            for h in doc["hours"]))
        self.assertEqual(doc["wait_s"], {"joined": 0, "p50": None, "p90": None, "p99": None})
        self.assertEqual(doc["outbox"], {"pending": 0, "oldest_pending_age_s": None})


if __name__ == "__main__":
    sys.exit(harness.main())

"""GET /api/metrics through lighttpd (and Apache httpd) against the fake Zendesk:
Prometheus's own parser (promtool) accepts the exposition, its counters move with real
transfers, messages, webhooks, refusals and Zendesk calls, and its protection refuses
whoever has neither the token nor an allowed address. Polling and scraping write nothing."""

import glob
import os
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_handoff import poll, texts_from_visitor  # noqa: E402
import test_handoff  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402
from test_files import BOUNDARY, PNG, multipart  # noqa: E402

SERVER = FAKE = TOKEN = None
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def setUpModule():
    global SERVER, FAKE, TOKEN
    FAKE = FakeZendesk().start()
    SERVER = harness.Server().start()
    harness.connect_zendesk(SERVER, FAKE)
    SERVER.state.admin("config", "set", "limits.token_per_minute", "1")
    TOKEN = SERVER.state.admin("metrics-token").stdout.strip()
    # test_handoff's helpers drive this module's server and fake.
    test_handoff.SERVER, test_handoff.FAKE = SERVER, FAKE


def tearDownModule():
    FAKE.stop()


def scrape_text(token=None):
    r = SERVER.request("GET", "/api/metrics", headers={"Authorization": "Bearer " + (token or TOKEN)})
    assert r.status == 200, (r.status, r.body)
    assert r.header("Content-Type") == CONTENT_TYPE, r.header("Content-Type")
    return r.body.decode("utf-8")


def parse(text):
    """{series: value}, series as written ('name{label="v",...}')."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples


def scrape():
    return parse(scrape_text())


def promtool(text):
    """promtool's verdict: format errors exit 1, lint problems exit 3; both are printed."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


def delta(before, after, series):
    return after.get(series, 0) - before.get(series, 0)


def zendesk_calls(samples, endpoint=None):
    return sum(v for k, v in samples.items() if k.startswith("deskbridge_zendesk_requests_total{")
               and (endpoint is None or 'endpoint="%s"' % endpoint in k))


def endpoint_of(path):
    """The label the fake's record of a call should have (docs/api.md, Metrics)."""
    if path.startswith("/api/v2/agent_availabilities"):
        return "availability"
    if path.startswith("/api/v2/users/"):
        return "support_users"
    if path.startswith("/api/v2/tickets"):
        return "tickets"
    rest = path.split("/")[5:]     # after /sc/v2/apps/{appId}
    if not rest:
        return "apps"
    if rest[0] == "conversations" and len(rest) >= 3:
        return {"messages": "messages", "activity": "activity", "passControl": "switchboard",
                "releaseControl": "switchboard"}[rest[2]]
    return {"switchboards": "switchboard", "integrations": "integrations", "users": "users",
            "conversations": "conversations", "attachments": "attachments"}[rest[0]]


def scrape_once_counted(before, calls_before):
    """A scrape once every call the fake recorded since before is counted: a call is
    counted when its answer is in, a moment after the fake recorded it."""
    def counted():
        samples = scrape()
        return samples if zendesk_calls(samples) - zendesk_calls(before) == len(FAKE.requests) - calls_before \
            else None
    return harness.wait_for(counted, what="every Zendesk call to be counted")


def outbox_drained():
    return scrape()["deskbridge_outbox_pending"] == 0


def start_transfer(email):
    return test_handoff.start_transfer(email)


class Exposition(unittest.TestCase):
    def test_promtool_accepts_it_with_every_series_present(self):
        text = scrape_text()
        self.assertEqual(promtool(text), (0, ""))
        samples = parse(text)
        for series in ('deskbridge_transfers_ended_total{reason="no_agent"}',
                       'deskbridge_messages_total{direction="visitor_to_agent"}',
                       'deskbridge_zendesk_requests_total{endpoint="activity",status_class="error"}',
                       'deskbridge_zendesk_request_duration_seconds_bucket{endpoint="apps",le="+Inf"}',
                       'deskbridge_rate_limited_total{limit="admin_login"}',
                       "deskbridge_outbox_oldest_pending_age_seconds",
                       "deskbridge_last_webhook_timestamp_seconds"):
            self.assertIn(series, samples)
        self.assertTrue(text.endswith("\n"))

    def test_promtool_would_catch_a_broken_exposition(self):
        # The check above could not fail if promtool accepted anything.
        self.assertNotEqual(promtool(scrape_text().replace("_total ", " ", 1))[0], 0)
        self.assertNotEqual(promtool("deskbridge_transfers_created_total{ 1\n")[0], 0)


class Protection(unittest.TestCase):
    def test_token_required(self):
        r = SERVER.request("GET", "/api/metrics")
        assert_error(self, r, 401, "unauthenticated")
        self.assertEqual(r.header("WWW-Authenticate"), "Bearer")
        assert_error(self, SERVER.request("GET", "/api/metrics", headers={"Authorization": "Bearer wrong"}),
                     401, "unauthenticated")
        assert_error(self, SERVER.request("GET", "/api/metrics", headers={"Authorization": "Basic " + TOKEN}),
                     401, "unauthenticated")
        self.assertIn("deskbridge_transfers_created_total", scrape_text())

    def test_a_new_token_replaces_the_old(self):
        global TOKEN
        old, TOKEN = TOKEN, SERVER.state.admin("metrics-token").stdout.strip()
        self.assertNotEqual(old, TOKEN)
        assert_error(self, SERVER.request("GET", "/api/metrics", headers={"Authorization": "Bearer " + old}),
                     401, "unauthenticated")
        scrape_text()

    def test_allowed_addresses_need_no_token(self):
        SERVER.state.admin("config", "set", "metrics.allowed_addresses", "192.0.2.0/24, 127.0.0.1")
        try:
            r = SERVER.request("GET", "/api/metrics")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.header("Content-Type"), CONTENT_TYPE)
            inside, _ = SERVER.state.cgi("agent", "GET", "/api/metrics", env={"REMOTE_ADDR": "192.0.2.77"})
            outside, _ = SERVER.state.cgi("agent", "GET", "/api/metrics", env={"REMOTE_ADDR": "198.51.100.7"})
            self.assertEqual(inside.status, 200)
            assert_error(self, outside, 401, "unauthenticated")
        finally:
            SERVER.state.admin("config", "unset", "metrics.allowed_addresses")
        assert_error(self, SERVER.request("GET", "/api/metrics"), 401, "unauthenticated")

    def test_a_bad_allow_list_is_refused_and_changes_nothing(self):
        p = SERVER.state.admin("config", "set", "metrics.allowed_addresses", "10.0.0.0/33", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("CIDR", p.stderr)
        assert_error(self, SERVER.request("GET", "/api/metrics"), 401, "unauthenticated")

    def test_off_until_a_token_or_a_list_is_set(self):
        fresh = harness.State()
        r, _ = fresh.cgi("agent", "GET", "/api/metrics", headers={"Authorization": "Bearer " + TOKEN})
        e = assert_error(self, r, 404, "not_found")
        self.assertIn("metrics-token", e["message"])
        token = fresh.admin("metrics-token").stdout.strip()
        r, _ = fresh.cgi("agent", "GET", "/api/metrics", headers={"Authorization": "Bearer " + token})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), CONTENT_TYPE)

    def test_other_methods_and_paths(self):
        assert_error(self, SERVER.request("POST", "/api/metrics", body={}), 405, "method_not_allowed")
        assert_error(self, SERVER.request("GET", "/api/metrics/x", headers={"Authorization": "Bearer " + TOKEN}),
                     404, "not_found")


class Counting(unittest.TestCase):
    def test_a_whole_chat_moves_its_counters(self):
        before, calls_before = scrape(), len(FAKE.requests)
        started = time.time()
        tid, auth, conv = start_transfer("metrics-chat@shop.example")
        base = "/api/transfers/" + tid
        FAKE.fail_next(500)     # the first visitor message meets a Zendesk 5xx, then goes through
        for i in range(2):
            r = SERVER.request("POST", base + "/messages", headers=auth,
                               body={"client_message_id": "m%d" % i, "text": "visitor %d" % i})
            self.assertEqual(r.status, 202)
        # A retry of a stored message is not a new message.
        SERVER.request("POST", base + "/messages", headers=auth, body={"client_message_id": "m1", "text": "visitor 1"})
        harness.wait_for(lambda: texts_from_visitor(conv)[1:] == ["visitor 0", "visitor 1"], seconds=30,
                         poll=lambda: poll(tid, auth))
        FAKE.workspace_accepts(conv["id"])
        FAKE.agent_says(conv["id"], "Hi, I'm Ana")
        FAKE.agent_says(conv["id"], "How can I help?")
        self.assertEqual(SERVER.request("POST", base + "/end", headers=auth).status, 200)
        harness.wait_for(lambda: conv["control"] is None, seconds=30, what="releaseControl")
        FAKE.settle()
        harness.wait_for(outbox_drained, what="the outbox to drain")
        after = scrape_once_counted(before, calls_before)

        self.assertEqual(delta(before, after, "deskbridge_transfers_created_total"), 1)
        self.assertEqual(delta(before, after, "deskbridge_transfers_agent_joined_total"), 1)
        self.assertEqual(delta(before, after, 'deskbridge_transfers_ended_total{reason="visitor_left"}'), 1)
        self.assertEqual(delta(before, after, 'deskbridge_messages_total{direction="visitor_to_agent"}'), 2)
        self.assertEqual(delta(before, after, 'deskbridge_messages_total{direction="agent_to_visitor"}'), 2)
        self.assertEqual(delta(before, after, 'deskbridge_webhook_events_total{type="agent_message"}'), 2)
        self.assertEqual(delta(before, after, 'deskbridge_webhook_events_total{type="queued"}'), 1)
        # The fake echoes every post: the bot history, the note, the visitor's, the end notice.
        self.assertGreaterEqual(delta(before, after, 'deskbridge_webhook_events_total{type="visitor_echo"}'), 2)
        # The wait histogram counts every join, each wait under a minute here.
        self.assertEqual(after["deskbridge_transfer_wait_seconds_count"],
                         after["deskbridge_transfers_agent_joined_total"])
        self.assertEqual(delta(before, after, 'deskbridge_transfer_wait_seconds_bucket{le="60"}'), 1)
        self.assertLessEqual(delta(before, after, "deskbridge_transfer_wait_seconds_sum"), time.time() - started + 1)
        # Every call the fake saw is counted once (scrape_once_counted), by endpoint and
        # status class, and timed.
        self.assertEqual(delta(before, after, 'deskbridge_zendesk_requests_total{endpoint="messages",status_class="5xx"}'), 1)
        for endpoint, calls in (("users", 1), ("conversations", 1), ("messages", 6), ("switchboard", 2)):
            self.assertGreaterEqual(zendesk_calls(after, endpoint) - zendesk_calls(before, endpoint), calls, endpoint)
            self.assertEqual(after['deskbridge_zendesk_request_duration_seconds_count{endpoint="%s"}' % endpoint],
                             zendesk_calls(after, endpoint), endpoint)
        self.assertEqual(zendesk_calls(after, "other"), 0)
        self.assertTrue(started - 1 <= after["deskbridge_last_webhook_timestamp_seconds"] <= time.time() + 1)
        self.assertEqual(after["deskbridge_outbox_oldest_pending_age_seconds"], 0)
        self.assertEqual(promtool(scrape_text()), (0, ""))

    def test_each_zendesk_endpoint_is_counted_under_its_name(self):
        before, calls_before = scrape(), len(FAKE.requests)
        r = login(SERVER)
        session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        self.assertEqual(SERVER.request("POST", "/api/setup/zendesk/verify", headers=session).status, 200)
        tid, auth, conv = start_transfer("metrics-endpoints@shop.example")
        FAKE.agent_says(conv["id"], "Hi")
        seq = poll(tid, auth)["next"]
        self.assertEqual(SERVER.request("POST", "/api/transfers/%s/read" % tid, body={"seq": seq},
                                        headers=auth).status, 204)
        harness.wait_for(lambda: FAKE.calls("POST", "/activity"), what="the read notice")
        # A visitor's file: its upload, and (its message refused) its removal, within the request.
        files = dict(auth, **{"Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
        body = multipart([("file", "receipt.png", "image/png", PNG)])
        self.assertEqual(SERVER.request("POST", "/api/transfers/%s/files" % tid, body=body, headers=files).status, 201)
        with FAKE.lock:
            FAKE.failures.extend([None, 422])
        self.assertEqual(SERVER.request("POST", "/api/transfers/%s/files" % tid, body=body, headers=files).status, 502)
        after = scrape_once_counted(before, calls_before)
        seen = {}
        for call in FAKE.requests[calls_before:]:
            seen[endpoint_of(call[1])] = seen.get(endpoint_of(call[1]), 0) + 1
        self.assertTrue({"apps", "availability", "switchboard", "integrations", "users", "conversations",
                         "messages", "activity", "attachments"} <= set(seen), seen)
        self.assertEqual(seen["attachments"], 3)
        for endpoint in ("apps", "availability", "integrations", "switchboard", "users", "support_users",
                         "conversations", "messages", "activity", "attachments", "tickets", "other"):
            self.assertEqual(zendesk_calls(after, endpoint) - zendesk_calls(before, endpoint),
                             seen.get(endpoint, 0), endpoint)

    def test_timeouts_and_a_failed_handoff_count_their_reasons(self):
        before = scrape()
        db = sqlite3.connect(SERVER.state.db, isolation_level=None, timeout=10)
        try:
            tid, auth, _ = start_transfer("metrics-late@shop.example")
            # Nobody joined within transfers.join_timeout_s: the next poll ends it.
            db.execute("UPDATE transfers SET created_at = created_at - 400 WHERE id = ?", (tid,))
            self.assertEqual(poll(tid, auth)["state"], "ended")
            tid, auth, conv = start_transfer("metrics-idle@shop.example")
            FAKE.agent_says(conv["id"], "Hello?")
            # Nobody spoke for transfers.idle_timeout_s.
            db.execute("UPDATE transfers SET last_activity_at = last_activity_at - 2000 WHERE id = ?", (tid,))
            self.assertEqual(poll(tid, auth)["state"], "ended")
        finally:
            db.close()
        harness.wait_for(outbox_drained, seconds=30, what="the end notices to be delivered")
        # Zendesk refuses the messaging user for good: the handoff fails and ends the transfer.
        FAKE.fail_next(400)
        r = SERVER.request("POST", "/api/transfers", body={"visitor": {"name": "Rui", "email": "metrics-fail@shop.example"}})
        self.assertEqual(r.status, 201, r.body)
        t = r.json()
        harness.wait_for(lambda: poll(t["id"], {"Authorization": "Bearer " + t["secret"]})["state"] == "ended",
                         seconds=30, what="the failed handoff to end the transfer")
        FAKE.agent_solves(conv["id"])   # an ended transfer: applied, changes nothing
        harness.wait_for(outbox_drained, what="the outbox to drain")
        after = scrape()
        for reason in ("no_agent", "idle", "handoff_failed"):
            self.assertEqual(delta(before, after, 'deskbridge_transfers_ended_total{reason="%s"}' % reason), 1, reason)
        self.assertEqual(delta(before, after, 'deskbridge_transfers_ended_total{reason="ticket_closed"}'), 0)
        self.assertEqual(delta(before, after, 'deskbridge_webhook_events_total{type="ended"}'), 1)
        self.assertEqual(delta(before, after, 'deskbridge_zendesk_requests_total{endpoint="users",status_class="4xx"}'), 1)
        self.assertEqual(delta(before, after, "deskbridge_transfers_created_total"), 3)

    def test_purging_transfers_lowers_no_count(self):
        tid, auth, _ = start_transfer("metrics-purged@shop.example")
        self.assertEqual(SERVER.request("POST", "/api/transfers/%s/end" % tid, headers=auth).status, 200)
        harness.wait_for(outbox_drained, what="the outbox to drain")
        before = scrape()
        db = sqlite3.connect(SERVER.state.db, isolation_level=None, timeout=10)
        try:
            db.execute("UPDATE transfers SET ended_at = ended_at - 3 * 86400 WHERE state = 'ended'")
        finally:
            db.close()
        self.assertIn("purged", SERVER.state.admin("purge", "--older-than", "1").stdout)
        after = scrape()
        self.assertEqual(after["deskbridge_transfers_open{state=\"waiting\"}"],
                         before["deskbridge_transfers_open{state=\"waiting\"}"])
        for series, value in before.items():
            if "_total" in series or series.endswith(("_count", "_sum")) or "_bucket{" in series:
                self.assertEqual(after[series], value, series)

    def test_refused_webhooks_and_rate_limits(self):
        before = scrape()
        r = SERVER.request("POST", "/api/zendesk/webhook", body={"events": []},
                           headers={"X-API-Key": "forged"})
        assert_error(self, r, 401, "unauthenticated")
        r = SERVER.request("POST", "/api/zendesk/webhook", body={"events": "none"},
                           headers={"X-API-Key": FAKE.webhook_secret})
        assert_error(self, r, 400, "bad_request")
        statuses = [SERVER.request("POST", "/api/token", body={"token": "x"}).status for _ in range(3)]
        self.assertEqual(statuses.count(429), 2, statuses)
        after = scrape()
        self.assertEqual(delta(before, after, 'deskbridge_webhooks_refused_total{reason="unauthenticated"}'), 1)
        self.assertEqual(delta(before, after, 'deskbridge_webhooks_refused_total{reason="bad_request"}'), 1)
        self.assertEqual(delta(before, after, 'deskbridge_rate_limited_total{limit="limits.token_per_minute"}'), 2)
        self.assertEqual(delta(before, after, 'deskbridge_rate_limited_total{limit="limits.transfers_per_minute"}'), 0)
        # A refused delivery is not a webhook heard from Zendesk.
        self.assertEqual(after["deskbridge_last_webhook_timestamp_seconds"],
                         before["deskbridge_last_webhook_timestamp_seconds"])

    def test_a_waiting_delivery_shows_in_the_backlog(self):
        FAKE.down()
        try:
            r = SERVER.request("POST", "/api/transfers", body={"visitor": {"name": "Bo", "email": "metrics-down@shop.example"}})
            self.assertEqual(r.status, 201, r.body)
            time.sleep(1.2)
            samples = scrape()
            self.assertGreaterEqual(samples["deskbridge_outbox_pending"], 1)
            self.assertGreaterEqual(samples["deskbridge_outbox_oldest_pending_age_seconds"], 1)
            self.assertGreaterEqual(samples['deskbridge_zendesk_requests_total{endpoint="users",status_class="error"}'], 1)
        finally:
            FAKE.up()
        t = r.json()
        auth = {"Authorization": "Bearer " + t["secret"]}
        harness.wait_for(outbox_drained, seconds=30, poll=lambda: poll(t["id"], auth), what="the outbox to drain")
        self.assertEqual(scrape()["deskbridge_outbox_oldest_pending_age_seconds"], 0)


class BehindApache(unittest.TestCase):
    def test_conf_apache_routes_it_to_the_agent_handler(self):
        apache = harness.ApacheServer().start()
        self.addCleanup(apache.stop)
        token = apache.state.admin("metrics-token").stdout.strip()
        # The transfer handler, which takes the rest of /api/, would answer 404.
        assert_error(self, apache.request("GET", "/api/metrics"), 401, "unauthenticated")
        r = apache.request("GET", "/api/metrics", headers={"Authorization": "Bearer " + token})
        self.assertEqual((r.status, r.header("Content-Type")), (200, CONTENT_TYPE))
        self.assertEqual(promtool(r.body.decode()), (0, ""))


def counters_file():
    files = [f for f in glob.glob(SERVER.state.db + "-counters*") if not f.endswith(("-wal", "-shm"))]
    assert len(files) == 1, files
    return files[0]


class NoWritesWhenPolling(unittest.TestCase):
    def test_fifty_polls_and_a_scrape_write_nothing(self):
        tid, auth, conv = start_transfer("metrics-quiet@shop.example")
        FAKE.agent_says(conv["id"], "Hi")
        FAKE.settle()
        harness.wait_for(outbox_drained, seconds=30, poll=lambda: poll(tid, auth), what="the outbox to drain")
        state = poll(tid, auth)
        conns = [sqlite3.connect(f, isolation_level=None, timeout=10) for f in (SERVER.state.db, counters_file())]
        try:
            def versions():
                return [c.execute("PRAGMA data_version").fetchone()[0] for c in conns]
            wals = [SERVER.state.db + "-wal", counters_file() + "-wal"]
            first, wal_sizes = versions(), [os.path.getsize(w) for w in wals]
            etag = None
            for i in range(50):
                headers = dict(auth, **({"If-None-Match": etag} if etag and i % 2 else {}))
                r = SERVER.request("GET", "/api/transfers/%s/events?after=%d" % (tid, state["next"]), headers=headers)
                self.assertIn(r.status, (200, 304))
                etag = r.header("ETag")
            self.assertEqual(r.status, 304)
            scrape()
            self.assertEqual(versions(), first, "a poll or a scrape committed to the database or the counters")
            self.assertEqual([os.path.getsize(w) for w in wals], wal_sizes)
            # The check itself sees a commit from another process when there is one.
            SERVER.request("POST", "/api/transfers/%s/read" % tid, body={"seq": state["next"]}, headers=auth)
            SERVER.request("POST", "/api/token", body={"token": "x"})
            changed = versions()
            self.assertNotEqual(changed[0], first[0])
            self.assertNotEqual(changed[1], first[1])
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    raise SystemExit(harness.main())

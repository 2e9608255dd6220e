"""Attacks on the visitor's side of /api/transfers through lighttpd, with visitor
authentication off, against the fake Zendesk: a burst of /read and /typing on one's own
transfer (limited, and at most one conversation:read a window reaches Zendesk, the
latest read last); someone else's email and client_request_id (no transfer without the
creation secret); the victim's email used to fill the open-chats cap (the victim, from
another address, still gets a transfer)."""

import contextlib
import math
import os
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402

SERVER = FAKE = None
ACTIVITY_LIMIT = 60
READ_WINDOW_S = 3.0   # OUTBOX_READ_EVERY_MS


def setUpModule():
    global SERVER, FAKE
    FAKE = FakeZendesk().start()
    SERVER = harness.Server(procs=2).start()
    harness.connect_zendesk(SERVER, FAKE)
    SERVER.state.admin("config", "set", "limits.activity_per_minute", str(ACTIVITY_LIMIT))


def tearDownModule():
    FAKE.stop()


def start_transfer(email):
    """A transfer handed over to the fake, and its conversation there."""
    r = SERVER.request("POST", "/api/transfers", body={"visitor": {"name": "Ana Lima", "email": email}})
    assert r.status == 201, r.body
    t = r.json()
    conv = harness.wait_for(lambda: next((c for c in FAKE.conversations.values()
                                          if c["metadata"] == {"deskbridge_transfer_id": t["id"]}
                                          and c["control"]), None), what="the handoff")
    return t["id"], {"Authorization": "Bearer " + t["secret"]}, conv


def poll(tid, auth):
    return SERVER.request("GET", "/api/transfers/%s/events" % tid, headers=auth).json()


def say(tid, auth, n):
    """n visitor messages, delivered: the transfer's seq grows by n."""
    for i in range(n):
        r = SERVER.request("POST", "/api/transfers/%s/messages" % tid, headers=auth,
                           body={"client_message_id": "m%d" % i, "text": "line %d" % i})
        assert r.status == 202, r.body
    harness.wait_for(lambda: db_value("SELECT count(*) FROM outbox WHERE transfer_id = ? AND state = 'pending'",
                                      tid) == (0,), what="the visitor's messages at Zendesk")


def db_value(sql, *args):
    with contextlib.closing(sqlite3.connect(SERVER.state.db, timeout=30)) as db:
        return db.execute(sql, args).fetchone()


def reads_of(conv):
    return len(FAKE.calls("POST", "/conversations/%s/activity" % conv["id"]))


def limited(test, r):
    assert_error(test, r, 429, "rate_limited")
    test.assertTrue(0 < int(r.header("Retry-After")) <= 60, r.header("Retry-After"))


class ReadsAndTyping(unittest.TestCase):
    def test_a_burst_of_reads_is_limited_and_reaches_zendesk_once_a_window(self):
        tid, auth, conv = start_transfer("reader@shop.example")
        base = "/api/transfers/" + tid
        say(tid, auth, 10)
        top = poll(tid, auth)["next"]
        other_tid, other_auth, _ = start_transfer("bystander@shop.example")
        self.assertEqual(reads_of(conv), 0)

        # Zendesk answering in 300 ms, four clients on one transfer's /read, and another
        # visitor polling meanwhile.
        FAKE.fail_next(("slow", 0.3), 1000)
        answers, latencies, lock = [], [], threading.Lock()
        done = threading.Event()

        # 100 reads over about 6 s: the first 60 (the limit) over the first 4, across windows.
        def reader(j):
            for k in range(25):
                seq = 1 + (j * 25 + k) % top
                r = SERVER.request("POST", base + "/read", headers=auth, body={"seq": seq})
                with lock:
                    answers.append((seq, r))
                time.sleep(0.25)

        def bystander():
            while not done.is_set():
                began = time.time()
                r = SERVER.request("GET", "/api/transfers/%s/events?after=0" % other_tid, headers=other_auth)
                latencies.append((time.time() - began, r.status))
                time.sleep(0.05)

        began = time.time()
        watcher = threading.Thread(target=bystander)
        watcher.start()
        threads = [threading.Thread(target=reader, args=(j,)) for j in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        time.sleep(0.5)   # a receipt the last /read set off may still be on its way
        burst_s = time.time() - began
        sent = reads_of(conv)
        done.set()
        watcher.join(30)
        with FAKE.lock:
            FAKE.failures.clear()
        statuses = [r.status for _, r in answers]
        waits = sorted(s for s, _ in latencies)
        print("# 100 reads by 4 clients in %.2f s: %d accepted, %d conversation:read sent; "
              "another visitor's polls meanwhile: %d, median %.0f ms, max %.0f ms"
              % (burst_s, statuses.count(204), sent, len(waits), 1000 * waits[len(waits) // 2],
                 1000 * waits[-1]), flush=True)
        self.assertEqual((statuses.count(204), statuses.count(429)), (ACTIVITY_LIMIT, 100 - ACTIVITY_LIMIT))
        for _, r in answers:
            if r.status == 429:
                limited(self, r)
        self.assertGreaterEqual(sent, 1)
        self.assertLessEqual(sent, math.ceil(burst_s / READ_WINDOW_S) + 1)
        self.assertEqual({status for _, status in latencies}, {200})
        self.assertLess(waits[-1], 5, "another visitor's poll was held")

        # The latest read reaches Zendesk after the burst, once, when the visitor polls on.
        latest = max(seq for seq, r in answers if r.status == 204)
        harness.wait_for(lambda: db_value("SELECT read_pending FROM transfers WHERE id = ?", tid) == (0,),
                         10, poll=lambda: poll(tid, auth), what="the last read receipt")
        self.assertEqual(db_value("SELECT read_sent_seq, visitor_read_seq FROM transfers WHERE id = ?", tid),
                         (latest, latest))
        harness.wait_for(lambda: reads_of(conv) == sent + 1, 10, what="the last receipt at Zendesk")
        deadline = time.time() + READ_WINDOW_S + 1
        while time.time() < deadline:
            poll(tid, auth)
            time.sleep(0.2)
        self.assertEqual(reads_of(conv), sent + 1, "a receipt with nothing new read")
        self.assertEqual(FAKE.refusals, [])

    def test_a_read_within_the_window_is_sent_by_the_sweep(self):
        tid, auth, conv = start_transfer("sweep@shop.example")
        base = "/api/transfers/" + tid
        say(tid, auth, 2)
        top = poll(tid, auth)["next"]
        self.assertEqual(SERVER.request("POST", base + "/read", headers=auth, body={"seq": top - 1}).status, 204)
        harness.wait_for(lambda: reads_of(conv) == 1, what="the first receipt")
        self.assertEqual(SERVER.request("POST", base + "/read", headers=auth, body={"seq": top}).status, 204)
        time.sleep(READ_WINDOW_S + 0.5)
        self.assertEqual(reads_of(conv), 1, "a second receipt within the window")
        SERVER.state.admin("sweep")
        self.assertEqual(reads_of(conv), 2)
        self.assertEqual(db_value("SELECT read_sent_seq, read_pending FROM transfers WHERE id = ?", tid), (top, 0))

    def test_typing_is_limited_with_reads(self):
        tid, auth, conv = start_transfer("typist@shop.example")
        base = "/api/transfers/" + tid
        for i in range(ACTIVITY_LIMIT):
            r = SERVER.request("POST", base + "/typing", headers=auth, body={"typing": i % 2 == 0})
            self.assertEqual(r.status, 204, i)
        limited(self, SERVER.request("POST", base + "/typing", headers=auth, body={"typing": True}))
        limited(self, SERVER.request("POST", base + "/read", headers=auth, body={"seq": 0}))
        # Other transfers have their own count.
        other, other_auth, _ = start_transfer("typist2@shop.example")
        self.assertEqual(SERVER.request("POST", "/api/transfers/%s/typing" % other, headers=other_auth,
                                        body={"typing": True}).status, 204)
        self.assertEqual(reads_of(conv), 0)


def create(email, addr="192.0.2.50", **extra):
    body = {"visitor": {"name": "Someone", "email": email}}
    body.update(extra)
    return SERVER.request("POST", "/api/transfers", body=body, headers={"X-Forwarded-For": addr})


class Creation(unittest.TestCase):
    def setUp(self):
        SERVER.state.admin("config", "set", "security.trusted_proxies", "127.0.0.1")

    def tearDown(self):
        SERVER.state.admin("config", "unset", "security.trusted_proxies")

    def test_a_request_id_without_its_creation_secret_gets_no_transfer(self):
        proof = "Vq3x9-_Tn0bY2kLm8PzR4wQ"
        victim = create("victim@shop.example", client_request_id="req-victim", client_secret=proof)
        self.assertEqual(victim.status, 201, victim.body)
        mine = victim.json()
        for extra in ({}, {"client_secret": "A" * 22}, {"client_secret": None}):
            r = create("victim@shop.example", "198.51.100.7", client_request_id="req-victim", **extra)
            assert_error(self, r, 409, "conflict")
            self.assertNotIn(mine["id"].encode(), r.body)
            self.assertNotIn(mine["secret"].encode(), r.body)
        self.assertEqual(db_value("SELECT count(*) FROM transfers WHERE visitor_email = ?",
                                  "victim@shop.example"), (1,))
        # The victim's own retry, from wherever it now comes, gets its transfer back.
        again = create("victim@shop.example", "203.0.113.80", client_request_id="req-victim",
                       client_secret=proof)
        self.assertEqual((again.status, again.json()["id"], again.json()["secret"]),
                         (201, mine["id"], mine["secret"]))
        # A request id made without a secret can be answered to nobody, not even its maker.
        self.assertEqual(create("bare@shop.example", client_request_id="req-bare").status, 201)
        assert_error(self, create("bare@shop.example", client_request_id="req-bare"), 409, "conflict")
        # Past the retry window, the right secret no longer gets it either.
        with contextlib.closing(sqlite3.connect(SERVER.state.db, timeout=30)) as db, db:
            db.execute("UPDATE transfers SET created_at = created_at - 601 WHERE id = ?", (mine["id"],))
        assert_error(self, create("victim@shop.example", client_request_id="req-victim",
                                  client_secret=proof), 409, "conflict")

    def test_someone_elses_email_does_not_fill_their_cap(self):
        SERVER.state.admin("config", "set", "limits.open_transfers_per_visitor", "3")
        try:
            for addr in ("198.51.100.9", "2001:db8:66:1::a"):
                for i in range(3):
                    self.assertEqual(create("capped@shop.example", addr).status, 201)
                limited(self, create("capped@shop.example", addr))
                # Another address of the same IPv6 /64 is the same client.
                if ":" in addr:
                    limited(self, create("capped@shop.example", "2001:db8:66:1::b"))
            victim = create("capped@shop.example", "203.0.113.9")
            self.assertEqual(victim.status, 201, victim.body)
            self.assertEqual(create("capped@shop.example", "2001:db8:66:2::a").status, 201)
        finally:
            SERVER.state.admin("config", "set", "limits.open_transfers_per_visitor", "1000")


if __name__ == "__main__":
    sys.exit(harness.main())

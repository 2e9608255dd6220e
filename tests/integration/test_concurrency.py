"""Many visitors at once against several FastCGI processes sharing one SQLite file:
every message is stored once, seqs stay dense per transfer, every retry answers the
first result, and no client ever sees a database error."""

import collections
import http.client
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SERVER = None
TRANSFERS = 24
MESSAGES = 12


def setUpModule():
    global SERVER
    SERVER = harness.Server(procs=4).start()
    SERVER.state.admin("config", "set", "transfers_enabled", "true")
    # These tests create transfers far faster than any visitor; test_limits checks the limits.
    SERVER.state.admin("config", "set", "limits.transfers_per_minute", "100000")
    SERVER.state.admin("config", "set", "limits.open_transfers_per_visitor", "1000")


class Visitor(threading.Thread):
    def __init__(self, n, statuses):
        super().__init__()
        self.n = n
        self.statuses = statuses
        self.seen = []
        self.error = None

    def req(self, conn, method, path, body=None, auth=None):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = "Bearer " + auth
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        data = r.read()
        self.statuses[r.status] += 1
        return r.status, json.loads(data) if data else None

    def run(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=30)
            status, t = self.req(conn, "POST", "/api/transfers", {
                "visitor": {"name": "Visitor %d" % self.n, "email": "v%d@shop.example" % self.n},
                "client_request_id": "req-%d" % self.n})
            assert status == 201, (status, t)
            self.id, secret = t["id"], t["secret"]
            after = 0
            for i in range(MESSAGES):
                body = {"client_message_id": "m%d" % i, "text": "message %d from %d" % (i, self.n)}
                status, first = self.req(conn, "POST", "/api/transfers/%s/messages" % self.id, body, secret)
                assert status == 202, (status, first)
                status, again = self.req(conn, "POST", "/api/transfers/%s/messages" % self.id, body, secret)
                assert (status, again) == (202, first), (status, again, first)
                status, polled = self.req(conn, "GET", "/api/transfers/%s/events?after=%d" % (self.id, after),
                                          auth=secret)
                assert status == 200, (status, polled)
                self.seen += polled["events"]
                after = polled["next"]
            conn.close()
        except Exception as e:  # reported by the test, not lost in a thread
            self.error = e


class Concurrency(unittest.TestCase):
    def test_parallel_visitors(self):
        statuses = collections.Counter()
        visitors = [Visitor(n, statuses) for n in range(TRANSFERS)]
        for v in visitors:
            v.start()
        for v in visitors:
            v.join(120)
        self.assertEqual([v.error for v in visitors if v.error], [])
        self.assertEqual(set(statuses), {200, 201, 202}, statuses)
        for v in visitors:
            seqs = [e["seq"] for e in v.seen]
            self.assertEqual(seqs, list(range(1, MESSAGES + 1)), v.id)
            self.assertEqual([e["client_message_id"] for e in v.seen], ["m%d" % i for i in range(MESSAGES)])
        self.assertEqual(len({v.id for v in visitors}), TRANSFERS)
        log = SERVER.log_text()
        self.assertNotIn("database is locked", log)
        self.assertNotIn(" 503 ", log)
        self.assertGreaterEqual(len(set(l.split("[")[1].split("]")[0] for l in log.splitlines()
                                        if "transfer[" in l)), 2, "requests were spread over processes")


if __name__ == "__main__":
    sys.exit(harness.main())

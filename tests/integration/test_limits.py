"""Rate limits through lighttpd: POST /api/token and POST /api/transfers per client
address, messages per transfer; 429 rate_limited with Retry-After, counted across
processes, and other clients unaffected."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_error  # noqa: E402

SERVER = None
VISITOR = {"visitor": {"name": "Ana", "email": "ana@shop.example"}}


def setUpModule():
    global SERVER
    SERVER = harness.Server(procs=2).start()
    for key, value in (("transfers_enabled", "true"), ("limits.token_per_minute", "3"),
                       ("limits.transfers_per_minute", "2"), ("limits.messages_per_minute", "3")):
        SERVER.state.admin("config", "set", key, value)


def limited(test, r):
    e = assert_error(test, r, 429, "rate_limited")
    test.assertTrue(0 < int(r.header("Retry-After")) <= 60, r.header("Retry-After"))
    return e


class Limits(unittest.TestCase):
    def test_an_ipv6_client_is_counted_by_its_64(self):
        def start(addr, n):
            body = {"visitor": {"name": "Six", "email": "six%d@shop.example" % n}}
            r, _ = SERVER.state.cgi("transfer", "POST", "/api/transfers", body=json.dumps(body).encode(),
                                    headers={"Content-Type": "application/json"}, env={"REMOTE_ADDR": addr})
            return r
        # Two addresses of one /64 share its limit of 2; the next /64 has its own.
        self.assertEqual(start("2001:db8:6:1::a", 1).status, 201)
        self.assertEqual(start("2001:db8:6:1:ffff::b", 2).status, 201)
        limited(self, start("2001:db8:6:1::c", 3))
        self.assertEqual(start("2001:db8:6:2::a", 4).status, 201)

    def test_open_transfers_per_visitor(self):
        SERVER.state.admin("config", "set", "limits.open_transfers_per_visitor", "2")
        SERVER.state.admin("config", "set", "limits.transfers_per_minute", "100")
        try:
            def start(email, request_id, addr="192.0.2.20"):
                body = {"visitor": {"name": "Cap", "email": email}, "client_request_id": request_id,
                        "client_secret": "secret-of-" + request_id + "-" * 20}
                r, _ = SERVER.state.cgi("transfer", "POST", "/api/transfers", body=json.dumps(body).encode(),
                                        headers={"Content-Type": "application/json"}, env={"REMOTE_ADDR": addr})
                return r
            first = start("cap@shop.example", "r1")
            second = start("cap@shop.example", "r2")
            self.assertEqual((first.status, second.status), (201, 201))
            third = start("cap@shop.example", "r3")
            e = limited(self, third)
            self.assertIn("2 open chats", e["message"])
            # A retry of an open one still answers it; another visitor is not affected,
            # also from the same address (one NAT).
            again = start("cap@shop.example", "r1")
            self.assertEqual((again.status, again.json()["id"]), (201, first.json()["id"]))
            self.assertEqual(start("other@shop.example", "r1").status, 201)
            # Ending one makes room.
            end = SERVER.request("POST", "/api/transfers/%s/end" % first.json()["id"],
                                 headers={"Authorization": "Bearer " + first.json()["secret"]})
            self.assertEqual(end.status, 200)
            self.assertEqual(start("cap@shop.example", "r4").status, 201)
        finally:
            SERVER.state.admin("config", "set", "limits.transfers_per_minute", "2")
            SERVER.state.admin("config", "unset", "limits.open_transfers_per_visitor")

    def test_token_per_address(self):
        for _ in range(3):
            self.assertEqual(SERVER.request("POST", "/api/token", body={"token": "a.b.c"}).status, 503)
        e = limited(self, SERVER.request("POST", "/api/token", body={"token": "a.b.c"}))
        self.assertIn("3 a minute", e["message"])
        r, _ = SERVER.state.cgi("token", "POST", "/api/token", body=b'{"token":"a.b.c"}',
                                headers={"Content-Type": "application/json"},
                                env={"REMOTE_ADDR": "192.0.2.10"})
        self.assertEqual(r.status, 503)

    def test_transfers_per_address_and_messages_per_transfer(self):
        first = SERVER.request("POST", "/api/transfers", body=VISITOR)
        self.assertEqual(first.status, 201)
        self.assertEqual(SERVER.request("POST", "/api/transfers", body=VISITOR).status, 201)
        limited(self, SERVER.request("POST", "/api/transfers", body=VISITOR))
        t = first.json()
        auth = {"Authorization": "Bearer " + t["secret"]}
        path = "/api/transfers/%s/messages" % t["id"]
        for i in range(3):
            r = SERVER.request("POST", path, body={"client_message_id": "c%d" % i, "text": "hi"}, headers=auth)
            self.assertEqual(r.status, 202)
        limited(self, SERVER.request("POST", path, body={"client_message_id": "c9", "text": "hi"},
                                     headers=auth))
        events = SERVER.request("GET", "/api/transfers/%s/events" % t["id"], headers=auth).json()["events"]
        self.assertEqual([e["client_message_id"] for e in events], ["c0", "c1", "c2"])


if __name__ == "__main__":
    sys.exit(harness.main())

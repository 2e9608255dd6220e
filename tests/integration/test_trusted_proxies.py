"""security.trusted_proxies through lighttpd: X-Forwarded-For and X-Forwarded-Proto are
believed only from a listed proxy. Behind one, visitors are counted apart by the
right-most untrusted hop, and the Secure cookie flag and HSTS follow the proxy's
scheme; from anyone else, the headers change nothing."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.Server().start()
    for key, value in (("transfers_enabled", "true"), ("limits.transfers_per_minute", "2")):
        SERVER.state.admin("config", "set", key, value)


def start(forwarded_for, n):
    return SERVER.request("POST", "/api/transfers", headers={"X-Forwarded-For": forwarded_for}, body={
        "visitor": {"name": "Proxied", "email": "proxied%d@shop.example" % n}})


class TrustedProxies(unittest.TestCase):
    def tearDown(self):
        SERVER.state.admin("config", "unset", "security.trusted_proxies")

    def test_untrusted_forwarded_headers_change_nothing(self):
        r = SERVER.request("POST", "/api/setup/session", body={"password": harness.ADMIN_PASSWORD},
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.1"})
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn("Secure", r.header("Set-Cookie"))
        self.assertIsNone(r.header("Strict-Transport-Security"))
        # Every "visitor" is the one address lighttpd sees, whatever they claim.
        answers = [start("198.51.100.%d" % i, 100 + i).status for i in range(3)]
        self.assertEqual(answers, [201, 201, 429])

    def test_behind_a_trusted_proxy_visitors_are_counted_apart(self):
        SERVER.state.admin("config", "set", "security.trusted_proxies", "127.0.0.0/8, ::1")
        a = [start("6.6.6.6, 203.0.113.7", 200 + i).status for i in range(3)]
        self.assertEqual(a, [201, 201, 429], "one visitor's limit")
        self.assertEqual(start("203.0.113.8", 210).status, 201, "another visitor behind the same proxy")

    def test_the_proxys_scheme_sets_secure_and_hsts(self):
        SERVER.state.admin("config", "set", "security.trusted_proxies", "127.0.0.1")
        r = SERVER.request("POST", "/api/setup/session", body={"password": harness.ADMIN_PASSWORD},
                           headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("; Secure", r.header("Set-Cookie"))
        self.assertEqual(r.header("Strict-Transport-Security"), "max-age=31536000")

    def test_the_setting_is_validated(self):
        r = login(SERVER)
        session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        e = assert_error(self, SERVER.request("PATCH", "/api/setup/config", headers=session,
                                              body={"security": {"trusted_proxies": "proxy.example"}}),
                         422, "invalid_field")
        self.assertIn("security.trusted_proxies", json.dumps(e))
        r = SERVER.request("PATCH", "/api/setup/config", headers=session,
                           body={"security": {"trusted_proxies": "10.0.0.0/8 2001:db8::/32"}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["security"]["trusted_proxies"], "10.0.0.0/8 2001:db8::/32")


if __name__ == "__main__":
    sys.exit(harness.main())

"""An admin session must not be able to read the write-only Zendesk credentials by
pointing deskbridge elsewhere: a PATCH that changes where (api_base, subdomain) or as
whom (app id, key id, API user) deskbridge talks to Zendesk clears the secrets that go
with it, unless the same PATCH sets them anew; "Access account" then sends nothing to
the new place. Run as the attack: a listener on a local port takes the place of
Zendesk, and must never see a stored secret."""

import base64
import http.server
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SERVER = FAKE = None


def setUpModule():
    global SERVER, FAKE
    FAKE = FakeZendesk().start()
    SERVER = harness.Server().start()


def tearDownModule():
    FAKE.stop()


class Listener:
    """Records the Authorization header of every request it gets."""

    def __init__(self):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                seen.append(self.headers.get("Authorization") or "")
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def credentials(self):
        return [base64.b64decode(a[6:]).decode(errors="replace") for a in self.seen if a.startswith("Basic ")]


class SecretsFollowTheirDestination(unittest.TestCase):
    def setUp(self):
        harness.connect_zendesk(SERVER, FAKE)
        r = login(SERVER)
        self.session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}

    def patch(self, body):
        r = SERVER.request("PATCH", "/api/setup/config", headers=self.session, body=body)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def attack(self, body):
        listener = Listener()
        try:
            config = self.patch(body(listener.url))
            SERVER.request("POST", "/api/setup/zendesk/verify", headers=self.session)
        finally:
            listener.stop()
        leaked = [c for c in listener.credentials() if FAKE.key_secret in c or FAKE.api_token in c]
        self.assertEqual(leaked, [], "a stored secret reached the listener")
        return config

    def test_a_new_api_base_clears_both_secrets(self):
        config = self.attack(lambda url: {"zendesk": {"api_base": url}})
        self.assertFalse(config["zendesk"]["messaging"]["key_secret_set"])
        self.assertFalse(config["zendesk"]["api_token_set"])
        self.assertTrue(config["zendesk"]["messaging"]["webhook_secret_set"], "the inbound secret stays")

    def test_a_new_key_id_or_app_clears_the_key_secret(self):
        for change in ({"key_id": "app_other_key"}, {"app_id": "app_other"}):
            harness.connect_zendesk(SERVER, FAKE)
            config = self.patch({"zendesk": {"messaging": change}})
            self.assertFalse(config["zendesk"]["messaging"]["key_secret_set"], change)
            self.assertTrue(config["zendesk"]["api_token_set"], change)

    def test_a_new_api_user_clears_the_api_token(self):
        config = self.patch({"zendesk": {"api_user": "someone@else.example"}})
        self.assertFalse(config["zendesk"]["api_token_set"])
        self.assertTrue(config["zendesk"]["messaging"]["key_secret_set"])

    def test_secrets_sent_with_the_change_are_kept(self):
        config = self.patch({"zendesk": {"api_base": FAKE.url + "/", "api_token": "new-token",
                                         "messaging": {"key_secret": "new-secret"}}})
        self.assertTrue(config["zendesk"]["messaging"]["key_secret_set"])
        self.assertTrue(config["zendesk"]["api_token_set"])

    def test_the_audit_names_the_cleared_secrets(self):
        self.patch({"zendesk": {"api_user": "audited@else.example"}})
        r = SERVER.request("GET", "/api/setup/audit", headers=self.session)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("zendesk.api_token", r.json()["entries"][0]["fields"])
        self.assertNotIn(FAKE.api_token, r.body.decode())

    def test_an_unchanged_value_clears_nothing(self):
        config = self.patch({"zendesk": {"api_base": FAKE.url, "api_user": FAKE.api_user}})
        self.assertTrue(config["zendesk"]["messaging"]["key_secret_set"])
        self.assertTrue(config["zendesk"]["api_token_set"])


if __name__ == "__main__":
    sys.exit(harness.main())

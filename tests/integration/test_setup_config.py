"""GET/PATCH /api/setup/config and GET /api/setup/audit through lighttpd: the api.md
shape, write-only secrets, validation that changes nothing, site keys, the audit log."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SERVER = None
SESSION = None


def setUpModule():
    global SERVER, SESSION
    SERVER = harness.Server().start()
    r = login(SERVER)
    SESSION = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}


def rsa_public_pem(bits):
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "k.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:%d" % bits, "-out", key], check=True, capture_output=True)
        return subprocess.run(["openssl", "pkey", "-in", key, "-pubout"], check=True,
                              capture_output=True, text=True).stdout


def get_config(server=None, session=None):
    r = (server or SERVER).request("GET", "/api/setup/config", headers=session or SESSION)
    assert r.status == 200, r.body
    return r.json()


def patch(body, headers=None):
    h = dict(SESSION if headers is None else headers)
    h["Content-Type"] = "application/json"
    return SERVER.request("PATCH", "/api/setup/config", body=json.dumps(body).encode(), headers=h)


class Shape(unittest.TestCase):
    def test_defaults_match_api_md(self):
        fresh = harness.Server().start()
        self.addCleanup(fresh.stop)
        r = login(fresh)
        c = get_config(fresh, {"Cookie": "deskbridge_admin=" + cookie_of(r)})
        self.assertEqual(c["transfers_enabled"], False)
        self.assertEqual(c["service_desk"], "zendesk")
        self.assertEqual(c["zendesk"]["messaging"], {"app_id": None, "key_id": None,
                                                     "key_secret_set": False,
                                                     "webhook_secret_set": False,
                                                     "jwt_key_id": None})
        for k in ("subdomain", "api_user", "account_verified_at", "api_base", "chat_api_base"):
            self.assertIn(k, c["zendesk"])
        for k in ("account_key_set", "api_token_set", "shared_secret_set"):
            self.assertIs(c["zendesk"][k], False)
        self.assertEqual(c["security"], {"authenticate_users": False,
                                         "allow_anonymous_transfers": False,
                                         "site_public_keys": [], "issuer": None,
                                         "clock_skew_s": 60, "trusted_proxies": None,
                                         "allowed_origins": None})
        self.assertEqual(c["transfers"], {
            "join_timeout_s": 300, "idle_timeout_s": 1800,
            "unavailable_message": "No agent is available right now. Please try again later.",
            "department": None})
        self.assertEqual(c["agent_avatar"], {"set": False})
        self.assertIs(c["app_credentials_set"], False)
        self.assertTrue(c["service_public_key"].startswith("-----BEGIN PUBLIC KEY-----"))

    def test_needs_session_and_csrf(self):
        assert_error(self, SERVER.request("GET", "/api/setup/config"), 401, "unauthenticated")
        assert_error(self, SERVER.request("GET", "/api/setup/audit"), 401, "unauthenticated")
        assert_error(self, patch({"transfers_enabled": True}, headers={}), 401, "unauthenticated")
        no_csrf = {"Cookie": SESSION["Cookie"]}
        assert_error(self, patch({"transfers_enabled": True}, headers=no_csrf), 403, "csrf_failed")
        self.assertIs(get_config()["transfers_enabled"], False)


class Patch(unittest.TestCase):
    def test_update_and_read_back(self):
        r = patch({"zendesk": {"subdomain": "acme", "api_user": "agent@acme.example",
                               "messaging": {"app_id": "5f1a2b", "key_id": "app_5f1a"}},
                   "transfers": {"join_timeout_s": 120, "department": "Billing"}})
        self.assertEqual(r.status, 200, r.body)
        c = r.json()
        self.assertEqual(c["zendesk"]["subdomain"], "acme")
        self.assertEqual(c["zendesk"]["messaging"]["key_id"], "app_5f1a")
        self.assertEqual(c["transfers"]["join_timeout_s"], 120)
        self.assertEqual(get_config()["transfers"]["department"], "Billing")
        r = patch({"transfers": {"department": None}})
        self.assertIsNone(r.json()["transfers"]["department"])

    def test_messaging_jwt_key_id(self):
        kid = "app_64f1c2a8e4b0d1001f2c3d4e"
        r = patch({"zendesk": {"messaging": {"jwt_key_id": kid}}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["zendesk"]["messaging"]["jwt_key_id"], kid)
        # Shown as it is, not as a secret: it names the key, the shared secret signs.
        m = get_config()["zendesk"]["messaging"]
        self.assertEqual(m["jwt_key_id"], kid)
        self.assertNotIn("jwt_key_id_set", m)
        for bad in ("kR9x2Vb3nQ7LwZ0pTfYc4sHd8mEa1u", "app_", "app_64f1 c2", "app_" + "a" * 125, ""):
            with self.subTest(bad):
                e = assert_error(self, patch({"zendesk": {"messaging": {"jwt_key_id": bad}}}),
                                 422, "invalid_field")
                self.assertEqual(e["field"], "zendesk.messaging.jwt_key_id")
                # The form's label, not the internal key, and no capital after the colon.
                self.assertRegex(e["message"], r"^Messaging JWT key ID: must ")
                self.assertNotIn("zendesk.messaging.jwt_key_id", e["message"])
        self.assertEqual(get_config()["zendesk"]["messaging"]["jwt_key_id"], kid)
        e = assert_error(self, patch({"zendesk": {"messaging": {"jwt_key_id": 42}}}), 400,
                         "bad_request")
        self.assertEqual(e["field"], "zendesk.messaging.jwt_key_id")
        r = patch({"zendesk": {"messaging": {"jwt_key_id": None}}})
        self.assertIsNone(r.json()["zendesk"]["messaging"]["jwt_key_id"])

    def test_secrets_are_write_only(self):
        secret = "zd-secret-value-123456"
        r = patch({"zendesk": {"api_token": secret, "shared_secret": secret + "x",
                               "messaging": {"key_secret": secret + "y",
                                             "webhook_secret": secret + "z"}}})
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn(secret, r.body.decode())
        c = get_config()
        self.assertIs(c["zendesk"]["api_token_set"], True)
        self.assertIs(c["zendesk"]["messaging"]["webhook_secret_set"], True)
        audit = SERVER.request("GET", "/api/setup/audit", headers=SESSION)
        self.assertNotIn(secret, audit.body.decode())
        self.assertNotIn(secret, SERVER.log_text())
        r = patch({"zendesk": {"api_token": None}})
        self.assertIs(r.json()["zendesk"]["api_token_set"], False)

    def test_invalid_field_changes_nothing(self):
        before = get_config()
        for body, field, status in (
                ({"transfers": {"join_timeout_s": 29}}, "transfers.join_timeout_s", 422),
                ({"transfers": {"idle_timeout_s": 86401}}, "transfers.idle_timeout_s", 422),
                ({"security": {"clock_skew_s": 301}}, "security.clock_skew_s", 422),
                ({"zendesk": {"subdomain": "not a label"}}, "zendesk.subdomain", 422),
                ({"zendesk": {"api_base": "javascript:alert(1)"}}, "zendesk.api_base", 422),
                ({"transfers": {"unavailable_message": "x" * 501}},
                 "transfers.unavailable_message", 422),
                ({"transfers_enabled": "yes"}, "transfers_enabled", 400),
                ({"transfers": {"join_timeout_s": "60"}}, "transfers.join_timeout_s", 400),
                ({"zendesk": "acme"}, "zendesk", 400),
                ({"zendesk": {"api_token_set": True}}, "zendesk.api_token_set", 422),
                ({"zendesk": {"account_verified_at": "2026-01-01T00:00:00Z"}},
                 "zendesk.account_verified_at", 422),
                ({"service_public_key": "x"}, "service_public_key", 422),
                ({"no_such_field": 1}, "no_such_field", 422)):
            # A valid change beside the invalid one must not be applied either.
            body = dict(body, transfers_enabled=body.get("transfers_enabled", True)) \
                if "transfers_enabled" not in body else body
            r = patch(body)
            e = assert_error(self, r, status, "invalid_field" if status == 422 else "bad_request")
            self.assertEqual(e["field"], field)
            if "." in field or field == "transfers_enabled":
                self.assertNotIn(field, e["message"])
                self.assertRegex(e["message"], r"^[A-Za-z' ()]+: [a-z]")
            else:
                self.assertIn(field, e["message"])
        self.assertEqual(get_config(), before)

    def test_site_public_keys(self):
        good = rsa_public_pem(2048)
        r = patch({"security": {"site_public_keys": [{"kid": "site-1", "pem": good}]}})
        self.assertEqual(r.status, 200, r.body)
        keys = r.json()["security"]["site_public_keys"]
        self.assertEqual([(k["kid"], k["bits"]) for k in keys], [("site-1", 2048)])
        for bad, why in (([{"kid": "w", "pem": rsa_public_pem(1024)}], "2048"),
                         ([{"kid": "w", "pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}],
                          "RSA public key"),
                         ([{"kid": "a", "pem": good}, {"kid": "a", "pem": good}], "same kid"),
                         ([{"kid": "bad kid!", "pem": good}], "kid"),
                         ([{"pem": good}], "kid")):
            e = assert_error(self, patch({"security": {"site_public_keys": bad}}), 422,
                             "invalid_field")
            self.assertEqual(e["field"], "security.site_public_keys")
            self.assertIn(why, e["message"])
        self.assertEqual(len(get_config()["security"]["site_public_keys"]), 1)

    def test_credential_change_clears_verification(self):
        with __import__("sqlite3").connect(SERVER.state.db) as c:
            c.execute("INSERT OR REPLACE INTO config (key, value, updated_at) "
                      "VALUES ('zendesk.account_verified_at', '2026-11-24T10:00:00Z', 0)")
        self.assertEqual(get_config()["zendesk"]["account_verified_at"], "2026-11-24T10:00:00Z")
        patch({"transfers": {"idle_timeout_s": 900}})
        self.assertEqual(get_config()["zendesk"]["account_verified_at"], "2026-11-24T10:00:00Z")
        patch({"zendesk": {"api_token": "a-new-token"}})
        self.assertIsNone(get_config()["zendesk"]["account_verified_at"])


class Audit(unittest.TestCase):
    def test_changes_are_recorded_newest_first(self):
        count = len(SERVER.request("GET", "/api/setup/audit", headers=SESSION).json()["entries"])
        patch({"security": {"issuer": "https://shop.example"}})
        patch({"security": {"issuer": "https://shop.example"}})  # no change, no entry
        patch({"transfers": {"unavailable_message": "Back at 9."}, "zendesk": {"account_key": "k"}})
        r = SERVER.request("GET", "/api/setup/audit", headers=SESSION)
        self.assertEqual(r.status, 200)
        entries = r.json()["entries"]
        self.assertEqual(sorted(entries[0]["fields"]),
                         ["transfers.unavailable_message", "zendesk.account_key"])
        self.assertEqual(entries[1]["fields"], ["security.issuer"])
        self.assertEqual(len(entries), count + 2)
        self.assertEqual(entries[0]["actor"], "admin@127.0.0.1")
        self.assertRegex(entries[0]["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertNotIn("Back at 9.", r.body.decode())


if __name__ == "__main__":
    sys.exit(harness.main())

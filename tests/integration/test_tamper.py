"""Sealed secrets only, run as the attack: someone who can write the SQLite file but not
read the key file plants a plain value in the secrets table (python sqlite3, as they
would), and deskbridge must refuse it, say so in its log (naming the setting, never the
value), and use it nowhere: not to let an admin in, not to accept a webhook, not to call
Zendesk; the admin tool's rekey must not seal it into trust either."""

import base64
import hashlib
import json
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import sunco_events as sunco  # noqa: E402
import test_handoff  # noqa: E402
import test_token  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402
from test_token import claims, post_token, site, token  # noqa: E402

SERVER = FAKE = None
WEBHOOK_SECRET = "webhook-secret-for-tamper"
PLANTED = "planted-by-someone-with-the-database-only"


def setUpModule():
    global SERVER, FAKE
    FAKE = test_handoff.FAKE = FakeZendesk().start()
    SERVER = test_handoff.SERVER = test_token.SERVER = harness.Server().start()
    harness.connect_zendesk(SERVER, FAKE, WEBHOOK_SECRET)


def tearDownModule():
    FAKE.stop()


def plant(name, value):
    with sqlite3.connect(SERVER.state.db) as c:
        c.execute("INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, 0) "
                  "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))


def stored(name):
    with sqlite3.connect(SERVER.state.db) as c:
        row = c.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def scrypt_hash(password):
    """A hash crypto_password_verify takes (lib/crypto.c's format and parameters)."""
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=1 << 15, r=8, p=1, maxmem=64 << 20, dklen=32)
    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
    return "$scrypt$ln=15,r=8,p=1$%s$%s" % (b64(salt), b64(key))


def session():
    r = login(SERVER)
    assert r.status == 200, r.body
    return {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}


class Case(unittest.TestCase):
    def assert_logged_refusal(self, name, log_from, *values):
        log = SERVER.log_text()[log_from:]
        self.assertIn("the secret %s in the database is not sealed, so it is refused" % name, log)
        for v in values:
            self.assertNotIn(v, log)


class AdminPassword(Case):
    def test_a_planted_password_hash_lets_nobody_in(self):
        attacker = "attacker-chosen-password"
        planted = scrypt_hash(attacker)
        mark = len(SERVER.log_text())
        plant("admin.password_hash", planted)
        assert_error(self, login(SERVER, attacker), 401, "invalid_credentials")
        # Fails closed: the real password, overwritten, does not open either.
        assert_error(self, login(SERVER), 401, "invalid_credentials")
        self.assert_logged_refusal("admin.password_hash", mark, planted, attacker)
        self.assertIn("initialised: no", SERVER.state.admin("status").stdout)
        # What an operator does: set the password again; it is sealed and works.
        SERVER.state.admin("passwd", env={"DESKBRIDGE_ADMIN_PASSWORD": harness.ADMIN_PASSWORD})
        self.assertTrue(stored("admin.password_hash").startswith("v1:"))
        self.assertEqual(login(SERVER).status, 200)
        assert_error(self, login(SERVER, attacker), 401, "invalid_credentials")


class Webhook(Case):
    def post(self, key):
        return SERVER.request("POST", "/api/zendesk/webhook", headers={"X-API-Key": key},
                              body=sunco.delivery(sunco.agent_message("conv_tamper", "I am no agent")))

    def test_a_planted_webhook_secret_is_refused(self):
        self.assertEqual(self.post(WEBHOOK_SECRET).status, 200)
        mark = len(SERVER.log_text())
        with sqlite3.connect(SERVER.state.db) as c:
            events_before = c.execute("SELECT count(*) FROM webhook_events").fetchone()
        plant("zendesk.messaging.webhook_secret", PLANTED)
        for key in (PLANTED, WEBHOOK_SECRET):
            assert_error(self, self.post(key), 401, "unauthenticated")
        with sqlite3.connect(SERVER.state.db) as c:
            self.assertEqual(c.execute("SELECT count(*) FROM webhook_events").fetchone(), events_before)
        self.assert_logged_refusal("zendesk.messaging.webhook_secret", mark, PLANTED)
        self.assertIn("zendesk.messaging.webhook_secret=(not set)", SERVER.state.admin("config", "get").stdout)
        SERVER.state.admin("config", "set", "zendesk.messaging.webhook_secret", "-", stdin=WEBHOOK_SECRET + "\n")
        self.assertEqual(self.post(WEBHOOK_SECRET).status, 200)

    def test_rekey_leaves_a_planted_value_refused(self):
        plant("zendesk.messaging.webhook_secret", PLANTED)
        self.addCleanup(SERVER.state.admin, "config", "set", "zendesk.messaging.webhook_secret", "-",
                        stdin=WEBHOOK_SECRET + "\n")
        p = SERVER.state.admin("rekey")
        self.assertIn("zendesk.messaging.webhook_secret", p.stderr)
        self.assertNotIn(PLANTED, p.stderr + p.stdout)
        self.assertEqual(stored("zendesk.messaging.webhook_secret"), PLANTED)
        assert_error(self, self.post(PLANTED), 401, "unauthenticated")
        # Every sealed secret still opens with the new key.
        self.assertEqual(login(SERVER).status, 200)


class ZendeskCredentials(Case):
    def tearDown(self):
        harness.connect_zendesk(SERVER, FAKE, WEBHOOK_SECRET)

    def test_planted_credentials_count_as_not_configured(self):
        admin = session()
        mark, calls = len(SERVER.log_text()), len(FAKE.requests)
        plant("zendesk.messaging.key_secret", PLANTED)
        plant("zendesk.api_token", PLANTED + "-token")
        r = SERVER.request("GET", "/api/setup/config", headers=admin)
        self.assertEqual(r.status, 200, r.body)
        self.assertFalse(r.json()["zendesk"]["messaging"]["key_secret_set"])
        self.assertFalse(r.json()["zendesk"]["api_token_set"])
        r = SERVER.request("POST", "/api/setup/zendesk/verify", headers=admin)
        e = assert_error(self, r, 503, "not_configured")
        checks = {c["name"]: c for c in e["checks"]}
        self.assertFalse(checks["messaging_key"]["ok"])
        self.assertIn("key secret", checks["messaging_key"]["message"])
        self.assertFalse(checks["support_token"]["ok"])
        self.assertIn("API token", checks["support_token"]["message"])
        self.assertEqual(FAKE.requests[calls:], [], "a planted credential reached Zendesk")
        self.assert_logged_refusal("zendesk.messaging.key_secret", mark, PLANTED)
        self.assert_logged_refusal("zendesk.api_token", mark, PLANTED)
        out = SERVER.state.admin("config", "get").stdout
        self.assertIn("zendesk.messaging.key_secret=(not set)", out)
        self.assertIn("zendesk.api_token=(not set)", out)

    def test_handoff_never_sends_a_planted_key(self):
        plant("zendesk.messaging.key_secret", PLANTED)
        calls = len(FAKE.requests)
        r = SERVER.request("POST", "/api/transfers", body={
            "visitor": {"name": "Ana Lima", "email": "tamper@shop.example"},
            "message_to_human_agent": "note", "history": []})
        self.assertEqual(r.status, 201, r.body)
        t = r.json()
        auth = {"Authorization": "Bearer " + t["secret"]}
        for _ in range(3):  # each poll tries the outbox after its response
            self.assertEqual(test_handoff.poll(t["id"], auth)["state"], "waiting")
        # Entered again, the key is used: the handoff that waited goes through.
        harness.connect_zendesk(SERVER, FAKE, WEBHOOK_SECRET)
        harness.wait_for(lambda: any(c["metadata"] == {"deskbridge_transfer_id": t["id"]} and c["control"]
                                     for c in FAKE.conversations.values()),
                         poll=lambda: test_handoff.poll(t["id"], auth), what="the handoff")
        sent = [base64.b64decode(h[3]["Authorization"][6:]).decode(errors="replace")
                for h in FAKE.requests[calls:] if h[3].get("Authorization", "").startswith("Basic ")]
        self.assertTrue(sent)
        self.assertEqual([s for s in sent if PLANTED in s], [], "a planted key reached Zendesk")
        self.assertIn(FAKE.key_id + ":" + FAKE.key_secret, sent)


class TransferKey(Case):
    def test_a_planted_transfer_key_is_replaced(self):
        plant("transfer.secret_key", PLANTED)
        r = SERVER.request("POST", "/api/transfers", body={
            "visitor": {"name": "Ana Lima", "email": "key@shop.example"},
            "message_to_human_agent": "note", "history": []})
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(stored("transfer.secret_key").startswith("v1:"))
        t = r.json()
        r = SERVER.request("GET", "/api/transfers/%s/events" % t["id"],
                           headers={"Authorization": "Bearer " + t["secret"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertNotIn(PLANTED, json.dumps(r.json()))


class AppCredentials(Case):
    def test_planted_app_credentials_open_no_transfer(self):
        tid = SERVER.request("POST", "/api/transfers", body={
            "visitor": {"name": "Ana Lima", "email": "app@shop.example"},
            "message_to_human_agent": "note", "history": []}).json()["id"]
        creds = "credentials-the-attacker-knows"
        digest = base64.urlsafe_b64encode(hashlib.sha256(creds.encode()).digest()).decode().rstrip("=")
        mark = len(SERVER.log_text())
        plant("app.credentials_sha256", digest)
        r = SERVER.request("GET", "/api/agent/transfers/%s" % tid, headers={"Authorization": "Bearer " + creds})
        assert_error(self, r, 401, "unauthenticated")
        self.assert_logged_refusal("app.credentials_sha256", mark, digest, creds)
        # New credentials from setup are sealed and open it.
        r = SERVER.request("POST", "/api/setup/app-credentials", headers=session())
        self.assertEqual(r.status, 201, r.body)
        r = SERVER.request("GET", "/api/agent/transfers/%s" % tid,
                           headers={"Authorization": "Bearer " + r.json()["app_credentials"]})
        self.assertEqual(r.status, 200, r.body)


class ServiceKey(Case):
    """A key pair planted as current: sites would encrypt user_payload to its public key,
    and deskbridge must not decrypt with its plain private key."""

    def test_a_planted_private_key_decrypts_nothing(self):
        test_token.SITE = site({"action": "keypair"})
        admin = session()
        r = SERVER.request("PATCH", "/api/setup/config", headers=admin, body={
            "zendesk": {"shared_secret": test_token.SHARED_SECRET,
                        "messaging": {"jwt_key_id": test_token.JWT_KEY_ID}},
            "security": {"authenticate_users": True, "issuer": "https://shop.example",
                         "site_public_keys": [{"kid": "shop-2026", "pem": test_token.SITE["public"]}]}})
        self.assertEqual(r.status, 200, r.body)
        self.addCleanup(SERVER.request, "PATCH", "/api/setup/config", headers=admin,
                        body={"security": {"authenticate_users": False}})
        visitor = {"name": "Ana Lima", "email": "ana@shop.example"}
        self.assertEqual(post_token(token(visitor)).status, 200)
        planted = site({"action": "keypair"})
        with sqlite3.connect(SERVER.state.db) as c:
            (real,) = c.execute("SELECT id FROM service_keys WHERE retired_at IS NULL").fetchone()
            c.execute("UPDATE service_keys SET retired_at = ? WHERE id = ?", (int(time.time()), real))
            c.execute("INSERT INTO service_keys (public_pem, private_pem, created_at) VALUES (?, ?, ?)",
                      (planted["public"], planted["private"].encode(), int(time.time())))
        self.addCleanup(self.restore, real)
        mark = len(SERVER.log_text())
        to_planted = site({"action": "sign", "claims": claims(), "payload": visitor,
                           "publicKey": planted["public"], "privateKey": test_token.SITE["private"],
                           "options": {"expiresIn": "10m"}})["token"]
        e = assert_error(self, post_token(to_planted), 422, "invalid_user_payload")
        self.assertIn("cannot be decrypted", e["message"])
        self.assert_logged_refusal("service_key", mark, "PRIVATE KEY")

    def restore(self, real):
        with sqlite3.connect(SERVER.state.db) as c:
            c.execute("DELETE FROM service_keys WHERE retired_at IS NULL")
            c.execute("UPDATE service_keys SET retired_at = NULL WHERE id = ?", (real,))


if __name__ == "__main__":
    sys.exit(harness.main())

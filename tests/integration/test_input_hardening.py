"""Input that C strings would misread, and bodies judged before their sender is known,
through lighttpd and the real handlers against the fake Zendesk.

json-c decodes "\\u0000" into its strings, but every C string read from them stops
there: a message of "\\u0000" would pass the non-empty rule and reach Zendesk empty, a
site token's kid "shop-2026\\u0000" would select the key "shop-2026". Every JSON body
the API takes, and the JSON inside a site token, refuses NUL. And the webhook checks
X-API-Key before it parses anything of the body."""

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

SERVER = FAKE = SESSION = None
WEBHOOK_SECRET = "webhook-secret-for-hardening"
JSON = {"Content-Type": "application/json"}
NUL_WHY = "must not contain a NUL character"


def setUpModule():
    global SERVER, FAKE, SESSION
    FAKE = test_handoff.FAKE = FakeZendesk().start()
    SERVER = test_handoff.SERVER = test_token.SERVER = harness.Server().start()
    harness.connect_zendesk(SERVER, FAKE, WEBHOOK_SECRET)
    r = login(SERVER)
    SESSION = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
    test_token.SITE = site({"action": "keypair"})
    r = patch({"zendesk": {"shared_secret": test_token.SHARED_SECRET,
                           "messaging": {"jwt_key_id": test_token.JWT_KEY_ID}},
               "security": {"issuer": "https://shop.example",
                            "site_public_keys": [{"kid": "shop-2026", "pem": test_token.SITE["public"]}]}})
    assert r.status == 200, r.body


def tearDownModule():
    FAKE.stop()


def patch(body):
    return raw("PATCH", "/api/setup/config", json.dumps(body), SESSION)


def raw(method, path, text, headers=None):
    """text is sent as it is: json.dumps writes "\\u0000" for a NUL, as any client would."""
    return SERVER.request(method, path, body=text.encode(), headers=dict(JSON, **(headers or {})))


def db_rows(sql, *args):
    with sqlite3.connect(SERVER.state.db) as c:
        return c.execute(sql, args).fetchall()


def assert_nul_refused(test, r, field):
    e = assert_error(test, r, 422, "invalid_field")
    test.assertEqual(e["field"], field)
    test.assertIn(NUL_WHY, e["message"])


class MessageText(unittest.TestCase):
    def test_a_nul_message_is_refused_and_never_reaches_zendesk(self):
        tid, auth, conv = test_handoff.start_transfer("nul@shop.example")
        before = db_rows("SELECT count(*) FROM events WHERE transfer_id = ?", tid)
        for i, text in enumerate(("\u0000", "refund\u0000 and more", "\u0000hidden")):
            r = raw("POST", "/api/transfers/%s/messages" % tid,
                    json.dumps({"text": text, "client_message_id": "nul-%d" % i}), auth)
            assert_nul_refused(self, r, "text")
        self.assertEqual(db_rows("SELECT count(*) FROM events WHERE transfer_id = ?", tid), before)
        self.assertEqual(db_rows("SELECT count(*) FROM outbox WHERE transfer_id = ? AND kind != 'start'", tid),
                         [(0,)])
        # A backslash and "u0000" as text is no NUL: it goes through, the only one that does.
        r = raw("POST", "/api/transfers/%s/messages" % tid,
                json.dumps({"text": "\\u0000 is fine", "client_message_id": "ok-1"}), auth)
        self.assertEqual(r.status, 202, r.body)
        harness.wait_for(lambda: "\\u0000 is fine" in test_handoff.texts_from_visitor(conv))
        self.assertEqual(test_handoff.texts_from_visitor(conv), ["I want a refund", "\\u0000 is fine"])

    def test_history_and_visitor_strings_name_their_field(self):
        count = db_rows("SELECT count(*) FROM transfers")
        body = {"visitor": {"name": "Ana", "email": "ana@shop.example"},
                "message_to_human_agent": "note",
                "history": [{"from": "user", "text": "fine"}, {"from": "user", "text": "cut\u0000here"}]}
        assert_nul_refused(self, raw("POST", "/api/transfers", json.dumps(body)), "history[1].text")
        body["history"] = []
        body["visitor"]["name"] = "Ana\u0000 Lima"
        assert_nul_refused(self, raw("POST", "/api/transfers", json.dumps(body)), "visitor.name")
        body["visitor"]["name"] = "Ana"
        body["message_to_human_agent"] = "\u0000"
        assert_nul_refused(self, raw("POST", "/api/transfers", json.dumps(body)), "message_to_human_agent")
        self.assertEqual(db_rows("SELECT count(*) FROM transfers"), count)

    def test_a_nul_in_a_member_name_is_refused(self):
        tid, auth, _ = test_handoff.start_transfer("member@shop.example")
        r = raw("POST", "/api/transfers/%s/messages" % tid,
                '{"text\\u0000x": "hello", "text": "hi", "client_message_id": "m-1"}', auth)
        e = assert_error(self, r, 400, "bad_request")
        self.assertIn("member name", e["message"])
        self.assertEqual(db_rows("SELECT count(*) FROM events WHERE transfer_id = ? AND type = 'message'",
                                 tid), [(0,)])


class SiteToken(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert patch({"security": {"authenticate_users": True}}).status == 200

    @classmethod
    def tearDownClass(cls):
        assert patch({"security": {"authenticate_users": False}}).status == 200

    def good(self):
        return {"name": "Ana Lima", "email": "ana@shop.example"}

    def test_the_right_kid_works(self):
        r = post_token(token(self.good(), options={"expiresIn": "10m", "keyid": "shop-2026"}))
        self.assertEqual(r.status, 200, r.body)

    def test_a_kid_with_a_nul_selects_no_key(self):
        for kid in ("shop-2026\u0000", "shop-2026\u0000other"):
            r = post_token(token(self.good(), options={"expiresIn": "10m", "keyid": kid}))
            self.assertEqual(r.status, 401, (kid, r.body))
            assert_error(self, r, 401, "invalid_token")

    def test_claims_with_a_nul_are_refused(self):
        assert_error(self, post_token(token(self.good(), sub="customer-42\u0000admin")), 401, "invalid_token")
        forged = site({"action": "forge", "header": {"alg": "RS256", "typ": "JWT\u0000"},
                       "claims": claims(exp=int(time.time()) + 600)})["token"]
        assert_error(self, post_token(forged), 401, "invalid_token")

    def test_a_user_payload_with_a_nul_is_refused(self):
        r = post_token(token({"name": "Ana\u0000 Evil", "email": "ana@shop.example"}))
        e = assert_error(self, r, 422, "invalid_user_payload")
        self.assertIn("NUL", e["message"])

    def test_a_transfer_with_such_a_token_is_refused(self):
        count = db_rows("SELECT count(*) FROM transfers")
        tok = token(self.good(), options={"expiresIn": "10m", "keyid": "shop-2026\u0000"})
        r = raw("POST", "/api/transfers", json.dumps({"token": tok, "message_to_human_agent": "note"}))
        assert_error(self, r, 401, "invalid_token")
        self.assertEqual(db_rows("SELECT count(*) FROM transfers"), count)


class SetupStrings(unittest.TestCase):
    def config(self):
        r = SERVER.request("GET", "/api/setup/config", headers=SESSION)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def test_a_nul_in_a_setup_string_changes_nothing(self):
        before = self.config()
        audit = SERVER.request("GET", "/api/setup/audit", headers=SESSION).json()["entries"]
        cases = (({"transfers": {"department": "billing\u0000x"}}, "transfers.department"),
                 ({"transfers": {"unavailable_message": "\u0000"}}, "transfers.unavailable_message"),
                 ({"zendesk": {"messaging": {"webhook_secret": "s\u0000"}}}, "zendesk.messaging.webhook_secret"),
                 ({"security": {"issuer": "https://shop.example\u0000.evil"}}, "security.issuer"))
        for body, field in cases:
            assert_nul_refused(self, patch(body), field)
        self.assertEqual(self.config(), before)
        self.assertEqual(SERVER.request("GET", "/api/setup/audit", headers=SESSION).json()["entries"], audit)
        # The webhook secret is unchanged: its deliveries are still accepted.
        r = SERVER.request("POST", "/api/zendesk/webhook", body=sunco.delivery(),
                           headers={"X-API-Key": WEBHOOK_SECRET})
        self.assertEqual(r.status, 200, r.body)

    def test_login_password_with_a_nul(self):
        r = raw("POST", "/api/setup/session", json.dumps({"password": harness.ADMIN_PASSWORD + "\u0000x"}))
        assert_nul_refused(self, r, "password")


class WebhookAuthFirst(unittest.TestCase):
    """Nothing of an unauthenticated body is parsed: a wrong key is 401 whatever follows."""

    def post(self, body, key, content_type="application/json"):
        headers = {"Content-Type": content_type}
        if key is not None:
            headers["X-API-Key"] = key
        return SERVER.request("POST", "/api/zendesk/webhook", body=body, headers=headers)

    def test_wrong_key_is_refused_before_the_body_is_read_as_json(self):
        bodies = (b"{", b"not json at all", b"\xff\xfe", b"[]", b"",
                  json.dumps(sunco.delivery(sunco.agent_message("conv_x", "\u0000"))).encode())
        for body in bodies:
            for key in (None, "wrong", WEBHOOK_SECRET + "x"):
                r = self.post(body, key)
                self.assertEqual(r.status, 401, (body[:20], key, r.body))
                assert_error(self, r, 401, "unauthenticated")
        assert_error(self, self.post(b"{", "wrong", "text/plain"), 401, "unauthenticated")
        self.assertEqual(db_rows("SELECT count(*) FROM webhook_events"), [(0,)])

    def test_right_key_then_the_body_checks(self):
        assert_error(self, self.post(b"{", WEBHOOK_SECRET), 400, "bad_request")
        assert_error(self, self.post(b"[]", WEBHOOK_SECRET), 400, "bad_request")
        assert_error(self, self.post(b"", WEBHOOK_SECRET), 400, "bad_request")
        assert_error(self, self.post(b"{}", WEBHOOK_SECRET, "text/plain"), 415, "unsupported_media_type")
        body = json.dumps(sunco.delivery(sunco.agent_message("conv_nul", "hi\u0000there"))).encode()
        e = assert_error(self, self.post(body, WEBHOOK_SECRET), 422, "invalid_field")
        self.assertEqual(e["field"], "events[0].payload.message.content.text")
        self.assertEqual(db_rows("SELECT count(*) FROM webhook_events"), [(0,)])
        r = self.post(json.dumps(sunco.delivery()).encode(), WEBHOOK_SECRET)
        self.assertEqual((r.status, r.json()), (200, {"applied": 0, "duplicates": 0, "ignored": 0}))

    def test_the_body_limit_still_comes_first(self):
        r = self.post(b"{" + b" " * (256 * 1024) + b"}", "wrong")
        assert_error(self, r, 413, "payload_too_large")


if __name__ == "__main__":
    sys.exit(harness.main())

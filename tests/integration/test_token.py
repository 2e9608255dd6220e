"""POST /api/token and GET /api/public-key through lighttpd, against tokens made by the
npm packages sites really use (jsonwebtoken, node-rsa with their defaults); the Zendesk
messaging JWT that comes back is checked with jsonwebtoken.verify and the shared secret,
header and claims exactly as Zendesk's "Creating a JWT token" for messaging lists them."""

import base64
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_SECRET = "zendesk-shared-secret-for-tests"
JWT_KEY_ID = "app_64f1c2a8e4b0d1001f2c3d4e"
MESSAGING_CLAIMS = {"scope", "external_id", "name", "email", "email_verified", "exp"}
SERVER = SESSION = SITE = OTHER = None


def site(request):
    p = subprocess.run(["node", os.path.join(HERE, "site_tokens.cjs")], input=json.dumps(request),
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("site_tokens.cjs: " + p.stderr)
    return json.loads(p.stdout)


def patch(body):
    r = SERVER.request("PATCH", "/api/setup/config", body=body,
                       headers=dict(SESSION, **{"Content-Type": "application/json"}))
    assert r.status == 200, r.body
    return r.json()


def setUpModule():
    global SERVER, SESSION, SITE, OTHER
    SERVER = harness.Server().start()
    r = login(SERVER)
    SESSION = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
    SERVER.state.admin("config", "set", "limits.token_per_minute", "100000")
    SITE, OTHER = site({"action": "keypair"}), site({"action": "keypair"})
    patch({"zendesk": {"shared_secret": SHARED_SECRET, "messaging": {"jwt_key_id": JWT_KEY_ID}},
           "security": {"authenticate_users": True, "issuer": "https://shop.example",
                        "site_public_keys": [{"kid": "shop-2026", "pem": SITE["public"]}]}})


def service_key():
    return SERVER.request("GET", "/api/public-key").body.decode()


def claims(**over):
    c = {"sub": "customer-42", "iss": "https://shop.example", "acr": "loa1"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def token(payload=None, private=None, options=None, **claim_over):
    return site({"action": "sign", "claims": claims(**claim_over), "payload": payload,
                 "publicKey": service_key(), "privateKey": private or SITE["private"],
                 "options": options if options is not None else {"expiresIn": "10m"}})["token"]


def post_token(tok):
    return SERVER.request("POST", "/api/token", body={"token": tok})


def b64json(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode()


def check_zendesk_jwt(test, body, name, email, verified=True):
    """The messaging JWT of a 200, verified with jsonwebtoken and the shared secret."""
    before = int(time.time())
    out = site({"action": "verify", "token": body["jwt"], "secret": SHARED_SECRET})
    test.assertNotIn("error", out, out)
    c = out["claims"]
    test.assertEqual(out["header"], {"alg": "HS256", "typ": "JWT", "kid": JWT_KEY_ID})
    test.assertEqual(b64json(body["jwt"].split(".")[0]),
                     '{"alg":"HS256","typ":"JWT","kid":"%s"}' % JWT_KEY_ID)
    test.assertEqual(set(c), MESSAGING_CLAIMS)
    test.assertEqual(c["scope"], "user")
    test.assertEqual((c["name"], c["email"], c["external_id"]), (name, email, "customer-42"))
    test.assertIs(c["email_verified"], verified)
    test.assertIsInstance(c["exp"], int)
    test.assertLessEqual(c["exp"], time.time() + 600)
    test.assertGreater(c["exp"], before + 590)
    test.assertEqual(body["expires_at"],
                     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["exp"])))
    test.assertEqual(bad := site({"action": "verify", "token": body["jwt"],
                                  "secret": "another-secret"}).get("error"), bad)
    test.assertIn("invalid signature", bad)


class Accepts(unittest.TestCase):
    def test_short_payload(self):
        r = post_token(token({"name": "Ana Lima", "email": "ana@shop.example"}))
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(set(body), {"jwt", "external_id", "name", "email", "expires_at"})
        self.assertEqual((body["name"], body["email"], body["external_id"]),
                         ("Ana Lima", "ana@shop.example", "customer-42"))
        check_zendesk_jwt(self, body, "Ana Lima", "ana@shop.example")

    def test_multi_block_non_ascii_payload(self):
        name = ("Zoë Ærø 张伟 Łu " * 20)[:250]
        payload = {"name": name, "email": "zoe@shop.example"}
        self.assertGreater(len(json.dumps(payload, ensure_ascii=False).encode()), 214 * 2)
        tok = token(payload)
        blob = json.loads(base64.urlsafe_b64decode(tok.split(".")[1] + "=="))["user_payload"]
        self.assertEqual(len(base64.b64decode(blob)) % 256, 0)
        self.assertGreaterEqual(len(base64.b64decode(blob)), 3 * 256)
        r = post_token(tok)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["name"], name)
        check_zendesk_jwt(self, r.json(), name, "zoe@shop.example")

    def test_bearer_header_and_no_kid(self):
        tok = token({"name": "Bo", "email": "bo@shop.example"})
        r = SERVER.request("POST", "/api/token", headers={"Authorization": "Bearer " + tok})
        self.assertEqual(r.status, 200, r.body)
        tok = token({"name": "Bo", "email": "bo@shop.example"},
                    options={"expiresIn": "10m", "keyid": "shop-2026"})
        self.assertEqual(post_token(tok).status, 200)

    def test_previous_service_key_still_decrypts(self):
        tok = token({"name": "Old Key", "email": "old@shop.example"})
        self.assertEqual(SERVER.request("POST", "/api/setup/keys/rotate", headers=SESSION).status, 200)
        r = post_token(tok)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["name"], "Old Key")
        self.assertEqual(post_token(token({"name": "New", "email": "n@shop.example"})).status, 200)


class Refuses(unittest.TestCase):
    def refused(self, tok, status=401, code="invalid_token", why=None):
        e = assert_error(self, post_token(tok), status, code)
        if why:
            self.assertIn(why, e["message"])
        return e

    def test_invalid_tokens(self):
        good_payload = {"name": "Ana", "email": "ana@shop.example"}
        now = int(time.time())
        cases = {
            "wrong key": token(good_payload, private=OTHER["private"]),
            "expired": token(good_payload, options={}, exp=now - 3600, iat=now - 7200),
            "not yet valid": token(good_payload, options={"expiresIn": "10m", "notBefore": "1h"}),
            "exp > 24h": token(good_payload, options={"expiresIn": "25h"}),
            "no exp": token(good_payload, options={}),
            "no sub": token(good_payload, sub=None),
            "no iss": token(good_payload, iss=None),
            "no acr": token(good_payload, acr=None),
            "wrong issuer": token(good_payload, iss="https://evil.example"),
            "unknown kid": token(good_payload, options={"expiresIn": "10m", "keyid": "nope"}),
            "alg none": site({"action": "forge", "header": {"alg": "none", "typ": "JWT"},
                              "claims": claims(exp=now + 600)})["token"],
            "HS256 with public key": site({"action": "forge", "header": {"alg": "HS256"},
                                           "claims": claims(exp=now + 600),
                                           "hmacKey": SITE["public"]})["token"],
            "two segments": "abc.def",
            "garbage": "not a token at all",
        }
        tampered = token(good_payload).split(".")
        body = json.loads(base64.urlsafe_b64decode(tampered[1] + "=="))
        body["sub"] = "someone-else"
        tampered[1] = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
        cases["tampered claims"] = ".".join(tampered)
        for what, tok in cases.items():
            with self.subTest(what):
                r = post_token(tok)
                assert_error(self, r, 401, "invalid_token")
                self.assertEqual(r.header("WWW-Authenticate"), 'Bearer error="invalid_token"')

    def test_invalid_payloads(self):
        other_service = site({"action": "keypair"})["public"]
        undecryptable = site({"action": "sign", "claims": claims(), "options": {"expiresIn": "10m"},
                              "payload": {"name": "A", "email": "a@shop.example"},
                              "publicKey": other_service, "privateKey": SITE["private"]})["token"]
        self.refused(undecryptable, 422, "invalid_user_payload", "cannot be decrypted")
        self.refused(token(None, user_payload="%%%not-base64%%%"), 422, "invalid_user_payload")
        self.refused(token({"name": "No Email"}), 422, "invalid_user_payload", "email")
        self.refused(token({"email": "x@shop.example"}), 422, "invalid_user_payload", "name")
        for bad in ("not-an-address", "a@b", "a b@shop.example", "a@shop..example", "@shop.example"):
            self.refused(token({"name": "A", "email": bad}), 422, "invalid_user_payload")
        self.refused(token({"name": "x" * 256, "email": "a@shop.example"}), 422,
                     "invalid_user_payload", "255")

    def test_anonymous_policy(self):
        self.refused(token(None), 403, "anonymous_not_allowed")
        patch({"security": {"allow_anonymous_transfers": True}})
        try:
            r = post_token(token(None))
            self.assertEqual(r.status, 200, r.body)
            first = r.json()
            second = post_token(token(None)).json()
            # A placeholder identity: Zendesk must not take its email as the visitor's.
            check_zendesk_jwt(self, first, first["name"], first["email"], verified=False)
            self.assertRegex(first["name"], r"^Visitor [0-9a-f]{4}$")
            self.assertRegex(first["email"], r"^visitor-[0-9a-f]{16}@anonymous\.invalid$")
            self.assertEqual((first["name"], first["email"]), (second["name"], second["email"]))
            other = post_token(token(None, sub="customer-43")).json()
            self.assertNotEqual(other["email"], first["email"])
        finally:
            patch({"security": {"allow_anonymous_transfers": False}})

    def test_bad_requests(self):
        assert_error(self, SERVER.request("POST", "/api/token", body=b"{not json",
                                          headers={"Content-Type": "application/json"}),
                     400, "bad_request")
        assert_error(self, SERVER.request("POST", "/api/token", body={"token": 42}), 400,
                     "bad_request")
        assert_error(self, SERVER.request("POST", "/api/token", body={}), 400, "bad_request")
        assert_error(self, SERVER.request("POST", "/api/token", body={"token": "x" * 70000}),
                     413, "payload_too_large")
        assert_error(self, SERVER.request("POST", "/api/token", body={"token": "x" * 9000}),
                     422, "invalid_field")

    def test_not_configured(self):
        patch({"security": {"authenticate_users": False}})
        try:
            self.refused(token({"name": "A", "email": "a@shop.example"}), 503, "not_configured")
        finally:
            patch({"security": {"authenticate_users": True}})
        patch({"zendesk": {"shared_secret": None}})
        try:
            self.refused(token({"name": "A", "email": "a@shop.example"}), 503, "not_configured",
                         "shared secret")
        finally:
            patch({"zendesk": {"shared_secret": SHARED_SECRET}})
        patch({"zendesk": {"messaging": {"jwt_key_id": None}}})
        try:
            e = self.refused(token({"name": "A", "email": "a@shop.example"}), 503,
                             "not_configured", "zendesk.messaging.jwt_key_id")
            self.assertNotIn("zendesk.shared_secret", e["message"])
        finally:
            patch({"zendesk": {"messaging": {"jwt_key_id": JWT_KEY_ID}}})
        self.assertEqual(post_token(token({"name": "A", "email": "a@shop.example"})).status, 200)

    def test_no_secret_in_log(self):
        post_token(token({"name": "Secretive", "email": "s@shop.example"}))
        log = SERVER.log_text()
        self.assertNotIn(SHARED_SECRET, log)
        self.assertNotIn("Secretive", log)


if __name__ == "__main__":
    sys.exit(harness.main())

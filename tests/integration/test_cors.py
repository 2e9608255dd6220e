"""Cross-origin access (CORS) through lighttpd and Apache httpd (mod_fcgid, and plain
CGI through mod_cgid), all over TLS: the visitor API answers the origins in
security.allowed_origins, exactly, and only those; the setup, agent, webhook and token
APIs answer no other origin, whatever the setting says; the setting itself takes only
https origins as browsers send them."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_api_headers, assert_error  # noqa: E402
from test_setup_session import cookie_of  # noqa: E402

SHOP = "https://shop.example"
SHOP_PORT = "https://127.0.0.1:8443"
CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                "Access-Control-Max-Age", "Access-Control-Expose-Headers", "Access-Control-Allow-Credentials")


def preflight(method, headers="authorization,content-type"):
    return {"Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}


def vary_of(r):
    """Vary's names: Apache adds its own (Content-Length, which its configuration reads)."""
    return {n.strip() for v in r.all_headers("Vary") for n in v.split(",")}


class Cors:
    """What a browser's requests get; self.server is started by each class below."""

    def request(self, method, path, origin=None, **kw):
        headers = dict(kw.pop("headers", None) or {})
        if origin:
            headers["Origin"] = origin
        return self.server.request(method, path, https=True, headers=headers, **kw)

    def setUp(self):
        r = self.request("POST", "/api/setup/session", body={"password": harness.ADMIN_PASSWORD})
        self.assertEqual(r.status, 200, r.body)
        self.session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        self.set_origins("%s, %s" % (SHOP, SHOP_PORT))

    def set_origins(self, value):
        r = self.request("PATCH", "/api/setup/config", headers=self.session,
                         body={"transfers_enabled": True, "security": {"allowed_origins": value}})
        self.assertEqual(r.status, 200, r.body)

    def transfer(self, origin=SHOP):
        r = self.request("POST", "/api/transfers", origin, body={
            "visitor": {"name": "Far Visitor", "email": "far@shop.example"}})
        self.assertEqual(r.status, 201, r.body)
        return r.json()

    def assert_allowed(self, r, origin):
        self.assertEqual(r.header("Access-Control-Allow-Origin"), origin)
        self.assertEqual(len(r.all_headers("Access-Control-Allow-Origin")), 1)
        self.assertEqual(r.header("Access-Control-Expose-Headers"), "ETag, Retry-After")
        self.assertIn("Origin", vary_of(r))
        self.assertIsNone(r.header("Access-Control-Allow-Credentials"))

    def assert_none(self, r, vary):
        for name in CORS_HEADERS:
            self.assertIsNone(r.header(name), name)
        self.assertEqual("Origin" in vary_of(r), vary)

    def test_a_listed_origin_can_read_every_visitor_answer(self):
        for origin in (SHOP, SHOP_PORT):
            t = self.transfer(origin)
            auth = {"Authorization": "Bearer " + t["secret"]}
            events = "/api/transfers/%s/events?after=0" % t["id"]
            r = self.request("GET", events, origin, headers=auth)
            self.assertEqual(r.status, 200, r.body)
            self.assert_allowed(r, origin)
            self.assertTrue(r.header("ETag"))
            r = self.request("GET", events, origin, headers=dict(auth, **{"If-None-Match": r.header("ETag")}))
            self.assertEqual(r.status, 304)
            self.assert_allowed(r, origin)
            r = self.request("POST", "/api/transfers/%s/messages" % t["id"], origin, headers=auth,
                             body={"client_message_id": "c1", "text": "Hello from afar"})
            self.assertEqual(r.status, 202, r.body)
            self.assert_allowed(r, origin)
            # Refusals too, so that the library reads their error shape.
            r = self.request("GET", events, origin, headers={"Authorization": "Bearer wrong"})
            assert_error(self, r, 401, "unauthenticated")
            self.assert_allowed(r, origin)
            r = self.request("GET", "/api/availability", origin)
            self.assert_allowed(r, origin)
            r = self.request("HEAD", "/api/avatar", origin)
            self.assertEqual(r.status, 404)
            self.assert_allowed(r, origin)
            r = self.request("POST", "/api/transfers/%s/end" % t["id"], origin, headers=auth)
            self.assertEqual(r.status, 200, r.body)
            self.assert_allowed(r, origin)

    def test_an_origin_not_listed_gets_no_cors_header(self):
        t = self.transfer()
        auth = {"Authorization": "Bearer " + t["secret"]}
        for origin in ("https://evil.example", "http://shop.example", "https://shop.example.evil.example",
                       "https://shop.example:8443", "https://127.0.0.1:8444", "null", SHOP + "/",
                       SHOP + " X-Injected: 1"):
            r = self.request("GET", "/api/transfers/%s/events" % t["id"], origin, headers=auth)
            self.assertEqual(r.status, 200, origin)
            self.assert_none(r, vary=True)
            self.assertIsNone(r.header("X-Injected"))
        # A listed host in another case is the same origin.
        r = self.request("GET", "/api/availability", "https://SHOP.example")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "https://SHOP.example")
        # Same-origin pages send no Origin on GET: nothing changes for them.
        r = self.request("GET", "/api/transfers/%s/events" % t["id"], headers=auth)
        self.assert_none(r, vary=True)

    def test_a_listed_origin_s_preflight_is_answered(self):
        t = self.transfer()
        for path, methods in (("/api/transfers", "POST"),
                              ("/api/transfers/%s/events" % t["id"], "GET, HEAD"),
                              ("/api/transfers/%s/messages" % t["id"], "POST"),
                              ("/api/transfers/%s/end" % t["id"], "POST"),
                              ("/api/availability", "GET, HEAD")):
            r = self.request("OPTIONS", path, SHOP, headers=preflight(methods.split(",")[0]))
            self.assertEqual(r.status, 204, path)
            self.assertEqual(r.body, b"")
            self.assertEqual(r.header("Access-Control-Allow-Origin"), SHOP)
            self.assertEqual(r.header("Access-Control-Allow-Methods"), methods, path)
            self.assertEqual(r.header("Access-Control-Allow-Headers"), "Authorization, Content-Type, If-None-Match")
            self.assertEqual(r.header("Access-Control-Max-Age"), "7200")
            self.assertIn("Origin", vary_of(r))
            assert_api_headers(self, r)
        # An unknown path is still unknown.
        assert_error(self, self.request("OPTIONS", "/api/nothing-here", SHOP, headers=preflight("GET")),
                     404, "not_found")

    def test_another_origin_s_preflight_is_refused(self):
        for origin in ("https://evil.example", "http://shop.example"):
            r = self.request("OPTIONS", "/api/transfers", origin, headers=preflight("POST"))
            e = assert_error(self, r, 403, "origin_not_allowed")
            self.assertIn("security.allowed_origins", e["message"])
            self.assert_none(r, vary=True)
        self.set_origins(None)
        r = self.request("OPTIONS", "/api/transfers", SHOP, headers=preflight("POST"))
        assert_error(self, r, 403, "origin_not_allowed")
        self.assert_none(r, vary=True)
        # OPTIONS that is no preflight keeps its old answer.
        r = self.request("OPTIONS", "/api/transfers")
        assert_error(self, r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "POST")

    def test_the_setup_agent_webhook_and_token_apis_never_answer_another_origin(self):
        r = self.request("GET", "/api/setup/config", SHOP, headers=self.session)
        self.assertEqual(r.status, 200, r.body)
        self.assert_none(r, vary=False)
        r = self.request("POST", "/api/setup/session", SHOP, body={"password": harness.ADMIN_PASSWORD})
        self.assertEqual(r.status, 200, r.body)
        self.assert_none(r, vary=False)
        for path, method in (("/api/setup/config", "PATCH"), ("/api/setup/session", "POST"),
                             ("/api/agent/transfers/tr_x", "GET"), ("/api/zendesk/webhook", "POST"),
                             ("/api/token", "POST"), ("/api/public-key", "GET")):
            r = self.request("OPTIONS", path, SHOP, headers=preflight(method))
            assert_error(self, r, 403, "origin_not_allowed")
            self.assert_none(r, vary=False)
        for path in ("/api/agent/transfers/tr_x", "/api/public-key"):
            self.assert_none(self.request("GET", path, SHOP), vary=False)

    def test_the_setting_takes_only_https_origins_as_browsers_send_them(self):
        for bad in ("http://shop.example", "https://shop.example/", "https://shop.example/chat", "*",
                    "https://*.shop.example", "https://shop.example:443", "https://shop.example:99999",
                    "https://shop.example:0", "shop.example", "https://", "https://shop.example?x=1",
                    "https://user@shop.example", "https://[::1]:8443", "https://-shop.example",
                    SHOP + ", http://localhost:3000"):
            r = self.request("PATCH", "/api/setup/config", headers=self.session,
                             body={"security": {"allowed_origins": bad}})
            e = assert_error(self, r, 422, "invalid_field")
            self.assertEqual(e["field"], "security.allowed_origins", bad)
            self.assertIn("Sites on other origins", e["message"])
        r = self.request("GET", "/api/setup/config", headers=self.session)
        self.assertEqual(r.json()["security"]["allowed_origins"], "%s, %s" % (SHOP, SHOP_PORT))
        self.set_origins("https://a.example https://b.example:8080\nhttps://10.0.0.7:9000")
        r = self.request("GET", "/api/availability", "https://10.0.0.7:9000")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "https://10.0.0.7:9000")


class Lighttpd(Cors, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(tls=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class Apache(Cors, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.ApacheServer(tls=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class ApachePlainCGI(Cors, unittest.TestCase):
    """mod_cgid hands OPTIONS to the handler as mod_fcgid does."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.ApacheServer(tls=True, plain_cgi=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


if __name__ == "__main__":
    sys.exit(harness.main())

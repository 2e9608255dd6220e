"""The security headers of every kind of path, behind both bundled server configurations
(conf/lighttpd.conf and conf/apache-httpd.conf): the API, the setup form, the Web Chat
pages and library, the private app's ZIP and the public avatar. A header set in one
lighttpd conditional used to replace those of another that also matched, so the setup
and Web Chat pages went out without X-Content-Type-Options and Referrer-Policy; this
asserts the whole set on each. Over plain HTTP no path carries HSTS; over TLS (lighttpd's
optional TLS listener, and the Apache snippet included in a TLS virtual host, each with a
self-signed certificate made for the test) every path carries the same set plus HSTS."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import images  # noqa: E402
from test_setup_session import cookie_of  # noqa: E402

CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
EVERY = {"X-Content-Type-Options": "nosniff"}
PAGE = dict(EVERY, **{"Referrer-Policy": "no-referrer", "Content-Security-Policy": CSP})
# The demo chat also shows agents' images from Zendesk's media hosts, exactly those
# zendesk_media_url_ok and the Web Chat library keep.
DEMO_CSP = ("default-src 'self'; img-src 'self' https://*.zendesk.com https://*.zdusercontent.com"
            " https://smooch.io https://*.smooch.io; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
EXPECTED = {
    "/api/health": dict(EVERY, **{"Cache-Control": "no-store"}),
    "/api/avatar": EVERY,
    "/api/setup/zendesk-app.zip": dict(EVERY, **{"Cache-Control": "no-store"}),
    "/setup/": dict(PAGE, **{"X-Frame-Options": "DENY", "Cache-Control": "no-store"}),
    "/setup/setup.js": dict(PAGE, **{"X-Frame-Options": "DENY", "Cache-Control": "no-store"}),
    "/webchat/demo.html": dict(PAGE, **{"Content-Security-Policy": DEMO_CSP}),
    "/webchat/index.html": PAGE,
    "/webchat/deskbridge-webchat.js": dict(PAGE, **{"Access-Control-Allow-Origin": "*"}),
}


class Headers:
    https = False

    def request(self, method, path, **kw):
        return self.server.request(method, path, https=self.https, **kw)

    def setUp(self):
        r = self.request("POST", "/api/setup/session", body={"password": harness.ADMIN_PASSWORD})
        self.assertEqual(r.status, 200, r.body)
        self.session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        r = self.request("POST", "/api/setup/app-credentials", headers=self.session)
        self.assertEqual(r.status, 201, r.body)
        r = self.request("PUT", "/api/setup/avatar", body=images.png(40, 40),
                         headers=dict(self.session, **{"Content-Type": "image/png"}))
        self.assertEqual(r.status, 204, r.body)
        r = self.request("PATCH", "/api/setup/config", body={"deployment": {"public_url": "https://help.example.com"}},
                                headers=self.session)
        self.assertEqual(r.status, 200, r.body)

    def test_every_kind_of_path_has_its_whole_header_set(self):
        hsts = "max-age=31536000" if self.https else None
        for path, want in EXPECTED.items():
            r = self.request("GET", path, headers=self.session if "/api/setup/" in path else None)
            self.assertEqual(r.status, 200, path)
            want = dict(want, **{"Strict-Transport-Security": hsts})
            got = {name: r.header(name) for name in want}
            self.assertEqual(got, want, path)
            self.assertEqual(len(r.all_headers("Strict-Transport-Security")), 1 if hsts else 0, path)


class Lighttpd(Headers, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class Apache(Headers, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.ApacheServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class LighttpdTLS(Headers, unittest.TestCase):
    https = True

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(tls=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class ApacheTLS(Headers, unittest.TestCase):
    https = True

    @classmethod
    def setUpClass(cls):
        cls.server = harness.ApacheServer(tls=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


if __name__ == "__main__":
    sys.exit(harness.main())

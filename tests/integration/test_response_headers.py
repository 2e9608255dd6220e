"""The security headers of every kind of path, behind both bundled server configurations
(conf/lighttpd.conf and conf/apache-httpd.conf): the API, the setup form, the Web Chat
pages and library, the private app's ZIP and the public avatar. A header set in one
lighttpd conditional used to replace those of another that also matched, so the setup
and Web Chat pages went out without X-Content-Type-Options and Referrer-Policy; this
asserts the whole set on each. HSTS over TLS is not run here (no TLS listener in the
test servers); its directive is one no page branch sets."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import images  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
EVERY = {"X-Content-Type-Options": "nosniff"}
PAGE = dict(EVERY, **{"Referrer-Policy": "no-referrer", "Content-Security-Policy": CSP})
EXPECTED = {
    "/api/health": dict(EVERY, **{"Cache-Control": "no-store"}),
    "/api/avatar": EVERY,
    "/api/setup/zendesk-app.zip": dict(EVERY, **{"Cache-Control": "no-store"}),
    "/setup/": dict(PAGE, **{"X-Frame-Options": "DENY", "Cache-Control": "no-store"}),
    "/setup/setup.js": dict(PAGE, **{"X-Frame-Options": "DENY", "Cache-Control": "no-store"}),
    "/webchat/demo.html": PAGE,
    "/webchat/deskbridge-webchat.js": dict(PAGE, **{"Access-Control-Allow-Origin": "*"}),
}


class Headers:
    def setUp(self):
        r = login(self.server)
        self.assertEqual(r.status, 200, r.body)
        self.session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        r = self.server.request("POST", "/api/setup/app-credentials", headers=self.session)
        self.assertEqual(r.status, 201, r.body)
        r = self.server.request("PUT", "/api/setup/avatar", body=images.png(40, 40),
                                headers=dict(self.session, **{"Content-Type": "image/png"}))
        self.assertEqual(r.status, 204, r.body)
        r = self.server.request("PATCH", "/api/setup/config", body={"deployment": {"public_url": "https://help.example.com"}},
                                headers=self.session)
        self.assertEqual(r.status, 200, r.body)

    def test_every_kind_of_path_has_its_whole_header_set(self):
        for path, want in EXPECTED.items():
            r = self.server.request("GET", path, headers=self.session if "/api/setup/" in path else None)
            self.assertEqual(r.status, 200, path)
            got = {name: r.header(name) for name in want}
            self.assertEqual(got, want, path)


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


if __name__ == "__main__":
    sys.exit(harness.main())

"""What the web server answers itself under /api/ comes in the API's error shape, behind
both bundled configurations: a body over the largest the API takes (413, before any
handler), a path outside every handler (404), an encoded slash, and a request body the server
cannot read (400). The address the
dev server prints, /, leads to the setup form; pages outside /api/ keep the server's own
error pages, and the JSON error documents are not served as pages."""

import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CODES = {400: "bad_request", 404: "not_found", 413: "payload_too_large"}


def parse_raw(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    return harness.Response(int(lines[0].split()[1]), headers, body)


class ServerErrors:
    # lighttpd answers a body over its limit before mod_setenv adds response headers.
    sniffable = ()

    def assert_api_error(self, r, status, what):
        self.assertEqual(r.status, status, what)
        self.assertEqual(r.header("Content-Type"), "application/json; charset=utf-8", what)
        if status not in self.sniffable:
            self.assertEqual(r.header("X-Content-Type-Options"), "nosniff", what)
        err = json.loads(r.body)["error"]
        self.assertEqual(set(err), {"code", "message"}, what)
        self.assertEqual(err["code"], CODES[status], what)
        self.assertTrue(err["message"].endswith("."), what)

    def test_body_over_the_servers_limit(self):
        r = self.server.request("POST", "/api/transfers", body=b"x" * (600 * 1024),
                                headers={"Content-Type": "application/json"})
        self.assert_api_error(r, 413, "600 KiB body")
        self.assertEqual(self.transfers(), 0)

    def test_paths_outside_the_handlers(self):
        for path in ("/api", "/api/a%2Fb"):
            self.assert_api_error(self.server.request("GET", path), 404, path)

    def test_unreadable_body(self):
        r = parse_raw(self.server.raw(
            b"POST /api/transfers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nnot-a-chunk-size\r\n\r\n"))
        self.assert_api_error(r, 400, "a chunked body that is not")
        self.assertEqual(self.transfers(), 0)

    def test_root_leads_to_the_setup_form(self):
        r = self.server.request("GET", "/")
        self.assertEqual(r.status, 302)
        self.assertTrue(r.header("Location").endswith("/setup/"), r.header("Location"))

    def test_pages_keep_html_errors_and_error_documents_are_not_pages(self):
        r = self.server.request("GET", "/setup/nope")
        self.assertEqual(r.status, 404)
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r.header("Content-Type"))

    def transfers(self):
        with sqlite3.connect(self.server.state.db) as db:
            return db.execute("SELECT count(*) FROM transfers").fetchone()[0]


class Lighttpd(ServerErrors, unittest.TestCase):
    sniffable = (413,)

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_error_documents_are_not_served(self):
        self.assertEqual(self.server.request("GET", "/api-errors/404.html").status, 403)


class Apache(ServerErrors, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.ApacheServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


if __name__ == "__main__":
    sys.exit(harness.main())

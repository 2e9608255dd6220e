"""What the web server answers itself under /api/ comes in the API's error shape, behind
both bundled configurations: a body over the largest the API takes (413, before any
handler; a visitor's file has a larger limit of its own), a path outside every handler (404), an encoded slash, a request body the server
cannot read (400), and a handler killed mid-request (500). The address the
dev server prints, /, leads to the setup form; pages outside /api/ keep the server's own
error pages, and the JSON error documents are not served as pages."""

import json
import os
import signal
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CODES = {400: "bad_request", 404: "not_found", 413: "payload_too_large", 500: "internal_error"}


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

    def test_a_visitors_file_gets_a_larger_limit(self):
        # Over 512 KiB, a file for the agent still reaches its handler (which knows no
        # such transfer) ...
        r = self.server.request("POST", "/api/transfers/tr_000000000000000000000000/files", body=b"x" * (600 * 1024),
                                headers={"Content-Type": "multipart/form-data; boundary=b"})
        self.assertEqual((r.status, json.loads(r.body)["error"]["message"]), (404, "There is no such transfer."))
        # ... but not over the largest upload, 50,000,000 bytes and its framing.
        r = parse_raw(self.server.raw(
            b"POST /api/transfers/tr_000000000000000000000000/files HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 50017281\r\n\r\n"))
        self.assert_api_error(r, 413, "a file over the largest upload")

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

    def test_handler_killed_mid_request(self):
        self.server.state.admin("config", "set", "transfers_enabled", "true")
        self.assertEqual(self.server.request("GET", "/api/health").status, 200)
        # The database held locked keeps the handler waiting inside the request.
        db = sqlite3.connect(self.server.state.db, timeout=5, isolation_level=None)
        self.addCleanup(db.close)
        db.execute("BEGIN EXCLUSIVE")
        answer = {}
        t = threading.Thread(target=lambda: answer.setdefault("r", self.server.request(
            "POST", "/api/transfers", body={"visitor": {"name": "Kim", "email": "kim@shop.example"}})))
        t.start()
        time.sleep(1)
        for pid in self.server.handler_pids():
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().split(b"\0")[0].endswith(b"/transfer"):
                    os.kill(pid, signal.SIGKILL)
        t.join(30)
        db.execute("ROLLBACK")
        self.assert_api_error(answer["r"], 500, "the handler killed")

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

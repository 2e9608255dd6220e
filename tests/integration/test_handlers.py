"""The five handlers through the real lighttpd (FastCGI) and as plain CGI: health,
routing errors, the error shape, standard headers, bad requests, logging."""

import glob
import os
import re
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.Server().start()


def assert_api_headers(test, r):
    test.assertEqual(r.header("Cache-Control"), "no-store")
    test.assertEqual(r.header("X-Content-Type-Options"), "nosniff")


def assert_error(test, r, status, code):
    test.assertEqual(r.status, status, r.body)
    test.assertEqual(r.header("Content-Type"), "application/json; charset=utf-8")
    body = r.json()
    test.assertEqual(set(body), {"error"})
    test.assertEqual(body["error"]["code"], code)
    test.assertTrue(body["error"]["message"].strip())
    assert_api_headers(test, r)
    return body["error"]


def handler_lines(server, handler):
    return [l for l in server.log_text().splitlines() if re.search(r"\b%s\[\d+\] info:" % handler, l)]


class ThroughLighttpd(unittest.TestCase):
    def test_health(self):
        r = SERVER.request("GET", "/api/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"ok": True, "db": "ok"})
        self.assertEqual(r.header("Content-Type"), "application/json; charset=utf-8")
        assert_api_headers(self, r)

    def test_each_prefix_reaches_its_handler(self):
        # Each mount of api.md is served by its own handler, which answers a path it
        # has not built with the API's JSON 404; the log line names the handler.
        for path, handler in (("/api/setup/nothing-here", "setup"),
                              ("/api/token/nothing-here", "token"),
                              ("/api/agent/nothing-here", "agent"),
                              ("/api/zendesk/webhook/nothing-here", "webhook"),
                              ("/api/transfers/tr_x/nothing-here", "transfer"),
                              ("/api/no-such-thing", "transfer")):
            before = len(handler_lines(SERVER, handler))
            assert_error(self, SERVER.request("GET", path), 404, "not_found")
            deadline = time.time() + 5
            while len(handler_lines(SERVER, handler)) == before and time.time() < deadline:
                time.sleep(0.02)
            self.assertGreater(len(handler_lines(SERVER, handler)), before, path)

    def test_wrong_method_gets_405_with_allow(self):
        for method, path in (("POST", "/api/health"), ("DELETE", "/api/health"),
                             ("PUT", "/api/public-key")):
            e = assert_error(self, SERVER.request(method, path, body=b"{}"), 405,
                             "method_not_allowed")
            self.assertIn("Allow", e["message"])
        r = SERVER.request("POST", "/api/health")
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_head_is_get_without_the_body(self):
        for path in ("/api/health", "/api/public-key", "/api/avatar"):
            got = SERVER.request("GET", path)
            r = SERVER.request("HEAD", path)
            self.assertEqual(r.status, got.status, path)
            self.assertEqual(r.body, b"", path)
            self.assertEqual(r.header("Content-Type"), got.header("Content-Type"), path)
            if got.status == 200:
                self.assertEqual(r.header("Content-Length"), str(len(got.body)), path)
        r = SERVER.request("HEAD", "/api/setup/zendesk/verify")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "POST")

    def test_public_key_is_pem(self):
        r = SERVER.request("GET", "/api/public-key")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/plain; charset=utf-8")
        pem = r.body.decode()
        self.assertTrue(pem.startswith("-----BEGIN PUBLIC KEY-----\n"))
        p = subprocess.run(["openssl", "pkey", "-pubin", "-noout", "-text"], input=pem,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("2048 bit", p.stdout)

    def test_bad_query_and_path(self):
        assert_error(self, SERVER.request("GET", "/api/health?a=1&a=2"), 400, "bad_request")
        assert_error(self, SERVER.request("GET", "/api/health?a=%zz"), 400, "bad_request")
        # lighttpd itself refuses an encoded NUL before any handler sees it.
        self.assertEqual(SERVER.request("GET", "/api/x%00y").status, 400)

    def test_oversized_body_is_refused_by_the_server(self):
        r = SERVER.request("POST", "/api/token", body=b"x" * (600 * 1024),
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 413)

    def test_truncated_request_leaves_handler_serving(self):
        pid_before = set(re.findall(r"transfer\[(\d+)\]", SERVER.log_text()))
        reply = SERVER.raw(b"POST /api/transfers HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
        self.assertNotIn(b"200 OK", reply)
        SERVER.raw(b"GET /api/hea")
        r = SERVER.request("GET", "/api/health")
        self.assertEqual(r.status, 200)
        pids = set(re.findall(r"transfer\[(\d+)\]", SERVER.log_text()))
        if pid_before:
            self.assertEqual(pids, pid_before, "the transfer handler process was restarted")

    def test_handler_keeps_serving_after_bad_requests(self):
        for _ in range(20):
            SERVER.request("GET", "/api/health?x=%")
            SERVER.request("PATCH", "/api/health", body=b"\xff\xfe")
            SERVER.request("GET", "/api/" + "a" * 3000)
        r = SERVER.request("GET", "/api/health")
        self.assertEqual(r.json(), {"ok": True, "db": "ok"})
        self.assertEqual(len(set(re.findall(r"transfer\[(\d+)\]", SERVER.log_text()))), 1)

    def test_access_log_has_no_query(self):
        SERVER.request("GET", "/api/health?token=SEKRIT-IN-QUERY")
        deadline = time.time() + 5
        while "GET /api/health 200" not in SERVER.log_text() and time.time() < deadline:
            time.sleep(0.02)
        log = SERVER.log_text()
        self.assertRegex(log, r"transfer\[\d+\] info: GET /api/health 200 \d+\.\dms")
        self.assertNotIn("SEKRIT-IN-QUERY", log)

    def test_static_pages(self):
        for path in ("/setup/", "/webchat/"):
            r = SERVER.request("GET", path)
            self.assertEqual(r.status, 200, path)
            self.assertTrue(r.header("Content-Type").startswith("text/html"))
            self.assertIn(b"<html", r.body)
        self.assertIn("frame-ancestors 'none'",
                      SERVER.request("GET", "/setup/").header("Content-Security-Policy"))


def fastcgi_request(params, body=b""):
    """One FastCGI request (FastCGI 1.0 specification, section 3 and 5) as a web server
    sends it: BEGIN_REQUEST for the responder role, the parameters, the body."""
    def record(kind, content):
        return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content

    def length(n):
        return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)

    pairs = b"".join(length(len(k)) + length(len(v)) + k + v
                     for k, v in ((k.encode(), v.encode()) for k, v in params.items()))
    return (record(1, struct.pack(">HB5x", 1, 0)) + record(4, pairs) + record(4, b"")
            + (record(5, body) if body else b"") + record(5, b""))


class FastCgiConnection(unittest.TestCase):
    """How a handler ends a connection on its Unix socket, talked to without lighttpd."""

    def exchange(self, request):
        path = sorted(glob.glob(os.path.join(SERVER.run_dir, "token.sock*")))[0]
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(path)
        s.sendall(request)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return s, reply
            reply += chunk

    def peer_has_closed(self, s):
        try:
            s.sendall(b"\0" * 8)
            return False
        except BrokenPipeError:
            return True
        finally:
            s.close()

    def test_a_handler_closes_at_once_after_a_whole_request(self):
        s, reply = self.exchange(fastcgi_request({
            "REQUEST_METHOD": "GET", "REQUEST_URI": "/api/health", "SCRIPT_NAME": "/api/health",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}))
        self.assertIn(b"Status: 200", reply)
        self.assertTrue(self.peer_has_closed(s), "the handler still holds the connection")

    def test_a_request_answered_before_its_body_is_read_is_drained(self):
        body = b"x" * (200 * 1024)
        s, reply = self.exchange(fastcgi_request({
            "REQUEST_METHOD": "POST", "REQUEST_URI": "/api/token", "SCRIPT_NAME": "/api/token",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))}, body[:1000]))
        self.assertIn(b"Status: 413", reply)
        # Still reading what the web server may yet send, so that its writes do not fail.
        self.assertFalse(self.peer_has_closed(s), "the handler closed with the body unread")
        self.assertEqual(SERVER.request("GET", "/api/public-key").status, 200)


class DatabaseUnavailable(unittest.TestCase):
    def test_health_is_503_and_recovers(self):
        state = harness.State(init=False)
        server = harness.Server(state=state).start()
        try:
            r = server.request("GET", "/api/health")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json(), {"ok": False, "db": "error"})
            assert_error(self, server.request("GET", "/api/public-key"), 503, "db_unavailable")
            # Once the operator runs init, the same processes recover without a restart.
            state.admin("init", env={"DESKBRIDGE_ADMIN_PASSWORD": harness.ADMIN_PASSWORD})
            r = server.request("GET", "/api/health")
            self.assertEqual(r.json(), {"ok": True, "db": "ok"})
        finally:
            server.stop()


class ServerGone(unittest.TestCase):
    def test_handlers_leave_with_a_killed_lighttpd(self):
        import signal
        server = harness.Server().start()
        self.assertEqual(server.request("GET", "/api/health").status, 200)
        pids = server.handler_pids()
        self.assertGreaterEqual(len(pids), 5)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
        deadline = time.time() + 15
        while time.time() < deadline and any(os.path.exists("/proc/%d" % p) for p in pids):
            time.sleep(0.1)
        alive = [p for p in pids if os.path.exists("/proc/%d/cmdline" % p)
                 and open("/proc/%d/cmdline" % p, "rb").read()]
        self.assertEqual(alive, [])


class PlainCgi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = SERVER.state

    def test_health_from_every_handler(self):
        for h in harness.HANDLERS:
            r, log = self.state.cgi(h, "GET", "/api/health")
            self.assertEqual(r.status, 200, h)
            self.assertEqual(r.json(), {"ok": True, "db": "ok"}, h)
            assert_api_headers(self, r)
            self.assertIn("%s[" % h, log)

    def test_hsts_only_over_https(self):
        for h in harness.HANDLERS:
            r, _ = self.state.cgi(h, "GET", "/api/health", env={"HTTPS": "on"})
            self.assertEqual(r.header("Strict-Transport-Security"), "max-age=31536000", h)
            r, _ = self.state.cgi(h, "GET", "/api/nothing", env={"REQUEST_SCHEME": "https"})
            self.assertEqual((r.status, r.header("Strict-Transport-Security")), (404, "max-age=31536000"), h)
            r, _ = self.state.cgi(h, "GET", "/api/health")
            self.assertIsNone(r.header("Strict-Transport-Security"), h)

    def test_health_error_from_every_handler(self):
        for h in harness.HANDLERS:
            r, _ = self.state.cgi(h, "GET", "/api/health",
                                  env={"DESKBRIDGE_DB": "/nonexistent/deskbridge.db"})
            self.assertEqual(r.status, 503, h)
            self.assertEqual(r.json(), {"ok": False, "db": "error"})

    def test_routing_errors_from_every_handler(self):
        for h in harness.HANDLERS:
            r, _ = self.state.cgi(h, "GET", "/api/not-built-yet")
            assert_error(self, r, 404, "not_found")
            r, _ = self.state.cgi(h, "POST", "/api/health", body=b"{}",
                                  headers={"Content-Type": "application/json"})
            assert_error(self, r, 405, "method_not_allowed")
            self.assertEqual(r.header("Allow"), "GET, HEAD")
            r, _ = self.state.cgi(h, "BREW", "/api/health")
            assert_error(self, r, 405, "method_not_allowed")

    def test_without_request_uri_uses_script_name_and_path_info(self):
        r, _ = self.state.cgi("transfer", "GET", "/ignored",
                              env={"REQUEST_URI": "", "SCRIPT_NAME": "/api",
                                   "PATH_INFO": "/health"})
        self.assertEqual(r.status, 200)

    def test_malformed_paths_and_queries(self):
        for uri in ("/api/x%00y", "/api/health%", "/api/health%4", "/api/health?q=%G1",
                    "/api/health?a=1&a=2", "/api/" + "a" * 3000):
            r, _ = self.state.cgi("transfer", "GET", uri)
            assert_error(self, r, 400, "bad_request")

    def test_log_line_per_request_without_secrets(self):
        _, log = self.state.cgi("token", "GET", "/api/health?secret=hunter2",
                                headers={"Authorization": "Bearer hunter3"})
        lines = [l for l in log.splitlines() if " info: " in l]
        self.assertEqual(len(lines), 1, log)
        self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ token\[\d+\] info: "
                                   r"GET /api/health 200 \d+\.\dms$")
        self.assertNotIn("hunter", log)


if __name__ == "__main__":
    sys.exit(harness.main())

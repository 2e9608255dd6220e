"""/api/setup/session through lighttpd: admin login, the session cookie (every one of its
name tried), taking a session up again after a reload, CSRF, the limit on failed logins,
and the JSON body checks of the HTTP core. The attacks on the login's limits are in
test_login_limits.py."""

import concurrent.futures
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_error  # noqa: E402

SERVER = None
JSON = {"Content-Type": "application/json; charset=utf-8"}


def setUpModule():
    global SERVER
    SERVER = harness.Server().start()


def login(server, password=harness.ADMIN_PASSWORD):
    return server.request("POST", "/api/setup/session", body={"password": password})


def cookie_of(r):
    m = re.match(r"deskbridge_admin=([^;]*);", r.header("Set-Cookie") or "")
    return m.group(1) if m else None


class Login(unittest.TestCase):
    def test_right_password_opens_a_session(self):
        r = login(SERVER)
        self.assertEqual(r.status, 200, r.body)
        body = r.json()
        self.assertEqual(set(body), {"csrf_token"})
        self.assertGreaterEqual(len(body["csrf_token"]), 40)
        attrs = [a.strip() for a in r.header("Set-Cookie").split(";")]
        self.assertIn("HttpOnly", attrs)
        self.assertIn("SameSite=Strict", attrs)
        self.assertIn("Path=/api/setup", attrs)
        self.assertNotIn("Secure", attrs)  # plain HTTP on loopback
        self.assertGreaterEqual(len(cookie_of(r)), 40)
        self.assertEqual(r.header("Cache-Control"), "no-store")

    def test_secure_cookie_over_https(self):
        r, _ = SERVER.state.cgi("setup", "POST", "/api/setup/session",
                                body=json.dumps({"password": harness.ADMIN_PASSWORD}).encode(),
                                headers=JSON, env={"HTTPS": "on"})
        self.assertEqual(r.status, 200)
        self.assertIn("Secure", [a.strip() for a in r.header("set-cookie").split(";")])

    def test_wrong_password(self):
        e = assert_error(self, login(SERVER, "not-the-password"), 401, "invalid_credentials")
        self.assertNotIn("not-the-password", json.dumps(e))
        self.assertNotIn("not-the-password", SERVER.log_text())

    def test_logout_needs_cookie_and_csrf(self):
        r = login(SERVER)
        cookie, csrf = cookie_of(r), r.json()["csrf_token"]
        assert_error(self, SERVER.request("DELETE", "/api/setup/session"), 401, "unauthenticated")
        assert_error(self, SERVER.request("DELETE", "/api/setup/session",
                                          headers={"Cookie": "deskbridge_admin=" + cookie}),
                     403, "csrf_failed")
        assert_error(self, SERVER.request("DELETE", "/api/setup/session",
                                          headers={"Cookie": "deskbridge_admin=" + cookie,
                                                   "X-CSRF-Token": csrf[:-1] + ("B" if csrf[-1] == "A" else "A")}),
                     403, "csrf_failed")
        r = SERVER.request("DELETE", "/api/setup/session",
                           headers={"Cookie": "a=b; deskbridge_admin=" + cookie,
                                    "X-CSRF-Token": csrf})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        self.assertIn("Max-Age=0", r.header("Set-Cookie"))
        assert_error(self, SERVER.request("DELETE", "/api/setup/session",
                                          headers={"Cookie": "deskbridge_admin=" + cookie,
                                                   "X-CSRF-Token": csrf}),
                     401, "unauthenticated")

    def test_sessions_expire(self):
        import sqlite3
        for column, age in (("last_seen_at", 31 * 60), ("created_at", 12 * 3600 + 1)):
            r = login(SERVER)
            headers = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
            self.assertEqual(SERVER.request("GET", "/api/setup/config", headers=headers).status, 200)
            with sqlite3.connect(SERVER.state.db) as c:
                c.execute("UPDATE admin_sessions SET %s = %s - ?" % (column, column), (age,))
            assert_error(self, SERVER.request("GET", "/api/setup/config", headers=headers), 401,
                         "unauthenticated")

    def test_passwd_ends_sessions(self):
        state = harness.State()
        server = harness.Server(state=state).start()
        try:
            r = login(server)
            cookie, csrf = cookie_of(r), r.json()["csrf_token"]
            state.admin("passwd", env={"DESKBRIDGE_ADMIN_PASSWORD": "another-long-password"})
            assert_error(self, server.request("DELETE", "/api/setup/session",
                                              headers={"Cookie": "deskbridge_admin=" + cookie,
                                                       "X-CSRF-Token": csrf}),
                         401, "unauthenticated")
            self.assertEqual(login(server, "another-long-password").status, 200)
        finally:
            server.stop()

    def test_failed_logins_are_limited_per_address(self):
        state = harness.State()
        server = harness.Server(state=state).start()
        try:
            for _ in range(5):
                assert_error(self, login(server, "wrong-password"), 401, "invalid_credentials")
            r = login(server)  # even the right password, until the window ends
            assert_error(self, r, 429, "rate_limited")
            self.assertTrue(0 < int(r.header("Retry-After")) <= 900)
            # Another address is not affected.
            r, _ = state.cgi("setup", "POST", "/api/setup/session", headers=JSON,
                             body=json.dumps({"password": harness.ADMIN_PASSWORD}).encode(),
                             env={"REMOTE_ADDR": "192.0.2.7"})
            self.assertEqual(r.status, 200)
        finally:
            server.stop()

    def test_parallel_guesses_get_no_more_checks_than_the_limit(self):
        # Four handler processes check passwords at once; every guess is counted before
        # its check, so 32 sent together get at most the limit's 5 answers of "wrong".
        server = harness.Server(procs=4).start()
        try:
            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                answers = list(pool.map(lambda _: login(server, "wrong-password").status, range(32)))
        finally:
            server.stop()
        self.assertLessEqual(answers.count(401), 5, answers)
        self.assertEqual(answers.count(401) + answers.count(429), 32, answers)
        self.assertGreaterEqual(answers.count(401), 1, answers)


class Cookies(unittest.TestCase):
    """A browser sends every cookie of a name whose domain and path match, in an order
    the server does not choose: one planted for a parent domain, or a stale one, may come
    first (RFC 6265, 5.4)."""

    def test_a_bogus_cookie_before_the_real_one(self):
        r = login(SERVER)
        real, csrf = cookie_of(r), r.json()["csrf_token"]
        for cookies in ("deskbridge_admin=bogus; deskbridge_admin=" + real,
                        "deskbridge_admin=; a=b; deskbridge_admin=x; deskbridge_admin=" + real):
            got = SERVER.request("GET", "/api/setup/config", headers={"Cookie": cookies})
            self.assertEqual(got.status, 200, got.body)
        # The CSRF check is that of the live session.
        cookies = {"Cookie": "deskbridge_admin=bogus; deskbridge_admin=" + real}
        assert_error(self, SERVER.request("DELETE", "/api/setup/session", headers=cookies),
                     403, "csrf_failed")
        r = SERVER.request("DELETE", "/api/setup/session", headers=dict(cookies, **{"X-CSRF-Token": csrf}))
        self.assertEqual(r.status, 204, r.body)
        assert_error(self, SERVER.request("GET", "/api/setup/config", headers=cookies), 401, "unauthenticated")

    def test_only_bogus_cookies(self):
        for cookies in ("deskbridge_admin=bogus", "deskbridge_admin=bogus; deskbridge_admin=also-bogus",
                        "deskbridge_admin=; deskbridge_admin", "xdeskbridge_admin=" + cookie_of(login(SERVER))):
            assert_error(self, SERVER.request("GET", "/api/setup/config", headers={"Cookie": cookies}),
                         401, "unauthenticated")


class Restore(unittest.TestCase):
    """GET /api/setup/session: a reloaded /setup/ page takes up its session."""

    def test_a_live_session_answers_its_csrf_token(self):
        r = login(SERVER)
        cookie, csrf = cookie_of(r), r.json()["csrf_token"]
        got = SERVER.request("GET", "/api/setup/session",
                             headers={"Cookie": "deskbridge_admin=bogus; deskbridge_admin=" + cookie})
        self.assertEqual(got.status, 200, got.body)
        self.assertEqual(got.json(), {"csrf_token": csrf})
        self.assertEqual(got.header("Cache-Control"), "no-store")
        self.assertIsNone(got.header("Set-Cookie"))
        # The token it gives is the one the session's writes need.
        r = SERVER.request("DELETE", "/api/setup/session",
                           headers={"Cookie": "deskbridge_admin=" + cookie, "X-CSRF-Token": got.json()["csrf_token"]})
        self.assertEqual(r.status, 204)
        assert_error(self, SERVER.request("GET", "/api/setup/session",
                                          headers={"Cookie": "deskbridge_admin=" + cookie}),
                     401, "unauthenticated")

    def test_no_session(self):
        assert_error(self, SERVER.request("GET", "/api/setup/session"), 401, "unauthenticated")
        assert_error(self, SERVER.request("GET", "/api/setup/session", headers={"Cookie": "deskbridge_admin=x"}),
                     401, "unauthenticated")


class BodyChecks(unittest.TestCase):
    """The JSON edge of lib/http, seen through a real route."""

    def post(self, body, headers=JSON):
        return SERVER.request("POST", "/api/setup/session", body=body, headers=headers)

    def test_invalid_json(self):
        for body in (b"{", b"{\"password\": \"x\"} trailing", b"[1]", b"\"str\"",
                     b"{\"password\": \"\xff\xfe\"}", b"{'password': 'x'}", b"",
                     b"{\"a\":" * 40 + b"1" + b"}" * 40):
            e = assert_error(self, self.post(body), 400, "bad_request")
            self.assertTrue(e["message"])

    def test_wrong_content_type(self):
        assert_error(self, self.post(b"password=x", {"Content-Type": "application/x-www-form-urlencoded"}),
                     415, "unsupported_media_type")
        assert_error(self, self.post(b"{}", {"Content-Type": "application/json; charset=latin-1"}),
                     415, "unsupported_media_type")

    def test_field_shape(self):
        e = assert_error(self, self.post(b"{}"), 400, "bad_request")
        self.assertEqual(e["field"], "password")
        e = assert_error(self, self.post(b"{\"password\": 12}"), 400, "bad_request")
        self.assertIn("string", e["message"])
        e = assert_error(self, self.post(b"{\"password\": null}"), 400, "bad_request")
        e = assert_error(self, self.post(json.dumps({"password": "x" * 1025}).encode()),
                         422, "invalid_field")
        self.assertEqual(e["field"], "password")

    def test_oversized_body(self):
        body = json.dumps({"password": "x", "pad": "y" * (64 * 1024)}).encode()
        e = assert_error(self, self.post(body), 413, "payload_too_large")
        self.assertIn("65536", e["message"])

    def test_truncated_body_as_cgi(self):
        r, _ = SERVER.state.cgi("setup", "POST", "/api/setup/session", body=b"{\"password\":",
                                headers={"Content-Type": "application/json",
                                         "Content-Length": "100"})
        assert_error(self, r, 400, "bad_request")

    def test_handler_survives_all_of_it(self):
        self.assertEqual(login(SERVER).status, 200)
        self.assertEqual(len(set(re.findall(r"setup\[(\d+)\]", SERVER.log_text()))), 1)


if __name__ == "__main__":
    sys.exit(harness.main())

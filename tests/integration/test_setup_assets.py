"""The rest of the setup API through lighttpd: private app credentials and ZIP, the
agent avatar, service key rotation and status."""

import io
import json
import os
import sqlite3
import sys
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import images  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SERVER = None
SESSION = None


def setUpModule():
    global SERVER, SESSION
    SERVER = harness.Server().start()
    r = login(SERVER)
    SESSION = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}


def call(method, path, body=None, headers=None, session=True):
    h = dict(SESSION) if session else {}
    h.update(headers or {})
    return SERVER.request(method, path, body=body, headers=h)


class AppCredentials(unittest.TestCase):
    def test_shown_once_and_stored_hashed(self):
        r = call("POST", "/api/setup/app-credentials")
        self.assertEqual(r.status, 201, r.body)
        creds = r.json()["app_credentials"]
        self.assertGreaterEqual(len(creds), 40)
        self.assertIs(call("GET", "/api/setup/config").json()["app_credentials_set"], True)
        with sqlite3.connect(SERVER.state.db) as c:
            stored = [row[0] for row in c.execute("SELECT value FROM secrets")]
        self.assertFalse(any(creds in str(v) for v in stored))
        second = call("POST", "/api/setup/app-credentials").json()["app_credentials"]
        self.assertNotEqual(second, creds)
        self.assertNotIn(creds, SERVER.log_text())

    def test_needs_session_and_csrf(self):
        assert_error(self, call("POST", "/api/setup/app-credentials", session=False), 401,
                     "unauthenticated")
        assert_error(self, call("POST", "/api/setup/app-credentials",
                                headers={"X-CSRF-Token": "nope"}), 403, "csrf_failed")


def set_public_url(url):
    r = call("PATCH", "/api/setup/config", body={"deployment": {"public_url": url}})
    assert r.status == 200, r.body


class AppZip(unittest.TestCase):
    def test_package(self):
        set_public_url("https://help.example.com")
        # The address the admin browses from (here 127.0.0.1) is not the app's.
        r = call("GET", "/api/setup/zendesk-app.zip")
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(r.header("Content-Type"), "application/zip")
        self.assertIn("attachment", r.header("Content-Disposition"))
        z = zipfile.ZipFile(io.BytesIO(r.body))
        self.assertIsNone(z.testzip())
        names = set(z.namelist())
        self.assertEqual(names, {"manifest.json", "assets/iframe.html", "assets/sidebar.js",
                                 "assets/sidebar.css", "assets/logo.png", "assets/logo-small.png",
                                 "translations/en.json"})
        m = json.loads(z.read("manifest.json"))
        # The fields Zendesk's manifest reference requires or this app relies on.
        self.assertEqual(m["frameworkVersion"], "2.0")
        self.assertIs(m["private"], True)
        self.assertEqual(set(m["author"]), {"name", "email", "url"})
        self.assertEqual(m["defaultLocale"], "en")
        self.assertIn("en.json", " ".join(names))
        self.assertEqual(m["location"]["support"]["ticket_sidebar"]["url"], "assets/iframe.html")
        self.assertEqual(m["domainWhitelist"], ["help.example.com"])
        params = {p["name"]: p for p in m["parameters"]}
        self.assertIs(params["app_credentials"]["secure"], True)
        self.assertEqual(params["app_credentials"]["scopes"], ["header"])
        self.assertEqual(params["deskbridge_url"]["default"], "https://help.example.com")
        t = json.loads(z.read("translations/en.json"))
        self.assertEqual(set(t["app"]["parameters"]), set(params))
        self.assertTrue(t["app"]["short_description"])
        self.assertTrue(z.read("assets/logo.png").startswith(b"\x89PNG"))
        page = z.read("assets/iframe.html").decode()
        self.assertIn("sidebar.js", page)
        script = z.read("assets/sidebar.js").decode()
        self.assertIn("/api/agent/transfers/", script)
        self.assertIn("{{setting.app_credentials}}", script)
        self.assertNotIn("innerHTML", script)

    def test_host_header_is_not_used(self):
        set_public_url("https://help.example.com")
        for host in ("evil.example", "evil.example/path", "a b", ""):
            r, _ = SERVER.state.cgi("setup", "GET", "/api/setup/zendesk-app.zip",
                                    headers=dict(SESSION, Host=host))
            self.assertEqual(r.status, 200, (host, r.body[:200]))
            m = json.loads(zipfile.ZipFile(io.BytesIO(r.body)).read("manifest.json"))
            self.assertEqual(m["domainWhitelist"], ["help.example.com"], host)

    def test_needs_public_url(self):
        set_public_url(None)
        e = assert_error(self, call("GET", "/api/setup/zendesk-app.zip"), 503, "not_configured")
        self.assertIn("public address", e["message"])
        self.assertNotIn("deployment.public_url", e["message"])

    def test_needs_session(self):
        assert_error(self, call("GET", "/api/setup/zendesk-app.zip", session=False), 401,
                     "unauthenticated")


class Avatar(unittest.TestCase):
    def put(self, body, ctype):
        return call("PUT", "/api/setup/avatar", body=body, headers={"Content-Type": ctype})

    def test_each_format_round_trips(self):
        for data, ctype in ((images.png(50, 50), "image/png"), (images.gif(10, 12), "image/gif"),
                            (images.jpeg(48, 40), "image/jpeg")):
            r = self.put(data, ctype)
            self.assertEqual(r.status, 204, (ctype, r.body))
            got = SERVER.request("GET", "/api/avatar")
            self.assertEqual(got.status, 200)
            self.assertEqual(got.header("Content-Type"), ctype)
            self.assertEqual(got.body, data)
            self.assertEqual(call("GET", "/api/setup/config").json()["agent_avatar"], {"set": True})

    def test_limits(self):
        before = SERVER.request("GET", "/api/avatar").body
        e = assert_error(self, self.put(images.png(60, 40), "image/png"), 422, "invalid_field")
        self.assertIn("60 x 40", e["message"])
        self.assertIn("50 x 50", e["message"])
        e = assert_error(self, self.put(images.gif(51, 10), "image/gif"), 422, "invalid_field")
        self.assertIn("51 x 10", e["message"])
        e = assert_error(self, self.put(images.jpeg(40, 51), "image/jpeg"), 422, "invalid_field")
        self.assertIn("40 x 51", e["message"])
        big = images.png(50, 50) + b"\0" * (100 * 1024)
        e = assert_error(self, self.put(big, "image/png"), 413, "payload_too_large")
        self.assertIn("102400", e["message"])
        assert_error(self, self.put(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
                     415, "unsupported_media_type")
        e = assert_error(self, self.put(b"not an image at all", "image/png"), 415,
                         "unsupported_media_type")
        self.assertIn("PNG, JPEG or GIF", e["message"])
        assert_error(self, self.put(images.png(10, 10), "image/gif"), 415, "unsupported_media_type")
        truncated = images.png(20, 20)[:60]
        e = assert_error(self, self.put(truncated, "image/png"), 422, "invalid_field")
        self.assertIn("decoded", e["message"])
        bad_jpeg = images.jpeg(20, 20)
        bad_jpeg = bad_jpeg[:len(bad_jpeg) // 2]
        assert_error(self, self.put(bad_jpeg, "image/jpeg"), 422, "invalid_field")
        self.assertEqual(SERVER.request("GET", "/api/avatar").body, before)

    def test_delete(self):
        self.assertEqual(self.put(images.png(8, 8), "image/png").status, 204)
        self.assertEqual(call("DELETE", "/api/setup/avatar").status, 204)
        assert_error(self, SERVER.request("GET", "/api/avatar"), 404, "not_found")
        self.assertEqual(call("GET", "/api/setup/config").json()["agent_avatar"], {"set": False})

    def test_needs_session(self):
        assert_error(self, call("PUT", "/api/setup/avatar", body=images.png(8, 8),
                                headers={"Content-Type": "image/png"}, session=False),
                     401, "unauthenticated")


class Keys(unittest.TestCase):
    def test_rotate_keeps_previous_for_a_day(self):
        old = SERVER.request("GET", "/api/public-key").body.decode()
        r = call("POST", "/api/setup/keys/rotate")
        self.assertEqual(r.status, 200, r.body)
        new = r.json()["service_public_key"]
        self.assertNotEqual(new, old)
        self.assertEqual(SERVER.request("GET", "/api/public-key").body.decode(), new)
        self.assertEqual(call("GET", "/api/setup/config").json()["service_public_key"], new)
        with sqlite3.connect(SERVER.state.db) as c:
            rows = c.execute("SELECT public_pem, retired_at FROM service_keys").fetchall()
        retired = [pem for pem, at in rows if at is not None]
        self.assertIn(old, retired)
        self.assertEqual([pem for pem, at in rows if at is None], [new])
        assert_error(self, call("POST", "/api/setup/keys/rotate", session=False), 401,
                     "unauthenticated")


class Status(unittest.TestCase):
    def test_shape(self):
        r = call("GET", "/api/setup/status")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"transfers": {"waiting": 0, "active": 0, "ended": 0},
                                    "undelivered_messages": 0, "last_zendesk_error": None,
                                    "last_webhook_at": None, "last_handoff_at": None,
                                    "schema_version": harness.LATEST_MIGRATION})
        assert_error(self, call("GET", "/api/setup/status", session=False), 401, "unauthenticated")


if __name__ == "__main__":
    sys.exit(harness.main())

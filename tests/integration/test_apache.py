"""deskbridge behind Apache httpd 2.4 with mod_fcgid, configured with conf/apache-httpd.conf
as the README documents: every mount reaches its handler, the headers and credentials
the handlers need get through, the pages are served; the same snippet runs the handlers
as plain CGI through mod_cgid; and a `make install DESTDIR=...` tree runs the same way."""

import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SERVER = None


def setUpModule():
    global SERVER
    SERVER = harness.ApacheServer().start()
    SERVER.state.admin("config", "set", "transfers_enabled", "true")
    SERVER.state.admin("config", "set", "zendesk.messaging.webhook_secret", "-", stdin="hook-secret\n")


class Apache(unittest.TestCase):
    def test_health_and_routing(self):
        r = SERVER.request("GET", "/api/health")
        self.assertEqual((r.status, r.json()), (200, {"ok": True, "db": "ok"}))
        self.assertEqual(r.header("Cache-Control"), "no-store")
        for path, handler in (("/api/setup/nothing", "setup"), ("/api/agent/nothing", "agent"),
                              ("/api/no-such-thing", "transfer")):
            assert_error(self, SERVER.request("GET", path), 404, "not_found")
        e = assert_error(self, SERVER.request("POST", "/api/health"), 405, "method_not_allowed")
        self.assertTrue(e["message"])
        self.assertTrue(SERVER.request("GET", "/api/public-key").body.startswith(b"-----BEGIN PUBLIC KEY-----"))
        deadline = time.time() + 5
        while time.time() < deadline and not re.search(r"setup\[\d+\] info: GET /api/setup/nothing 404", SERVER.log_text()):
            time.sleep(0.1)
        self.assertRegex(SERVER.log_text(), r"setup\[\d+\] info: GET /api/setup/nothing 404")

    def test_cookie_csrf_and_bearer_get_through(self):
        r = login(SERVER)
        self.assertEqual(r.status, 200, r.body)
        session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        self.assertEqual(SERVER.request("GET", "/api/setup/config", headers=session).status, 200)
        creds = SERVER.request("POST", "/api/setup/app-credentials", headers=session).json()["app_credentials"]
        t = SERVER.request("POST", "/api/transfers", body={"visitor": {"name": "Ana", "email": "ana@shop.example"}})
        self.assertEqual(t.status, 201, t.body)
        tid, secret = t.json()["id"], t.json()["secret"]
        poll = SERVER.request("GET", "/api/transfers/%s/events" % tid, headers={"Authorization": "Bearer " + secret})
        self.assertEqual(poll.status, 200)
        etag = poll.header("ETag")
        self.assertEqual(SERVER.request("GET", "/api/transfers/%s/events" % tid,
                                        headers={"Authorization": "Bearer " + secret,
                                                 "If-None-Match": etag}).status, 304)
        agent = SERVER.request("GET", "/api/agent/transfers/" + tid, headers={"Authorization": "Bearer " + creds})
        self.assertEqual(agent.status, 200, agent.body)
        hook = SERVER.request("POST", "/api/zendesk/webhook", body={"events": []},
                              headers={"X-API-Key": "hook-secret"})
        self.assertEqual(hook.status, 200, hook.body)
        assert_error(self, SERVER.request("POST", "/api/zendesk/webhook", body={"events": []}), 401, "unauthenticated")

    def test_limits_and_pages(self):
        e = assert_error(self, SERVER.request("POST", "/api/token", body={"token": "x" * (100 * 1024)}),
                         413, "payload_too_large")
        self.assertIn("65536", e["message"])
        r = SERVER.request("GET", "/setup/")
        self.assertEqual(r.status, 200)
        self.assertIn("frame-ancestors 'none'", r.header("Content-Security-Policy"))
        self.assertEqual(SERVER.request("GET", "/setup/setup.js").status, 200)

    def test_handlers_leave_with_apache(self):
        server = harness.ApacheServer().start()
        self.assertEqual(server.request("GET", "/api/health").status, 200)
        pids = server.handler_pids()
        self.assertTrue(pids)
        server.stop()
        self.assertEqual([p for p in pids if os.path.exists("/proc/%d/cmdline" % p)
                          and open("/proc/%d/cmdline" % p, "rb").read()], [])


class PlainCGI(unittest.TestCase):
    """The same snippet with Define DESKBRIDGE_PLAIN_CGI: every handler started by mod_cgid
    for each request, as plain CGI."""

    def test_smoke_through_every_handler(self):
        server = harness.ApacheServer(plain_cgi=True).start()
        try:
            admin = server.state.admin
            admin("config", "set", "transfers_enabled", "true")
            admin("config", "set", "zendesk.messaging.webhook_secret", "-", stdin="hook-secret\n")
            self.assertEqual(server.request("GET", "/api/health").json(), {"ok": True, "db": "ok"})
            self.assertTrue(server.request("GET", "/api/public-key").body.startswith(b"-----BEGIN PUBLIC KEY-----"))
            assert_error(self, server.request("POST", "/api/health"), 405, "method_not_allowed")
            r = login(server)
            self.assertEqual(r.status, 200, r.body)
            s = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
            creds = server.request("POST", "/api/setup/app-credentials", headers=s).json()["app_credentials"]
            t = server.request("POST", "/api/transfers", body={"visitor": {"name": "Ana", "email": "ana@shop.example"}})
            self.assertEqual(t.status, 201, t.body)
            auth = {"Authorization": "Bearer " + t.json()["secret"]}
            tid = t.json()["id"]
            m = server.request("POST", "/api/transfers/%s/messages" % tid, headers=auth,
                               body={"client_message_id": "c1", "text": "hello over plain CGI"})
            self.assertEqual(m.status, 202, m.body)
            events = server.request("GET", "/api/transfers/%s/events" % tid, headers=auth).json()["events"]
            self.assertEqual([e.get("text") for e in events if e["type"] == "message"], ["hello over plain CGI"])
            agent = server.request("GET", "/api/agent/transfers/" + tid, headers={"Authorization": "Bearer " + creds})
            self.assertEqual((agent.status, agent.json()["id"]), (200, tid))
            self.assertEqual(server.request("POST", "/api/zendesk/webhook", body={"events": []},
                                            headers={"X-API-Key": "hook-secret"}).status, 200)
            # No handler process outlives its request: that is what plain CGI means.
            self.assertEqual(server.handler_pids(), [])
        finally:
            server.stop()


class Installed(unittest.TestCase):
    def test_make_install_destdir_then_apache(self):
        dest = tempfile.mkdtemp(prefix="deskbridge-install-")
        p = subprocess.run(["make", "-C", harness.BUILDDIR, "install", "DESTDIR=" + dest],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        prefix = subprocess.run(["sed", "-n", "s/^prefix = //p", os.path.join(harness.BUILDDIR, "Makefile")],
                                capture_output=True, text=True).stdout.strip()
        root = dest + prefix
        share = os.path.join(root, "share", "deskbridge")
        admin = os.path.join(root, "sbin", "deskbridge-admin")
        self.assertTrue(os.access(admin, os.X_OK))
        state = harness.State(init=False)
        subprocess.run([admin, "--db", state.db, "--sql-dir", os.path.join(share, "sql"), "init"],
                       env=dict(os.environ, DESKBRIDGE_ADMIN_PASSWORD=harness.ADMIN_PASSWORD),
                       check=True, capture_output=True)
        paths = {"WWW": os.path.join(share, "www"), "CGI_BIN": os.path.join(root, "libexec", "deskbridge", "cgi-bin"),
                 "SQL_DIR": os.path.join(share, "sql"), "ZENDESK_APP_DIR": os.path.join(share, "zendesk-app"),
                 "CONF": os.path.join(share, "conf", "apache-httpd.conf")}
        for path in paths.values():
            self.assertTrue(os.path.exists(path), path)
        server = harness.ApacheServer(state=state, paths=paths).start()
        try:
            self.assertEqual(server.request("GET", "/api/health").json(), {"ok": True, "db": "ok"})
            self.assertEqual(server.request("GET", "/setup/").status, 200)
            r = login(server)
            self.assertEqual(r.status, 200)
            s = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
            self.assertEqual(server.request("PATCH", "/api/setup/config", headers=s, body={
                "deployment": {"public_url": "https://help.example.com"}}).status, 200)
            z = server.request("GET", "/api/setup/zendesk-app.zip", headers=s)
            self.assertEqual((z.status, z.body[:2]), (200, b"PK"))
        finally:
            server.stop()
            subprocess.run(["rm", "-rf", dest])


if __name__ == "__main__":
    sys.exit(harness.main())

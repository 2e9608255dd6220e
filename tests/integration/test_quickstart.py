"""./quickstart serve: the dev server starts, answers health on every route, prints the
generated admin password only on first start, and only once lighttpd listens; every
command it prints works as printed; the login page's hint covers a password from
DESKBRIDGE_ADMIN_PASSWORD; a second serve on a port in use says so and exits non-zero
before making a password; Ctrl-C stops everything it started, quietly."""

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def running_under(state_dir):
    """Processes whose environment names this dev server's state folder."""
    mark = ("DESKBRIDGE_DB=%s/deskbridge.db\0" % state_dir).encode()
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    if mark in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def login(port, password):
    req = urllib.request.Request("http://127.0.0.1:%d/api/setup/session" % port, method="POST",
                                 data=json.dumps({"password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def wait_printed(out, text, seconds=20):
    """What quickstart printed, once it has printed text: it prints the password only
    after it sees lighttpd listen, which may be after a client has been answered."""
    deadline = time.time() + seconds
    while True:
        out.seek(0)
        printed = out.read()
        if text in printed or time.time() > deadline:
            return printed
        time.sleep(0.1)


class Serve(unittest.TestCase):
    def setUp(self):
        self.base = tempfile.mkdtemp(prefix="deskbridge-serve-")
        self.addCleanup(shutil.rmtree, self.base, True)
        self.reports = os.path.join(self.base, "sanitizer")
        os.mkdir(self.reports)

    def popen(self, state_dir, port, password=""):
        env = dict(os.environ, PORT=str(port), STATE_DIR=state_dir,
                   DESKBRIDGE_ADMIN_PASSWORD=password, **harness.sanitizer_env(self.reports))
        out = open(os.path.join(os.path.dirname(state_dir), "serve-%d.out" % time.time_ns()), "w+")
        p = subprocess.Popen([os.path.join(harness.SRCDIR, "quickstart"), "serve"], env=env,
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return p, out

    def start(self, state_dir, port, password=""):
        p, out = self.popen(state_dir, port, password)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/api/health" % port, timeout=2) as r:
                    return p, out, r.status, r.read()
            except OSError:
                if p.poll() is not None:
                    break
                time.sleep(0.1)
        out.seek(0)
        self.fail("quickstart serve did not answer: " + out.read())

    def ctrl_c(self, p, state_dir):
        os.killpg(p.pid, signal.SIGINT)
        code = p.wait(timeout=20)
        # lighttpd has gone; its handlers finish their last request and exit (under
        # the sanitizer build, after the leak check).
        deadline = time.time() + 20
        while running_under(state_dir) and time.time() < deadline:
            time.sleep(0.1)
        return code

    def test_serve_and_stop(self):
        state_dir = os.path.join(self.base, "var")
        port = harness.free_port()
        p, out, status, body = self.start(state_dir, port)
        self.assertEqual(status, 200)
        self.assertEqual(body, b'{"ok":true,"db":"ok"}')
        for path in ("/api/public-key", "/setup/", "/webchat/"):
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
                self.assertEqual(r.status, 200, path)
        # The address it prints leads to the setup form.
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as r:
            self.assertEqual((r.status, r.url), (200, "http://127.0.0.1:%d/setup/" % port))
        self.assertGreaterEqual(len(running_under(state_dir)), 5)
        printed = wait_printed(out, "Ctrl-C stops")
        password = re.search(r"Admin password \(shown only this once\): (\S+)", printed).group(1)
        self.assertEqual(login(port, password), 200)
        # The command it prints for a new password works as printed.
        cmd = re.search(r"a new one: (.+)", printed).group(1)
        r = subprocess.run(shlex.split(cmd), input="a-new-admin-password\n", capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, **harness.sanitizer_env(self.reports)))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(login(port, password), 401)
        self.assertEqual(login(port, "a-new-admin-password"), 200)
        self.assertEqual(self.ctrl_c(p, state_dir), 0)
        self.assertEqual(running_under(state_dir), [])
        out.seek(0)
        first = out.read()
        self.assertEqual(first.count("Admin password (shown only this once)"), 1, first)
        self.assertLess(first.index("server started"), first.index("Admin password"), first)
        self.assertNotIn("Connection refused", first)
        self.assertNotIn("child exited", first)
        self.assertTrue(os.path.exists(os.path.join(state_dir, "deskbridge.db")))

        p, out, status, _ = self.start(state_dir, port)
        self.assertEqual(status, 200)
        self.ctrl_c(p, state_dir)
        out.seek(0)
        self.assertNotIn("Admin password", out.read())
        self.assertEqual(running_under(state_dir), [])
        leftovers = os.listdir(self.reports)
        self.assertEqual(leftovers, [], "sanitizer reports from the dev server")

    def test_password_from_the_environment_and_the_login_hint(self):
        state_dir = os.path.join(self.base, "var")
        port = harness.free_port()
        p, out, status, _ = self.start(state_dir, port, password="password-from-the-environment")
        self.assertEqual(status, 200)
        self.assertEqual(login(port, "password-from-the-environment"), 200)
        with urllib.request.urlopen("http://127.0.0.1:%d/setup/" % port, timeout=5) as r:
            page = r.read().decode()
        self.assertIn("DESKBRIDGE_ADMIN_PASSWORD", page)
        self.ctrl_c(p, state_dir)
        out.seek(0)
        self.assertNotIn("shown only this once", out.read())

    def test_port_in_use(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            state_dir = os.path.join(self.base, "var")
            p, out = self.popen(state_dir, port)
            code = p.wait(timeout=120)
        out.seek(0)
        printed = out.read()
        self.assertNotEqual(code, 0, printed)
        self.assertIn("127.0.0.1:%d is in use" % port, printed)
        self.assertNotIn("Admin password", printed)
        self.assertFalse(os.path.exists(os.path.join(state_dir, "deskbridge.db")), "a database was made")


if __name__ == "__main__":
    sys.exit(harness.main())

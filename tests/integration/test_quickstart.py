"""./quickstart serve: the dev server starts, answers health on every route, prints the
generated admin password only on first start, and Ctrl-C stops everything it started."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
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


class Serve(unittest.TestCase):
    def start(self, state_dir, port):
        env = dict(os.environ, PORT=str(port), STATE_DIR=state_dir,
                   DESKBRIDGE_ADMIN_PASSWORD="", **harness.sanitizer_env(self.reports))
        out = open(os.path.join(os.path.dirname(state_dir), "serve-%d.out" % time.time_ns()), "w+")
        p = subprocess.Popen([os.path.join(harness.SRCDIR, "quickstart"), "serve"], env=env,
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
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
        base = tempfile.mkdtemp(prefix="deskbridge-serve-")
        self.addCleanup(shutil.rmtree, base, True)
        self.reports = os.path.join(base, "sanitizer")
        os.mkdir(self.reports)
        state_dir = os.path.join(base, "var")
        port = harness.free_port()
        p, out, status, body = self.start(state_dir, port)
        self.assertEqual(status, 200)
        self.assertEqual(body, b'{"ok":true,"db":"ok"}')
        for path in ("/api/public-key", "/setup/", "/webchat/"):
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
                self.assertEqual(r.status, 200, path)
        self.assertGreaterEqual(len(running_under(state_dir)), 5)
        self.ctrl_c(p, state_dir)
        self.assertEqual(running_under(state_dir), [])
        out.seek(0)
        first = out.read()
        self.assertEqual(first.count("Admin password (shown only this once)"), 1, first)
        self.assertTrue(os.path.exists(os.path.join(state_dir, "deskbridge.db")))

        p, out, status, _ = self.start(state_dir, port)
        self.assertEqual(status, 200)
        self.ctrl_c(p, state_dir)
        out.seek(0)
        self.assertNotIn("Admin password", out.read())
        self.assertEqual(running_under(state_dir), [])
        leftovers = os.listdir(self.reports)
        self.assertEqual(leftovers, [], "sanitizer reports from the dev server")


if __name__ == "__main__":
    sys.exit(harness.main())

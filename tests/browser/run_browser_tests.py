#!/usr/bin/env python3
"""tests/browser/run_browser_tests.py — the pages in a real browser.

For each tests/browser/*.test.mjs (Node + playwright-core driving Debian's chromium),
or only those whose name contains the first argument: starts a fresh real deskbridge
(lighttpd + handlers, tests/integration/harness.py) and a fake Zendesk
(tests/fake_zendesk.py, its control routes under /_fake/), runs the script against them
and relays its TAP lines, one per check, so automake's tap-driver counts them. Adds
the harness's own check that no process left a sanitizer report, prints the plan, and
exits non-zero when anything failed.

The script gets DESKBRIDGE_BASE_URL, DESKBRIDGE_ADMIN_PASSWORD, DESKBRIDGE_DB (the SQLite
file, for a script that seeds a history no test can wait for), FAKE_ZENDESK_URL (with
FAKE_ZENDESK_APP_ID, _KEY_ID, _KEY_SECRET, _API_USER, _API_TOKEN, _WEBHOOK_SECRET) and
BROWSER_OUTPUT_DIR; deskbridge starts unconfigured.
"""

import os
import re
import secrets
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
sys.path.insert(0, os.path.join(HERE, ".."))
from fake_zendesk import FakeZendesk  # noqa: E402

NODE_TIMEOUT_S = 300
TAP_LINE = re.compile(r"^(ok|not ok) \d+( - .*)?$")


def run_script(script, line):
    """Runs one browser test script against its own deskbridge and fake Zendesk; returns
    whether the script itself reported a failure."""
    try:
        server = harness.Server().start()
    except Exception as e:  # noqa: BLE001 — reported as a failed check
        line(False, "start deskbridge (lighttpd and the handlers)", str(e))
        return
    # Random credentials: a test may look for them where they must not be (the page).
    tag = secrets.token_hex(6)
    fake = FakeZendesk(key_secret="keysecret-%s-A" % tag, api_token="apitoken-%s-B" % tag).start()
    fake.webhook_url = "http://127.0.0.1:%d/api/zendesk/webhook" % server.port
    fake.webhook_secret = "browser-test-webhook-secret"
    run_node(script, script_env("http://127.0.0.1:%d" % server.port, server, fake), line)
    fake.stop()
    rc = server.stop()
    line(rc == 0, "lighttpd stopped cleanly after %s" % os.path.basename(script),
         "exit code %s" % rc if rc != 0 else None)
    if rc != 0:
        print("# lighttpd log:\n" + "\n".join("# " + t for t in server.log_text().splitlines()[-20:]))


def script_env(base_url, server, fake):
    """What a script gets: where deskbridge is, its database, the admin password, the
    fake Zendesk."""
    env = dict(os.environ)
    env.update({
        "DESKBRIDGE_BASE_URL": base_url,
        "DESKBRIDGE_ADMIN_PASSWORD": harness.ADMIN_PASSWORD,
        "DESKBRIDGE_DB": server.state.db,
        "FAKE_ZENDESK_URL": fake.url, "FAKE_ZENDESK_APP_ID": fake.app_id,
        "FAKE_ZENDESK_KEY_ID": fake.key_id, "FAKE_ZENDESK_KEY_SECRET": fake.key_secret,
        "FAKE_ZENDESK_API_USER": fake.api_user, "FAKE_ZENDESK_API_TOKEN": fake.api_token,
        "FAKE_ZENDESK_WEBHOOK_SECRET": fake.webhook_secret,
        # Under the build folder: the sources may be read-only (make distcheck).
        "BROWSER_OUTPUT_DIR": os.environ.get("BROWSER_OUTPUT_DIR")
        or os.path.join(harness.BUILDDIR, "tests", "browser", "output"),
    })
    return env


def run_node(script, env, line):
    """Runs the Node script and relays its TAP lines through line()."""
    name = os.path.basename(script)
    script_failed = False
    try:
        p = subprocess.Popen(["node", script], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, cwd=harness.BUILDDIR)
    except OSError as e:
        line(False, "run node " + script, str(e))
        p = None
    if p:
        try:
            for raw in p.stdout:
                text = raw.rstrip("\n")
                m = TAP_LINE.match(text)
                if m:
                    # Renumbered: this script adds its own lines to the same plan.
                    script_failed |= m.group(1) != "ok"
                    line(m.group(1) == "ok", (m.group(2) or " - ")[3:])
                elif re.match(r"^1\.\.\d+$", text):
                    pass
                else:
                    print(text if text.startswith("#") else "# " + text, flush=True)
            rc = p.wait(timeout=NODE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
            line(False, "%s finished within %d s" % (name, NODE_TIMEOUT_S))
        if rc != 0 and not script_failed:
            line(False, "%s exited cleanly" % name, "exit code %d" % rc)


def run_scripts(scripts, run=None):
    """Runs each script as run (by default run_script) does, then the sanitizer check,
    printing TAP; returns the exit status."""
    n = 0
    failed = False

    def line(ok, name, detail=None):
        nonlocal n, failed
        n += 1
        failed |= not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", n, name), flush=True)
        for d in (detail or "").rstrip().splitlines():
            print("# " + d, flush=True)

    for script in scripts:
        (run or run_script)(script, line)
    reports = [r for st in harness.State.registry for r in st.sanitizer_reports()]
    detail = "".join(open(r, errors="replace").read() for r in reports[:3])
    line(not reports, "no sanitizer reports from any process", detail)
    print("1..%d" % n, flush=True)
    for st in harness.State.registry:
        st.remove()
    return 1 if failed else 0


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    return run_scripts([os.path.join(HERE, f) for f in sorted(os.listdir(HERE))
                        if f.endswith(".test.mjs") and only in f])

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""tests/browser/run_browser_tests.py — the admin setup form in a real browser.

Starts the real deskbridge (lighttpd + handlers, tests/integration/harness.py), runs
tests/browser/setup_form.test.mjs (Node + playwright-core driving Debian's chromium)
against it, and relays its TAP lines, one per check, so automake's tap-driver counts
them. Adds the harness's own check that no process left a sanitizer report, prints
the plan, and exits non-zero when anything failed.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

NODE_TIMEOUT_S = 300
TAP_LINE = re.compile(r"^(ok|not ok) \d+( - .*)?$")


def main():
    n = 0
    failed = False

    def line(ok, name, detail=None):
        nonlocal n, failed
        n += 1
        failed |= not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", n, name), flush=True)
        for d in (detail or "").rstrip().splitlines():
            print("# " + d, flush=True)

    server = None
    try:
        server = harness.Server().start()
    except Exception as e:  # noqa: BLE001 — reported as a failed check
        line(False, "start deskbridge (lighttpd and the handlers)", str(e))
    if server:
        env = dict(os.environ)
        env.update({
            "DESKBRIDGE_BASE_URL": "http://127.0.0.1:%d" % server.port,
            "DESKBRIDGE_ADMIN_PASSWORD": harness.ADMIN_PASSWORD,
            # Under the build folder: the sources may be read-only (make distcheck).
            "BROWSER_OUTPUT_DIR": os.environ.get("BROWSER_OUTPUT_DIR")
            or os.path.join(harness.BUILDDIR, "tests", "browser", "output"),
        })
        script = os.path.join(HERE, "setup_form.test.mjs")
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
                        line(m.group(1) == "ok", (m.group(2) or " - ")[3:])
                    elif re.match(r"^1\.\.\d+$", text):
                        pass
                    else:
                        print(text if text.startswith("#") else "# " + text, flush=True)
                rc = p.wait(timeout=NODE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = p.wait()
                line(False, "browser test finished within %d s" % NODE_TIMEOUT_S)
            if rc != 0 and not failed:
                line(False, "browser test script exited cleanly", "exit code %d" % rc)
        rc = server.stop()
        line(rc == 0, "lighttpd stopped cleanly", "exit code %s" % rc if rc != 0 else None)
        if rc != 0:
            print("# lighttpd log:\n" + "\n".join("# " + t for t in server.log_text().splitlines()[-20:]))
    reports = [r for st in harness.State.registry for r in st.sanitizer_reports()]
    detail = "".join(open(r, errors="replace").read() for r in reports[:3])
    line(not reports, "no sanitizer reports from any process", detail)
    print("1..%d" % n, flush=True)
    for st in harness.State.registry:
        st.remove()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

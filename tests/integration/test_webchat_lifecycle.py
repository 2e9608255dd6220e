#!/usr/bin/env python3
"""tests/integration/test_webchat_lifecycle.py — deskbridge-webchat.js through a mock chat
host that keeps IBM Web Chat's and Carbon AI Chat's rules, in Node
(tests/webchat/lifecycle.test.mjs), against the real deskbridge and the fake Zendesk.

run_browser_tests.py sets those up and relays a Node script's TAP; the script needs no
browser, so it is run here, on its own, rather than among the browser tests.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "browser"))
import run_browser_tests  # noqa: E402

SCRIPT = os.path.join(HERE, "..", "webchat", "lifecycle.test.mjs")


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

    run_browser_tests.run_script(SCRIPT, line)
    reports = [r for st in run_browser_tests.harness.State.registry for r in st.sanitizer_reports()]
    line(not reports, "no sanitizer reports from any process",
         "".join(open(r, errors="replace").read() for r in reports[:3]))
    print("1..%d" % n, flush=True)
    for st in run_browser_tests.harness.State.registry:
        st.remove()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

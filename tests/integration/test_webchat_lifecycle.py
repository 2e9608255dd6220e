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
    return run_browser_tests.run_scripts([SCRIPT])


if __name__ == "__main__":
    sys.exit(main())

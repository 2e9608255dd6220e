#!/usr/bin/env python3
"""bench/webchat_poll_cost.py — what the Web Chat library costs deskbridge per visitor.

Starts the real deskbridge (lighttpd + handlers) and the fake Zendesk, then runs
bench/webchat_poll_cost.mjs: the library (www/webchat/deskbridge-webchat.js) in Node, as
several visitors at once for --seconds (default 60): one waiting in the queue with
nothing happening, one in a chat where nobody writes, one in a lively chat (the agent
and the visitor each write every 10 s, the visitor types before each message), and one
whose tab is hidden. It counts every HTTP request each makes and prints requests per
minute, and the verdict on the target: an idle waiting visitor at or under 30 a minute.

Usage: bench/webchat_poll_cost.py [--build DIR] [--seconds N]
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    os.environ["DESKBRIDGE_BUILDDIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
    sys.path.insert(0, os.path.join(SRCDIR, "tests"))
    import harness
    from fake_zendesk import FakeZendesk

    server = harness.Server().start()
    fake = FakeZendesk().start()
    harness.connect_zendesk(server, fake, "bench-webhook-secret")
    env = dict(os.environ, DESKBRIDGE_BASE_URL="http://127.0.0.1:%d" % server.port,
               FAKE_ZENDESK_URL=fake.url, BENCH_SECONDS=str(args.seconds), DESKBRIDGE_SRCDIR=SRCDIR)
    try:
        rc = subprocess.run(["node", os.path.join(HERE, "webchat_poll_cost.mjs")], env=env).returncode
    finally:
        fake.stop()
        server.stop()
        server.state.remove()
    return rc


if __name__ == "__main__":
    sys.exit(main())

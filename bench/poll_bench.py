#!/usr/bin/env python3
"""bench/poll_bench.py — the polling path through lighttpd, measured against a
hello-world FastCGI handler behind the same lighttpd with the same process count.

Runs wrk (Debian package wrk) against:
  hello       GET /bench/hello        (bench/hello.c, ending connections as libfcgi does)
  hello-close GET /bench/hello-close  (the same, closing at once as deskbridge's handlers do)
  poll        GET /api/transfers/{id}/events?after=N   (authenticated, N = the latest
              event, so nothing new; the transfer is active, an agent has joined)
  poll-304    the same with If-None-Match                (answered 304)
first on a database with one transfer, then with 10,000 transfers and 1,000,000 events,
and prints requests/s, p99 latency, and the ratios (deskbridge / hello; large / small), each
the median of --rounds interleaved runs.

Usage: bench/poll_bench.py [--build DIR] [--seconds N] [--rounds N] [--procs N] [--connections N]
"""

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
sys.path.insert(0, os.path.join(SRCDIR, "tests"))


def wrk(url, seconds, connections, headers=()):
    cmd = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency", url]
    for h in headers:
        cmd[1:1] = ["-H", h]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


def fill(db, transfers, events_total):
    """Adds transfers with events straight into SQLite: the shape the handlers write."""
    per = events_total // transfers
    now = int(time.time())
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA synchronous=OFF")
        for t in range(transfers):
            tid = "tr_bench%016x" % t
            c.execute("INSERT INTO transfers (id, secret_hash, state, visitor_external_id, visitor_name,"
                      " visitor_email, next_seq, created_at, updated_at, last_activity_at, agent_joined_at)"
                      " VALUES (?, zeroblob(32), 'active', ?, 'Bench', 'b@bench.example', ?, ?, ?, ?, ?)",
                      (tid, "bench-%d" % t, per, now, now, now, now))
            c.executemany("INSERT INTO events (transfer_id, seq, type, data, created_at) VALUES (?, ?, 'message', ?, ?)",
                          ((tid, s, '{"from":"agent","id":"m","text":"hello there"}', now) for s in range(1, per + 1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(SRCDIR, "build"))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.environ["DESKBRIDGE_BUILDDIR"] = args.build
    import harness
    from fake_zendesk import FakeZendesk

    hello = os.path.join(args.build, "bench", "hello")
    if not os.access(hello, os.X_OK):
        sys.exit("build the baseline first: make -C %s bench/hello" % args.build)
    server = harness.Server(procs=args.procs, env={"DESKBRIDGE_SRCDIR": SRCDIR,
                                                     "DESKBRIDGE_BENCH_HELLO": hello})
    server.config = os.path.join(HERE, "lighttpd-bench.conf")
    server.start()
    # A transfer as it is while a chat goes on: handed over, an agent talking, nothing
    # waiting in its outbox (a transfer whose handoff cannot be delivered makes every poll
    # try again).
    fake = FakeZendesk().start()
    try:
        harness.connect_zendesk(server, fake)
        r = server.request("POST", "/api/transfers", body={"visitor": {"name": "B", "email": "b@bench.example"}})
        t = r.json()
        deadline = time.time() + 30
        while not any(c["control"] for c in list(fake.conversations.values())) and time.time() < deadline:
            server.request("GET", "/api/transfers/%s/events" % t["id"], headers={"Authorization": "Bearer " + t["secret"]})
            time.sleep(0.1)
        cid = next(c for c in fake.conversations.values() if c["control"])["id"]
        fake.workspace_accepts(cid)
        fake.agent_says(cid, "Hi, how can I help?")
        # The visitor has every event so far: each poll asks for what comes after them.
        path = "/api/transfers/%s/events" % t["id"]
        state = server.request("GET", path + "?after=0", headers={"Authorization": "Bearer " + t["secret"]}).json()
        if state["state"] != "active":
            sys.exit("the bench transfer is %s, not active" % state["state"])
        path += "?after=%d" % state["next"]
        etag = server.request("GET", path, headers={"Authorization": "Bearer " + t["secret"]}).header("ETag")
        base = "http://127.0.0.1:%d" % server.port
        auth = "Authorization: Bearer " + t["secret"]
        poll = base + path
        rows = []

        def measure(label):
            # Rounds of the four, interleaved, and the median of each: the machine's pace
            # drifts by a tenth within a minute, which one run of each would take as a result.
            runs = [(wrk(base + "/bench/hello", args.seconds, args.connections),
                     wrk(base + "/bench/hello-close", args.seconds, args.connections),
                     wrk(poll, args.seconds, args.connections, [auth]),
                     wrk(poll, args.seconds, args.connections, [auth, "If-None-Match: " + etag]))
                    for _ in range(args.rounds)]
            rows.append((label,) + tuple(tuple(statistics.median(r[k][f] for r in runs) for f in range(3))
                                         for k in range(4)))

        measure("1 transfer")
        fill(server.state.db, 10000, 1000000)
        measure("10,000 transfers, 1,000,000 events")
    finally:
        fake.stop()
        server.stop()
        server.state.remove()

    print("%-36s %10s %12s %10s %12s" % ("database", "hello rps", "hello-close", "poll rps", "poll-304 rps"))
    for label, h, c, p, n in rows:
        print("%-36s %10.0f %12.0f %10.0f %12.0f" % (label, h[0], c[0], p[0], n[0]))
    print()
    for label, h, c, p, n in rows:
        print("%s:\n  poll/hello = %.2f, poll-304/hello = %.2f (the target, 0.8, is against hello)\n"
              "  poll/hello-close = %.2f, poll-304/hello-close = %.2f (deskbridge's own work alone)\n"
              "  p99 ms: hello %.2f, hello-close %.2f, poll %.2f, poll-304 %.2f; non-2xx/3xx: %d"
              % (label, p[0] / h[0], n[0] / h[0], p[0] / c[0], n[0] / c[0], h[1], c[1], p[1], n[1],
                 h[2] + c[2] + p[2] + n[2]))
    small, large = rows
    print("large/small database: poll %.2f, poll-304 %.2f (each as a ratio to its own hello run)"
          % ((large[3][0] / large[1][0]) / (small[3][0] / small[1][0]),
             (large[4][0] / large[1][0]) / (small[4][0] / small[1][0])))

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/poll_bench.py — the polling path through lighttpd, measured against a
hello-world FastCGI handler behind the same lighttpd with the same process count.

Runs wrk (Debian package wrk) against:
  hello       GET /bench/hello        (bench/hello.c, ending connections as libfcgi does)
  hello-close GET /bench/hello-close  (the same, closing at once as deskbridge's handlers do)
  poll        GET /api/transfers/{id}/events?after=N   (authenticated, N = the latest
              event, so nothing new; the transfer is active, an agent has joined)
  poll-304    the same with If-None-Match                (answered 304)
on two deskbridges up at once, one with a database of one transfer, one with 10,000
transfers and 1,000,000 events, in --rounds interleaved rounds. Prints requests/s and p99
latency, and the ratios (deskbridge / hello; large / small), each taken within a round;
every figure is the median over the rounds.

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


def wrk(url, seconds, connections, headers=(), script=None, env=None):
    """(requests/s, p99 ms, non-2xx/3xx responses) of wrk against url; script is a wrk
    Lua script (bench/token.lua), env its environment."""
    cmd = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency", url]
    for h in headers:
        cmd[1:1] = ["-H", h]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
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


def bench_transfer(server, fake):
    """A transfer as it is while a chat goes on: handed over, an agent talking, nothing
    waiting in its outbox (a transfer whose handoff cannot be delivered makes every poll
    try again). Returns the poll's URL, its Authorization header and the ETag of its
    answer."""
    import harness
    harness.connect_zendesk(server, fake)
    t = server.request("POST", "/api/transfers", body={"visitor": {"name": "B", "email": "b@bench.example"}}).json()
    auth = {"Authorization": "Bearer " + t["secret"]}
    path = "/api/transfers/%s/events" % t["id"]
    deadline = time.time() + 30
    while not any(c["control"] for c in list(fake.conversations.values())) and time.time() < deadline:
        server.request("GET", path, headers=auth)
        time.sleep(0.1)
    cid = next(c for c in fake.conversations.values() if c["control"])["id"]
    fake.workspace_accepts(cid)
    fake.agent_says(cid, "Hi, how can I help?")
    # The visitor has every event so far: each poll asks for what comes after them.
    state = server.request("GET", path + "?after=0", headers=auth).json()
    if state["state"] != "active":
        sys.exit("the bench transfer is %s, not active" % state["state"])
    path += "?after=%d" % state["next"]
    etag = server.request("GET", path, headers=auth).header("ETag")
    return "http://127.0.0.1:%d%s" % (server.port, path), "Authorization: " + auth["Authorization"], etag


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
    labels = ("1 transfer", "10,000 transfers, 1,000,000 events")
    servers, fakes = [], []
    try:
        # One deskbridge per database, both up at once, so that their rounds interleave:
        # the machine's pace drifts by a tenth within a minute, which measuring one
        # database after the other would take for the database's doing.
        for _ in labels:
            server = harness.Server(procs=args.procs, env={"DESKBRIDGE_SRCDIR": SRCDIR,
                                                             "DESKBRIDGE_BENCH_HELLO": hello})
            server.config = os.path.join(HERE, "lighttpd-bench.conf")
            servers.append(server.start())
            fakes.append(FakeZendesk().start())
        targets = [bench_transfer(server, fake) for server, fake in zip(servers, fakes)]
        fill(servers[1].state.db, 10000, 1000000)
        os.sync()   # the fill's pages reach the disk now, not while wrk measures

        def measure(server, poll, auth, etag):
            base = "http://127.0.0.1:%d" % server.port
            return (wrk(base + "/bench/hello", args.seconds, args.connections),
                    wrk(base + "/bench/hello-close", args.seconds, args.connections),
                    wrk(poll, args.seconds, args.connections, [auth]),
                    wrk(poll, args.seconds, args.connections, [auth, "If-None-Match: " + etag]))

        runs = [[measure(server, *target) for server, target in zip(servers, targets)]
                for _ in range(args.rounds)]
    finally:
        for fake in fakes:
            fake.stop()
        for server in servers:
            server.stop()
            server.state.remove()

    # runs[round][database][kind] = (requests/s, p99 ms, non-2xx); every ratio is taken
    # within one round, then the median over the rounds.
    def median(f):
        return statistics.median(f(r) for r in runs)

    print("%-36s %10s %12s %10s %12s   (medians of %d rounds)"
          % ("database", "hello rps", "hello-close", "poll rps", "poll-304 rps", len(runs)))
    for d, label in enumerate(labels):
        print("%-36s %10.0f %12.0f %10.0f %12.0f" % ((label,) + tuple(median(lambda r: r[d][k][0])
                                                                     for k in range(4))))
    print()
    for d, label in enumerate(labels):
        print("%s:\n  poll/hello = %.2f, poll-304/hello = %.2f (the target, 0.8, is against hello)\n"
              "  poll/hello-close = %.2f, poll-304/hello-close = %.2f (deskbridge's own work alone)\n"
              "  p99 ms: hello %.2f, hello-close %.2f, poll %.2f, poll-304 %.2f; non-2xx/3xx: %d"
              % ((label,) + tuple(median(lambda r: r[d][k][0] / r[d][base][0]) for k, base in
                                  ((2, 0), (3, 0), (2, 1), (3, 1)))
                 + tuple(median(lambda r: r[d][k][1]) for k in range(4))
                 + (sum(r[d][k][2] for r in runs for k in range(4)),)))
    print("large/small database: poll %.2f, poll-304 %.2f (each as a ratio to its own hello run)"
          % tuple(median(lambda r: (r[1][k][0] / r[1][0][0]) / (r[0][k][0] / r[0][0][0])) for k in (2, 3)))


if __name__ == "__main__":
    main()

"""tests/integration/dashboard_seed.py — a day of history for the setup page's Status
view (GET /api/setup/dashboard), shared by test_dashboard.py and the browser test
(tests/browser/dashboard.test.mjs runs it as a script).

The rows are written with sqlite3 straight into deskbridge's tables, as deskbridge's own
paths would have left them: a test cannot wait 24 hours for transfers to age, and
deskbridge has no path that writes a past time. The hourly delivery failures go into the
counters file's ring as lib/metrics.c keeps it (slot = Unix hour % 48).

    python3 dashboard_seed.py DB   seeds DB, prints {"seeded_at": now} and what it seeded
"""

import glob
import json
import os
import sqlite3
import sys
import time

OUTCOMES = ("agent_joined", "no_agent", "idle", "ended_before_agent", "handoff_failed", "waiting")

# (hours before the current hour, outcome, state, ended reason or None, wait for the
# agent in seconds or None). No row in the oldest hour of the window, which a clock
# reaching the next hour would push out; the one 25 hours back is outside it.
TRANSFERS = [
    (1, "agent_joined", "ended", "visitor_left", 10),
    (1, "agent_joined", "ended", "visitor_left", 20),
    (1, "agent_joined", "ended", "ticket_closed", 30),
    (1, "no_agent", "ended", "no_agent", None),
    (2, "idle", "ended", "idle", 40),
    (2, "idle", "ended", "idle", None),
    (2, "handoff_failed", "ended", "handoff_failed", None),
    (5, "ended_before_agent", "ended", "visitor_left", None),
    (5, "ended_before_agent", "ended", "released", None),
    (8, "agent_joined", "active", None, 50),
    (8, "agent_joined", "active", None, 60),
    (8, "agent_joined", "ended", "released", 70),
    (8, "agent_joined", "ended", "visitor_left", 80),
    (12, "waiting", "waiting", None, None),
    (20, "agent_joined", "ended", "ticket_closed", 90),
    (20, "agent_joined", "ended", "passed_on", 600),
    (25, None, "ended", "visitor_left", 5),
]
# Nearest rank over the ten waits inside the window: 10, 20, ..., 90, 600.
WAITS = {"joined": 10, "p50": 50, "p90": 90, "p99": 600}
# (hours before the current hour, failed deliveries); the last left in the slot of 6
# hours back by an hour two days ago, which the ring has not reused yet.
FAILURES = [(3, 5), (4, 2), (54, 9)]
# Ages of the deliveries still waiting, in seconds (the oldest's age is reported).
PENDING_AGES = (600, 300, 60)


def counters_file(db):
    found = sorted(glob.glob(db + "-counters*"))
    found = [f for f in found if not f.endswith(("-wal", "-shm", "-journal"))]
    assert found, "no counters file beside %s: no handler has opened it yet" % db
    return found[0]


def seed(db, now=None):
    """Writes the history; returns now and, per hour back, the count of each outcome."""
    now = int(now or time.time())
    hour = now // 3600 * 3600
    expected = {}
    with sqlite3.connect(db, timeout=10) as c:
        for n, (back, outcome, state, reason, wait) in enumerate(TRANSFERS):
            created = hour - back * 3600 + 60 + n
            tid = "seed%08d" % n
            ended = created + 700 if state == "ended" else None
            joined = created + wait if wait is not None else None
            c.execute("INSERT INTO transfers (id, secret_hash, state, created_at, updated_at,"
                      " last_activity_at, ended_at, agent_joined_at, next_seq)"
                      " VALUES (?, x'00', ?, ?, ?, ?, ?, ?, 2)",
                      (tid, state, created, created, created, ended, joined))
            c.execute("INSERT INTO events (transfer_id, seq, type, data, created_at)"
                      " VALUES (?, 1, 'queued', '{}', ?)", (tid, created))
            if reason:
                c.execute("INSERT INTO events (transfer_id, seq, type, data, created_at)"
                          " VALUES (?, 2, 'ended', ?, ?)",
                          (tid, json.dumps({"by": "system", "reason": reason}), ended))
            if outcome:
                expected.setdefault(back, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
        waiting = "seed%08d" % [t[1] for t in TRANSFERS].index("waiting")
        for age in PENDING_AGES:
            c.execute("INSERT INTO outbox (transfer_id, kind, payload, state, next_attempt_at, created_at)"
                      " VALUES (?, 'message', '{}', 'pending', ?, ?)", (waiting, now + 86400, now - age))
        for state in ("sent", "failed"):
            c.execute("INSERT INTO outbox (transfer_id, kind, payload, state, next_attempt_at, created_at)"
                      " VALUES (?, 'message', '{}', ?, ?, ?)", (waiting, state, now - 5000, now - 5000))
    with sqlite3.connect(counters_file(db), timeout=10) as c:
        for back, count in FAILURES:
            h = hour // 3600 - back
            c.execute("INSERT OR REPLACE INTO delivery_failures (slot, hour, count) VALUES (?, ?, ?)",
                      (h % 48, h, count))
    return {"seeded_at": now, "transfers_by_hours_back": {str(k): v for k, v in expected.items()},
            "failures_by_hours_back": {str(b): n for b, n in FAILURES if b < 24},
            "wait_s": WAITS, "pending": len(PENDING_AGES), "oldest_pending_age_s": max(PENDING_AGES)}


def main():
    print(json.dumps(seed(sys.argv[1])))


if __name__ == "__main__":
    main()

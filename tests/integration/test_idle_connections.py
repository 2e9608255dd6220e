"""Half-sent requests cannot shut other visitors out (a security finding: about 1,400
connections from one address, each sending a header line every 20 s, held lighttpd's
whole connection limit at about 700 bytes/s, so no poll got through).

Each server runs with its shipped configuration and short timeouts set the way an
operator sets them (lighttpd: DESKBRIDGE_HEADER_TIMEOUT=2 and a limit of 40
connections; Apache: DESKBRIDGE_HEADER_TIMEOUT=2, DESKBRIDGE_HEADER_DEADLINE=3 and 20
workers). From 127.0.0.1, more connections than that limit send a request line and
trickle header lines, reconnecting whenever the server closes one; meanwhile a visitor
on 127.0.0.2 polls, and every poll must be answered.

lighttpd 1.4.69 bounds the gap between reads, not a request's whole time, so there the
attack trickles at twice the timeout, as the finding's did against the old 60 s default,
and a connection that trickles so must be closed within the timeout (plus lighttpd's
once-a-second check). Apache's mod_reqtimeout bounds the whole header, so there the
attack trickles a line a second, and such a connection must still be closed by the
deadline. The polls wait in the kernel's queue of connections with the attacker's
reconnections, so they are slow, but answered. Prints the figures."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECONDS = 12
ATTACKER, VISITOR = "127.0.0.1", "127.0.0.2"


class Attack:
    """Connections from one address, each a request line and then one header line per
    interval, reopened when the server closes them."""

    def __init__(self, port, count, interval):
        self.port, self.count, self.interval = port, count, interval
        self.lifetimes = []     # (seconds open, header lines sent) of each closed connection
        self.opened = 0
        self.stop = threading.Event()

    def open(self):
        s = socket.socket()
        s.bind((ATTACKER, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", self.port))
        s.sendall(b"GET /api/health HTTP/1.1\r\nHost: deskbridge\r\n")
        s.setblocking(False)
        self.opened += 1
        now = time.monotonic()
        return {"sock": s, "since": now, "next": now + self.interval, "lines": 0}

    def closed(self, c):
        try:
            data = c["sock"].recv(4096)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True if not data else self.closed_after_answer(c)

    def closed_after_answer(self, c):
        # Apache answers 408 before it closes; the close follows.
        c["sock"].setblocking(True)
        c["sock"].settimeout(5)
        try:
            while c["sock"].recv(4096):
                pass
        except OSError:
            pass
        return True

    def run(self):
        conns = [self.open() for _ in range(self.count)]
        while not self.stop.is_set():
            now = time.monotonic()
            for k, c in enumerate(conns):
                if self.closed(c):
                    self.lifetimes.append((now - c["since"], c["lines"]))
                    c["sock"].close()
                    conns[k] = self.open()
                elif now >= c["next"]:
                    try:
                        c["sock"].send(b"X-Trickle-%d: still here\r\n" % c["lines"])
                        c["lines"] += 1
                    except OSError:
                        pass
                    c["next"] = now + self.interval
            time.sleep(0.05)
        for c in conns:
            c["sock"].close()


def visitor_polls(test, server, seconds):
    """Polls from the visitor's address for that long, each one answered; their latencies."""
    latencies, deadline = [], time.time() + seconds
    while time.time() < deadline:
        start = time.monotonic()
        r = server.request("GET", "/api/health", source=VISITOR, timeout=30)
        latencies.append(time.monotonic() - start)
        test.assertEqual(r.status, 200, r.body)
        time.sleep(0.2)
    return latencies


class IdleConnections:
    def test_half_sent_requests_from_one_address_do_not_shut_others_out(self):
        attack = Attack(self.server.port, self.connections, self.interval)
        t = threading.Thread(target=attack.run)
        t.start()
        self.addCleanup(t.join, 30)
        self.addCleanup(attack.stop.set)
        time.sleep(1)
        latencies = visitor_polls(self, self.server, SECONDS)
        attack.stop.set()
        t.join(30)
        lives = sorted(life for life, _ in attack.lifetimes)
        print("# %s: attack connections %d at once, %d opened, %d closed by the server (open %.1f to %.1f s, "
              "up to %d header lines each); polls from another address %d, all answered, p50 %.2f s, max %.2f s"
              % (type(self).__name__, self.connections, attack.opened, len(lives), lives[0] if lives else 0,
                 lives[-1] if lives else 0, max((n for _, n in attack.lifetimes), default=0), len(latencies),
                 sorted(latencies)[len(latencies) // 2], max(latencies)), flush=True)
        self.assertGreaterEqual(len(lives), self.connections, "the server closed too few trickling connections")
        self.assertGreaterEqual(len(latencies), 2)

    def test_a_trickling_request_is_closed_after_the_timeout(self):
        attack = Attack(self.server.port, 1, self.interval)
        c = attack.open()
        while not attack.closed(c) and time.monotonic() - c["since"] < 30:
            if time.monotonic() >= c["next"]:
                c["sock"].send(b"X-Trickle-%d: still here\r\n" % c["lines"])
                c["lines"] += 1
                c["next"] += self.interval
            time.sleep(0.05)
        life = time.monotonic() - c["since"]
        c["sock"].close()
        print("# %s: a request trickling a header line every %.0f s closed after %.1f s, %d lines"
              % (type(self).__name__, self.interval, life, c["lines"]), flush=True)
        self.assertGreaterEqual(life, self.closed_within[0])
        self.assertLess(life, self.closed_within[1])
        self.assertGreaterEqual(c["lines"], self.lines_before_close)


class Lighttpd(IdleConnections, unittest.TestCase):
    connections, interval = 60, 4.0
    closed_within = (2, 2 + 1.5)     # the timeout, plus lighttpd's check once a second
    lines_before_close = 0

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(env={"DESKBRIDGE_HEADER_TIMEOUT": "2",
                                         "DESKBRIDGE_MAX_CONNECTIONS": "40"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


class Apache(IdleConnections, unittest.TestCase):
    connections, interval = 40, 1.0
    closed_within = (2, 3 + 1)       # the deadline (mod_reqtimeout checks on each read)
    lines_before_close = 2

    @classmethod
    def setUpClass(cls):
        cls.server = harness.ApacheServer(conf=[
            "Define DESKBRIDGE_HEADER_TIMEOUT 2", "Define DESKBRIDGE_HEADER_DEADLINE 3",
            "StartServers 2", "ServerLimit 2", "ThreadsPerChild 10", "MaxRequestWorkers 20"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


if __name__ == "__main__":
    sys.exit(harness.main())

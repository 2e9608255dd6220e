"""One address holds at most its share of connections (the rest of the idle-connections
finding: lighttpd 1.4.69 and Apache 2.4 as Debian 12 ships them bound how long a request
may idle, not how many connections one address holds, so a client trickling a byte just
inside the timeout on every connection could still fill the server).

conf/deskbridge.nft, loaded as an operator loads it (its port and per-address figure
edited, here to the test server's port and 10), refuses an address's connections beyond
that figure with a TCP reset. lighttpd runs with its shipped configuration and its
default header timeout; from 127.0.0.1, sixty connections are tried and each one that
opens sends a request line, then a header line every 5 s (inside the 10 s timeout, so
none is ever closed); meanwhile a visitor on 127.0.0.2 polls, and every poll must be
answered at once. Needs root (CAP_NET_ADMIN) and nft, and fails without them."""

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_idle_connections import ATTACKER, visitor_polls  # noqa: E402

PER_ADDRESS, TRIED, SECONDS = 10, 60, 12
TABLE = "deskbridge_test_%d" % os.getpid()


def load_rules(port):
    """The shipped rules, edited as the file's header says, under a table of this test's."""
    text = open(os.path.join(harness.SRCDIR, "conf", "deskbridge.nft")).read()
    text, ports = re.subn(r"(?m)^define deskbridge_port = \d+$", "define deskbridge_port = %d" % port, text)
    text, limits = re.subn(r"ct count over 256\b", "ct count over %d" % PER_ADDRESS, text)
    text, tables = re.subn(r"(?m)^table inet deskbridge \{", "table inet %s {" % TABLE, text)
    assert (ports, limits, tables) == (1, 2, 1), "conf/deskbridge.nft changed shape"
    with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as f:
        f.write(text)
    try:
        subprocess.run(["nft", "-f", f.name], check=True, capture_output=True, text=True)
    finally:
        os.unlink(f.name)


def drop_rules():
    subprocess.run(["nft", "delete", "table", "inet", TABLE], capture_output=True)


class Trickle:
    """Connections from the attacker's address, each a request line and then a header
    line every interval seconds."""

    def __init__(self, port, tried, interval):
        self.held, self.refused, self.closed = [], 0, 0
        for _ in range(tried):
            s = socket.socket()
            s.bind((ATTACKER, 0))
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /api/health HTTP/1.1\r\nHost: deskbridge\r\n")
                self.held.append(s)
            except OSError:
                self.refused += 1
                s.close()
        self.interval, self.stop = interval, threading.Event()

    def run(self):
        n = 0
        while not self.stop.wait(self.interval):
            for s in list(self.held):
                try:
                    s.sendall(b"X-Trickle-%d: still here\r\n" % n)
                except OSError:
                    self.closed += 1
                    self.held.remove(s)
            n += 1
        for s in self.held:
            s.close()


class ConnectionLimit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server().start()
        load_rules(cls.server.port)

    @classmethod
    def tearDownClass(cls):
        drop_rules()
        cls.server.stop()

    def test_one_address_holds_its_share_and_others_are_served(self):
        attack = Trickle(self.server.port, TRIED, 5.0)
        t = threading.Thread(target=attack.run)
        t.start()
        self.addCleanup(t.join, 30)
        self.addCleanup(attack.stop.set)
        latencies = visitor_polls(self, self.server, SECONDS)
        attack.stop.set()
        t.join(30)
        latencies.sort()
        print("# %d connections tried from one address: %d held, %d refused, %d closed by the server; "
              "%d polls from another address, p50 %.3f s, max %.3f s"
              % (TRIED, PER_ADDRESS, attack.refused, attack.closed, len(latencies),
                 latencies[len(latencies) // 2], latencies[-1]), flush=True)
        self.assertEqual(TRIED - attack.refused, PER_ADDRESS, "the address held more than its share")
        self.assertEqual(attack.closed, 0, "lighttpd closed a connection that kept inside its timeout")
        # Nothing queues behind the attacker now: a generous bound, far below the
        # seconds the polls waited without the rules.
        self.assertLess(latencies[-1], 2.0)

    def test_the_attackers_connections_free_up_as_they_close(self):
        attack = Trickle(self.server.port, PER_ADDRESS + 5, 5.0)
        self.assertEqual(len(attack.held), PER_ADDRESS)
        for s in attack.held:
            s.close()
        time.sleep(0.5)
        again = Trickle(self.server.port, PER_ADDRESS, 5.0)
        self.assertEqual(len(again.held), PER_ADDRESS, "closed connections still counted")
        for s in again.held:
            s.close()


if __name__ == "__main__":
    sys.exit(harness.main())

"""The admin login's limits through lighttpd, attacked: an address that keeps guessing
is refused (429 with Retry-After) while the admin logs in from another at once, behind
a trusted proxy and directly; guesses from many addresses engage the slow-down, which
bounds the guesses checked per second and still lets the right password in from an
address that has not failed; `deskbridge-admin unlock` lets a locked-out address in at
once."""

import concurrent.futures
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of  # noqa: E402

LIMIT = 5            # ADMIN_LOGIN_FAILURES per address in 15 minutes
SLOW_AFTER = 10      # ADMIN_LOGIN_SLOW_AFTER failures a minute from everywhere
PACE_S = 0.5         # ADMIN_LOGIN_PACE_MS: one check per turn in the slow-down


def start(procs=1, proxied=True):
    state = harness.State()
    if proxied:
        state.admin("config", "set", "security.trusted_proxies", "127.0.0.1")
    return harness.Server(state=state, procs=procs).start()


def login(server, password, client=None, source=None):
    """POST /api/setup/session from client (forwarded by the trusted proxy) or from the
    loopback address source."""
    return server.request("POST", "/api/setup/session", body={"password": password},
                          headers={"X-Forwarded-For": client} if client else None,
                          source=source, timeout=30)


def assert_limited(test, r):
    assert_error(test, r, 429, "rate_limited")
    retry = int(r.header("Retry-After"))
    test.assertTrue(0 < retry <= 900, retry)
    return retry


def assert_session(test, server, r):
    """r opened a session that the API then takes."""
    test.assertEqual(r.status, 200, r.body)
    got = server.request("GET", "/api/setup/config",
                         headers={"Cookie": "deskbridge_admin=" + cookie_of(r)})
    test.assertEqual(got.status, 200, got.body)


class PerAddress(unittest.TestCase):
    def setUp(self):
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.stop()

    def test_behind_a_proxy_the_attacker_is_refused_and_the_admin_gets_in(self):
        self.server = start()
        answers = [login(self.server, "wrong-password", "203.0.113.66") for _ in range(LIMIT + 3)]
        self.assertEqual([r.status for r in answers[:LIMIT]], [401] * LIMIT)
        for r in answers[LIMIT:]:
            assert_limited(self, r)
        # The attacker's address is refused even the right password ...
        assert_limited(self, login(self.server, harness.ADMIN_PASSWORD, "203.0.113.66"))
        # ... while the admin, behind the same proxy, gets in at once.
        assert_session(self, self.server, login(self.server, harness.ADMIN_PASSWORD, "198.51.100.10"))

    def test_directly_from_a_second_loopback_address(self):
        self.server = start(proxied=False)
        for _ in range(LIMIT):
            assert_error(self, login(self.server, "wrong-password", source="127.0.0.2"),
                         401, "invalid_credentials")
        assert_limited(self, login(self.server, harness.ADMIN_PASSWORD, source="127.0.0.2"))
        assert_session(self, self.server, login(self.server, harness.ADMIN_PASSWORD, source="127.0.0.1"))
        # Without a trusted proxy, X-Forwarded-For is no way out for the attacker.
        assert_limited(self, login(self.server, harness.ADMIN_PASSWORD, "192.0.2.1", source="127.0.0.2"))

    def test_unlock_lets_a_locked_out_address_in_at_once(self):
        self.server = start()
        state = self.server.state
        for client in ("203.0.113.1", "203.0.113.2"):
            for _ in range(LIMIT):
                login(self.server, "wrong-password", client)
            assert_limited(self, login(self.server, harness.ADMIN_PASSWORD, client))
        p = state.admin("unlock", "--address", "203.0.113.1")
        self.assertIn("203.0.113.1", p.stdout)
        assert_session(self, self.server, login(self.server, harness.ADMIN_PASSWORD, "203.0.113.1"))
        # Only that address: the other stays refused until a plain unlock.
        assert_limited(self, login(self.server, harness.ADMIN_PASSWORD, "203.0.113.2"))
        state.admin("unlock")
        assert_session(self, self.server, login(self.server, harness.ADMIN_PASSWORD, "203.0.113.2"))
        p = state.admin("unlock", "--address", "not-an-address", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("IPv4 or IPv6", p.stderr)
        self.assertIn("unlock", state.admin("--help", check=False).stderr)


class SlowDown(unittest.TestCase):
    def setUp(self):
        # Four processes, so that checks could run four at a time were they not paced.
        self.server = start(procs=4)
        # Failures from many addresses, each far below its own limit.
        self.failed = ["203.0.113.%d" % i for i in range(1, 13)]
        for client in self.failed:
            assert_error(self, login(self.server, "wrong-password", client), 401, "invalid_credentials")

    def tearDown(self):
        self.server.stop()

    def test_guesses_from_everywhere_are_paced(self):
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(len(self.failed)) as pool:
            answers = list(pool.map(lambda c: login(self.server, "wrong-password", c), self.failed))
        elapsed = time.monotonic() - t0
        checked = sum(r.status == 401 for r in answers)
        for r in answers:
            if r.status != 401:
                self.assertLessEqual(assert_limited(self, r), 2, "a turn is never far off")
        # One check a turn: the first three turns are free or within reach at once, then
        # one more every 0.5 s. Unpaced, four processes check all twelve in well under
        # a second.
        self.assertLessEqual(checked, 3 + elapsed / PACE_S,
                             "%d checked in %.2f s: %s" % (checked, elapsed, [r.status for r in answers]))
        self.assertGreaterEqual(checked, 1)

    def test_the_right_password_from_a_clean_address_still_gets_in(self):
        stop = time.monotonic() + 4

        def attack(client):
            answers = []
            while time.monotonic() < stop:
                r = login(self.server, "wrong-password", client)
                answers.append((r.status, int(r.header("Retry-After") or 0)))
            return answers

        with concurrent.futures.ThreadPoolExecutor(len(self.failed)) as pool:
            attackers = [pool.submit(attack, c) for c in self.failed]
            time.sleep(1)
            t0 = time.monotonic()
            r = login(self.server, harness.ADMIN_PASSWORD, "198.51.100.20")
            waited = time.monotonic() - t0
            answers = [a for f in attackers for a in f.result()]
        assert_session(self, self.server, r)
        # Not blocked: the admin waits a turn at most (1 s), plus a queue of checks.
        self.assertLess(waited, 15)
        # The attack met the slow-down: refusals to wait a turn, not the address's 15 minutes.
        self.assertIn(True, [status == 429 and retry <= 2 for status, retry in answers], answers)
        # A clean address's wrong guess is answered as wrong, never refused unchecked.
        assert_error(self, login(self.server, "wrong-password", "198.51.100.21"), 401, "invalid_credentials")


if __name__ == "__main__":
    sys.exit(harness.main())

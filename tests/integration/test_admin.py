"""deskbridge-admin: init, passwd, config get/set/unset, status, usage and errors."""

import os
import sqlite3
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def stored_password_hash(state):
    with sqlite3.connect(state.db) as c:
        row = c.execute("SELECT value FROM secrets WHERE name = 'admin.password_hash'").fetchone()
    return row[0] if row else None


class Init(unittest.TestCase):
    def test_generated_password_is_printed_once(self):
        state = harness.State(init=False)
        env = {"DESKBRIDGE_ADMIN_PASSWORD": ""}
        first = state.admin("init", env=env)
        line = [l for l in first.stdout.splitlines() if "Admin password" in l]
        self.assertEqual(len(line), 1, first.stdout)
        password = line[0].rsplit(" ", 1)[1]
        self.assertGreaterEqual(len(password), 20)
        second = state.admin("init", env=env)
        self.assertNotIn(password, second.stdout + second.stderr)
        self.assertIn("unchanged", second.stdout)
        h = stored_password_hash(state)
        # Sealed at rest (the scrypt format inside is checked by the unit tests).
        self.assertTrue(h.startswith("v1:"), h)
        self.assertNotIn(password, h)

    def test_database_is_private_and_migrated(self):
        state = harness.State(init=False)
        old = os.umask(0o022)
        try:
            state.admin("init")
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.stat(state.db).st_mode), 0o600)
        with sqlite3.connect(state.db) as c:
            self.assertEqual(c.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            versions = [r[0] for r in c.execute("SELECT version FROM schema_migrations")]
            keys = c.execute("SELECT count(*) FROM service_keys WHERE retired_at IS NULL").fetchone()
        # Every migration of sql/, in order (a number taken on another branch may be missing).
        self.assertEqual(versions, sorted(int(f[:3]) for f in os.listdir(os.path.join(harness.SRCDIR, "sql"))
                                          if f[:3].isdigit() and f.endswith(".sql")))
        self.assertEqual(keys[0], 1)

    def test_password_from_environment_and_file(self):
        state = harness.State(init=False)
        state.admin("init", env={"DESKBRIDGE_ADMIN_PASSWORD": "from-the-environment"})
        h1 = stored_password_hash(state)
        with tempfile.NamedTemporaryFile("w", suffix=".pw") as f:
            f.write("from-a-file-password\n")
            f.flush()
            p = state.admin("passwd", "--password-file", f.name)
        self.assertIn("changed", p.stdout)
        self.assertNotEqual(stored_password_hash(state), h1)

    def test_short_password_is_refused(self):
        state = harness.State(init=False)
        p = state.admin("init", env={"DESKBRIDGE_ADMIN_PASSWORD": "short"}, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("12", p.stderr)
        self.assertIsNone(stored_password_hash(state))

    def test_passwd_reads_standard_input(self):
        state = harness.State()
        before = stored_password_hash(state)
        p = state.admin("passwd", env={"DESKBRIDGE_ADMIN_PASSWORD": ""},
                        stdin="a-new-password-from-stdin\n")
        self.assertIn("changed", p.stdout)
        self.assertNotEqual(stored_password_hash(state), before)

    def test_init_in_a_missing_folder_fails_clearly(self):
        state = harness.State(init=False)
        p = state.admin("init", env={"DESKBRIDGE_DB": "/nonexistent/dir/x.db"}, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/dir/x.db", p.stderr)

    def test_commands_other_than_init_need_a_database(self):
        state = harness.State(init=False)
        p = state.admin("status", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("deskbridge-admin init", p.stderr)
        self.assertFalse(os.path.exists(state.db))


class SecretsAtRest(unittest.TestCase):
    def test_database_alone_reveals_no_secret(self):
        state = harness.State()
        for key, value in (("zendesk.api_token", "api-token-VALUE-1"),
                           ("zendesk.shared_secret", "shared-secret-VALUE-2"),
                           ("zendesk.messaging.webhook_secret", "webhook-VALUE-3")):
            state.admin("config", "set", key, "-", stdin=value + "\n")
        key_file = state.db + ".key"
        self.assertEqual(stat.S_IMODE(os.stat(key_file).st_mode), 0o600)
        # Every byte SQLite wrote, the WAL included.
        raw = b"".join(open(p, "rb").read() for p in (state.db, state.db + "-wal")
                       if os.path.exists(p))
        for value in (b"api-token-VALUE-1", b"shared-secret-VALUE-2", b"webhook-VALUE-3",
                      b"BEGIN PRIVATE KEY"):
            self.assertNotIn(value, raw)
        with sqlite3.connect(state.db) as c:
            self.assertTrue(all(v.startswith("v1:") for (v,) in c.execute("SELECT value FROM secrets")))

        # A copy of the database without its key file opens nothing.
        copy = harness.State(init=False)
        with sqlite3.connect(state.db) as src, sqlite3.connect(copy.db) as dst:
            src.backup(dst)
        r, log = copy.cgi("transfer", "GET", "/api/health")
        self.assertEqual((r.status, r.json()), (503, {"ok": False, "db": "error"}))
        self.assertIn("key file", log)

    def test_rekey(self):
        state = harness.State()
        state.admin("config", "set", "zendesk.api_token", "-", stdin="before-rekey-token\n")
        old_key = open(state.db + ".key", "rb").read()
        out = state.admin("rekey").stdout
        self.assertIn("New key file", out)
        self.assertNotEqual(open(state.db + ".key", "rb").read(), old_key)
        self.assertFalse(os.path.exists(state.db + ".key.new"))
        # Everything still opens: the admin password, the service key, the secrets.
        server = harness.Server(state=state).start()
        try:
            r = server.request("POST", "/api/setup/session", body={"password": harness.ADMIN_PASSWORD})
            self.assertEqual(r.status, 200, r.body)
        finally:
            server.stop()
        self.assertIn("zendesk.api_token=(set)", state.admin("config", "get").stdout)


class Config(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = harness.State()

    def test_defaults(self):
        out = self.state.admin("config", "get").stdout
        self.assertIn("transfers.join_timeout_s=300\n", out)
        self.assertIn("security.clock_skew_s=60\n", out)
        self.assertIn("transfers_enabled=false\n", out)
        self.assertIn("zendesk.api_token=(not set)\n", out)

    def test_set_get_unset(self):
        self.state.admin("config", "set", "transfers.idle_timeout_s", "600")
        self.assertEqual(self.state.admin("config", "get", "transfers.idle_timeout_s").stdout,
                         "600\n")
        self.state.admin("config", "unset", "transfers.idle_timeout_s")
        self.assertEqual(self.state.admin("config", "get", "transfers.idle_timeout_s").stdout,
                         "1800\n")

    def test_invalid_values_change_nothing(self):
        for key, value, why in (("transfers.join_timeout_s", "29", "from 30 to 86400"),
                                ("security.clock_skew_s", "301", "from 0 to 300"),
                                ("zendesk.subdomain", "-acme", "first part of your Zendesk address"),
                                ("zendesk.api_base", "ftp://x", "URL"),
                                ("zendesk.api_user", "not-an-email", "email"),
                                ("transfers_enabled", "yes", "true or false")):
            before = self.state.admin("config", "get", key).stdout
            p = self.state.admin("config", "set", key, value, check=False)
            self.assertEqual(p.returncode, 1, key)
            self.assertIn(key, p.stderr)
            self.assertIn(why, p.stderr)
            self.assertEqual(self.state.admin("config", "get", key).stdout, before)

    def test_secrets_are_write_only(self):
        self.state.admin("config", "set", "zendesk.shared_secret", "-",
                         stdin="shhh-very-secret\n")
        out = self.state.admin("config", "get").stdout
        self.assertIn("zendesk.shared_secret=(set)\n", out)
        self.assertNotIn("shhh", out)
        self.assertEqual(self.state.admin("config", "get", "zendesk.shared_secret").stdout,
                         "(set)\n")

    def test_unknown_key(self):
        p = self.state.admin("config", "set", "no.such.key", "1", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("not a configuration key", p.stderr)

    def test_status(self):
        out = self.state.admin("status").stdout
        self.assertIn("schema_version: %d (latest %d)" % ((harness.LATEST_MIGRATION,) * 2), out)
        self.assertIn("initialised: yes", out)
        self.assertIn("transfers: 0 waiting, 0 active, 0 ended", out)

    def test_usage(self):
        for args in ([], ["frobnicate"], ["config"], ["config", "set", "x"], ["status", "x"]):
            p = self.state.admin(*args, check=False)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("usage: deskbridge-admin", p.stderr)


if __name__ == "__main__":
    sys.exit(harness.main())

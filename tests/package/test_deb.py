#!/usr/bin/env python3
"""tests/package/test_deb.py — the Debian package on this machine, from build to purge.

Builds the package from a copy of the source tree with dpkg-buildpackage, checks it
with lintian, installs it with the admin password preseeded in debconf, runs a whole
handoff against the fake Zendesk through the system's Apache httpd (the packaged
conf-available file, enabled with a2enconf) and through the system's lighttpd (the
packaged snippet, enabled with lighty-enable-mod), each on a free loopback port with
the system's own configuration, to the handlers on the package's systemd sockets (made
and started here as their units say, since no systemd runs here); runs the timers'
commands as their units say;
upgrades to a newer version that brings a migration and checks that the data and the
key file survive; removes, purges keeping the data (the default), reinstalls over it,
and purges deleting it; then checks that nothing is left.

It installs packages and starts servers, so it needs root and Debian's dpkg tools:
anywhere else every step fails, saying why. Prints TAP (run it through automake's
driver with `make check TESTS=tests/package/test_deb.py`, or on its own).
"""

import glob
import grp
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("DESKBRIDGE_SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
sys.path.insert(0, os.path.join(SRCDIR, "tests"))
import harness  # noqa: E402
import test_handoff  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

PACKAGE = "deskbridge"
STATE = "/var/lib/deskbridge"
DB = STATE + "/deskbridge.db"
KEY = DB + ".key"
ADMIN = "/usr/sbin/deskbridge-admin"
CGI_BIN = "/usr/lib/deskbridge/cgi-bin"
SQL_DIR = "/usr/share/deskbridge/sql"
APACHE_CONF = "/etc/apache2/conf-available/deskbridge.conf"
LIGHTTPD_CONF = "/etc/lighttpd/conf-available/50-deskbridge.conf"
UNIT_DIR = "/lib/systemd/system"
UNITS = ["%s/deskbridge-%s.%s" % (UNIT_DIR, n, t) for n in ("sweep", "purge") for t in ("service", "timer")]
HANDLER_UNITS = [UNIT_DIR + "/" + n for n in ("deskbridge.target", "deskbridge@.socket", "deskbridge@.service")]
OWNER = "deskbridge"
TOOLS = ("dpkg-buildpackage", "dpkg-deb", "dpkg", "lintian", "debconf-set-selections", "runuser",
         "apache2", "a2enconf", "lighttpd", "lighty-enable-mod", "systemd-analyze", "man", "multiwatch")
PASSWORD = "preseeded-admin-password"

# Run by make check, this inherits its make's settings (TESTS=... among them), which the
# package build's own make would obey: it then ran this check again, endlessly.
for _var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
    os.environ.pop(_var, None)


def run(*args, stdin=None, env=None, timeout=300, check=True):
    p = subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive", **(env or {})))
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s\n%s" % (" ".join(args), p.returncode,
                                                        p.stdout[-3000:], p.stderr[-3000:]))
    return p


def preseed(*lines):
    run("debconf-set-selections", stdin="".join("%s %s\n" % (PACKAGE, line) for line in lines))


def installed_version():
    p = run("dpkg-query", "-W", "-f=${Status} ${Version}", PACKAGE, check=False)
    return p.stdout.split()[-1] if p.returncode == 0 and "install ok installed" in p.stdout else None


def deskbridge_processes():
    """Processes running a packaged handler or the admin tool, or keeping handlers
    running (multiwatch)."""
    found = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0")]
            if argv[0] == ADMIN or any(a.startswith(CGI_BIN) for a in argv):
                found.append((int(d[6:]), argv[0]))
        except OSError:
            pass
    return found


def unit_file(path, instance=None):
    """A systemd unit file as {key: [values]}, with %i as the instance (systemd.unit(5)):
    comments and section headers dropped, a key given twice keeping both."""
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[":
                continue
            key, value = line.split("=", 1)
            keys.setdefault(key.strip(), []).append(value.strip().replace("%i", instance or ""))
    return keys


def environment_file(path):
    """KEY=VALUE lines, as systemd reads an EnvironmentFile (systemd.exec(5))."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and line[0] not in "#;":
                key, value = line.split("=", 1)
                env[key] = value
    return env


class Systemd:
    """What systemd does with deskbridge.target when it starts, done here, where no systemd
    runs: each socket the target wants made as its unit says (ListenStream, SocketUser,
    SocketGroup, SocketMode, Backlog), then its service started on it as that unit says
    (User, Group, Environment, EnvironmentFile, StandardInput=socket, ExecStart). systemd
    starts a service on its socket's first connection; starting each at once is the same
    to the web server. Stopping sends each service SIGTERM, as systemd does, and removes
    the socket when its unit says RemoveOnStop=yes."""

    def __init__(self, tmp):
        self.dir = tmp
        self.services = []
        self.sockets = []

    def start(self):
        wants = " ".join(unit_file(UNIT_DIR + "/deskbridge.target").get("Wants", [])).split()
        for name in wants:
            instance = re.fullmatch(r"deskbridge@(\w+)\.socket", name).group(1)
            sock = unit_file(UNIT_DIR + "/deskbridge@.socket", instance)
            svc = unit_file(UNIT_DIR + "/deskbridge@.service", instance)
            path = sock["ListenStream"][0]
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if os.path.exists(path):
                os.unlink(path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            os.chown(path, pwd.getpwnam(sock["SocketUser"][0]).pw_uid, grp.getgrnam(sock["SocketGroup"][0]).gr_gid)
            os.chmod(path, int(sock["SocketMode"][0], 8))
            listener.listen(int(sock["Backlog"][0]))
            self.sockets.append((listener, path, sock.get("RemoveOnStop", ["no"])[0] == "yes"))
            for condition in svc.get("ConditionPathExists", []):
                assert os.path.exists(condition), "%s: %s is missing" % (name, condition)
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            for line in svc.get("Environment", []):
                env.update(pair.split("=", 1) for pair in line.split())
            for path in svc.get("EnvironmentFile", []):
                if not path.startswith("-") or os.path.exists(path[1:]):
                    env.update(environment_file(path.lstrip("-")))
            assert svc["StandardInput"] == ["socket"], name
            argv = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], svc["ExecStart"][0]).split()
            log = open(os.path.join(self.dir, "deskbridge@%s.log" % instance), "ab")
            self.services.append(subprocess.Popen(argv, stdin=listener.fileno(), stdout=log, stderr=log, env=env,
                                                  user=svc["User"][0], group=svc["Group"][0], extra_groups=[],
                                                  start_new_session=True))
            log.close()
        return self

    def stop(self):
        for p in self.services:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.services:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for listener, path, remove in self.sockets:
            listener.close()
            if remove and os.path.exists(path):
                os.unlink(path)
        self.services, self.sockets = [], []
        return harness.wait_for(lambda: not deskbridge_processes(), seconds=20,
                                what="the handlers to leave with their services")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class InstalledState:
    """The installed database, reached with the installed admin tool as deskbridge, the
    user the package gives the data to; what harness.connect_zendesk needs of a state."""

    db = DB

    def admin(self, *args, stdin=None, check=True):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DESKBRIDGE_")}
        p = subprocess.run(["runuser", "-u", OWNER, "--", ADMIN] + list(args), input=stdin,
                           env=env, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("deskbridge-admin %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        return p


class SystemServer:
    """A system web server run with its own Debian configuration, changed only to listen
    on a free loopback port and keep its pid file and logs in a temporary folder."""

    connection = harness.Server.connection
    request = harness.Server.request

    def __init__(self, name, tmp):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.port = harness.free_port()
        self.state = InstalledState()
        self.proc = None

    def start(self, argv, env=None):
        self.log = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %d:\n%s" % (self.name, self.proc.returncode, self.log_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("%s did not listen within 15 s:\n%s" % (self.name, self.log_text()))

    def log_text(self):
        text = ""
        for path in sorted(glob.glob(os.path.join(self.dir, "**", "*.log"), recursive=True)):
            with open(path, errors="replace") as f:
                text += "== %s\n%s" % (path, f.read()[-3000:])
        return text

    def stop(self):
        """Stops the server; the handlers are systemd's, and stay."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()


class Apache(SystemServer):
    def __init__(self, tmp):
        super().__init__("apache2", tmp)

    def start(self):
        with open("/etc/apache2/apache2.conf") as f:
            conf = f.read()
        conf, n = re.subn(r"(?m)^Include ports\.conf$", "Listen 127.0.0.1:%d" % self.port, conf)
        assert n == 1, "/etc/apache2/apache2.conf has no 'Include ports.conf' line"
        path = os.path.join(self.dir, "apache2.conf")
        with open(path, "w") as f:
            f.write(conf)
        env = dict(l.split("=", 1) for l in run("sh", "-c", ". /etc/apache2/envvars && env").stdout.splitlines()
                   if "=" in l)
        for var, sub in (("APACHE_PID_FILE", "apache2.pid"), ("APACHE_RUN_DIR", "run"),
                         ("APACHE_LOCK_DIR", "lock"), ("APACHE_LOG_DIR", "log")):
            env[var] = os.path.join(self.dir, sub)
            if sub != "apache2.pid":
                os.makedirs(env[var], exist_ok=True)
        return super().start(["apache2", "-d", "/etc/apache2", "-f", path, "-DFOREGROUND"], env=env)


class Lighttpd(SystemServer):
    def __init__(self, tmp):
        super().__init__("lighttpd", tmp)

    def start(self):
        with open("/etc/lighttpd/lighttpd.conf") as f:
            conf = f.read()
        for key, value in (("server.port", str(self.port)), ("server.pid-file", '"%s/lighttpd.pid"' % self.dir),
                           ("server.errorlog", '"%s/error.log"' % self.dir)):
            conf, n = re.subn(r"(?m)^%s\s*=.*$" % re.escape(key), "%s = %s" % (key, value), conf)
            assert n == 1, "/etc/lighttpd/lighttpd.conf sets %s %d times" % (key, n)
        conf = 'server.bind = "127.0.0.1"\n' + conf
        path = os.path.join(self.dir, "lighttpd.conf")
        with open(path, "w") as f:
            f.write(conf)
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "error.log"), "a"):
            pass
        shutil.chown(os.path.join(self.dir, "error.log"), "www-data", "www-data")
        run("lighttpd", "-tt", "-f", path)
        return super().start(["lighttpd", "-D", "-f", path])


def handoff(case, server, fake, email):
    """A whole handoff through server: the transfer reaches the agent workspace with the
    bot conversation, the visitor's message reaches the agent, the agent's answer (a
    webhook through the same server) reaches the visitor, and solving the ticket ends it."""
    test_handoff.SERVER, test_handoff.FAKE = server, fake
    tid, auth, conv = test_handoff.start_transfer(email)
    case.assertEqual(conv["messages"][-1]["content"]["text"], "Customer asked about a refund")
    r = server.request("POST", "/api/transfers/%s/messages" % tid, headers=auth,
                       body={"client_message_id": "m1", "text": "through the package"})
    case.assertEqual(r.status, 202, r.body)
    harness.wait_for(lambda: "through the package" in test_handoff.texts_from_visitor(conv),
                     what="the visitor's message in Zendesk")
    fake.workspace_accepts(conv["id"])
    status, result = fake.agent_says(conv["id"], "Hello from the agent")
    case.assertEqual((status, result["applied"]), (200, 1))
    events = test_handoff.poll(tid, auth)["events"]
    case.assertIn("agent_joined", [e["type"] for e in events])
    case.assertEqual([(e["from"], e["text"]) for e in events if e["type"] == "message"],
                     [("user", "through the package"), ("agent", "Hello from the agent")])
    fake.agent_solves(conv["id"])
    last = test_handoff.poll(tid, auth)["events"][-1]
    case.assertEqual((last["type"], last["by"]), ("ended", "agent"))
    return tid


class Package(unittest.TestCase):
    """One scenario in order: each step needs the ones before it, and fails (never
    skips) when one of them did."""

    tmp = deb = upgrade_deb = fake = None
    failed = None
    owns_machine = False    # set once no deskbridge of someone else's is in the way
    servers = []
    systemd = None
    lighttpd_enabled_before = set()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="deskbridge-deb-")
        os.chmod(cls.tmp, 0o755)

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.stop()
        if cls.systemd:
            try:
                cls.systemd.stop()
            except AssertionError:
                pass
        if cls.fake:
            cls.fake.stop()
        if cls.owns_machine:
            # What this check installed or enabled goes, whatever step it stopped at.
            if installed_version() or run("dpkg-query", "-W", PACKAGE, check=False).returncode == 0:
                preseed("deskbridge/purge_data boolean true")
                run("dpkg", "--purge", PACKAGE, check=False)
            for link in set(glob.glob("/etc/lighttpd/conf-enabled/*")) - cls.lighttpd_enabled_before:
                os.remove(link)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        if Package.failed:
            self.fail("not run: the step %s failed" % Package.failed)

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        super().run(result)
        if result and len(result.failures) + len(result.errors) > before and not Package.failed:
            Package.failed = self._testMethodName

    def test_00_this_machine_can_run_it(self):
        self.assertEqual(os.geteuid(), 0, "the package check installs a package: run it as root")
        missing = [t for t in TOOLS if not shutil.which(t)]
        self.assertEqual(missing, [], "missing tools (Debian packages debhelper dpkg-dev lintian "
                         "debconf apache2 lighttpd systemd multiwatch man-db)")
        self.assertIsNone(installed_version(), "deskbridge is installed already: the check would replace it")
        self.assertFalse(os.path.exists(STATE), "%s exists already: the check would delete it" % STATE)
        Package.lighttpd_enabled_before = set(glob.glob("/etc/lighttpd/conf-enabled/*"))
        Package.owns_machine = True

    def test_01_builds(self):
        src = os.path.join(self.tmp, "src")
        os.mkdir(src)
        if os.path.exists(os.path.join(SRCDIR, ".git")):
            files = run("git", "-C", SRCDIR, "ls-files", "-co", "--exclude-standard", "-z").stdout
            run("sh", "-c", 'cd "$0" && xargs -0 cp --parents -t "$1"', SRCDIR, src, stdin=files)
        else:
            run("cp", "-a", SRCDIR + "/.", src)
        p = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, capture_output=True, text=True,
                           timeout=900, env=dict(os.environ, DEB_BUILD_OPTIONS="parallel=2"))
        self.assertEqual(p.returncode, 0, p.stdout[-4000:] + p.stderr[-4000:])
        self.assertRegex(p.stdout, r"PASS: tests/unit/", "the build ran no unit test")
        self.assertNotRegex(p.stdout, r"(?m)^(FAIL|ERROR):")
        debs = glob.glob(os.path.join(self.tmp, "deskbridge_*_*.deb"))
        self.assertEqual(len(debs), 1, os.listdir(self.tmp))
        Package.deb = debs[0]

    def test_02_is_lintian_clean(self):
        changes = glob.glob(os.path.join(self.tmp, "deskbridge_*.changes"))
        self.assertEqual(len(changes), 1)
        p = run("lintian", "--fail-on", "error,warning", changes[0], check=False, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_03_installs_with_the_preseeded_password(self):
        preseed("deskbridge/admin_password password " + PASSWORD)
        p = run("dpkg", "-i", self.deb)
        self.assertIn("deskbridge initialised: database %s." % DB, p.stdout + p.stderr)
        self.assertNotIn(PASSWORD, p.stdout + p.stderr)
        self.assertIsNotNone(installed_version())
        # Used once: no debconf database keeps it.
        for path in glob.glob("/var/cache/debconf/*"):
            with open(path, "rb") as f:
                self.assertNotIn(PASSWORD.encode(), f.read(), path)

    def test_04_gives_the_data_to_its_own_user_privately(self):
        user = pwd.getpwnam(OWNER)
        self.assertLess(user.pw_uid, 1000, "not a system user")
        self.assertEqual(user.pw_shell, "/usr/sbin/nologin")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, OWNER)
        for path, mode in ((STATE, 0o750), (DB, 0o600), (KEY, 0o600)):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (user.pw_uid, user.pw_gid), "%s is not %s's" % (path, OWNER))
            self.assertEqual(st.st_mode & 0o777, mode, path)
        # The web server is not let in.
        p = run("runuser", "-u", "www-data", "--", "cat", KEY, check=False)
        self.assertNotEqual(p.returncode, 0)
        status = InstalledState().admin("status").stdout
        self.assertIn("schema_version: %d (latest %d)" % (harness.LATEST_MIGRATION, harness.LATEST_MIGRATION), status)
        self.assertIn("initialised: yes", status)

    def test_05_puts_the_files_where_debian_expects_them(self):
        for handler in harness.HANDLERS:
            self.assertTrue(os.access(os.path.join(CGI_BIN, handler), os.X_OK), handler)
        conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", PACKAGE).stdout
        for path in (APACHE_CONF, LIGHTTPD_CONF, "/etc/default/deskbridge"):
            self.assertIn(path + " ", conffiles)
        self.assertEqual(run("man", "-w", "deskbridge-admin").stdout.strip(),
                         "/usr/share/man/man8/deskbridge-admin.8.gz")
        self.assertEqual(run("man", "-w", "7", "deskbridge").stdout.strip(), "/usr/share/man/man7/deskbridge.7.gz")
        for timer in ("deskbridge-sweep.timer", "deskbridge-purge.timer"):
            self.assertTrue(os.path.islink("/etc/systemd/system/timers.target.wants/" + timer), timer)
        self.assertTrue(os.path.islink("/etc/systemd/system/multi-user.target.wants/deskbridge.target"))
        for pool in ("setup", "token", "agent", "webhook", "transfer", "events"):
            env = environment_file("/usr/share/deskbridge/pools/" + pool)
            self.assertTrue(os.access(os.path.join(CGI_BIN, env["DESKBRIDGE_HANDLER"]), os.X_OK), pool)
            self.assertGreater(int(env["DESKBRIDGE_PROCS"]), 0)

    def test_06_timers_run_the_admin_tool_as_their_units_say(self):
        p = run("systemd-analyze", "verify", *UNITS, check=False)
        self.assertEqual((p.returncode, p.stderr.strip()), (0, ""), p.stderr)
        # The handlers' units, an instance of each template among them.
        p = run("systemd-analyze", "verify", UNIT_DIR + "/deskbridge.target", "deskbridge@transfer.socket",
                "deskbridge@transfer.service", check=False)
        self.assertEqual((p.returncode, p.stderr.strip()), (0, ""), p.stderr)
        with open("/etc/default/deskbridge") as f:
            retention = re.search(r"(?m)^DESKBRIDGE_RETENTION_DAYS=(\d+)$", f.read()).group(1)
        self.assertEqual(retention, "30")
        for unit, expect in (("sweep", "transfer(s) ended by their timeout"),
                             ("purge", "ended transfer(s) purged")):
            with open("/lib/systemd/system/deskbridge-%s.service" % unit) as f:
                text = f.read()
            self.assertIn("\nUser=%s\n" % OWNER, text)
            argv = re.search(r"(?m)^ExecStart=(.*)$", text).group(1).replace("${DESKBRIDGE_RETENTION_DAYS}",
                                                                               retention).split()
            self.assertEqual(argv[0], ADMIN)
            out = run("runuser", "-u", OWNER, "--", *argv).stdout
            self.assertIn(expect, out)

    def test_07_handoff_through_apache(self):
        Package.fake = FakeZendesk().start()
        Package.systemd = Systemd(self.tmp).start()
        run("a2enconf", "deskbridge")
        apache = Apache(self.tmp)
        Package.servers.append(apache)
        apache.start()
        r = apache.request("GET", "/api/health")
        self.assertEqual((r.status, r.json()), (200, {"ok": True, "db": "ok"}), apache.log_text())
        self.assertIn("frame-ancestors 'none'", apache.request("GET", "/setup/").header("Content-Security-Policy"))
        r = login(apache, PASSWORD)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(cookie_of(r))
        harness.connect_zendesk(apache, self.fake)
        handoff(self, apache, self.fake, "apache@shop.example")
        users = {run("ps", "-o", "user=", "-p", str(pid)).stdout.strip() for pid, _ in deskbridge_processes()}
        self.assertEqual(users, {OWNER})
        apache.stop()

    def test_08_handoff_through_lighttpd(self):
        run("lighty-enable-mod", "deskbridge", check=False)
        self.assertTrue(os.path.islink("/etc/lighttpd/conf-enabled/50-deskbridge.conf"))
        server = Lighttpd(self.tmp)
        Package.servers.append(server)
        server.start()
        r = server.request("GET", "/api/health")
        self.assertEqual((r.status, r.json()), (200, {"ok": True, "db": "ok"}), server.log_text())
        self.assertEqual(server.request("GET", "/webchat/deskbridge-webchat.js").header("Access-Control-Allow-Origin"),
                         "*")
        self.fake.webhook_url = "http://127.0.0.1:%d/api/zendesk/webhook" % server.port
        handoff(self, server, self.fake, "lighttpd@shop.example")
        server.stop()
        Package.systemd.stop()
        self.assertEqual(glob.glob("/run/deskbridge/*"), [], "a socket stayed after its unit stopped")

    def test_09_upgrade_keeps_the_data_and_key_and_migrates(self):
        state = InstalledState()
        state.admin("config", "set", "transfers.join_timeout_s", "777")
        key_before = sha256(KEY)
        ended_before = re.search(r"(\d+) ended", state.admin("status").stdout).group(1)
        self.assertEqual(ended_before, "2")
        # The next version: this package with one more migration, as a release brings.
        tree = os.path.join(self.tmp, "upgrade")
        run("dpkg-deb", "-R", self.deb, tree)
        version = run("dpkg-deb", "-f", self.deb, "Version").stdout.strip()
        newer = harness.LATEST_MIGRATION + 1
        migration = "usr/share/deskbridge/sql/%03d_package_upgrade_check.sql" % newer
        with open(os.path.join(tree, migration), "w") as f:
            f.write("CREATE TABLE package_upgrade_check (id INTEGER PRIMARY KEY);\n")
        with open(os.path.join(tree, "DEBIAN", "md5sums"), "a") as f:
            f.write("%s  %s\n" % (hashlib.md5(open(os.path.join(tree, migration), "rb").read()).hexdigest(),
                                  migration))
        run("sed", "-i", "s/^Version: .*/Version: %s+upgrade1/" % version, os.path.join(tree, "DEBIAN", "control"))
        Package.upgrade_deb = os.path.join(self.tmp, "deskbridge_upgrade.deb")
        run("dpkg-deb", "--root-owner-group", "-b", tree, self.upgrade_deb)

        p = run("dpkg", "-i", self.upgrade_deb)
        self.assertEqual(installed_version(), version + "+upgrade1")
        self.assertIn("the admin password is unchanged", p.stdout + p.stderr)
        self.assertEqual(sha256(KEY), key_before)
        status = state.admin("status").stdout
        self.assertIn("schema_version: %d (latest %d)" % (newer, newer), status)
        self.assertIn("transfers: 0 waiting, 0 active, 2 ended", status)
        self.assertEqual(state.admin("config", "get", "transfers.join_timeout_s").stdout.strip(), "777")
        with sqlite3.connect("file:%s?mode=ro" % DB, uri=True) as c:
            self.assertEqual(c.execute("SELECT count(*) FROM package_upgrade_check").fetchone(), (0,))
        # Secrets sealed under the kept key still open: the agent credentials the
        # handoffs used are there.
        self.assertIn("zendesk.messaging.key_secret=(set)", state.admin("config", "get").stdout)

    def test_10_remove_leaves_the_data(self):
        self.assertTrue(os.path.islink("/etc/apache2/conf-enabled/deskbridge.conf"))
        run("dpkg", "-r", PACKAGE)
        self.assertFalse(os.path.exists(ADMIN))
        self.assertFalse(os.path.exists(CGI_BIN))
        self.assertTrue(os.path.exists(DB) and os.path.exists(KEY))
        self.assertTrue(os.path.exists(APACHE_CONF), "a conffile went at remove")
        # The servers' snippets would name files that have gone: they are disabled.
        self.assertFalse(os.path.lexists("/etc/apache2/conf-enabled/deskbridge.conf"))
        self.assertFalse(os.path.lexists("/etc/lighttpd/conf-enabled/50-deskbridge.conf"))
        self.assertEqual(run("apache2ctl", "configtest", check=False).returncode, 0)

    def test_11_purge_keeps_the_data_by_default(self):
        key = sha256(KEY)
        run("dpkg", "--purge", PACKAGE)
        self.assertEqual(run("dpkg-query", "-W", PACKAGE, check=False).returncode, 1)
        self.assertFalse(os.path.exists(APACHE_CONF))
        self.assertFalse(os.path.exists("/etc/default/deskbridge"))
        self.assertFalse(glob.glob("/etc/systemd/system/*/deskbridge-*"))
        self.assertEqual(sha256(KEY), key)
        # Installed again over the kept data, it takes it up: same key, same password.
        p = run("dpkg", "-i", self.upgrade_deb)
        self.assertIn("the admin password is unchanged", p.stdout + p.stderr)
        self.assertEqual(sha256(KEY), key)
        self.assertIn("2 ended", InstalledState().admin("status").stdout)

    def test_12_purge_deletes_the_data_when_told_to(self):
        preseed("deskbridge/purge_data boolean true")
        run("dpkg", "--purge", PACKAGE)
        self.assertFalse(os.path.exists(STATE))
        self.assertIsNone(installed_version())

    def test_13_without_a_password_one_is_generated_and_shown_once(self):
        p = run("dpkg", "-i", self.deb)
        found = re.findall(r"Admin password \(shown only this once\): (\S+)", p.stdout + p.stderr)
        self.assertEqual(len(found), 1, p.stdout + p.stderr)
        run("a2enconf", "deskbridge")
        Package.systemd = Systemd(self.tmp).start()
        apache = Apache(self.tmp + "/fresh")
        Package.servers.append(apache)
        apache.start()
        self.assertEqual(login(apache, found[0]).status, 200)
        self.assertEqual(login(apache, PASSWORD).status, 401)
        apache.stop()
        Package.systemd.stop()
        again = run("dpkg", "-i", self.deb)
        self.assertNotIn(found[0], again.stdout + again.stderr)
        preseed("deskbridge/purge_data boolean true")
        run("dpkg", "--purge", PACKAGE)
        self.assertFalse(os.path.exists(STATE))

    def test_14_nothing_is_left(self):
        self.assertEqual(deskbridge_processes(), [])
        for s in self.servers:
            self.assertIsNotNone(s.proc.poll(), "%s still runs" % s.name)
        self.assertEqual(run("dpkg-query", "-W", PACKAGE, check=False).returncode, 1)
        leftovers = [p for p in ("/usr/lib/deskbridge", "/usr/share/deskbridge", "/etc/apache2/conf-available/"
                                 "deskbridge.conf", LIGHTTPD_CONF, "/etc/default/deskbridge", STATE) + tuple(UNITS)
                     if os.path.lexists(p)]
        self.assertEqual(leftovers, [])
        self.assertEqual(glob.glob("/etc/apache2/conf-enabled/deskbridge*") + glob.glob("/etc/systemd/system/*/deskbridge*"), [])
        # debconf forgot the package's questions.
        for path in glob.glob("/var/cache/debconf/*.dat"):
            with open(path, errors="replace") as f:
                self.assertNotIn("Name: deskbridge/", f.read(), path)
        # The system user stays, as Debian leaves system users (files it owned may be kept
        # elsewhere, as in backups); it owns nothing here now and cannot log in.
        self.assertEqual(pwd.getpwnam(OWNER).pw_shell, "/usr/sbin/nologin")


if __name__ == "__main__":
    sys.exit(harness.main())

"""tests/integration/harness.py — the real deskbridge for integration tests.

Starts the real lighttpd with conf/lighttpd.conf, the real handlers from the build
folder and a fresh SQLite file in a temporary folder; talks HTTP to it; stops
everything it started, also when a test fails. Runs unittest suites and prints TAP,
so automake's tap-driver counts every case.
"""

import atexit
import glob
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("DESKBRIDGE_SRCDIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BUILDDIR = os.environ.get("DESKBRIDGE_BUILDDIR") or os.path.join(SRCDIR, "build")
ADMIN = os.path.join(BUILDDIR, "tools", "deskbridge-admin")
CGI_BIN = os.path.join(BUILDDIR, "cgi-bin")
HANDLERS = ("setup", "token", "transfer", "agent", "webhook")
ADMIN_PASSWORD = "integration-test-password"
LATEST_MIGRATION = max(int(f[:3]) for f in os.listdir(os.path.join(SRCDIR, "sql"))
                       if f[:3].isdigit() and f.endswith(".sql"))

_servers = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_pem(folder):
    """A certificate for 127.0.0.1 and its key in one PEM file (as lighttpd's ssl.pemfile
    and Apache's SSLCertificateFile take them), made with the openssl command."""
    key, cert, pem = (os.path.join(folder, n) for n in ("tls.key", "tls.crt", "tls.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    with open(pem, "w") as out:
        for part in (cert, key):
            with open(part) as f:
                out.write(f.read())
    return pem


def sanitizer_env(report_dir):
    """Sanitizer reports go to files, so a leak in any process fails the run."""
    return {
        "ASAN_OPTIONS": "log_path=%s/asan:detect_leaks=1:abort_on_error=0" % report_dir,
        "UBSAN_OPTIONS": "log_path=%s/ubsan:print_stacktrace=1:halt_on_error=1" % report_dir,
        "LSAN_OPTIONS": "log_path=%s/lsan" % report_dir,
    }


class Response:
    def __init__(self, status, headers, body, header_list=None):
        self.status = status
        self.headers = headers
        self.body = body
        self.header_list = header_list or list(headers.items())

    def header(self, name):
        return self.headers.get(name.lower())

    def all_headers(self, name):
        """Every value of a header sent more than once, in order."""
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class State:
    """A temporary state folder with a database made by `deskbridge-admin init`."""

    registry = []

    def __init__(self, init=True):
        State.registry.append(self)
        self.dir = tempfile.mkdtemp(prefix="deskbridge-test-")
        self.db = os.path.join(self.dir, "deskbridge.db")
        self.reports = os.path.join(self.dir, "sanitizer")
        os.mkdir(self.reports)
        if init:
            self.admin("init", env={"DESKBRIDGE_ADMIN_PASSWORD": ADMIN_PASSWORD})

    def env(self, extra=None):
        env = dict(os.environ)
        env.update(sanitizer_env(self.reports))
        env["DESKBRIDGE_DB"] = self.db
        env["DESKBRIDGE_SQL_DIR"] = os.path.join(SRCDIR, "sql")
        env["DESKBRIDGE_ZENDESK_APP_DIR"] = os.path.join(SRCDIR, "www", "zendesk-app")
        env.update(extra or {})
        return env

    def admin(self, *args, env=None, stdin=None, check=True):
        p = subprocess.run([ADMIN] + list(args), env=self.env(env), input=stdin,
                           capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("deskbridge-admin %s failed (%d): %s"
                                 % (" ".join(args), p.returncode, p.stderr))
        return p

    def cgi(self, handler, method, uri, body=b"", headers=None, env=None):
        """Runs a handler once as plain CGI, the way a web server's mod_cgi does."""
        e = self.env()
        e.update({"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method,
                  "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
                  "REMOTE_ADDR": "127.0.0.1"})
        if "?" in uri:
            e["QUERY_STRING"] = uri.split("?", 1)[1]
        for k, v in (headers or {}).items():
            key = k.upper().replace("-", "_")
            e[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = v
        if body and "CONTENT_LENGTH" not in e:
            e["CONTENT_LENGTH"] = str(len(body))
        e.update(env or {})
        p = subprocess.run([os.path.join(CGI_BIN, handler)], input=body, env=e,
                           capture_output=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError("%s exited %d: %s" % (handler, p.returncode, p.stderr))
        head, _, payload = p.stdout.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("Status: "), lines
        headers_out = {}
        for line in lines[1:]:
            k, _, v = line.partition(": ")
            headers_out[k.lower()] = v
        return Response(int(lines[0].split()[1]), headers_out, payload), p.stderr.decode()

    def sanitizer_reports(self):
        return sorted(glob.glob(os.path.join(self.reports, "*")))

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """lighttpd in the foreground with the real handlers, on a free loopback port."""

    def __init__(self, state=None, procs=1, env=None, cgi_bin=CGI_BIN, tls=False, zendesk_procs=None):
        self.state = state or State()
        self.zendesk_procs = zendesk_procs or procs
        self.cgi_bin = cgi_bin
        self.port = free_port()
        # With tls, a second listener speaks HTTPS with a certificate made for the test.
        self.tls_pem = self_signed_pem(self.state.dir) if tls else None
        self.https_port = free_port() if tls else None
        self.run_dir = os.path.join(self.state.dir, "run")
        os.mkdir(self.run_dir, 0o700)
        self.log_path = os.path.join(self.state.dir, "lighttpd.log")
        self.extra_env = env or {}
        self.procs = procs
        self.config = os.path.join(SRCDIR, "conf", "lighttpd.conf")
        self.proc = None

    def start(self):
        env = self.state.env(self.extra_env)
        env.update({"DESKBRIDGE_BIND": "127.0.0.1", "DESKBRIDGE_PORT": str(self.port),
                    "DESKBRIDGE_WWW": os.path.join(SRCDIR, "www"),
                    "DESKBRIDGE_CGI_BIN": self.cgi_bin, "DESKBRIDGE_RUN_DIR": self.run_dir,
                    "DESKBRIDGE_PROCS": str(self.procs), "DESKBRIDGE_ZENDESK_PROCS": str(self.zendesk_procs)})
        if self.tls_pem:
            env.update({"DESKBRIDGE_TLS_CERT": self.tls_pem, "DESKBRIDGE_TLS_PORT": str(self.https_port)})
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["lighttpd", "-D", "-f", self.config],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        _servers.append(self)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("lighttpd exited %d:\n%s" % (self.proc.returncode,
                                                                 self.log_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("lighttpd did not listen within 15 s:\n" + self.log_text())

    def stop(self):
        """Stops lighttpd and its handlers; returns lighttpd's exit code."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        # Handlers exit on their own once lighttpd has gone; wait for them so their
        # sanitizer reports, if any, are complete (a leak check of several processes on
        # a loaded machine takes seconds; killing one midway would spoil its report).
        deadline = time.time() + 60
        while time.time() < deadline and self.handler_pids():
            time.sleep(0.05)
        for pid in self.handler_pids():
            os.kill(pid, signal.SIGKILL)
        self.log.close()
        return self.proc.returncode

    def handler_pids(self):
        """The handler processes lighttpd spawned for this server's database, run
        straight or through a wrapper such as valgrind (whose arguments name them)."""
        mark = ("DESKBRIDGE_DB=%s\0" % self.state.db).encode()
        pids = []
        for d in glob.glob("/proc/[0-9]*"):
            try:
                with open(d + "/cmdline", "rb") as f:
                    args = [a.decode(errors="replace") for a in f.read().split(b"\0")]
                with open(d + "/environ", "rb") as f:
                    if any(a.startswith(CGI_BIN) for a in args) and mark in f.read():
                        pids.append(int(d[6:]))
            except OSError:
                pass
        return pids

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def connection(self, https=False, source=None, timeout=15):
        """An HTTP connection to the server (HTTPS, checking the test's certificate, on its
        TLS listener), from the source address given (any of loopback's 127/8)."""
        src = (source, 0) if source else None
        if https:
            ctx = ssl.create_default_context(cafile=self.tls_pem)
            return http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=timeout,
                                               source_address=src, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, source_address=src)

    def request(self, method, path, body=None, headers=None, timeout=15, https=False, source=None):
        conn = self.connection(https, source, timeout)
        try:
            h = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read(), r.getheaders())
        finally:
            conn.close()

    def raw(self, data, timeout=10):
        """Sends raw bytes, half-closes, and returns whatever comes back."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                try:
                    c = s.recv(65536)
                except socket.timeout:
                    break
                if not c:
                    break
                chunks.append(c)
            return b"".join(chunks)


class ApacheServer(Server):
    """Apache httpd 2.4 with mod_fcgid, including conf/apache-httpd.conf the way the
    README tells operators to: Define the paths, Include the snippet."""

    def __init__(self, state=None, paths=None, env=None, plain_cgi=False, tls=False, conf=None):
        super().__init__(state=state, env=env, tls=tls)
        self.plain_cgi = plain_cgi
        # Lines of the main configuration before the Include (Defines, MPM limits).
        self.extra_conf = list(conf or [])
        # With tls, the snippet is included in a TLS virtual host, as an operator would.
        if tls:
            self.port = self.https_port
        self.paths = paths or {"WWW": os.path.join(SRCDIR, "www"), "CGI_BIN": CGI_BIN,
                               "SQL_DIR": os.path.join(SRCDIR, "sql"),
                               "ZENDESK_APP_DIR": os.path.join(SRCDIR, "www", "zendesk-app"),
                               "CONF": os.path.join(SRCDIR, "conf", "apache-httpd.conf")}
        self.log_path = os.path.join(self.state.dir, "apache-error.log")

    def start(self):
        d = self.state.dir
        os.makedirs(os.path.join(d, "fcgid"), exist_ok=True)
        os.makedirs(os.path.join(d, "docroot"), exist_ok=True)
        mods = "/usr/lib/apache2/modules"
        lines = ["ServerRoot /etc/apache2", "ServerName 127.0.0.1", "PidFile %s/httpd.pid" % d,
                 "Listen 127.0.0.1:%d%s" % (self.port, " https" if self.tls_pem else ""),
                 "ErrorLog %s" % self.log_path, "LogLevel warn",
                 "TypesConfig /etc/mime.types", "DirectoryIndex index.html",
                 "DocumentRoot %s/docroot" % d]
        for m in ("mpm_event", "authz_core", "alias", "headers", "mime", "dir", "env",
                  "cgid" if self.plain_cgi else "fcgid"):
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, mods, m))
        if self.plain_cgi:
            lines += ["Define DESKBRIDGE_PLAIN_CGI", "ScriptSock %s/cgid.sock" % d]
        else:
            lines += ["FcgidIPCDir %s/fcgid" % d, "FcgidProcessTableFile %s/fcgid/shm" % d]
        for k, v in sanitizer_env(self.state.reports).items():
            lines.append("%s %s %s" % ("SetEnv" if self.plain_cgi else "FcgidInitialEnv", k, v))
        for k in ("WWW", "CGI_BIN", "SQL_DIR", "ZENDESK_APP_DIR"):
            lines.append('Define DESKBRIDGE_%s "%s"' % (k, self.paths[k]))
        lines.append('Define DESKBRIDGE_DB "%s"' % self.state.db)
        lines += self.extra_conf
        if self.tls_pem:
            lines += ["LoadModule socache_shmcb_module %s/mod_socache_shmcb.so" % mods,
                      "LoadModule ssl_module %s/mod_ssl.so" % mods,
                      "SSLSessionCache shmcb:%s/ssl_scache(512000)" % d,
                      "<VirtualHost 127.0.0.1:%d>" % self.port, "SSLEngine on",
                      "SSLCertificateFile %s" % self.tls_pem,
                      "Include %s" % self.paths["CONF"], "</VirtualHost>"]
        else:
            lines.append("Include %s" % self.paths["CONF"])
        self.config = os.path.join(d, "httpd.conf")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(d, "apache-stdout.log"), "ab")
        self.proc = subprocess.Popen(["apache2", "-f", self.config, "-DFOREGROUND"],
                                     env=self.state.env(self.extra_env), stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _servers.append(self)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("apache2 exited %d:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("apache2 did not listen within 15 s:\n" + self.log_text())

    def handler_pids(self):
        mark = ("DESKBRIDGE_DB=%s\0" % self.state.db).encode()
        pids = []
        for d in glob.glob("/proc/[0-9]*"):
            try:
                with open(d + "/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")[0].decode(errors="replace")
                with open(d + "/environ", "rb") as f:
                    if cmd.startswith(self.paths["CGI_BIN"]) and mark in f.read():
                        pids.append(int(d[6:]))
            except OSError:
                pass
        return pids


def wait_for(check, seconds=15, poll=None, what=None):
    """check()'s first truthy value, calling poll() (if any) before each try; fails the
    test after seconds."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if poll:
            poll()
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out after %d s waiting for %s" % (seconds, what or check))


def connect_zendesk(server, fake, webhook_secret="webhook-secret-for-tests"):
    """Configures a running deskbridge for tests/fake_zendesk.py (transfers on, every
    Zendesk credential, limits far above what a test sends) and points the fake's
    webhook deliveries at it."""
    admin = server.state.admin
    for key, value in (("transfers_enabled", "true"), ("limits.transfers_per_minute", "100000"),
                       ("limits.messages_per_minute", "100000"), ("limits.activity_per_minute", "100000"),
                       ("limits.open_transfers_per_visitor", "1000"),
                       ("zendesk.api_base", fake.url), ("zendesk.messaging.app_id", fake.app_id),
                       ("zendesk.messaging.key_id", fake.key_id), ("zendesk.api_user", fake.api_user)):
        admin("config", "set", key, value)
    for key, value in (("zendesk.messaging.key_secret", fake.key_secret), ("zendesk.api_token", fake.api_token),
                       ("zendesk.messaging.webhook_secret", webhook_secret)):
        admin("config", "set", key, "-", stdin=value + "\n")
    fake.webhook_url = "http://127.0.0.1:%d/api/zendesk/webhook" % server.port
    fake.webhook_secret = webhook_secret


def _stop_all():
    for s in _servers:
        try:
            s.stop()
        except Exception:
            pass


atexit.register(_stop_all)


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, detail=None):
        self.n += 1
        name = test if isinstance(test, str) else \
            "%s.%s" % (type(test).__name__, test._testMethodName)
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, name), flush=True)
        if detail:
            for line in detail.rstrip().splitlines():
                print("# " + line, flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test, self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test, self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        # A skipped test is a failed test here: nothing may pass without running.
        super().addSkip(test, reason)
        self._line(False, test, "skipped: " + reason)


def main(module_name="__main__"):
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[module_name])
    result = TapResult()
    try:
        suite.run(result)
    except Exception:
        traceback.print_exc(file=sys.stdout)
    # Every server any test started must stop cleanly, and no process may have left
    # a sanitizer report (memory error, undefined behaviour or leak).
    for s in _servers:
        s.stop()
    reports = [r for st in State.registry for r in st.sanitizer_reports()]
    if State.registry:
        detail = "".join(open(r, errors="replace").read() for r in reports[:3])
        result._line(not reports, "no sanitizer reports from any process", detail)
    print("1..%d" % result.n, flush=True)
    for st in State.registry:
        st.remove()
    return 0 if result.wasSuccessful() and not reports else 1



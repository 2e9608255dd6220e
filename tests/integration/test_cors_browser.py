#!/usr/bin/env python3
"""tests/integration/test_cors_browser.py — the demo chat on two sites of their own
origins in Debian's chromium (tests/browser/cross_origin.mjs): deskbridge over lighttpd's
TLS listener, the fake Zendesk, and two HTTPS static servers on other ports, each serving
a copy of www/webchat/ whose demo.html names deskbridge in its deskbridge-base-url meta
tag. Only the first site is in security.allowed_origins."""

import functools
import http.server
import os
import re
import secrets
import ssl
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "browser"))
import run_browser_tests  # noqa: E402
from run_browser_tests import FakeZendesk, harness  # noqa: E402

SCRIPT = os.path.join(HERE, "..", "browser", "cross_origin.mjs")
WEBCHAT = os.path.join(harness.SRCDIR, "www", "webchat")


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """A site's static pages: www/webchat/, with the demo pointed at deskbridge."""

    def __init__(self, *args, deskbridge, **kw):
        self.deskbridge = deskbridge
        super().__init__(*args, directory=WEBCHAT, **kw)

    def do_GET(self):
        if self.path.split("?")[0] != "/demo.html":
            return super().do_GET()
        with open(os.path.join(WEBCHAT, "demo.html"), encoding="utf-8") as f:
            page, n = re.subn(r'<meta name="deskbridge-base-url" content="">',
                              '<meta name="deskbridge-base-url" content="%s">' % self.deskbridge, f.read())
        body = page.encode() if n == 1 else b"demo.html has no deskbridge-base-url meta tag"
        self.send_response(200 if n == 1 else 500)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_site(pem, deskbridge):
    """An HTTPS static server on a free port, in a thread; returns it and its origin."""
    port = harness.free_port()
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                           functools.partial(SiteHandler, deskbridge=deskbridge))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)
    site.socket = ctx.wrap_socket(site.socket, server_side=True)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site, "https://127.0.0.1:%d" % port


def run_cross_origin(script, line):
    try:
        server = harness.Server(tls=True).start()
    except Exception as e:  # noqa: BLE001 — reported as a failed check
        line(False, "start deskbridge (lighttpd with its TLS listener, and the handlers)", str(e))
        return
    base = "https://127.0.0.1:%d" % server.https_port
    tag = secrets.token_hex(6)
    fake = FakeZendesk(key_secret="keysecret-%s-A" % tag, api_token="apitoken-%s-B" % tag).start()
    fake.webhook_url = "http://127.0.0.1:%d/api/zendesk/webhook" % server.port
    fake.webhook_secret = "browser-test-webhook-secret"
    sites = [start_site(server.tls_pem, base) for _ in range(2)]
    env = run_browser_tests.script_env(base, server, fake)
    env.update({"SITE_URL": sites[0][1], "OTHER_SITE_URL": sites[1][1],
                # Node's fetch (the admin API, over TLS) trusts the test's certificate.
                "NODE_EXTRA_CA_CERTS": os.path.join(server.state.dir, "tls.crt")})
    run_browser_tests.run_node(script, env, line)
    for site, _ in sites:
        site.shutdown()
        site.server_close()
    fake.stop()
    log = server.log_text()
    preflights = re.findall(r"\bOPTIONS (/\S*) (\d{3})\b", log)
    print("# preflights answered: %d (%s); requests from the page and the test: %d" % (
        len(preflights), ", ".join(sorted({s for _, s in preflights})),
        len(re.findall(r"\b(?:GET|HEAD|POST|PATCH|PUT|OPTIONS) /api/", log))), flush=True)
    answered = any(s == "204" for _, s in preflights) and any(s == "403" for _, s in preflights)
    line(answered, "the listed site's preflights were answered 204 and the other's refused 403",
         None if answered else "preflights: %s" % preflights)
    rc = server.stop()
    line(rc == 0, "lighttpd stopped cleanly", "exit code %s" % rc if rc != 0 else None)


def main():
    return run_browser_tests.run_scripts([SCRIPT], run_cross_origin)


if __name__ == "__main__":
    sys.exit(main())

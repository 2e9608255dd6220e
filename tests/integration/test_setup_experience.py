"""What the setup form relies on from the setup API, through lighttpd against the fake
Zendesk: an emptied number returns to its default; refusals name the form's labels; a
pasted Zendesk address is its subdomain; deskbridge's public address is validated; a
failed "Access account" is the status panel's last Zendesk error, with its failed
checks, until one passes; and the panel's last webhook and handoff times follow a real
transfer."""

import html.parser
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402

SERVER = FAKE = SESSION = None


def setUpModule():
    global SERVER, FAKE, SESSION
    FAKE = FakeZendesk().start()
    SERVER = harness.Server().start()
    harness.connect_zendesk(SERVER, FAKE)
    r = login(SERVER)
    SESSION = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}


def tearDownModule():
    FAKE.stop()


def call(method, path, body=None):
    return SERVER.request(method, path, body=body, headers=SESSION)


def patch(body):
    return call("PATCH", "/api/setup/config", body)


def config():
    r = call("GET", "/api/setup/config")
    assert r.status == 200, r.body
    return r.json()


class FormLabels(html.parser.HTMLParser):
    """The setup page's label of each field: {dotted name: label text}."""

    def __init__(self):
        super().__init__()
        self.ids, self.labels, self.secret_ids = {}, {}, {}
        self._for = self._secret = None
        self._skip = 0
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-field" in a and "id" in a:
            self.ids[a["id"]] = a["data-field"]
        if "data-secret-field" in a:
            self._secret = a["data-secret-field"]
        if tag == "label" and "for" in a:
            self._for, self._text = a["for"], []
            if self._secret:
                self.secret_ids[a["for"]] = self._secret
                self._secret = None
        elif self._for and tag == "span" and "optional" in (a.get("class") or ""):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag == "span" and self._skip:
            self._skip -= 1
        elif tag == "label" and self._for:
            self.labels[self._for] = " ".join("".join(self._text).split())
            self._for = None

    def handle_data(self, data):
        if self._for and not self._skip:
            self._text.append(data)

    def by_field(self):
        names = dict(self.ids, **self.secret_ids)
        return {names[i]: text for i, text in self.labels.items() if i in names}


def form_labels():
    p = FormLabels()
    with open(os.path.join(harness.SRCDIR, "www", "setup", "index.html"), encoding="utf-8") as f:
        p.feed(f.read())
    return p.by_field()


class EmptiedNumbers(unittest.TestCase):
    def test_null_returns_a_number_to_its_default_and_later_saves_work(self):
        self.assertEqual(patch({"transfers": {"join_timeout_s": 120}, "limits": {"token_per_minute": 7}}).status, 200)
        r = patch({"transfers": {"join_timeout_s": None}, "limits": {"token_per_minute": None}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["transfers"]["join_timeout_s"], 300)
        self.assertEqual(r.json()["limits"]["token_per_minute"], 60)
        audit = call("GET", "/api/setup/audit").json()["entries"][0]["fields"]
        self.assertEqual(sorted(audit), ["limits.token_per_minute", "transfers.join_timeout_s"])
        # Sent again (the form sends what it shows), it changes nothing and records nothing.
        count = len(call("GET", "/api/setup/audit").json()["entries"])
        self.assertEqual(patch({"transfers": {"join_timeout_s": None}}).status, 200)
        self.assertEqual(len(call("GET", "/api/setup/audit").json()["entries"]), count)
        r = patch({"transfers": {"idle_timeout_s": 900}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["transfers"]["idle_timeout_s"], 900)

    def test_the_defaults_the_form_names_are_the_servers(self):
        with open(os.path.join(harness.SRCDIR, "www", "setup", "index.html"), encoding="utf-8") as f:
            page = f.read()
        named = dict(re.findall(r'data-field="([a-z_.]+)" data-type="int">\s*<p class="help">[^<]*?'
                                r'default, (\d+)\.', page, re.S))
        self.assertEqual(set(named), {"transfers.join_timeout_s", "transfers.idle_timeout_s",
                                      "security.clock_skew_s", "limits.file_upload_bytes"})
        r = patch({"transfers": {"join_timeout_s": None, "idle_timeout_s": None},
                   "security": {"clock_skew_s": None}, "limits": {"file_upload_bytes": None}})
        for field, value in named.items():
            section, key = field.split(".")
            self.assertEqual(r.json()[section][key], int(value), field)


class Labels(unittest.TestCase):
    INVALID = {
        "zendesk.subdomain": "-acme", "zendesk.api_user": "not-an-email",
        "zendesk.messaging.app_id": "a b", "zendesk.messaging.key_id": "a b",
        "zendesk.messaging.jwt_key_id": "kR9x2Vb3", "zendesk.api_base": "ftp://x",
        "zendesk.chat_api_base": "ftp://x", "security.issuer": "x" * 257,
        "security.clock_skew_s": 301, "transfers.join_timeout_s": 5, "transfers.idle_timeout_s": 5,
        "security.allowed_origins": "http://shop.example",
        "transfers.unavailable_message": "x" * 501, "transfers.department": "x" * 129,
        "limits.token_per_minute": 0, "limits.transfers_per_minute": 0,
        "limits.messages_per_minute": 0, "limits.file_upload_bytes": 50000001,
        "deployment.public_url": "http://help.example.com",
        "zendesk.messaging.key_secret": "", "zendesk.api_token": "",
        "zendesk.shared_secret": "", "zendesk.messaging.webhook_secret": "",
        "transfers_enabled": "yes", "security.authenticate_users": "yes",
        "security.allow_anonymous_transfers": "yes", "service_desk": "freshdesk",
        "hours.time_zone": "Mars/Olympus_Mons", "hours.weekly": "mon-fri 9-17",
        "hours.closed_message": "x" * 501, "tickets.offer_when_offline": "yes",
    }

    def test_every_refusal_names_the_fields_label_in_the_form(self):
        labels = form_labels()
        self.assertEqual(set(labels), set(self.INVALID), "fields of the form without a refusal tested here")
        before = config()
        for field, value in self.INVALID.items():
            with self.subTest(field):
                body = {}
                node = body
                parts = field.split(".")
                for p in parts[:-1]:
                    node = node.setdefault(p, {})
                node[parts[-1]] = value
                r = patch(body)
                self.assertIn(r.status, (400, 422), r.body)
                e = r.json()["error"]
                self.assertEqual(e["field"], field)
                self.assertTrue(e["message"].startswith(labels[field] + ": "), (labels[field], e["message"]))
                why = e["message"][len(labels[field]) + 2:]
                self.assertRegex(why, r"^[a-z]", "a capital after the colon")
                self.assertNotIn(field, e["message"])
        self.assertEqual(config(), before)


class Subdomain(unittest.TestCase):
    def test_what_admins_paste_means_the_subdomain(self):
        for pasted in ("acme", "acme.zendesk.com", "https://acme.zendesk.com/agent",
                       " https://ACME.zendesk.com/agent/dashboard?brand=1 "):
            with self.subTest(pasted):
                r = patch({"zendesk": {"subdomain": pasted,
                                       "messaging": {"key_secret": FAKE.key_secret}}})
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["zendesk"]["subdomain"], "acme")
        # The same subdomain pasted another way is no change: the key secret stays.
        r = patch({"zendesk": {"subdomain": "https://acme.zendesk.com/"}})
        self.assertIs(r.json()["zendesk"]["messaging"]["key_secret_set"], True)
        e = assert_error(self, patch({"zendesk": {"subdomain": "https://acme.example.com"}}), 422,
                         "invalid_field")
        self.assertIn("acme.zendesk.com", e["message"])
        self.assertEqual(config()["zendesk"]["subdomain"], "acme")

    def test_the_admin_tool_normalizes_too(self):
        SERVER.state.admin("config", "set", "zendesk.subdomain", "https://globex.zendesk.com/agent")
        self.assertEqual(config()["zendesk"]["subdomain"], "globex")


class PublicUrl(unittest.TestCase):
    def test_https_origin_only(self):
        r = patch({"deployment": {"public_url": "https://help.example.com/"}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["deployment"], {"public_url": "https://help.example.com"})
        for bad in ("http://help.example.com", "https://help.example.com/deskbridge",
                    "https://help.example.com/?a=1", "https://help.example.com#x", "help.example.com",
                    "https://user:pw@help.example.com"):
            with self.subTest(bad):
                e = assert_error(self, patch({"deployment": {"public_url": bad}}), 422, "invalid_field")
                self.assertEqual(e["field"], "deployment.public_url")
                self.assertIn("https://", e["message"])
        self.assertEqual(config()["deployment"]["public_url"], "https://help.example.com")
        self.assertIsNone(patch({"deployment": {"public_url": None}}).json()["deployment"]["public_url"])


class LastZendeskError(unittest.TestCase):
    def test_failed_access_account_shows_its_checks_until_one_passes(self):
        r = patch({"zendesk": {"api_token": "wrong-token"}})
        self.assertEqual(r.status, 200, r.body)
        e = assert_error(self, call("POST", "/api/setup/zendesk/verify"), 502, "zendesk_rejected_credentials")
        checks = {c["name"]: c for c in e["checks"]}
        self.assertEqual(list(checks), ["messaging_key", "support_token", "agent_workspace", "webhook_integration"])
        self.assertEqual((checks["support_token"]["ok"], checks["support_token"]["ran"]), (False, True))
        self.assertIs(checks["messaging_key"]["ran"], True)
        last = call("GET", "/api/setup/status").json()["last_zendesk_error"]
        self.assertEqual(last["message"], e["message"])
        self.assertRegex(last["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual([c["name"] for c in last["checks"]], ["support_token"])
        self.assertIn("API token", last["checks"][0]["message"])
        self.assertNotIn("wrong-token", str(last))
        self.assertEqual(patch({"zendesk": {"api_token": FAKE.api_token}}).status, 200)
        r = call("POST", "/api/setup/zendesk/verify")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(all(c["ok"] and c["ran"] for c in r.json()["checks"]))
        self.assertIsNone(call("GET", "/api/setup/status").json()["last_zendesk_error"])

    def test_checks_that_did_not_run_say_so(self):
        self.assertEqual(patch({"zendesk": {"messaging": {"key_secret": "wrong-secret"}}}).status, 200)
        try:
            e = assert_error(self, call("POST", "/api/setup/zendesk/verify"), 502, "zendesk_rejected_credentials")
            ran = {c["name"]: c["ran"] for c in e["checks"]}
            self.assertEqual(ran, {"messaging_key": True, "support_token": True, "agent_workspace": False,
                                   "webhook_integration": False})
            last = call("GET", "/api/setup/status").json()["last_zendesk_error"]
            self.assertIn("messaging_key", [c["name"] for c in last["checks"]])
        finally:
            patch({"zendesk": {"messaging": {"key_secret": FAKE.key_secret}}})


class DeploymentWorks(unittest.TestCase):
    def test_status_shows_the_last_handoff_and_webhook_of_a_real_transfer(self):
        status = call("GET", "/api/setup/status").json()
        self.assertIsNone(status["last_handoff_at"])
        r = SERVER.request("POST", "/api/transfers", body={
            "visitor": {"name": "Ana Lima", "email": "ana@shop.example"},
            "message_to_human_agent": "Trying the deployment"})
        self.assertEqual(r.status, 201, r.body)
        tid = r.json()["id"]
        conv = harness.wait_for(lambda: next((c for c in FAKE.conversations.values()
                                              if c["metadata"] == {"deskbridge_transfer_id": tid}
                                              and c["control"]), None), what="the handoff")
        status = harness.wait_for(lambda: (lambda s: s if s["last_handoff_at"] else None)(
            call("GET", "/api/setup/status").json()), what="last_handoff_at")
        # Zendesk's switchboard events of the handoff, or the agent's reply, are webhooks.
        FAKE.agent_says(conv["id"], "Hello, I'm Ana")
        status = harness.wait_for(lambda: (lambda s: s if s["last_webhook_at"] else None)(
            call("GET", "/api/setup/status").json()), what="last_webhook_at")
        self.assertRegex(status["last_webhook_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertGreaterEqual(status["last_webhook_at"], status["last_handoff_at"])


if __name__ == "__main__":
    sys.exit(harness.main())

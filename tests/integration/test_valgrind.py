"""Every handler under valgrind's memcheck, through lighttpd: setup, token, transfer,
agent and webhook serve a whole conversation and its refusals, then stop, and each
process's report must be empty: no invalid read or write, no jump on uninitialised
memory, no leak, definite or indirect. The -Werror build only: the sanitizer build's
handlers carry AddressSanitizer, which valgrind cannot run."""

import glob
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
from test_setup_session import cookie_of, login  # noqa: E402
from test_token import site  # noqa: E402

HANDLERS = ("setup", "token", "transfer", "agent", "webhook")
# A handler's start under valgrind takes a second or two; what a test waits for, longer.
SLOW = 60


def wrap_handlers(state):
    """A folder of scripts, one per handler, each running the real handler under
    memcheck with its report in state.dir/valgrind/<handler>.<pid>."""
    wrappers, reports = os.path.join(state.dir, "vg-bin"), os.path.join(state.dir, "valgrind")
    os.mkdir(wrappers)
    os.mkdir(reports)
    for h in HANDLERS:
        path = os.path.join(wrappers, h)
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect"
                    " --errors-for-leak-kinds=definite,indirect --log-file=%s/%s.%%p %s \"$@\"\n"
                    % (reports, h, os.path.join(harness.CGI_BIN, h)))
        os.chmod(path, 0o755)
    return wrappers, reports


class UnderValgrind(unittest.TestCase):
    def test_handlers_are_memcheck_clean(self):
        state = harness.State()
        wrappers, reports = wrap_handlers(state)
        fake = FakeZendesk().start()
        server = harness.Server(state=state, cgi_bin=wrappers).start()
        try:
            harness.connect_zendesk(server, fake)
            self.converse(server, fake)
        finally:
            server.stop()
            fake.stop()
        self.assertEqual(server.handler_pids(), [], "a handler outlived lighttpd")
        logs = sorted(glob.glob(os.path.join(reports, "*")))
        ran = {os.path.basename(p).split(".")[0] for p in logs}
        self.assertEqual(ran, set(HANDLERS), "each handler ran under valgrind")
        found = [p for p in logs if os.path.getsize(p) > 0]
        self.assertEqual(found, [], "".join(open(p, errors="replace").read() for p in found[:2]))

    def converse(self, server, fake):
        def req(method, path, **kw):
            return server.request(method, path, timeout=SLOW, **kw)

        self.assertEqual(req("GET", "/api/health").status, 200)
        r = login(server)
        session = {"Cookie": "deskbridge_admin=" + cookie_of(r), "X-CSRF-Token": r.json()["csrf_token"]}
        keys = site({"action": "keypair"})
        r = req("PATCH", "/api/setup/config", headers=session, body={
            "zendesk": {"shared_secret": "zendesk-shared-secret-for-valgrind",
                        "messaging": {"jwt_key_id": "app_64f1c2a8e4b0d1001f2c3d4e"}},
            "security": {"authenticate_users": True, "issuer": "https://shop.example",
                         "site_public_keys": [{"kid": "shop", "pem": keys["public"]}]}})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(req("GET", "/api/setup/config", headers=session).status, 200)

        public = req("GET", "/api/public-key").body.decode()
        token = site({"action": "sign", "privateKey": keys["private"], "publicKey": public,
                      "options": {"expiresIn": "10m", "keyid": "shop"},
                      "claims": {"sub": "customer-42", "iss": "https://shop.example", "acr": "loa1"},
                      "payload": {"name": "Ana Lima", "email": "ana@shop.example"}})["token"]
        r = req("POST", "/api/token", body={"token": token})
        self.assertEqual(r.status, 200, r.body)
        assert_error(self, req("POST", "/api/token", body={"token": token[:-4] + "AAAA"}), 401, "invalid_token")
        assert_error(self, req("POST", "/api/token", body=b"{not json",
                               headers={"Content-Type": "application/json"}), 400, "bad_request")

        create = {"token": token, "client_request_id": "valgrind-1", "client_secret": "valgrind-creation-secret-1",
                  "message_to_human_agent": "Refund, please", "history": [{"from": "user", "text": "I want a refund"}]}
        r = req("POST", "/api/transfers", body=create)
        self.assertEqual(r.status, 201, r.body)
        t = r.json()
        self.assertEqual(req("POST", "/api/transfers", body=create).json()["id"], t["id"])
        assert_error(self, req("POST", "/api/transfers", body=dict(create, client_secret=None)), 409, "conflict")
        auth = {"Authorization": "Bearer " + t["secret"]}
        events = "/api/transfers/%s/events" % t["id"]
        conv = harness.wait_for(lambda: next((c for c in fake.conversations.values() if c["control"]), None),
                                seconds=SLOW, poll=lambda: req("GET", events, headers=auth))
        fake.workspace_accepts(conv["id"])
        fake.agent_says(conv["id"], "Hello, Ana")
        harness.wait_for(lambda: any(e["type"] == "message" and e["from"] == "agent" and e["text"] == "Hello, Ana"
                                     for e in req("GET", events + "?after=0", headers=auth).json()["events"]),
                         seconds=SLOW, what="the agent's message, through the webhook")
        r = req("POST", "/api/transfers/%s/messages" % t["id"], headers=auth,
                body={"client_message_id": "m1", "text": "Thanks"})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(req("POST", "/api/transfers/%s/typing" % t["id"], headers=auth,
                             body={"typing": True}).status, 204)
        self.assertEqual(req("POST", "/api/transfers/%s/read" % t["id"], headers=auth,
                             body={"seq": 1}).status, 204)
        self.assertEqual(req("GET", "/api/transfers/" + t["id"], headers=auth).status, 200)
        assert_error(self, req("GET", "/api/transfers/" + t["id"], headers={"Authorization": "Bearer wrong"}),
                     401, "unauthenticated")
        r = req("POST", "/api/setup/app-credentials", headers=session)
        self.assertEqual(r.status, 201, r.body)
        creds = r.json()["app_credentials"]
        self.assertEqual(req("GET", "/api/agent/transfers/" + t["id"],
                             headers={"Authorization": "Bearer " + creds}).status, 200)
        assert_error(self, req("POST", "/api/zendesk/webhook", body={"events": []}), 401, "unauthenticated")
        r = req("POST", "/api/transfers/%s/end" % t["id"], headers=auth)
        self.assertEqual((r.status, r.json()), (200, {"state": "ended"}), r.body)


if __name__ == "__main__":
    sys.exit(harness.main())

"""The fake Zendesk (tests/fake_zendesk.py) tested directly: over HTTP, as deskbridge's
driver calls it, and through Zendesk's official client (npm:
sunshine-conversations-client), whose models parse its answers. It must be as strict as
Zendesk: every request body checked against the published OpenAPI spec, every message
echoed as a webhook after its POST is answered, a user's typing refused, passControl
taking only a switchboard integration's id or name (or "next")."""

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import harness  # noqa: E402,F401  (sets up the environment the tests share)
import fake_zendesk  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402

SECRET = "webhook-secret-for-the-fake"


class Receiver:
    """deskbridge's webhook endpoint, played by the test: records each delivery (headers,
    body, when) and answers 200 {"applied": n}; hold() makes it wait before answering."""

    def __init__(self):
        self.got = []
        self.gate = threading.Event()
        self.gate.set()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rec.gate.wait(20)
                rec.got.append({"headers": dict(self.headers), "body": json.loads(raw), "at": time.time(),
                                "path": self.path})
                data = json.dumps({"applied": len(json.loads(raw)["events"]), "ignored": 0}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/api/zendesk/webhook" % self.server.server_address[1]

    def stop(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        return [e for d in self.got for e in d["body"]["events"]]


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def call(fake, method, path, body=None, auth=None, ctype="application/json", raw=None):
    """One request to the fake as deskbridge's driver makes it: (status, JSON answer)."""
    if auth is None:
        auth = basic(fake.key_id, fake.key_secret) if path.startswith("/sc/") else \
            basic(fake.api_user + "/token", fake.api_token)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    headers = {"Authorization": auth}
    if data is not None and ctype:
        headers["Content-Type"] = ctype
    req = urllib.request.Request(fake.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class FakeTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeZendesk().start()
        self.addCleanup(self.fake.stop)
        self.app = "/sc/v2/apps/%s" % self.fake.app_id

    def webhooks(self):
        rec = Receiver()
        self.addCleanup(rec.stop)
        self.fake.webhook_url, self.fake.webhook_secret = rec.url, SECRET
        return rec

    def conversation(self, ext="visitor-1"):
        st, user = call(self.fake, "POST", self.app + "/users",
                        {"externalId": ext, "profile": {"givenName": "Ana", "email": "ana@shop.example"}})
        self.assertEqual(st, 201, user)
        st, conv = call(self.fake, "POST", self.app + "/conversations", {
            "type": "personal", "participants": [{"userId": user["user"]["id"], "subscribeSDKClient": False}],
            "metadata": {"deskbridge_transfer_id": "tr_1"}})
        self.assertEqual(st, 201, conv)
        return user["user"]["id"], conv["conversation"]["id"]

    def post(self, cid, text, user_id=None, mark=None):
        author = {"type": "user", "userId": user_id} if user_id else {"type": "business", "displayName": "Bot"}
        body = {"author": author, "content": {"type": "text", "text": text}}
        if mark:
            body["metadata"] = {"deskbridge_mark": mark}
        return call(self.fake, "POST", self.app + "/conversations/%s/messages" % cid, body)

    def assertRefused(self, answer, status, want=400):
        self.assertEqual(status, want, answer)
        self.assertEqual(answer["errors"][0]["code"], "bad_request", answer)
        self.assertTrue(answer["errors"][0]["title"], answer)


class OfficialClient(FakeTest):
    SCRIPT = r"""
"use strict";
const S = require("sunshine-conversations-client");
async function status(p) { try { await p; return 200; } catch (e) { return e.status; } }
async function main(cfg) {
  const client = S.ApiClient.instance;
  client.basePath = cfg.base + "/sc";
  client.authentications.basicAuth.username = cfg.keyId;
  client.authentications.basicAuth.password = cfg.keySecret;
  const app = cfg.appId, out = {};
  out.appId = (await new S.AppsApi().getApp(app)).app.id;
  const users = new S.UsersApi();
  const userPost = new S.UserCreateBody("official-client-visitor");
  userPost.profile = { givenName: "Official", email: "official@shop.example" };
  const created = await users.createUser(app, userPost);
  out.userId = created.user.id;
  out.userExternalId = created.user.externalId;
  out.conflict = await status(users.createUser(app, userPost));
  out.fetchedUserId = (await users.getUser(app, "official-client-visitor")).user.id;

  const convPost = new S.ConversationCreateBody("personal");
  convPost.participants = [{ userId: out.userId, subscribeSDKClient: false }];
  const cid = (await new S.ConversationsApi().createConversation(app, convPost)).conversation.id;
  out.conversationId = cid;

  const messages = new S.MessagesApi();
  const msgPost = new S.MessagePost();
  msgPost.author = { type: "user", userId: out.userId };
  msgPost.content = { type: "text", text: "Hello from the official client" };
  msgPost.metadata = { deskbridge_mark: "tr_x/1/0" };
  const posted = await messages.postMessage(app, cid, msgPost);
  out.messageId = posted.messages[0].id;
  out.messageText = posted.messages[0].content.text;
  out.messageSource = posted.messages[0].source.type;
  const listed = await messages.listMessages(app, cid);
  out.listedMark = listed.messages[listed.messages.length - 1].metadata.deskbridge_mark;
  out.listedHasMore = listed.meta.hasMore;
  for (let i = 0; i < 120; i++) {
    const more = new S.MessagePost();
    more.author = { type: "business" };
    more.content = { type: "text", text: "later " + i };
    await messages.postMessage(app, cid, more);
  }
  const latest = await messages.listMessages(app, cid);
  out.latestCount = latest.messages.length;
  out.latestHasMore = latest.meta.hasMore;
  const earlier = await messages.listMessages(app, cid, { page: { before: latest.meta.beforeCursor } });
  out.earlierCount = earlier.messages.length;
  out.earlierHasMore = earlier.meta.hasMore;
  out.earlierFirstMark = (earlier.messages[0].metadata || {}).deskbridge_mark;

  const boards = await new S.SwitchboardsApi().listSwitchboards(app);
  out.switchboards = boards.switchboards.map((b) => ({ id: b.id, enabled: b.enabled }));
  const sbis = await new S.SwitchboardIntegrationsApi().listSwitchboardIntegrations(app, boards.switchboards[0].id);
  out.switchboardIntegrations = sbis.switchboardIntegrations.map((i) => ({
    id: i.id, name: i.name, integrationId: i.integrationId, integrationType: i.integrationType,
    deliverStandbyEvents: i.deliverStandbyEvents }));
  const ints = await new S.IntegrationsApi().listIntegrations(app);
  out.integrations = ints.integrations.map((i) => ({ id: i.id, type: i.type,
    targets: (i.webhooks || []).map((w) => w.target) }));

  const sw = new S.SwitchboardActionsApi();
  const byType = new S.PassControlBody();
  byType.switchboardIntegration = "zd:agentWorkspace";
  out.passByType = await status(sw.passControl(app, cid, byType));
  const aw = sbis.switchboardIntegrations.find((i) => i.integrationType === "zd:agentWorkspace");
  const pass = new S.PassControlBody();
  pass.switchboardIntegration = aw.id;
  pass.metadata = { first_message_id: out.messageId, "dataCapture.systemField.tags": "deskbridge_tr_x" };
  await sw.passControl(app, cid, pass);
  out.passed = true;

  const activities = new S.ActivitiesApi();
  const typing = new S.ActivityPost();
  typing.author = { type: "user", userId: out.userId };
  typing.type = "typing:start";
  out.userTyping = await status(activities.postActivity(app, cid, typing));
  const read = new S.ActivityPost();
  read.author = { type: "user", userId: out.userId };
  read.type = "conversation:read";
  await activities.postActivity(app, cid, read);
  out.read = true;

  client.authentications.basicAuth.password = "wrong";
  out.wrongSecret = await status(new S.AppsApi().getApp(app));
  return out;
}
let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  main(JSON.parse(input)).then(
    (out) => process.stdout.write(JSON.stringify(out)),
    (e) => { process.stdout.write(JSON.stringify({ error: String(e && (e.message || e)), status: e && e.status,
                                                    body: e && e.response && e.response.text })); });
});
"""

    def test_official_client_talks_to_the_fake(self):
        fake = self.fake
        cfg = {"base": fake.url, "appId": fake.app_id, "keyId": fake.key_id, "keySecret": fake.key_secret}
        p = subprocess.run(["node", "-e", self.SCRIPT], input=json.dumps(cfg), capture_output=True,
                           text=True, timeout=120, cwd=HERE)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertNotIn("error", out, out)
        self.assertEqual(out["appId"], fake.app_id)
        self.assertEqual(out["userExternalId"], "official-client-visitor")
        self.assertEqual(out["fetchedUserId"], out["userId"])
        self.assertEqual(out["conflict"], 409)
        self.assertEqual(out["messageText"], "Hello from the official client")
        self.assertEqual(out["messageSource"], "api:conversations")
        self.assertEqual((out["listedMark"], out["listedHasMore"]), ("tr_x/1/0", False))
        self.assertEqual((out["latestCount"], out["latestHasMore"]), (100, True))
        self.assertEqual((out["earlierCount"], out["earlierHasMore"], out["earlierFirstMark"]),
                         (21, False, "tr_x/1/0"))
        self.assertTrue(any("page%5Bbefore%5D=" in r[2] or "page[before]=" in r[2]
                            for r in fake.calls("GET", "/messages")), "the client sent no page[before]")
        self.assertEqual(out["switchboards"], [{"id": fake.switchboard_id, "enabled": True}])
        self.assertEqual(sorted(i["integrationType"] for i in out["switchboardIntegrations"]),
                         ["custom", "zd:agentWorkspace"])
        ours = next(i for i in out["integrations"] if i["type"] == "custom")
        # (The client's Integration model keeps no webhooks; the HTTP tests check them.)
        self.assertIn(ours["id"], [i["integrationId"] for i in out["switchboardIntegrations"]])
        self.assertEqual(out["passByType"], 400, "an integration type is not an id or a name")
        self.assertTrue(out["passed"] and out["read"])
        self.assertEqual(out["userTyping"], 400, "a user author may only post conversation:read")
        self.assertEqual(out["wrongSecret"], 401)
        conv = fake.conversations[out["conversationId"]]
        self.assertEqual(conv["control"], fake.agent_workspace_id)
        self.assertEqual(conv["pass_metadata"]["dataCapture.systemField.tags"], "deskbridge_tr_x")
        self.assertEqual(conv["activity"], ["conversation:read"])
        self.assertEqual([(r["method"], r["path"].rsplit("/", 1)[1]) for r in fake.refusals],
                         [("POST", "passControl"), ("POST", "activity")])


class Echoes(FakeTest):
    def test_every_api_post_is_echoed_as_stored_after_the_answer(self):
        rec = self.webhooks()
        user_id, cid = self.conversation()
        rec.gate.clear()  # deskbridge is busy: were the echo part of the POST, it would hang
        t0 = time.time()
        st, first = self.post(cid, "Hello", user_id=user_id, mark="tr_1/1/0")
        st2, second = self.post(cid, "Note for the agent", mark="tr_1/2/0")
        self.assertEqual((st, st2), (201, 201))
        self.assertLess(time.time() - t0, 5, "the POSTs were answered before their echoes")
        self.assertEqual(rec.got, [])
        rec.gate.set()
        self.assertTrue(self.fake.settle(10))
        self.assertEqual(len(rec.got), 2)
        for d in rec.got:
            self.assertEqual({k.lower(): v for k, v in d["headers"].items()}.get("x-api-key"), SECRET)
            self.assertEqual(d["body"]["app"], {"id": self.fake.app_id})
            self.assertEqual(d["body"]["webhook"]["version"], "v2")
            self.assertEqual(d["path"], "/api/zendesk/webhook")
        echoed = [e["payload"]["message"] for e in rec.events()]
        self.assertEqual(echoed, [first["messages"][0], second["messages"][0]], "in order, as stored")
        self.assertEqual(echoed[0]["author"], {"type": "user", "userId": user_id})
        self.assertEqual(echoed[1]["author"], {"type": "business", "displayName": "Bot"})
        self.assertEqual([m["source"] for m in echoed], [{"type": "api:conversations"}] * 2)
        self.assertEqual([m["metadata"] for m in echoed], [{"deskbridge_mark": "tr_1/1/0"},
                                                           {"deskbridge_mark": "tr_1/2/0"}])
        event = rec.events()[0]
        self.assertEqual(event["type"], "conversation:message")
        self.assertTrue(event["id"] and event["createdAt"])
        self.assertEqual(event["payload"]["conversation"]["id"], cid)
        self.assertEqual([(d["type"], d["conversation"], d["status"], d["echo"]) for d in self.fake.deliveries],
                         [("conversation:message", cid, 200, True)] * 2)
        self.assertEqual(self.fake.deliveries[0]["answer"], {"applied": 1, "ignored": 0})

    def test_the_agent_writes_from_the_workspace_after_pending_echoes(self):
        rec = self.webhooks()
        user_id, cid = self.conversation()
        rec.gate.clear()
        self.post(cid, "Are you there?", user_id=user_id)
        threading.Timer(0.5, rec.gate.set).start()
        status, answer = self.fake.agent_says(cid, "Hi, I'm Ana")  # waits for its own delivery
        self.assertEqual((status, answer), (200, {"applied": 1, "ignored": 0}))
        messages = [e["payload"]["message"] for e in rec.events()]
        self.assertEqual([m["content"]["text"] for m in messages], ["Are you there?", "Hi, I'm Ana"])
        agent = messages[1]
        self.assertEqual(agent["source"], {"type": "zd:agentWorkspace"})
        self.assertEqual(agent["author"]["type"], "business")
        self.assertNotIn("userId", agent["author"])
        self.assertTrue(agent["author"]["displayName"] and agent["author"]["avatarUrl"])
        for how in (lambda: self.fake.agent_typing(cid), lambda: self.fake.agent_reads(cid),
                    lambda: self.fake.workspace_accepts(cid), lambda: self.fake.agent_solves(cid)):
            self.assertEqual(how()[0], 200)
        self.assertEqual([d["type"] for d in self.fake.deliveries][2:],
                         ["conversation:typing", "conversation:read", "switchboard:passControl",
                          "switchboard:releaseControl"])
        accepted = rec.events()[4]["payload"]["conversation"]["activeSwitchboardIntegration"]
        self.assertEqual(accepted["id"], self.fake.agent_workspace_id)

    def test_no_webhook_url_no_echo(self):
        user_id, cid = self.conversation()
        self.assertEqual(self.post(cid, "Nobody listens", user_id=user_id)[0], 201)
        self.assertTrue(self.fake.settle(5))
        self.assertEqual(self.fake.deliveries, [])

    def test_control_routes_show_deliveries_refusals_and_control(self):
        self.webhooks()
        user_id, cid = self.conversation()
        self.post(cid, "Hello", user_id=user_id)
        call(self.fake, "POST", self.app + "/conversations/%s/passControl" % cid,
             {"switchboardIntegration": self.fake.agent_workspace_id})
        call(self.fake, "POST", self.app + "/conversations/%s/passControl" % cid,
             {"switchboardIntegration": "zd:agentWorkspace"})
        st, settled = call(self.fake, "POST", "/_fake/settle", {"timeout": 10})
        self.assertEqual((st, settled), (200, {"settled": True}))
        st, d = call(self.fake, "GET", "/_fake/deliveries")
        self.assertEqual([(x["type"], x["conversation"], x["status"]) for x in d["deliveries"]],
                         [("conversation:message", cid, 200)])
        st, r = call(self.fake, "GET", "/_fake/refusals")
        self.assertEqual([x["path"] for x in r["refusals"]], [self.app + "/conversations/%s/passControl" % cid])
        st, c = call(self.fake, "GET", "/_fake/conversations")
        self.assertEqual(c["conversations"][0]["control"], self.fake.agent_workspace_id)
        st, a = call(self.fake, "POST", "/_fake/agent", {"conversation": cid, "action": "says", "text": "Hi"})
        self.assertEqual((st, a["status"]), (200, 200))


class Activity(FakeTest):
    def test_a_user_may_only_mark_read(self):
        user_id, cid = self.conversation()
        path = self.app + "/conversations/%s/activity" % cid
        for kind in ("typing:start", "typing:stop"):
            st, answer = call(self.fake, "POST", path, {"author": {"type": "user", "userId": user_id}, "type": kind})
            self.assertRefused(answer, st)
        st, _ = call(self.fake, "POST", path, {"author": {"type": "user", "userId": user_id},
                                               "type": "conversation:read"})
        self.assertEqual(st, 200)
        st, _ = call(self.fake, "POST", path, {"author": {"type": "business"}, "type": "typing:start"})
        self.assertEqual(st, 200, "the business may type")
        self.assertEqual(self.fake.conversations[cid]["activity"], ["conversation:read", "typing:start"])
        self.assertEqual(len(self.fake.refusals), 2)
        self.assertIn("conversation:read", self.fake.refusals[0]["reason"])


class PassControl(FakeTest):
    def test_only_an_id_a_name_or_next(self):
        _, cid = self.conversation()
        path = self.app + "/conversations/%s/passControl" % cid
        for wrong in ("zd:agentWorkspace", "custom", "sbi_nonexistent", ""):
            st, answer = call(self.fake, "POST", path, {"switchboardIntegration": wrong})
            self.assertRefused(answer, st)
        self.assertIsNone(self.fake.conversations[cid]["control"])
        st, _ = call(self.fake, "POST", path, {"switchboardIntegration": "next"})
        self.assertEqual(st, 200)
        self.assertEqual(self.fake.conversations[cid]["control"], self.fake.agent_workspace_id,
                         "the bot's next is the agent workspace")
        st, _ = call(self.fake, "POST", path, {"switchboardIntegration": "deskbridge"})
        self.assertEqual((st, self.fake.conversations[cid]["control"]),
                         (200, self.fake.own_switchboard_integration_id))
        st, _ = call(self.fake, "POST", path, {"switchboardIntegration": self.fake.agent_workspace_id,
                                               "metadata": {"first_message_id": "m1"}})
        self.assertEqual((st, self.fake.conversations[cid]["control"]), (200, self.fake.agent_workspace_id))
        self.assertEqual(self.fake.conversations[cid]["pass_metadata"], {"first_message_id": "m1"})
        self.fake.remove_switchboard_integration("zd:agentWorkspace")
        st, answer = call(self.fake, "POST", path, {"switchboardIntegration": self.fake.agent_workspace_id})
        self.assertRefused(answer, st)


class Switchboard(FakeTest):
    def test_listings_in_the_specs_shapes(self):
        rec = self.webhooks()
        st, boards = call(self.fake, "GET", self.app + "/switchboards")
        self.assertEqual(st, 200)
        self.assertEqual(len(boards["switchboards"]), 1)
        board = boards["switchboards"][0]
        self.assertEqual(set(board), {"id", "enabled", "defaultSwitchboardIntegrationId"})
        st, sbis = call(self.fake, "GET", self.app + "/switchboards/%s/switchboardIntegrations" % board["id"])
        self.assertEqual(st, 200)
        items = sbis["switchboardIntegrations"]
        for i in items:  # the spec's switchboardIntegration: these are required
            self.assertLessEqual({"id", "name", "integrationId", "integrationType", "deliverStandbyEvents"}, set(i))
        aw = next(i for i in items if i["integrationType"] == "zd:agentWorkspace")
        ours = next(i for i in items if i["integrationType"] == "custom")
        self.assertEqual(aw["name"], "zd-agentWorkspace")
        self.assertTrue(ours["deliverStandbyEvents"])
        self.assertEqual(board["defaultSwitchboardIntegrationId"], ours["id"])
        self.assertEqual(ours["nextSwitchboardIntegrationId"], aw["id"])
        st, ints = call(self.fake, "GET", self.app + "/integrations")
        self.assertEqual(st, 200)
        custom = [i for i in ints["integrations"] if i["type"] == "custom"]
        self.assertEqual(len(custom), 1)
        self.assertEqual(custom[0]["id"], ours["integrationId"])
        self.assertEqual([(w["target"], w["version"]) for w in custom[0]["webhooks"]], [(rec.url, "v2")])
        self.assertIn("conversation:message", custom[0]["webhooks"][0]["triggers"])
        self.assertEqual(ints["meta"], {"hasMore": False})
        st, answer = call(self.fake, "GET", self.app + "/switchboards/sb_other/switchboardIntegrations")
        self.assertEqual(st, 404)

    def test_an_incomplete_switchboard(self):
        def types(fake):
            _, boards = call(fake, "GET", "/sc/v2/apps/%s/switchboards" % fake.app_id)
            _, sbis = call(fake, "GET", "/sc/v2/apps/%s/switchboards/%s/switchboardIntegrations"
                           % (fake.app_id, boards["switchboards"][0]["id"]))
            return sorted(i["integrationType"] for i in sbis["switchboardIntegrations"])

        for kwargs, want in (({"agent_workspace": False}, ["custom"]), ({"own_integration": False},
                                                                        ["zd:agentWorkspace"])):
            fake = FakeZendesk(**kwargs).start()
            self.addCleanup(fake.stop)
            self.assertEqual(types(fake), want)
            _, ints = call(fake, "GET", "/sc/v2/apps/%s/integrations" % fake.app_id)
            self.assertIn("custom", [i["type"] for i in ints["integrations"]], "the integration still exists")
        self.fake.remove_switchboard_integration("custom")
        self.assertEqual(types(self.fake), ["zd:agentWorkspace"])
        self.fake.restore_switchboard()
        self.assertEqual(types(self.fake), ["custom", "zd:agentWorkspace"])
        self.assertEqual([i["integrationType"] for i in self.fake.switchboard_integrations],
                         ["custom", "zd:agentWorkspace"])


class SupportApi(FakeTest):
    def test_agent_availability_in_the_documented_shape(self):
        self.fake.agents_online = 2
        st, answer = call(self.fake, "GET", "/api/v2/agent_availabilities?filter%5Bchannel_status%5D=messaging%3Aonline")
        self.assertEqual(st, 200, answer)
        self.assertEqual(len(answer["data"]), 2)
        agent = answer["data"][0]
        self.assertEqual(agent["type"], "agent_availabilities")
        self.assertTrue(agent["id"].startswith("agent_availabilities|"))
        self.assertEqual(set(agent), {"type", "id", "attributes", "links", "relationships"})
        self.assertIsInstance(agent["attributes"]["agent_id"], int)
        self.assertEqual(agent["attributes"]["agent_status"]["name"], "online")
        self.assertEqual(agent["relationships"]["channels"]["data"][0]["type"], "channels")
        self.assertIn("meta", answer)
        self.assertIn("links", answer)
        st, _ = call(self.fake, "GET", "/api/v2/agent_availabilities?filter%5Bchannel_status%5D=messaging%3Aonline",
                     auth=basic(self.fake.key_id, self.fake.key_secret))
        self.assertEqual(st, 401)

    def test_create_or_update_user(self):
        path = "/api/v2/users/create_or_update"
        st, created = call(self.fake, "POST", path, {"user": {"name": "Bea Costa", "email": "bea@shop.example",
                                                              "external_id": "customer-77", "verified": True}})
        self.assertEqual(st, 201, created)
        user = created["user"]
        self.assertIsInstance(user["id"], int)
        self.assertEqual((user["name"], user["email"], user["external_id"], user["verified"]),
                         ("Bea Costa", "bea@shop.example", "customer-77", True))
        st, updated = call(self.fake, "POST", path, {"user": {"name": "Bea C.", "email": "bea@shop.example",
                                                              "external_id": "CUSTOMER-77", "verified": True}})
        self.assertEqual((st, updated["user"]["id"], updated["user"]["name"]), (200, user["id"], "Bea C."))
        st, by_email = call(self.fake, "POST", path + ".json", {"user": {"name": "Bea", "email": "BEA@shop.example"}})
        self.assertEqual((st, by_email["user"]["id"]), (200, user["id"]))
        self.assertEqual(len(self.fake.support_users), 1)
        self.assertEqual(self.fake.support_users[0]["name"], "Bea")
        st, _ = call(self.fake, "POST", path, {"user": {"name": "X", "email": "x@shop.example"}},
                     auth=basic(self.fake.api_user, self.fake.api_token))
        self.assertEqual(st, 401, "the token login is {email}/token")
        for bad in ({}, {"user": "Bea"}, {"user": {"name": "No key"}}, {"user": {"email": "new@shop.example"}}):
            st, answer = call(self.fake, "POST", path, bad)
            self.assertRefused(answer, st)
        self.assertEqual(len(self.fake.refusals), 4)


class Attachments(FakeTest):
    """Upload Attachment and Delete Attachment as the spec and the file validation guide
    (docs.smooch.io/guide/validating-files/) give them."""

    def upload(self, query, filename="a.png", data=b"\x89PNG\r\n\x1a\n" + bytes(20), field="source"):
        b = "b0undary"
        body = ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                'Content-Type: application/octet-stream\r\n\r\n' % (b, field, filename)).encode() + data + \
            ("\r\n--%s--\r\n" % b).encode()
        return call(self.fake, "POST", self.app + "/attachments" + query, raw=body,
                    ctype="multipart/form-data; boundary=" + b)

    def test_upload_and_remove_in_the_specs_shapes(self):
        _, cid = self.conversation()
        st, answer = self.upload("?access=public&for=message&conversationId=" + cid)
        self.assertEqual(st, 201, answer)
        self.assertEqual(set(answer["attachment"]), {"mediaUrl", "mediaType"})
        self.assertEqual(answer["attachment"]["mediaType"], "image/png")
        self.assertRegex(answer["attachment"]["mediaUrl"], r"^https://acme\.zendesk\.com/sc/attachments/v2/")
        st, _ = call(self.fake, "POST", self.app + "/attachments/remove", {"mediaUrl": answer["attachment"]["mediaUrl"]})
        self.assertEqual(st, 200)
        self.assertEqual([a["removed"] for a in self.fake.attachments], [True])
        st, _ = call(self.fake, "POST", self.app + "/attachments/remove", {"mediaUrl": "https://elsewhere/x"})
        self.assertEqual(st, 404)
        st, answer = call(self.fake, "POST", self.app + "/attachments/remove", {})
        self.assertRefused(answer, st)

    def test_what_zendesk_refuses_is_refused(self):
        _, cid = self.conversation()
        for query in ("", "?access=private", "?access=public&for=conversation", "?access=public&size=1"):
            st, answer = self.upload(query)
            self.assertRefused(answer, st)
        st, answer = self.upload("?access=public", field="file")
        self.assertRefused(answer, st)
        st, answer = self.upload("?access=public&conversationId=c_nope")
        self.assertEqual(st, 404, answer)
        st, answer = self.upload("?access=public", filename="tool.exe")
        self.assertEqual((st, answer["errors"][0]["title"]), (415, "File rejected. File extension not allowed"))
        st, answer = self.upload("?access=public", filename="a.png", data=b"\x7fELF\x00\x00")
        self.assertEqual((st, answer["errors"][0]["title"]), (415, "File rejected. File type not allowed"))
        st, answer = call(self.fake, "POST", self.app + "/attachments?access=public", {"source": "x"})
        self.assertRefused(answer, st)
        st, answer = self.upload("?access=public", data=b"hello")
        self.assertEqual(st, 201, answer)   # text is an allowed type; the name's extension is on the list
        self.assertEqual(self.fake.attachments[-1]["mediaType"], "text/plain")

    def test_agent_media_messages(self):
        rec = self.webhooks()
        _, cid = self.conversation()
        st, _ = self.fake.agent_sends(cid, "file", media_type="application/pdf", alt_text="invoice.pdf", text="Here")
        self.assertEqual(st, 200)
        content = rec.got[-1]["body"]["events"][0]["payload"]["message"]["content"]
        self.assertEqual((content["type"], content["mediaType"], content["altText"], content["text"]),
                         ("file", "application/pdf", "invoice.pdf", "Here"))
        self.assertTrue(content["mediaUrl"].startswith("https://acme.zendesk.com/sc/attachments/v2/"))


class Spec(FakeTest):
    def test_the_schema_file_names_its_source(self):
        with open(fake_zendesk.SCHEMAS_FILE) as f:
            data = json.load(f)
        self.assertIn("github.com/zendesk/sunshine-conversations-api-spec", data["note"])
        self.assertRegex(data["source"]["commit"], r"^[0-9a-f]{40}$")
        self.assertIn(data["source"]["commit"], data["note"])
        for key in ("POST /v2/apps/{appId}/users", "POST /v2/apps/{appId}/conversations",
                    "POST /v2/apps/{appId}/conversations/{conversationId}/messages",
                    "POST /v2/apps/{appId}/conversations/{conversationId}/passControl",
                    "POST /v2/apps/{appId}/conversations/{conversationId}/activity"):
            self.assertTrue(data["endpoints"][key]["body"], key)
        self.assertIsNone(data["endpoints"]["GET /v2/apps/{appId}/switchboards"]["body"])

    def test_bodies_the_spec_refuses_are_refused(self):
        user_id, cid = self.conversation()
        conv = self.app + "/conversations/%s" % cid
        text = {"type": "text", "text": "hi"}
        cases = [
            (self.app + "/users", {"externalId": "v2", "profile": {"email": "not-an-email"}}),
            (self.app + "/users", {"externalId": ""}),
            (self.app + "/conversations", {"participants": [{"userId": user_id}]}),
            (self.app + "/conversations", {"type": "group", "participants": [{"userId": user_id}]}),
            (self.app + "/conversations", {"type": "personal", "participants": []}),
            (self.app + "/conversations", {"type": "personal", "participants": [{"userId": user_id}],
                                           "metadata": {"nested": {"a": 1}}}),
            (conv + "/messages", {"author": {"type": "user", "userId": user_id}, "content": {"type": "txt", "text": "hi"}}),
            (conv + "/messages", {"author": {"type": "bot"}, "content": text}),
            (conv + "/messages", {"content": text}),
            (conv + "/messages", {"author": {"type": "business"}, "content": {"type": "text", "text": "x" * 4097}}),
            (conv + "/messages", {"author": {"type": "business"}, "content": {"type": "image"}}),
            (conv + "/messages", {"author": {"type": "business", "userId": user_id}, "content": text}),
            (conv + "/messages", {"author": {"type": "user"}, "content": text}),
            (conv + "/messages", {"author": {"type": "business"}, "content": text, "metadata": "mark"}),
            (conv + "/passControl", {"metadata": {"first_message_id": "m1"}}),
            (conv + "/passControl", {"switchboardIntegration": 7}),
            (conv + "/activity", {"author": {"type": "business"}, "type": "typing:begin"}),
            (conv + "/activity", {"type": "conversation:read"}),
        ]
        for path, body in cases:
            st, answer = call(self.fake, "POST", path, body)
            self.assertRefused(answer, st)
        st, answer = call(self.fake, "POST", conv + "/messages", raw=b"{not json")
        self.assertRefused(answer, st)
        st, answer = call(self.fake, "POST", conv + "/messages", {"author": {"type": "business"}, "content": text},
                          ctype="text/plain")
        self.assertRefused(answer, st)
        self.assertEqual(len(self.fake.refusals), len(cases) + 2)
        self.assertTrue(all(r["method"] == "POST" and r["reason"] for r in self.fake.refusals))
        self.assertIn("txt", self.fake.refusals[6]["reason"])
        self.assertEqual(self.fake.conversations[cid]["messages"], [], "nothing refused was stored")
        # What the driver sends passes.
        st, _ = call(self.fake, "POST", conv + "/messages", {
            "author": {"type": "business", "displayName": "Bot"}, "content": text,
            "metadata": {"deskbridge_mark": "tr_1/1/0"}})
        self.assertEqual(st, 201)


if __name__ == "__main__":
    sys.exit(harness.main())

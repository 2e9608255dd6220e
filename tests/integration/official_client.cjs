// tests/integration/official_client.cjs — Zendesk's own Sunshine Conversations client
// (npm: sunshine-conversations-client) calls the fake Zendesk and parses its answers into
// the client's models: if the fake's shapes drifted from Zendesk's, this fails.
// Reads {"base", "appId", "keyId", "keySecret"} on stdin; writes what it got as JSON.
"use strict";
const SunshineConversationsClient = require("sunshine-conversations-client");

async function main(cfg) {
  const client = SunshineConversationsClient.ApiClient.instance;
  client.basePath = cfg.base + "/sc";
  client.authentications.basicAuth.username = cfg.keyId;
  client.authentications.basicAuth.password = cfg.keySecret;
  const out = {};

  const app = await new SunshineConversationsClient.AppsApi().getApp(cfg.appId);
  out.appId = app.app.id;

  const users = new SunshineConversationsClient.UsersApi();
  const userPost = new SunshineConversationsClient.UserCreateBody("official-client-visitor");
  userPost.profile = { givenName: "Official", email: "official@shop.example" };
  const created = await users.createUser(cfg.appId, userPost);
  out.userId = created.user.id;
  out.userExternalId = created.user.externalId;
  try {
    await users.createUser(cfg.appId, userPost);
    out.conflict = null;
  } catch (e) {
    out.conflict = e.status;
  }
  out.fetchedUserId = (await users.getUser(cfg.appId, "official-client-visitor")).user.id;

  const conversations = new SunshineConversationsClient.ConversationsApi();
  const convPost = new SunshineConversationsClient.ConversationCreateBody("personal");
  convPost.participants = [{ userId: out.userId, subscribeSDKClient: false }];
  const conv = await conversations.createConversation(cfg.appId, convPost);
  out.conversationId = conv.conversation.id;

  const messages = new SunshineConversationsClient.MessagesApi();
  const msgPost = new SunshineConversationsClient.MessagePost();
  msgPost.author = { type: "user", userId: out.userId };
  msgPost.content = { type: "text", text: "Hello from the official client" };
  msgPost.metadata = { deskbridge_mark: "tr_x/1/0" };
  const posted = await messages.postMessage(cfg.appId, out.conversationId, msgPost);
  out.messageId = posted.messages[0].id;
  out.messageText = posted.messages[0].content.text;
  const listed = await messages.listMessages(cfg.appId, out.conversationId);
  out.listedMark = listed.messages[listed.messages.length - 1].metadata.deskbridge_mark;
  out.listedHasMore = listed.meta.hasMore;
  // A longer conversation: the marked message drops off the latest page and is found on
  // the one before it, through the cursor the client was given.
  for (let i = 0; i < 120; i++) {
    const more = new SunshineConversationsClient.MessagePost();
    more.author = { type: "business" };
    more.content = { type: "text", text: "later " + i };
    await messages.postMessage(cfg.appId, out.conversationId, more);
  }
  const latest = await messages.listMessages(cfg.appId, out.conversationId);
  out.latestCount = latest.messages.length;
  out.latestHasMore = latest.meta.hasMore;
  const earlier = await messages.listMessages(cfg.appId, out.conversationId,
                                              { page: { before: latest.meta.beforeCursor } });
  out.earlierCount = earlier.messages.length;
  out.earlierHasMore = earlier.meta.hasMore;
  out.earlierFirstMark = (earlier.messages[0].metadata || {}).deskbridge_mark;

  const switchboard = new SunshineConversationsClient.SwitchboardActionsApi();
  const pass = new SunshineConversationsClient.PassControlBody();
  pass.switchboardIntegration = "zd:agentWorkspace";
  pass.metadata = { first_message_id: out.messageId };
  await switchboard.passControl(cfg.appId, out.conversationId, pass);
  out.passed = true;

  const activity = new SunshineConversationsClient.ActivityPost();
  activity.author = { type: "user", userId: out.userId };
  activity.type = "typing:start";
  await new SunshineConversationsClient.ActivitiesApi().postActivity(cfg.appId, out.conversationId, activity);
  out.activity = true;

  client.authentications.basicAuth.password = "wrong";
  try {
    await new SunshineConversationsClient.AppsApi().getApp(cfg.appId);
  } catch (e) {
    out.wrongSecret = e.status;
  }
  return out;
}

let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  main(JSON.parse(input)).then(
    (out) => process.stdout.write(JSON.stringify(out)),
    (e) => { process.stdout.write(JSON.stringify({ error: String(e && (e.message || e)), status: e && e.status })); });
});

/* The agent's sidebar: finds the deskbridge transfer of this ticket (its tag
 * "deskbridge_<transfer id>") and shows what the visitor told the bot. Every text
 * from the visitor, the bot or the API is set with textContent, never as HTML. */
(function () {
  "use strict";
  var client = window.ZAFClient ? window.ZAFClient.init() : null;
  var statusEl = document.getElementById("status");

  function show(message) {
    statusEl.textContent = message;
    statusEl.hidden = false;
    document.getElementById("transfer").hidden = true;
  }

  function text(id, value) {
    document.getElementById(id).textContent = value == null ? "" : String(value);
  }

  function render(t) {
    text("visitor-name", t.visitor && t.visitor.name);
    text("visitor-email", t.visitor && t.visitor.email);
    text("visitor-auth", t.visitor && t.visitor.authenticated ? "signed in on the site" : "not verified");
    text("bot-message", t.message_to_human_agent || "(none)");
    var link = document.getElementById("page-url");
    link.textContent = t.page_url || "(unknown page)";
    if (/^https?:\/\//.test(t.page_url || "")) link.href = t.page_url; else link.removeAttribute("href");
    var list = document.getElementById("history");
    list.textContent = "";
    (t.history || []).forEach(function (entry) {
      var item = document.createElement("li");
      item.className = entry.from === "user" ? "from-user" : "from-bot";
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = entry.from === "user" ? "Visitor" : "Bot";
      var when = document.createElement("time");
      when.textContent = entry.time ? new Date(entry.time).toLocaleTimeString() : "";
      var body = document.createElement("p");
      body.textContent = entry.text;
      item.append(who, " ", when, body);
      list.appendChild(item);
    });
    statusEl.hidden = true;
    document.getElementById("transfer").hidden = false;
    if (client) client.invoke("resize", { width: "100%", height: document.body.scrollHeight + "px" });
  }

  if (!client) { show("This page runs inside Zendesk's agent workspace."); return; }
  Promise.all([client.get("ticket.tags"), client.metadata()]).then(function (r) {
    var tags = r[0]["ticket.tags"] || [];
    // "deskbridge_tr_…" names the transfer; "deskbridge_dept_…" is only for routing.
    var tag = tags.filter(function (t) { return t.indexOf("deskbridge_tr_") === 0; })[0];
    if (!tag) { show("This ticket did not come from a deskbridge transfer."); return; }
    var base = String(r[1].settings.deskbridge_url || "").replace(/\/+$/, "");
    return client.request({
      url: base + "/api/agent/transfers/" + encodeURIComponent(tag.slice("deskbridge_".length)),
      type: "GET",
      headers: { Authorization: "Bearer {{setting.app_credentials}}" },
      secure: true,
      dataType: "json"
    }).then(render, function (err) {
      var status = err && err.status;
      show(status === 401 ? "deskbridge refused the app's credentials: generate new ones in deskbridge's setup page and update this app's settings."
        : status === 404 ? "deskbridge does not know this transfer (it may have been purged)."
        : "deskbridge could not be reached. Try again in a moment.");
    });
  });
})();

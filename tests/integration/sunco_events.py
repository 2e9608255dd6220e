"""Sunshine Conversations v2 webhook deliveries, shaped as Zendesk documents them:
{"app": {"id"}, "webhook": {"id", "version": "v2"}, "events": [{"id", "createdAt",
"type", "payload"}]}. The agent workspace writes as a "business" author."""

import itertools
import time

_ids = itertools.count(1)


def _event(type_, payload):
    return {"id": "evt_%06d_%d" % (next(_ids), int(time.time() * 1000)),
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "type": type_, "payload": payload}


def delivery(*events, app_id="app_5f1a", webhook_id="wh_1"):
    return {"app": {"id": app_id}, "webhook": {"id": webhook_id, "version": "v2"},
            "events": list(events)}


def _conversation(cid):
    return {"id": cid, "type": "personal", "activeSwitchboardIntegration": None}


def agent_message(cid, text, name="Ana", message_id=None):
    """A business author carries no userId (Zendesk: "Only supported when type is user");
    the agent is known by displayName and avatarUrl."""
    return _event("conversation:message", {
        "conversation": _conversation(cid),
        "message": {"id": message_id or "msg_%d" % next(_ids),
                    "received": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "author": {"type": "business", "displayName": name,
                               "avatarUrl": "https://acme.zendesk.com/avatar.png"},
                    "content": {"type": "text", "text": text},
                    "source": {"type": "zd:agentWorkspace"}}})


def visitor_echo(cid, text):
    return _event("conversation:message", {
        "conversation": _conversation(cid),
        "message": {"id": "msg_%d" % next(_ids), "author": {"type": "user", "userId": "u1"},
                    "content": {"type": "text", "text": text}, "source": {"type": "api:conversations"}}})


def typing(cid, start=True):
    return _event("conversation:typing", {
        "conversation": _conversation(cid),
        "activity": {"type": "typing:start" if start else "typing:stop",
                     "author": {"type": "business", "displayName": "Ana"}}})


def read(cid):
    return _event("conversation:read", {
        "conversation": _conversation(cid),
        "activity": {"type": "conversation:read", "author": {"type": "business", "displayName": "Ana"}}})


def _switchboard(type_, cid, integration_type):
    """passControl and acceptControl carry the conversation with the integration now in
    control (ConversationTruncated.activeSwitchboardIntegration), and no target of their own."""
    return _event(type_, {"conversation": dict(_conversation(cid), activeSwitchboardIntegration={
        "id": "sbi_1", "name": integration_type.replace(":", "-"), "integrationId": "int_1",
        "integrationType": integration_type})})


def pass_control(cid, integration_type="zd:agentWorkspace"):
    return _switchboard("switchboard:passControl", cid, integration_type)


def accept_control(cid, integration_type="zd:agentWorkspace"):
    return _switchboard("switchboard:acceptControl", cid, integration_type)


def release_control(cid, reason="ticketClosed"):
    return _event("switchboard:releaseControl", {"conversation": _conversation(cid), "reason": reason})

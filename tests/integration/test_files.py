"""Files both ways through lighttpd against the fake Zendesk: the visitor's upload
(POST /api/transfers/{id}/files) reaches Zendesk as an attachment and an image or file
message, judged by its content within the configured size; every refusal (type, size,
state, malformed multipart, Zendesk failing) leaves nothing in Zendesk; the agent's
images and files become events carrying only https: addresses on Zendesk's hosts. Both
bundled server configurations (lighttpd, and Apache through mod_fcgid or as plain CGI)
let the largest file limits.file_upload_bytes allows through to the handler."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import images  # noqa: E402
from fake_zendesk import FakeZendesk  # noqa: E402
from test_handlers import assert_error  # noqa: E402
import test_handoff  # noqa: E402
from test_handoff import poll  # noqa: E402

SERVER = FAKE = None
PNG = images.png(8, 8)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
BOUNDARY = "----deskbridgeTestBoundary7MA4YWxk"


def setUpModule():
    global SERVER, FAKE
    FAKE = test_handoff.FAKE = FakeZendesk().start()
    SERVER = test_handoff.SERVER = harness.Server().start()
    harness.connect_zendesk(SERVER, FAKE)


def tearDownModule():
    FAKE.stop()


def multipart(parts, boundary=BOUNDARY):
    """parts: (field name, filename or None, content type or None, bytes)."""
    out = b""
    for name, filename, ctype, data in parts:
        disp = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename is not None else "")
        out += ("--%s\r\nContent-Disposition: %s\r\n" % (boundary, disp)).encode()
        if ctype:
            out += ("Content-Type: %s\r\n" % ctype).encode()
        out += b"\r\n" + data + b"\r\n"
    return out + ("--%s--\r\n" % boundary).encode()


def upload(tid, auth, data, filename="receipt.png", ctype="image/png", body=None, content_type=None):
    headers = dict(auth)
    headers["Content-Type"] = content_type or "multipart/form-data; boundary=" + BOUNDARY
    if body is None:
        body = multipart([("file", filename, ctype, data)])
    return SERVER.request("POST", "/api/transfers/%s/files" % tid, body=body, headers=headers, timeout=60)


def active_transfer(email):
    tid, auth, conv = test_handoff.start_transfer(email)
    FAKE.agent_says(conv["id"], "Hi, I'm Ana")
    harness.wait_for(lambda: poll(tid, auth)["state"] == "active")
    FAKE.settle()
    return tid, auth, conv


def media_messages(conv):
    return [m for m in conv["messages"] if m["content"]["type"] in ("image", "file")]


class LargestFile:
    """The web server in front lets the largest file through: limits.file_upload_bytes at
    its most (50,000,000 bytes) in its multipart framing."""

    def test_the_largest_file_the_limit_allows_gets_through(self):
        tid, auth, conv = active_transfer("files-largest@shop.example")
        SERVER.state.admin("config", "set", "limits.file_upload_bytes", "50000000")
        try:
            largest = ("z" * 99 + "\n").encode() * 500000     # 50,000,000 bytes
            r = upload(tid, auth, largest, "a-long-name-for-the-largest-file-a-visitor-may-send.txt", "text/plain")
        finally:
            SERVER.state.admin("config", "unset", "limits.file_upload_bytes")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(FAKE.attachments[-1]["size"], 50000000)


class VisitorToAgent(LargestFile, unittest.TestCase):
    def test_png_reaches_zendesk_as_an_image_message(self):
        tid, auth, conv = active_transfer("files-png@shop.example")
        before = len(FAKE.attachments)
        r = upload(tid, auth, PNG)
        self.assertEqual(r.status, 201, r.body)
        answer = r.json()
        att = FAKE.attachments[before]
        self.assertEqual((att["mediaType"], att["size"], att["filename"]), ("image/png", len(PNG), "receipt.png"))
        self.assertEqual(att["query"], {"access": "public", "for": "message", "conversationId": conv["id"]})
        self.assertEqual(answer, {"kind": "image", "media_type": "image/png", "media_url": att["mediaUrl"],
                                  "message_id": media_messages(conv)[-1]["id"]})
        msg = media_messages(conv)[-1]
        user = FAKE.users["unverified:files-png@shop.example"]
        self.assertEqual(msg["author"], {"type": "user", "userId": user["id"]})
        self.assertEqual(msg["content"], {"type": "image", "mediaUrl": att["mediaUrl"], "altText": "receipt.png"})
        self.assertTrue(msg["metadata"]["deskbridge_mark"].startswith(tid + "/file/"))
        # Its echo is deskbridge's own post, not a message from the agent.
        FAKE.settle()
        self.assertEqual([e["text"] for e in poll(tid, auth)["events"] if e["type"] == "message"], ["Hi, I'm Ana"])

    def test_pdf_and_text_go_as_file_messages_under_a_safe_name(self):
        tid, auth, conv = active_transfer("files-pdf@shop.example")
        self.assertEqual(upload(tid, auth, PDF, "../../etc/Invoice 42.pdf", "application/pdf").status, 201)
        self.assertEqual(upload(tid, auth, "Order 42: two items\n".encode(), "notes.txt", "text/plain").status, 201)
        pdf, txt = FAKE.attachments[-2:]
        self.assertEqual((pdf["mediaType"], txt["mediaType"]), ("application/pdf", "text/plain"))
        self.assertNotIn("/", pdf["filename"])
        self.assertTrue(pdf["filename"].endswith(".pdf"), pdf["filename"])
        self.assertEqual([(m["content"]["type"], m["content"]["altText"]) for m in media_messages(conv)],
                         [("file", "../../etc/Invoice 42.pdf"), ("file", "notes.txt")])

    def test_content_decides_the_type_not_the_name(self):
        tid, auth, conv = active_transfer("files-type@shop.example")
        before = len(FAKE.attachments)
        r = upload(tid, auth, b"just some text, not a picture\n", "photo.png", "image/png")
        assert_error(self, r, 415, "unsupported_media_type")
        self.assertIn("text/plain", r.json()["error"]["message"])
        for data, name in ((b"PK\x03\x04" + bytes(range(256)), "archive.zip"),
                           (PNG[:40], "cut.png"),                       # a PNG header over nothing
                           (b"\x7fELF\x02\x01\x01" + bytes(100), "report.pdf")):
            assert_error(self, upload(tid, auth, data, name, "application/octet-stream"), 415,
                         "unsupported_media_type")
        assert_error(self, upload(tid, auth, b"", "empty.txt", "text/plain"), 422, "invalid_field")
        self.assertEqual((len(FAKE.attachments), media_messages(conv)), (before, []))

    def test_size_limit_is_configurable_and_files_pass_the_servers_cap(self):
        tid, auth, conv = active_transfer("files-size@shop.example")
        big = ("x" * 80 + "\n").encode() * 9000     # 729 000 bytes, over lighttpd's 512 KiB for other routes
        r = upload(tid, auth, big, "log.txt", "text/plain")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(FAKE.attachments[-1]["size"], len(big))
        before = len(FAKE.attachments)
        SERVER.state.admin("config", "set", "limits.file_upload_bytes", "1000")
        try:
            r = upload(tid, auth, PNG + bytes(1000), "big.png")
            assert_error(self, r, 413, "payload_too_large")
            self.assertIn("1000 bytes", r.json()["error"]["message"])
        finally:
            SERVER.state.admin("config", "unset", "limits.file_upload_bytes")
        self.assertEqual(len(FAKE.attachments), before)
        # Never above Zendesk's own limit.
        r = SERVER.state.admin("config", "set", "limits.file_upload_bytes", "50000001", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_only_an_active_transfer_takes_files(self):
        tid, auth, conv = test_handoff.start_transfer("files-waiting@shop.example")
        r = upload(tid, auth, PNG)
        assert_error(self, r, 409, "conflict")
        self.assertIn("agent has joined", r.json()["error"]["message"])
        SERVER.request("POST", "/api/transfers/%s/end" % tid, headers=auth)
        assert_error(self, upload(tid, auth, PNG), 409, "transfer_ended")
        assert_error(self, upload(tid, {"Authorization": "Bearer wrong"}, PNG), 401, "unauthenticated")
        assert_error(self, upload("tr_000000000000000000000000", auth, PNG), 404, "not_found")
        self.assertEqual(media_messages(conv), [])

    def test_malformed_multipart_is_refused(self):
        tid, auth, conv = active_transfer("files-malformed@shop.example")
        two = multipart([("file", "a.png", "image/png", PNG), ("file", "b.png", "image/png", PNG)])
        cases = [
            (dict(content_type="multipart/form-data"), 400),                       # no boundary
            (dict(content_type="application/json", body=b"{}"), 415),
            (dict(body=two), 400),                                                  # two files
            (dict(body=multipart([("file", "a.png", "image/png", PNG)], "other")), 400),
            (dict(body=multipart([("file", "a.png", "image/png", PNG)])[:-10]), 400),   # no closing boundary
            (dict(body=multipart([("file", "a.png", "image/png", PNG)]) + b"epilogue"), 400),
            (dict(body=("--%s\r\nContent-Type: image/png\r\n\r\n" % BOUNDARY).encode() + PNG
                  + ("\r\n--%s--\r\n" % BOUNDARY).encode()), 400),                # no disposition
        ]
        for kw, status in cases:
            r = upload(tid, auth, PNG, **kw)
            assert_error(self, r, status, "bad_request" if status == 400 else "unsupported_media_type")
        self.assertEqual(media_messages(conv), [])

    def test_zendesk_failing_is_a_clear_error_and_leaves_no_message(self):
        tid, auth, conv = active_transfer("files-zendesk@shop.example")
        before = len(FAKE.attachments)
        FAKE.fail_next(500)
        r = upload(tid, auth, PNG)
        assert_error(self, r, 502, "zendesk_unreachable")
        self.assertIn("HTTP 500", r.json()["error"]["message"])
        FAKE.fail_next(400)
        r = upload(tid, auth, PNG)
        assert_error(self, r, 502, "zendesk_refused")
        self.assertIn("Injected failure", r.json()["error"]["message"])
        self.assertEqual(len(FAKE.attachments), before)
        # The upload goes through but the message does not: the file is taken back.
        with FAKE.lock:
            FAKE.failures.extend([None, 422])
        r = upload(tid, auth, PNG)
        assert_error(self, r, 502, "zendesk_refused")
        self.assertIn("was removed", r.json()["error"]["message"])
        self.assertEqual([a["removed"] for a in FAKE.attachments[before:]], [True])
        self.assertEqual(media_messages(conv), [])
        self.assertEqual(FAKE.refusals, [])


class BehindApache(LargestFile):
    """The bundled Apache configuration lets a file over 512 KiB through to its handler
    (FcgidMaxRequestLen, LimitRequestBody), through mod_fcgid or as plain CGI."""
    plain_cgi = False

    @classmethod
    def setUpClass(cls):
        global SERVER, FAKE
        cls.saved = SERVER, FAKE
        FAKE = test_handoff.FAKE = FakeZendesk().start()
        SERVER = test_handoff.SERVER = harness.ApacheServer(plain_cgi=cls.plain_cgi).start()
        harness.connect_zendesk(SERVER, FAKE)

    @classmethod
    def tearDownClass(cls):
        global SERVER, FAKE
        SERVER.stop()
        FAKE.stop()
        SERVER, FAKE = test_handoff.SERVER, test_handoff.FAKE = cls.saved

    def test_a_file_over_512_kib_reaches_zendesk(self):
        tid, auth, conv = active_transfer("files-apache@shop.example")
        big = ("y" * 80 + "\n").encode() * 9000     # 729 000 bytes
        r = upload(tid, auth, big, "log.txt", "text/plain")
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(FAKE.attachments[-1]["size"], len(big))
        self.assertEqual([m["content"]["type"] for m in media_messages(conv)], ["file"])


class Apache(BehindApache, unittest.TestCase):
    pass


class ApachePlainCgi(BehindApache, unittest.TestCase):
    plain_cgi = True


class AgentToVisitor(unittest.TestCase):
    def test_agent_image_and_file_become_events_with_the_media(self):
        tid, auth, conv = active_transfer("files-agent@shop.example")
        status, result = FAKE.agent_sends(conv["id"], "image", alt_text="diagram.png")
        self.assertEqual((status, result["applied"]), (200, 1))
        FAKE.agent_sends(conv["id"], "file", media_type="application/pdf", alt_text="invoice.pdf",
                         text="Here is your invoice")
        sent = [m["content"] for m in conv["messages"][-2:]]
        got = [e for e in poll(tid, auth)["events"] if e["type"] == "message"][-2:]
        self.assertEqual([(e["from"], e["text"], e["media"]) for e in got],
                         [("agent", "", {"kind": "image", "url": sent[0]["mediaUrl"], "media_type": "image/png",
                                         "alt_text": "diagram.png"}),
                          ("agent", "Here is your invoice",
                           {"kind": "file", "url": sent[1]["mediaUrl"], "media_type": "application/pdf",
                            "alt_text": "invoice.pdf"})])
        self.assertEqual(got[0]["agent"]["name"], "Ana")

    def test_media_off_zendesks_hosts_or_not_https_is_dropped(self):
        tid, auth, conv = active_transfer("files-foreign@shop.example")
        seen = len(poll(tid, auth)["events"])
        for url in ("http://acme.zendesk.com/sc/attachments/v2/a/x.png", "https://evil.example/x.png",
                    "https://acme.zendesk.com.evil.example/x.png", "https://user@acme.zendesk.com/x.png",
                    "https://acme.zendesk.com:8443/x.png", "javascript:alert(1)//.zendesk.com/",
                    "https://zendesk.com.evil/x.png"):
            status, result = FAKE.agent_sends(conv["id"], "image", media_url=url)
            self.assertEqual((status, result["applied"], result["ignored"]), (200, 0, 1), url)
        FAKE.agent_sends(conv["id"], "file", media_url="https://evil.example/x.pdf", text="see attached")
        FAKE.agent_sends(conv["id"], "image", media_url="https://media.smooch.io/apps/a/b.png")
        FAKE.agent_sends(conv["id"], "image", media_url="https://files.zdusercontent.com/c/d.png")
        events = poll(tid, auth)["events"][seen:]
        self.assertEqual([(e["text"], (e.get("media") or {}).get("url")) for e in events],
                         [("see attached", None), ("", "https://media.smooch.io/apps/a/b.png"),
                          ("", "https://files.zdusercontent.com/c/d.png")])


if __name__ == "__main__":
    harness.main()
